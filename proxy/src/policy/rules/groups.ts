// policy/rules/groups.ts — `groups: [engineering]`: the user is in any of the listed groups.
import { defineRule, fail, frozen, pass } from '../rule.js';

const DENIED = frozen(fail('groups-unauthorized'));
const ANONYMOUS = frozen(fail('user-unauthenticated'));

/**
 * Passes when the user is in at least one of these groups (compared exactly).
 * ```yaml
 * allow:
 *   - groups: [engineering, sre]
 * ```
 */
export const groupsRule = defineRule({
  name: 'groups',
  description: 'The user is in any of these groups (the claim set by idp.claims.groups), compared exactly.',
  example: 'groups: [engineering, sre]',
  schema: ({ z }) => z.array(z.string().min(1)).min(1),
  compile(groups) {
    const ok = new Map(groups.map((g) => [g, frozen(pass('groups-ok', g))]));
    return function groups({ identity }) {
      if (!identity) return ANONYMOUS;
      for (const g of identity.groups) {
        const verdict = ok.get(g);
        if (verdict) return verdict;
      }
      return DENIED;
    };
  },
});
