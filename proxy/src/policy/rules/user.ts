// policy/rules/user.ts — `user: [alice, bob]`: the user name (the configured user claim) is listed.
import { defineRule, fail, frozen, pass } from '../rule.js';

const DENIED = frozen(fail('user-unauthorized'));
const ANONYMOUS = frozen(fail('user-unauthenticated'));

/**
 * Passes when the user name is one of the listed names (compared exactly).
 * ```yaml
 * allow:
 *   - user: [alice, bob]
 * ```
 */
export const userRule = defineRule({
  name: 'user',
  description: 'The user name (the claim set by idp.claims.user) is one of these, compared exactly.',
  example: 'user: [alice, bob]',
  schema: ({ z }) => z.array(z.string().min(1)).min(1),
  compile(users) {
    const ok = new Map(users.map((u) => [u, frozen(pass('user-ok', u))]));
    return function user({ identity }) {
      if (!identity) return ANONYMOUS;
      return ok.get(identity.user) ?? DENIED;
    };
  },
});
