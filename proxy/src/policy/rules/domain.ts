// policy/rules/domain.ts — `domain: [example.com]`: the verified email's domain is listed.
import { defineRule, fail, frozen, pass } from '../rule.js';

const DENIED = frozen(fail('domain-unauthorized'));
const UNVERIFIED = frozen(fail('email-unverified'));
const ANONYMOUS = frozen(fail('user-unauthenticated'));


/**
 * Passes when the part after the only `@` of the user's email is one of these domains
 * (case-insensitively), so `a@evil.com@example.com` never matches. An email the IdP reports with
 * `email_verified: false`, or without the claim (unless `idp.assumeEmailVerified`), never matches.
 * ```yaml
 * allow:
 *   - domain: [example.com]
 * ```
 */
export const domainRule = defineRule({
  name: 'domain',
  description: 'The part after the only @ of a verified email address is one of these domains (email_verified false or missing never matches, unless idp.assumeEmailVerified).',
  example: 'domain: [example.com]',
  schema: ({ z }) => z.array(z.string().regex(/^[^@\s/]+$/, 'expected a domain name like example.com (no @)')).min(1),
  compile(domains) {
    const ok = new Map(domains.map((d) => [d.toLowerCase(), frozen(pass('domain-ok', d.toLowerCase()))]));
    return function domain({ identity }) {
      if (!identity) return ANONYMOUS;
      const { email, emailVerified } = identity;
      const at = email?.indexOf('@') ?? -1;
      if (!email || at < 1 || at !== email.lastIndexOf('@')) return DENIED;
      const verdict = ok.get(email.slice(at + 1).toLowerCase());
      if (!verdict) return DENIED;
      return emailVerified === true ? verdict : UNVERIFIED;
    };
  },
});
