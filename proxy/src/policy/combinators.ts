// policy/combinators.ts — `and`, `or`, `not`: rules made of rules, and how their step-up needs
// combine (a failure is step-up-fixable only when a stronger or fresher sign-in would fix it).
import { defineRule, frozen, type Reason, type StepUpNeed, type Verdict } from './rule.js';

const AND_OK: Reason = Object.freeze({ code: 'and-ok' });
const AND_FAILED: Reason = Object.freeze({ code: 'and-unauthorized' });
const OR_OK: Reason = Object.freeze({ code: 'or-ok' });
const OR_FAILED: Reason = Object.freeze({ code: 'or-unauthorized' });
const NOT_MATCHED: Reason = Object.freeze({ code: 'not-matched' });
const NOT_UNMATCHED: Reason = Object.freeze({ code: 'not-unmatched' });
const NOT_UNDECIDED: Reason = Object.freeze({ code: 'not-undecided' });
const UNKNOWN_USER: Reason = Object.freeze({ code: 'user-unauthenticated' });

/**
 * The need of a sign-in that satisfies both `a` and `b` (for `and`): MFA if either needs it, an
 * `acr` both accept, the shorter `maxAge`. Undefined when no sign-in can (no common `acr`).
 */
export function mergeStepUp(a: StepUpNeed, b: StepUpNeed): StepUpNeed | undefined {
  const need: StepUpNeed = {};
  if (a.mfa || b.mfa) need.mfa = true;
  if (a.acr && b.acr) {
    const common = a.acr.filter((v) => b.acr!.includes(v));
    if (common.length === 0) return undefined;
    need.acr = common;
  } else if (a.acr || b.acr) need.acr = a.acr ?? b.acr;
  if (a.maxAge !== undefined || b.maxAge !== undefined) need.maxAge = Math.min(a.maxAge ?? Infinity, b.maxAge ?? Infinity);
  return need;
}

function weight(need: StepUpNeed): number {
  return (need.mfa ? 1 : 0) + (need.acr ? 1 : 0) + (need.maxAge !== undefined ? 1 : 0);
}

/**
 * Of two alternative needs (for `or` and an allow list, where either would do), the one asking
 * for less: the fewest requirements, then the longer `maxAge`, then the first.
 */
export function leastStepUp(a: StepUpNeed | undefined, b: StepUpNeed | undefined): StepUpNeed | undefined {
  if (!a || !b) return a ?? b;
  const wa = weight(a);
  const wb = weight(b);
  if (wa !== wb) return wa < wb ? a : b;
  if (a.maxAge !== undefined && b.maxAge !== undefined && a.maxAge !== b.maxAge) return a.maxAge > b.maxAge ? a : b;
  return a;
}

/** A need that asks for nothing is no need. */
function nonEmpty(need: StepUpNeed): StepUpNeed | undefined {
  return need.mfa || need.acr || need.maxAge !== undefined ? need : undefined;
}

/**
 * What a sign-in passing two rules at once has brought (for `and`): MFA if either demands it, an `acr` both accept,
 * the shorter `maxAge`. When no `acr` satisfies both, the rule can never pass; the `acr` demand is then left out
 * (leaving a demand out is always safe, see RuleDefinition.demands).
 */
export function allOfDemands(a: StepUpNeed | undefined, b: StepUpNeed | undefined): StepUpNeed | undefined {
  if (!a || !b) return a ?? b;
  const merged = mergeStepUp(a, b);
  if (merged) return nonEmpty(merged);
  const { acr: _a, ...restA } = a;
  const { acr: _b, ...restB } = b;
  return nonEmpty(mergeStepUp(restA, restB)!);
}

/**
 * What a sign-in passing either of two rules has brought whichever it passed (for `or` and an allow list): MFA
 * only when both demand it, an `acr` of either list when both demand one, the longer `maxAge` when both set one;
 * nothing when either demands nothing. `any` of `mfa` and `groups: [sre]` demands nothing: an SRE signs in with a
 * password and is let in.
 */
export function commonDemands(a: StepUpNeed | undefined, b: StepUpNeed | undefined): StepUpNeed | undefined {
  if (!a || !b) return undefined;
  const need: StepUpNeed = {};
  if (a.mfa && b.mfa) need.mfa = true;
  if (a.acr && b.acr) need.acr = [...new Set([...a.acr, ...b.acr])];
  if (a.maxAge !== undefined && b.maxAge !== undefined) need.maxAge = Math.max(a.maxAge, b.maxAge);
  return nonEmpty(need);
}

function flatReasons(head: Reason, verdicts: readonly Verdict[]): Reason[] {
  const reasons = [head];
  for (const v of verdicts) for (const r of v.reasons) reasons.push(r);
  return reasons;
}

/**
 * Passes when every rule passes. A failing `and` asks for a step-up only when every failing rule
 * could be fixed by one (their needs merged); `groups` failing next to `mfa` is a plain failure.
 * Undecided (an unknown client address) when no rule fails outright and one is undecided.
 * ```yaml
 * allow:
 *   - and: [ { groups: [wiki-admins] }, { mfa: true }, { authAge: 15m } ]
 * ```
 */
