// policy/compile.ts — compiles policies once (named ones by reference, identical shapes shared) and checks
// references and cycles for `validate`.
import type { PolicyInput } from './input.js';
import type { Check, CompileContext, MfaMethods, Reason, RuleDefinition, StepUpNeed, Verdict } from './rule.js';
import { DEFAULT_MFA_METHODS } from './rules/mfa.js';
import { commonDemands } from './combinators.js';
import { judge, reason, SIGN_IN, type Decision } from './decide.js';
import { describeRule, entries } from './describe.js';
import { RULES } from './registry.js';
import type { PolicyConfig, RuleConfig } from './schema.js';

/** One compiled top-level rule of an allow or deny list. */
export interface CompiledRule {
  readonly list: 'allow' | 'deny';
  readonly index: number;
  readonly text: string;
  readonly check: Check;
  /** `allow-matched` / `deny-matched`, naming the rule's place (`allow[0]`, `policies.staff.allow[0]`). */
  readonly matched: Reason;
  /** `deny-undecided`, naming the rule's place: a deny rule that could not be decided denies. */
  readonly undecidedReason: Reason;
  /** `step-up-required`, naming the rule's place. */
  readonly stepUpReason: Reason;
  /** What every sign-in this rule passes for has brought (see RuleDefinition.demands). */
  readonly demands?: StepUpNeed;
  /**
   * The allow decision made last from a verdict its check built once (decide.ts `allowed`): a rule passes with
   * the same frozen verdict request after request, and its decision is then the same frozen object.
   */
  readonly lastAllow: { verdict: Verdict | undefined; decision: Decision | undefined };
}

/** A policy ready to decide: every rule compiled, every CIDR and time zone parsed. */
export interface CompiledPolicy {
  readonly allow: readonly CompiledRule[];
  readonly deny: readonly CompiledRule[];
  /** The policy as one rule (for `policy: NAME`): passes when it grants access. */
  readonly check: Check;
  /**
   * What every sign-in this policy grants access to has brought, whoever the user and whatever the request: the
   * demands common to all of its allow rules (see {@link signInNeed}). Undefined when some way in needs no MFA,
   * `acr` or recent sign-in. Deny rules only take access away, so they add nothing.
   */
  readonly signInNeed?: StepUpNeed;
  /** The decision for a request without a signed-in user (`sign-in`, carrying `signInNeed`). */
  readonly anonymous: Decision;
}

const BY_NAME: ReadonlyMap<string, RuleDefinition> = new Map(RULES.map((r) => [r.name, r]));

/**
 * What a policy with these allow rules demands of every sign-in it lets in: the demands all of them share (a
 * request is let in by any one of them), frozen; undefined when there are none or some rule demands nothing. Pure:
 * derived from the rules alone, never from a user. An anonymous request to the route is sent to sign in with
 * these, so a route that needs MFA of everybody gets an MFA sign-in at once, not a password sign-in and then a
 * step-up; a route where some users get in without MFA asks nobody for it up front.
 */
export function signInNeed(allow: readonly Pick<CompiledRule, 'demands'>[]): StepUpNeed | undefined {
  if (allow.length === 0) return undefined;
  let need = allow[0]!.demands;
  for (let i = 1; i < allow.length && need; i++) need = commonDemands(need, allow[i]!.demands);
  if (!need) return undefined;
  const frozenNeed: StepUpNeed = { ...need, ...(need.acr ? { acr: Object.freeze([...need.acr]) } : {}) };
  return Object.freeze(frozenNeed);
}

