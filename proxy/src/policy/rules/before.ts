// policy/rules/before.ts — `before: 2025-07-01T00:00:00Z`: now is before an instant (a grant that expires).
import { defineRule, fail, frozen, pass, type SchemaKit } from '../rule.js';

/** An RFC 3339 / ISO-8601 instant with its offset; shared by `before` and `after`. */
export const instantSchema = ({ z }: SchemaKit) =>
  z.iso.datetime({
    offset: true,
    error: 'expected an ISO-8601 instant with a time zone, like 2025-07-01T18:00:00Z or 2025-07-01T20:00:00+02:00',
  });

/**
 * Passes while now is strictly before the instant: a just-in-time grant that expires by itself.
 * ```yaml
 * allow:
 *   - and: [ { user: [contractor-jane] }, { before: "2025-07-01T00:00:00Z" } ]
 * ```
 */
export const beforeRule = defineRule({
  name: 'before',
  description: 'Now is before this ISO-8601 instant (a grant that expires by itself).',
  example: 'before: "2025-07-01T00:00:00Z"',
  schema: instantSchema,
  compile(instant) {
    const end = Date.parse(instant);
    const ok = frozen(pass('before-ok', instant));
    const expired = frozen(fail('grant-expired', instant));
    return function before({ now }) {
      return now < end ? ok : expired;
    };
  },
});
