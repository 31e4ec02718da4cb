// policy/rules/mfa.ts — `mfa: true`: the sign-in used a second factor (by its `amr` values);
// failing asks for a step-up sign-in with MFA.
import { z } from 'zod';
import { defineRule, fail, frozen, pass, type Verdict } from '../rule.js';

/** `amr` values (RFC 8176) that count as multi-factor. */
export const MFA_METHODS = ['mfa', 'otp', 'hwk', 'swk', 'sms', 'fpt', 'face', 'sc'] as const;

const OK = new Map<string, Verdict>(MFA_METHODS.map((m) => [m, frozen(pass('mfa-ok', m))]));
const MISSING = frozen(fail('mfa-missing', undefined, { mfa: true }));
const ANONYMOUS = frozen(fail('user-unauthenticated'));

/**
 * Passes when the sign-in's `amr` holds one of mfa, otp, hwk, swk, sms, fpt, face, sc. A failure
 * can be fixed by a step-up sign-in with MFA.
 * ```yaml
 * allow:
 *   - and: [ { groups: [wiki-admins] }, { mfa: true } ]
 * ```
 */
export const mfaRule = defineRule({
  name: 'mfa',
  description: 'The sign-in used multi-factor authentication (amr holds mfa, otp, hwk, swk, sms, fpt, face or sc); failing asks for a step-up.',
  example: 'mfa: true',
  schema: z.literal(true, { error: 'expected true (write mfa: true)' }),
  compile() {
    return function mfa({ identity }) {
      if (!identity) return ANONYMOUS;
      for (const m of identity.amr) {
        const verdict = OK.get(m);
        if (verdict) return verdict;
      }
      return MISSING;
    };
  },
  demands: () => ({ mfa: true }),
});
