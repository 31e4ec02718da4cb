// policy/rules/auth-age.ts — `authAge: 15m`: the user actively signed in at most this long ago
// (`auth_time`); failing asks for a step-up sign-in with `max_age`.
import { defineRule, fail, frozen, pass } from '../rule.js';
import { parseDuration } from '../duration.js';

const OK = frozen(pass('auth-age-ok'));
const ANONYMOUS = frozen(fail('user-unauthenticated'));

/**
 * Passes when the sign-in (`auth_time`) is at most this old. A sign-in that is too old, or whose
 * time is unknown, can be fixed by a step-up sign-in with `max_age` set to the duration in seconds.
 * ```yaml
 * allow:
 *   - and: [ { groups: [wiki-admins] }, { mfa: true }, { authAge: 15m } ]
 * ```
 */
export const authAgeRule = defineRule({
  name: 'authAge',
  description: 'The user signed in (auth_time) at most this long ago, e.g. 15m; failing asks for a step-up with max_age.',
  example: 'authAge: 15m',
  schema: ({ duration }) => duration,
  compile(duration) {
    const maxAgeMs = parseDuration(duration);
    const stepUp = { maxAge: Math.floor(maxAgeMs / 1000) };
    const missing = frozen(fail('auth-time-missing', undefined, stepUp));
    return function authAge({ identity, now }) {
      if (!identity) return ANONYMOUS;
      if (identity.authTime === undefined) return missing;
      const age = now - identity.authTime * 1000;
      return age <= maxAgeMs ? OK : fail('auth-too-old', `signed in ${Math.round(age / 1000)}s ago, at most ${duration} allowed`, stepUp);
    };
  },
  demands: (duration) => ({ maxAge: Math.floor(parseDuration(duration) / 1000) }),
});
