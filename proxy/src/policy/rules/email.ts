// policy/rules/email.ts — `email: [alice@example.com]`: the email, case-insensitively, is listed
// and verified.
import { defineRule, fail, frozen, pass } from '../rule.js';

const DENIED = frozen(fail('email-unauthorized'));
const UNVERIFIED = frozen(fail('email-unverified'));
const ANONYMOUS = frozen(fail('user-unauthenticated'));


/**
 * Passes when the user's email is one of these, compared case-insensitively, and is verified: an email
 * the IdP reports with `email_verified: false`, or without the claim (unless `idp.assumeEmailVerified`), never
 * matches.
 * ```yaml
 * allow:
 *   - email: [alice@example.com, bob@example.com]
 * ```
 */
export const emailRule = defineRule({
  name: 'email',
  description: 'The email address, compared case-insensitively, is one of these and verified: email_verified false or missing never matches (unless idp.assumeEmailVerified).',
  example: 'email: [alice@example.com]',
  schema: ({ z }) => z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an email address like alice@example.com')).min(1),
  compile(emails) {
    const ok = new Map(emails.map((e) => [e.toLowerCase(), frozen(pass('email-ok', e.toLowerCase()))]));
    return function email({ identity }) {
      if (!identity) return ANONYMOUS;
      const verdict = identity.email === undefined ? undefined : ok.get(identity.email.toLowerCase());
      if (!verdict) return DENIED;
      return identity.emailVerified === true ? verdict : UNVERIFIED;
    };
  },
});
