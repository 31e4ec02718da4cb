// policy/rules/after.ts — `after: 2025-06-01T08:00:00Z`: now is at or after an instant (a grant that starts later).
import { defineRule, fail, frozen, pass } from '../rule.js';
import { instantSchema } from './before.js';

/**
 * Passes once now has reached the instant: a just-in-time grant that starts by itself.
 * ```yaml
 * allow:
 *   - and: [ { user: [oncall-bob] }, { after: "2025-06-01T08:00:00Z" }, { before: "2025-06-08T08:00:00Z" } ]
 * ```
 */
export const afterRule = defineRule({
  name: 'after',
  description: 'Now is at or after this ISO-8601 instant (a grant that starts by itself).',
  example: 'after: "2025-06-01T08:00:00Z"',
  schema: instantSchema,
  compile(instant) {
    const start = Date.parse(instant);
    const ok = frozen(pass('after-ok', instant));
    const early = frozen(fail('grant-not-yet-active', instant));
    return function after({ now }) {
      return now >= start ? ok : early;
    };
  },
});
