// policy/rules/authenticated.ts — `authenticated: true`: any signed-in user.
import { defineRule, fail, frozen, pass } from '../rule.js';

const OK = frozen(pass('authenticated-ok'));
const ANONYMOUS = frozen(fail('user-unauthenticated'));

/**
 * Passes for any signed-in user.
 * ```yaml
 * allow:
 *   - authenticated: true
 * ```
 */
export const authenticatedRule = defineRule({
  name: 'authenticated',
  description: 'Any signed-in user.',
  example: 'authenticated: true',
  schema: ({ z }) => z.literal(true, { error: 'expected true (write authenticated: true)' }),
  compile() {
    return function authenticated({ identity }) {
      return identity ? OK : ANONYMOUS;
    };
  },
});
