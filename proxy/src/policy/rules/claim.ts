// policy/rules/claim.ts — `claim: { department: [eng, ops] }`: a token claim equals (or, for an array
// claim, contains) one of the listed values.
import { claimReader } from '../claim-path.js';
import { defineRule, fail, frozen, pass, type Verdict } from '../rule.js';

const ANONYMOUS = frozen(fail('user-unauthenticated'));


/**
 * Claims whose string value is a space-separated list (OAuth `scope`, RFC 8693 §4.2 and RFC 9068 §2.2.3; `scp`,
 * the same list under Microsoft Entra's and Okta's name): `"read write"` holds `read` and `write`. Any other
 * string claim compares as one value.
 */
export const SPACE_SEPARATED_CLAIMS: ReadonlySet<string> = new Set(['scope', 'scp']);

/**
 * Passes when, for every listed claim NAME, the claim equals one of the values or, when the claim
 * is an array, contains one of them. Values compare strictly: `1` never equals `"1"`. NAME is a top-level claim,
 * else a dot path into nested claims (`realm_access.roles`). `scope` and `scp` as a string are space-separated lists.
 * ```yaml
 * allow:
 *   - claim: { department: [engineering, sre], contractor: false }
 * ```
 */
export const claimRule = defineRule({
  name: 'claim',
  description:
    'Every listed claim equals one of the values (or, for an array claim, contains one); strings, numbers and booleans compare strictly; a dotted name reaches into nested claims; scope and scp strings are space-separated lists.',
  example: 'claim: { department: [engineering, sre] }',
  schema: ({ z }) => {
    const scalar = z.union([z.string(), z.number(), z.boolean()]);
    return z.record(z.string().min(1), z.union([scalar, z.array(scalar).min(1)])).refine((claims) => Object.keys(claims).length > 0, 'claim needs at least one NAME: VALUE');
  },
  compile(claims) {
    const wanted = Object.entries(claims).map(([name, values]) => ({
      name,
      read: claimReader(name),
      spaceSeparated: SPACE_SEPARATED_CLAIMS.has(name),
      values: new Set<unknown>(Array.isArray(values) ? values : [values]),
      mismatch: frozen(fail('claim-mismatch', name)),
    }));
    const ok: Verdict = frozen(pass('claim-ok', wanted.map((w) => w.name).join(', ')));
    return function claim({ identity }) {
      if (!identity) return ANONYMOUS;
      for (const { read, spaceSeparated, values, mismatch } of wanted) {
        let actual = read(identity.claims);
        if (spaceSeparated && typeof actual === 'string') actual = actual.split(' ').filter((s) => s !== '');
        if (!(Array.isArray(actual) ? actual.some((v) => values.has(v)) : values.has(actual))) return mismatch;
      }
      return ok;
    };
  },
});
