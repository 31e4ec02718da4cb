// policy/rules/policy.ts — `policy: staff`: a named policy (from `policies:`) grants access.
import { defineRule, type Verdict } from '../rule.js';

/**
 * Passes when the named policy grants access: none of its `deny` rules match and one of its
 * `allow` rules does. When the named policy would ask for a step-up, so does this rule; when it is undecided (it
 * refused only for want of the client address), so is this rule.
 * ```yaml
 * policies:
 *   office-net: { allow: [ { ip: [10.0.0.0/8] } ] }
 * routes:
 *   - name: wiki
 *     policy:
 *       allow: [ { policy: office-net } ]
 * ```
 */
export const policyRule = defineRule({
  name: 'policy',
  description: 'The named policy (a key of policies:) grants access.',
  example: 'policy: staff',
  schema: ({ z }) => z.string().min(1),
  compile(name, ctx) {
    const named = ctx.namedPolicy(name);
    const ok = Object.freeze({ code: 'policy-ok' as const, detail: name });
    const denied = Object.freeze({ code: 'policy-unauthorized' as const, detail: name });
    return function policy(input) {
      const v = named(input);
      const verdict: Verdict = { ok: v.ok, reasons: [v.ok ? ok : denied, ...v.reasons] };
      if (v.stepUp) verdict.stepUp = v.stepUp;
      if (v.unknown) verdict.unknown = true;
      return verdict;
    };
  },
  demands: (name, ctx) => ctx.namedPolicyDemands(name),
});
