// policy/rules/path.ts — `path: [/reports]`: the normalized path is under one of the listed prefixes,
// segment by segment.
import { isUnderPrefix, parsePathPrefix } from '../../url/path-prefix.js';
import { defineRule, fail, frozen, pass, type Verdict } from '../rule.js';

const WHAT = 'a path prefix';

/**
 * Passes when the normalized request path is under one of these prefixes, segment-aware: `/admin`
 * matches `/admin` and `/admin/users`, never `/administrator`. A trailing `/` on a prefix is ignored.
 * A prefix is written as a route's `from` path is: normalized, unreserved characters only (`/a//b`,
 * `/x/./y`, `/%73ecret` are refused, since no normalized request path could ever be under them).
 * ```yaml
 * allow:
 *   - and: [ { groups: [finance] }, { path: [/reports, /exports] } ]
 * ```
 */
export const pathRule = defineRule({
  name: 'path',
  description: 'The normalized request path is under one of these prefixes, segment-aware (/admin never matches /administrator).',
  example: 'path: [/reports, /exports]',
  schema: ({ z }) => z
    .array(
      z
        .string()
        .regex(/^\//, `${WHAT} starts with /`)
        .superRefine((p, ctx) => {
          if (!p.startsWith('/')) return; // reported by the regex above
          const parsed = parsePathPrefix(p, WHAT);
          if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
        }),
    )
    .min(1),
  compile(prefixes) {
    const entries: Array<{ prefix: string; ok: Verdict }> = prefixes.map((p) => {
      const parsed = parsePathPrefix(p, WHAT);
      if ('error' in parsed) throw new Error(`not a valid path rule (validate it with ruleSchema first): ${parsed.error}`);
      return { prefix: parsed.prefix, ok: frozen(pass('path-ok', parsed.prefix)) };
    });
    return function path(input) {
      for (const { prefix, ok } of entries) if (isUnderPrefix(input.path, prefix)) return ok;
      return fail('path-outside', input.path);
    };
  },
});
