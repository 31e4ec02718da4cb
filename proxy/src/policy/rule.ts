// policy/rule.ts — the shape every policy rule has: a zod schema for its YAML value (built from a SchemaKit, so a
// rule's module never loads zod) and a compile step that turns that value into a pure, synchronous check.
import type { z } from 'zod';
import type { PolicyInput } from './input.js';
import type { ReasonCode } from './reasons.js';

/** Why a rule passed or failed; `detail` adds the specifics ("groups: engineering"). */
export interface Reason {
  code: ReasonCode;
  detail?: string;
}

/** What a stronger or fresher sign-in would have to bring for a failing rule to pass. */
export interface StepUpNeed {
  mfa?: boolean;
  acr?: readonly string[];
  /** Seconds: the sign-in may be at most this old (`max_age`). */
  maxAge?: number;
}

/** The result of one rule. A denial is a value, never an exception. */
export interface Verdict {
  ok: boolean;
  reasons: Reason[];
  /** Set on a failing verdict that a step-up sign-in would turn into a pass. */
  stepUp?: StepUpNeed;
  /**
   * Set (with `ok: false`) when the rule cannot be decided for this request: an input it reads is unknown (the
   * client address, see PolicyInput.ip). Undecided is neither true nor false: `not` keeps it undecided, `and`/`or`
   * follow three-valued logic, an undecided allow rule does not allow and an undecided deny rule denies.
   */
  unknown?: true;
}

export type Check = (input: PolicyInput) => Verdict;

/** Which `amr` values and which `acr` values count as a multi-factor sign-in (`idp.mfa`, resolved by routes/compile.ts). */
export interface MfaMethods {
  readonly amr: readonly string[];
  readonly acr: readonly string[];
}

/**
 * What compile() and demands() may use: compiling nested rules (combinators), resolving named policies, and the
 * few facts of the configuration outside `policies` that decide what a rule means (handed in, never imported).
 */
export interface CompileContext {
  /** What counts as multi-factor (the `mfa` rule). */
  readonly mfa: MfaMethods;
  compileRule(raw: unknown): Check;
  namedPolicy(name: string): Check;
  /** {@link RuleDefinition.demands} of a nested rule (undefined: it demands nothing of the sign-in). */
  ruleDemands(raw: unknown): StepUpNeed | undefined;
  /** What every sign-in the named policy grants access to has brought (its `signInNeed`). */
  namedPolicyDemands(name: string): StepUpNeed | undefined;
}

/**
 * What a rule's schema is built from: zod itself and the value schemas the configuration shares. Handed in by
 * policy/schema.ts (policy/schema-kit.ts), never imported by a rule: `drawbridge serve` compiles the policies it
 * was given already validated (server/config-isolate.ts), so its process never loads zod (docs/deploy.md "Memory").
 */
export interface SchemaKit {
  readonly z: typeof z;
  /** A positive duration string (`15m`); parse it with policy/duration.ts `parseDuration`. */
  readonly duration: z.ZodString;
  /** A CIDR range or a single address; parse it with policy/cidr.ts `parseCidr`. */
  readonly cidr: z.ZodString;
}

/** The validated YAML value of a rule. */
export type RuleValue<R> = R extends RuleDefinition<infer S> ? z.infer<S> : never;

export interface RuleDefinition<S extends z.ZodType = z.ZodType> {
  /** The YAML key of the rule (`email`, `groups`, `and`, ...). */
  name: string;
  /** One line for the docs and the JSON Schema. */
  description: string;
  /** A YAML example for the docs. */
  example: string;
  /** The rule's schema, built from the kit (called once, by policy/schema.ts). */
  schema: (kit: SchemaKit) => S;
  compile(value: z.infer<S>, ctx: CompileContext): Check;
  /**
   * What the sign-in of EVERY identity this rule passes for has brought, whoever the user, wherever the request
   * is from: `mfa: true` demands MFA, `acr` one of its values, `authAge` a sign-in at most that old. A lower bound:
   * leaving a demand out is always safe (the route then asks for it by a step-up), naming one that some passing
   * identity lacks is not. Absent or undefined: the rule demands nothing of the sign-in itself.
   */
  demands?(value: z.infer<S>, ctx: CompileContext): StepUpNeed | undefined;
}

export function defineRule<S extends z.ZodType>(def: RuleDefinition<S>): RuleDefinition<S> {
  return def;
}

export function pass(code: ReasonCode, detail?: string): Verdict {
  return { ok: true, reasons: [detail === undefined ? { code } : { code, detail }] };
}

export function fail(code: ReasonCode, detail?: string, stepUp?: StepUpNeed): Verdict {
  const v: Verdict = { ok: false, reasons: [detail === undefined ? { code } : { code, detail }] };
  if (stepUp) v.stepUp = stepUp;
  return v;
}

/**
 * Deep-freezes a verdict built once at compile time, so a check can return the same object on
 * every request without allocating. Callers must treat verdicts as read-only.
 */
export function frozen(v: Verdict): Verdict {
  for (const r of v.reasons) Object.freeze(r);
  Object.freeze(v.reasons);
  if (v.stepUp) {
    if (v.stepUp.acr) Object.freeze(v.stepUp.acr);
    Object.freeze(v.stepUp);
  }
  return Object.freeze(v);
}
