// policy/decide.ts — decides each request against a compiled policy (allow, deny, sign-in, step-up), with reasons,
// and with a trace of every rule when asked.
import type { CompiledPolicy, CompiledRule } from './compile.js';
import type { PolicyInput } from './input.js';
import type { Reason, StepUpNeed, Verdict } from './rule.js';
import { leastStepUp } from './combinators.js';

export type Outcome = 'allow' | 'deny' | 'sign-in' | 'step-up';

/** How one top-level rule of a policy fared (explain, the 403 page, `drawbridge test`). */
export interface TraceEntry {
  list: 'allow' | 'deny';
  index: number;
  /** The rule as short YAML, e.g. `groups: [engineering]`. */
  rule: string;
  ok: boolean;
  /** The rule could not be decided (an unknown client address): not a match, but a deny rule so denies. */
  unknown?: true;
  reasons: Reason[];
}

/**
 * The decision on one request. `reasons` explain it, first the decision-level code (e.g.
 * `allow-matched`) then the deciding rule's. Decisions may share frozen objects: read-only.
 */
export interface Decision {
  outcome: Outcome;
  reasons: Reason[];
  /** What the step-up sign-in must bring (outcome `step-up`). */
  stepUp?: StepUpNeed;
  /**
   * Outcome `sign-in` only: what the route's policy demands of every sign-in it lets in (the policy's
   * `signInNeed`), to be asked for at the first sign-in so that one trip to the IdP is enough.
   */
  signInNeed?: StepUpNeed;
  /** Every rule of the policy, evaluated (only when asked for with `{ trace: true }`). */
  trace?: TraceEntry[];
  /**
   * The outcome is not allow because of an undecided rule (an unknown client address): with the address known it
   * might have been. A named policy (`policy: NAME`) so decided is undecided as a rule.
   */
  unknown?: true;
}

export function reason(code: Reason['code'], detail?: string): Reason {
  return Object.freeze(detail === undefined ? { code } : { code, detail });
}

function decision(outcome: Outcome, reasons: Reason[]): Decision {
  return Object.freeze({ outcome, reasons: Object.freeze(reasons) as Reason[] });
}

const PUBLIC = decision('allow', [reason('public-route')]);
export const SIGN_IN = decision('sign-in', [reason('user-unauthenticated')]);
const NO_ALLOW = reason('no-allow-matched');
const NOTHING_ALLOWED = decision('deny', [NO_ALLOW]);

/**
 * The allow decision of `rule` passing with `v`. A verdict its check built once (`frozen`) always makes the same
 * decision: the rule keeps the last one made (one comparison per request; a hash lookup cost more than the
 * allocation it saved), frozen as decisions may be.
 */
function allowed(rule: CompiledRule, v: Verdict): Decision {
  const last = rule.lastAllow;
  if (last.verdict === v) return last.decision!;
  if (!Object.isFrozen(v)) return { outcome: 'allow', reasons: [rule.matched, ...v.reasons] };
  const made = decision('allow', [rule.matched, ...v.reasons]);
  last.verdict = v;
  last.decision = made;
  return made;
}

/**
 * The policy's verdict on a signed-in (or anonymous, for named policies) request. `recorded`
 * replays verdicts already computed for a trace, so both paths decide identically.
 */
export function judge(policy: CompiledPolicy, input: PolicyInput, recorded?: ReadonlyMap<CompiledRule, Verdict>): Decision {
  let undecided: Decision | undefined;
  for (const rule of policy.deny) {
    const v = recorded ? recorded.get(rule)! : rule.check(input);
    if (v.ok) return { outcome: 'deny', reasons: [rule.matched, ...v.reasons] };
    // Fail closed: a deny rule that cannot be decided denies (a later deny rule that matches outright is the reason).
    if (v.unknown && !undecided) undecided = { outcome: 'deny', reasons: [rule.undecidedReason, ...v.reasons], unknown: true };
  }
  if (undecided) return undecided;
  if (policy.allow.length === 0) return NOTHING_ALLOWED;
  const failed: Verdict[] = [];
  let need: StepUpNeed | undefined;
  let needy = 0;
  let unknown = false;
  for (const rule of policy.allow) {
    const v = recorded ? recorded.get(rule)! : rule.check(input);
    if (v.ok) return allowed(rule, v);
    const least = leastStepUp(need, v.stepUp);
    if (least !== need) [need, needy] = [least, failed.length];
    if (v.unknown) unknown = true;
    failed.push(v);
  }
  if (need) {
    const stepUp: Decision = { outcome: 'step-up', reasons: [policy.allow[needy]!.stepUpReason, ...failed[needy]!.reasons], stepUp: need };
    if (unknown) stepUp.unknown = true;
    return stepUp;
  }
  const reasons = [NO_ALLOW];
  for (const v of failed) for (const r of v.reasons) reasons.push(r);
  return unknown ? { outcome: 'deny', reasons, unknown: true } : { outcome: 'deny', reasons };
}

/**
 * Decides one request. A public route allows; no signed-in user means sign-in (with the policy's
 * `signInNeed`, what the first sign-in should already bring); a matching deny
 * rule denies (deny overrides allow), and so does one that cannot be decided (an unknown client
 * address: fail closed); a matching allow rule allows (an undecided one does not); when the allow rules that
 * failed could pass after a stronger or fresher sign-in, step-up (with the least demanding
 * need); otherwise deny (also when there are no allow rules). `{ trace: true }` evaluates every
 * rule and records each in `trace`; without it evaluation stops as soon as the outcome is known.
 */
export function decide(target: { public?: boolean; policy?: CompiledPolicy }, input: PolicyInput, options?: { trace?: boolean }): Decision {
  const trace = options?.trace === true;
  if (target.public) return trace ? { ...PUBLIC, trace: [] } : PUBLIC;
  const policy = target.policy;
  if (!input.identity) {
    const anonymous = policy?.anonymous ?? SIGN_IN;
    return trace ? { ...anonymous, trace: [] } : anonymous;
  }
  if (!policy) return trace ? { ...NOTHING_ALLOWED, trace: [] } : NOTHING_ALLOWED;
  if (!trace) return granted(judge(policy, input), input);

  const recorded = new Map<CompiledRule, Verdict>();
  const entries: TraceEntry[] = [];
  for (const rule of [...policy.deny, ...policy.allow]) {
    const v = rule.check(input);
    recorded.set(rule, v);
    entries.push({ list: rule.list, index: rule.index, rule: rule.text, ok: v.ok, ...(v.unknown ? { unknown: true as const } : {}), reasons: v.reasons });
  }
  return { ...granted(judge(policy, input, recorded), input), trace: entries };
}

/**
 * An active access grant turns what the allow rules refused (deny, step-up) into an allow logged as `grant:<id>`;
 * a deny rule that matched, or could not be decided, still denies.
 */
function granted(decision: Decision, input: PolicyInput): Decision {
  if (input.grant === undefined || decision.outcome === 'allow') return decision;
  const first = decision.reasons[0]?.code;
  if (first === 'deny-matched' || first === 'deny-undecided') return decision;
  return { outcome: 'allow', reasons: [reason('grant', input.grant.id)] };
}
