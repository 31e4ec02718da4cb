// policy/rules/acr.ts — `acr: [urn:example:loa:high]`: the sign-in's authentication context class
// is listed; failing asks for a step-up sign-in with `acr_values`.
import { defineRule, fail, frozen, pass } from '../rule.js';

const ANONYMOUS = frozen(fail('user-unauthenticated'));

/**
 * Passes when the sign-in's `acr` is one of these. A failure can be fixed by a step-up sign-in that
 * asks the IdP for one of them.
 * ```yaml
 * allow:
 *   - and: [ { groups: [payments] }, { acr: [urn:example:loa:high] } ]
 * ```
 */
export const acrRule = defineRule({
  name: 'acr',
  description: 'The sign-in’s authentication context class (acr) is one of these; failing asks for a step-up with acr_values.',
  example: 'acr: [urn:example:loa:high]',
  schema: ({ z }) => z.array(z.string().min(1)).min(1),
  compile(values) {
    const ok = new Map(values.map((v) => [v, frozen(pass('acr-ok', v))]));
    const unsatisfied = frozen(fail('acr-unsatisfied', undefined, { acr: [...values] }));
    return function acr({ identity }) {
      if (!identity) return ANONYMOUS;
      return (identity.acr === undefined ? undefined : ok.get(identity.acr)) ?? unsatisfied;
    };
  },
  demands: (values) => ({ acr: [...values] }),
});