export const andRule = defineRule({
  name: 'and',
  description: 'Every rule of the list holds.',
  example: 'and: [ { groups: [wiki-admins] }, { mfa: true } ]',
  // The children are validated by ruleSchema (schema.ts), which nests itself here.
  schema: ({ z }) => z.array(z.unknown()).min(1),
  compile(children, ctx) {
    const checks = children.map((c) => ctx.compileRule(c));
    return function and(input) {
      const verdicts: Verdict[] = [];
      // The rules that failed but might pass: after a step-up, or once the unknown input were known.
      let open: Verdict[] | undefined;
      let undecided = true;
      for (const check of checks) {
        const v = check(input);
        // One failure no sign-in can fix decides: no need to look further.
        if (!v.ok && !v.stepUp && !v.unknown) return { ok: false, reasons: [AND_FAILED, ...v.reasons] };
        if (!v.ok) {
          (open ??= []).push(v);
          // A plain failure (fixable, but false now) makes the whole false, whatever the undecided ones are.
          if (!v.unknown) undecided = false;
        }
        verdicts.push(v);
      }
      if (!open) return { ok: true, reasons: flatReasons(AND_OK, verdicts) };
      // A step-up helps only when it would make every open rule pass: an undecided one without a need stays so.
      let need: StepUpNeed | undefined = open[0]!.stepUp;
      for (let i = 1; i < open.length && need; i++) need = open[i]!.stepUp && mergeStepUp(need, open[i]!.stepUp!);
      const verdict: Verdict = { ok: false, reasons: flatReasons(AND_FAILED, open) };
      if (need) verdict.stepUp = need;
      if (undecided) verdict.unknown = true;
      return verdict;
    };
  },
  demands(children, ctx) {
    let need: StepUpNeed | undefined;
    for (const c of children) need = allOfDemands(need, ctx.ruleDemands(c));
    return need;
  },
});

/**
 * Passes when any rule passes. A failing `or` asks for the least step-up any of its rules asks for,
 * and is undecided when one of its rules is.
 * ```yaml
 * allow:
 *   - or: [ { groups: [sre] }, { user: [alice] } ]
 * ```
 */
export const orRule = defineRule({
  name: 'or',
  description: 'At least one rule of the list holds.',
  example: 'or: [ { groups: [sre] }, { user: [alice] } ]',
  schema: ({ z }) => z.array(z.unknown()).min(1),
  compile(children, ctx) {
    const checks = children.map((c) => ctx.compileRule(c));
    return function or(input) {
      const failures: Verdict[] = [];
      let need: StepUpNeed | undefined;
      let undecided = false;
      for (const check of checks) {
        const v = check(input);
        if (v.ok) return { ok: true, reasons: [OR_OK, ...v.reasons] };
        failures.push(v);
        need = leastStepUp(need, v.stepUp);
        if (v.unknown) undecided = true;
      }
      const verdict: Verdict = { ok: false, reasons: flatReasons(OR_FAILED, failures) };
      if (need) verdict.stepUp = need;
      if (undecided) verdict.unknown = true;
      return verdict;
    };
  },
  demands(children, ctx) {
    let need = ctx.ruleDemands(children[0]);
    for (let i = 1; i < children.length && need; i++) need = commonDemands(need, ctx.ruleDemands(children[i]));
    return need;
  },
});

/**
 * Passes when the rule fails. Never asks for a step-up, and demands nothing of the sign-in. When the inner rule failed for want of a
 * signed-in user, `not` fails too: nothing is known about whom it would exclude. When the inner rule is undecided
 * (an unknown client address), so is `not`: as an allow rule it does not allow, as a deny rule it denies.
 * ```yaml
 * deny:
 *   - not: { ip: [10.0.0.0/8] }
 * ```
 */
export const notRule = defineRule({
  name: 'not',
  description: 'The rule does not hold. Never asks for a step-up.',
  example: 'not: { ip: [10.0.0.0/8] }',
  schema: ({ z }) => z.unknown(),
  compile(child, ctx) {
    const check = ctx.compileRule(child);
    const negate = (v: Verdict): Verdict => {
      if (v.ok) return { ok: false, reasons: [NOT_UNMATCHED, ...v.reasons] };
      if (v.unknown) return { ok: false, unknown: true, reasons: [NOT_UNDECIDED, ...v.reasons] };
      if (v.reasons.some((r) => r.code === 'user-unauthenticated')) return { ok: false, reasons: [UNKNOWN_USER] };
      return { ok: true, reasons: [NOT_MATCHED, ...v.reasons] };
    };
    // A child's verdict built once (`frozen`, as most rules return) always has the same negation: the last one made
    // is kept (one comparison per request; a hash lookup cost more than the allocation it saved).
    let lastIn: Verdict | undefined;
    let lastOut: Verdict | undefined;
    return function not(input) {
      const v = check(input);
      if (v === lastIn) return lastOut!;
      if (!Object.isFrozen(v)) return negate(v);
      lastIn = v;
      lastOut = frozen(negate(v));
      return lastOut;
    };
  },
});