function compilePolicy(config: PolicyConfig, ctx: CompileContext, place: string): CompiledPolicy {
  const list = (which: 'allow' | 'deny', rules: readonly RuleConfig[] = []): CompiledRule[] =>
    rules.map((raw, index) => {
      const at = `${place}${which}[${index}]`;
      const demands = which === 'allow' ? ctx.ruleDemands(raw) : undefined;
      return Object.freeze({
        list: which,
        index,
        text: describeRule(raw),
        check: ctx.compileRule(raw),
        ...(demands ? { demands } : {}),
        matched: reason(which === 'allow' ? 'allow-matched' : 'deny-matched', at),
        undecidedReason: reason('deny-undecided', at),
        stepUpReason: reason('step-up-required', at),
        lastAllow: { verdict: undefined, decision: undefined },
      });
    });
  const allow = Object.freeze(list('allow', config.allow));
  const deny = Object.freeze(list('deny', config.deny));
  const need = signInNeed(allow);
  const policy: CompiledPolicy = Object.freeze({
    allow,
    deny,
    ...(need ? { signInNeed: need } : {}),
    anonymous: need ? Object.freeze({ ...SIGN_IN, signInNeed: need }) : SIGN_IN,
    check(input: PolicyInput): Verdict {
      const d = judge(policy, input);
      if (d.outcome === 'allow') return { ok: true, reasons: d.reasons };
      const v: Verdict = { ok: false, reasons: d.reasons };
      if (d.stepUp) v.stepUp = d.stepUp;
      if (d.unknown) v.unknown = true;
      return v;
    },
  });
  return policy;
}

/**
 * A lossless text form of a parsed YAML value (strings, numbers, booleans, null, arrays, plain
 * objects; key order kept, since it orders evaluation), or undefined for anything else. Two values
 * with the same key compile to checks that decide identically, so they can share one.
 */
function structuralKey(value: unknown): string | undefined {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (const v of value) {
      const k = structuralKey(v);
      if (k === undefined) return undefined;
      parts.push(k);
    }
    return `[${parts.join(',')}]`;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const parts: string[] = [];
    for (const [name, v] of entries(value)) {
      const k = structuralKey(v);
      if (k === undefined) return undefined;
      parts.push(`${JSON.stringify(name)}:${k}`);
    }
    return `{${parts.join(',')}}`;
  }
  return undefined;
}

/** What compiling policies takes from the rest of the configuration. */
export interface CompileOptions {
  /** What the `mfa` rule counts as multi-factor (default: the RFC 8176 second factors, no acr). */
  mfa?: MfaMethods;
}

/**
 * Compiles the named policies (each once, following `policy:` references) and returns them with
 * a compiler for inline policies. Structurally identical inline policies (and rules) compile once
 * and are shared: a configuration repeats a handful of shapes over thousands of routes, and an
 * inline policy's reasons name only its place within the policy (`allow[0]`), never the route.
 * Assumes `checkPolicies` found no unknown reference or cycle; throws if one remains (a
 * programming error, never a request-time failure).
 */
export function compilePolicies(named: Record<string, PolicyConfig>, options: CompileOptions = {}): {
  named: Map<string, CompiledPolicy>;
  compile(policy: PolicyConfig): CompiledPolicy;
} {
  const compiled = new Map<string, CompiledPolicy>();
  const compiling = new Set<string>();
  const rules = new Map<string, Check>();
  const inline = new Map<string, CompiledPolicy>();

  const ctx: CompileContext = {
    mfa: options.mfa ?? DEFAULT_MFA_METHODS,
    compileRule(raw: unknown): Check {
      const keys = raw !== null && typeof raw === 'object' ? entries(raw) : [];
      const def = keys.length === 1 ? BY_NAME.get(keys[0]![0]) : undefined;
      if (!def) throw new Error(`not a valid rule (validate it with ruleSchema first): ${JSON.stringify(raw)}`);
      const key = structuralKey(raw);
      let check = key === undefined ? undefined : rules.get(key);
      if (!check) {
        check = def.compile(keys[0]![1], ctx);
        if (key !== undefined) rules.set(key, check);
      }
      return check;
    },
    namedPolicy(name: string): Check {
      return compileNamed(name).check;
    },
    ruleDemands(raw: unknown): StepUpNeed | undefined {
      const keys = raw !== null && typeof raw === 'object' ? entries(raw) : [];
      const def = keys.length === 1 ? BY_NAME.get(keys[0]![0]) : undefined;
      if (!def) throw new Error(`not a valid rule (validate it with ruleSchema first): ${JSON.stringify(raw)}`);
      return def.demands?.(keys[0]![1], ctx);
    },
    namedPolicyDemands(name: string): StepUpNeed | undefined {
      return compileNamed(name).signInNeed;
    },
  };

  function compileNamed(name: string): CompiledPolicy {
    const done = compiled.get(name);
    if (done) return done;
    if (!Object.hasOwn(named, name)) throw new Error(`unknown policy "${name}"`);
    if (compiling.has(name)) throw new Error(`policy "${name}" refers to itself through policy: rules`);
    compiling.add(name);
    const policy = compilePolicy(named[name]!, ctx, `policies.${name}.`);
    compiling.delete(name);
    compiled.set(name, policy);
    return policy;
  }

  // Compiled in dependency order; listed in the file's order.
  const all = new Map<string, CompiledPolicy>();
  for (const name of Object.keys(named)) all.set(name, compileNamed(name));
  return {
    named: all,
    compile(policy) {
      const key = structuralKey(policy);
      let done = key === undefined ? undefined : inline.get(key);
      if (!done) {
        done = compilePolicy(policy, ctx, '');
        if (key !== undefined) inline.set(key, done);
      }
      return done;
    },
  };
}

