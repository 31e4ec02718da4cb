// policy/rules/claim.ts — `claim: { department: [eng, ops] }`: a token claim equals (or, for an array
// claim, contains) one of the listed values.
import { z } from 'zod';
import { defineRule, fail, frozen, pass, type Verdict } from '../rule.js';

const ANONYMOUS = frozen(fail('user-unauthenticated'));

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Passes when, for every listed claim NAME, the claim equals one of the values or, when the claim
 * is an array, contains one of them. Values compare strictly: `1` never equals `"1"`.
 * ```yaml
 * allow:
 *   - claim: { department: [engineering, sre], contractor: false }
 * ```
 */
export const claimRule = defineRule({
  name: 'claim',
  description:
    'Every listed claim equals one of the values (or, for an array claim, contains one); strings, numbers and booleans compare strictly.',
  example: 'claim: { department: [engineering, sre] }',
  schema: z
    .record(z.string().min(1), z.union([scalar, z.array(scalar).min(1)]))
    .refine((claims) => Object.keys(claims).length > 0, 'claim needs at least one NAME: VALUE'),
  compile(claims) {
    const wanted = Object.entries(claims).map(([name, values]) => ({
      name,
      values: new Set<unknown>(Array.isArray(values) ? values : [values]),
      mismatch: frozen(fail('claim-mismatch', name)),
    }));
    const ok: Verdict = frozen(pass('claim-ok', wanted.map((w) => w.name).join(', ')));
    return function claim({ identity }) {
      if (!identity) return ANONYMOUS;
      for (const { name, values, mismatch } of wanted) {
        const actual = identity.claims[name];
        if (!(Array.isArray(actual) ? actual.some((v) => values.has(v)) : values.has(actual))) return mismatch;
      }
      return ok;
    };
  },
});