/** A semantic error in the policies, with the YAML path of the offending node. */
export interface PolicyIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Finds what the schema cannot: `policy: NAME` naming no policy under `policies:`, and cycles
 * among named policies (`a → b → a`). Paths are from the configuration root, e.g.
 * `['routes', 3, 'policy', 'deny', 0, 'not', 'policy']`. A route's `policy` may be a name.
 */
export function checkPolicies(named: Record<string, PolicyConfig>, routes: Array<{ policy?: PolicyConfig | string }>): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const known = Object.keys(named);
  const knownText = known.length > 0 ? `known policies: ${known.join(', ')}` : 'no policies are defined under policies:';
  const edges = new Map<string, Array<{ to: string; path: (string | number)[] }>>();

  function reference(name: unknown, path: (string | number)[], from: string | undefined): void {
    if (typeof name !== 'string') return;
    if (!Object.hasOwn(named, name)) issues.push({ path, message: `unknown policy "${name}" (${knownText})` });
    else if (from !== undefined) edges.get(from)!.push({ to: name, path });
  }

  function visitRule(rule: unknown, path: (string | number)[], from: string | undefined): void {
    if (rule === null || typeof rule !== 'object') return;
    for (const [key, value] of entries(rule)) {
      if (key === 'policy') reference(value, [...path, key], from);
      else if ((key === 'and' || key === 'or') && Array.isArray(value)) value.forEach((child, i) => visitRule(child, [...path, key, i], from));
      else if (key === 'not') visitRule(value, [...path, key], from);
    }
  }

  function visitPolicy(policy: PolicyConfig, path: (string | number)[], from: string | undefined): void {
    for (const list of ['allow', 'deny'] as const) policy[list]?.forEach((rule, i) => visitRule(rule, [...path, list, i], from));
  }

  for (const name of known) {
    edges.set(name, []);
    visitPolicy(named[name]!, ['policies', name], name);
  }
  routes.forEach((route, i) => {
    if (typeof route.policy === 'string') reference(route.policy, ['routes', i, 'policy'], undefined);
    else if (route.policy) visitPolicy(route.policy, ['routes', i, 'policy'], undefined);
  });

  // Depth-first search; an edge back to a policy still on the stack closes a cycle.
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  function walk(name: string): void {
    state.set(name, 'open');
    stack.push(name);
    for (const edge of edges.get(name)!) {
      const seen = state.get(edge.to);
      if (seen === 'open') {
        const cycle = [...stack.slice(stack.indexOf(edge.to)), edge.to];
        issues.push({ path: edge.path, message: `named policies refer to each other in a cycle: ${cycle.join(' → ')}` });
      } else if (seen === undefined) walk(edge.to);
    }
    stack.pop();
    state.set(name, 'done');
  }
  for (const name of known) if (!state.has(name)) walk(name);
  return issues;
}
