// policy/rules/path.ts — `path: [/reports]`: the normalized path is under one of the listed prefixes,
// segment by segment.
import { z } from 'zod';
import { defineRule, fail, frozen, pass, type Verdict } from '../rule.js';

/** `/admin` holds `/admin` and `/admin/x` but not `/administrator`; `/` holds every path. */
function under(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f);
}

/**
 * Passes when the normalized request path is under one of these prefixes, segment-aware: `/admin`
 * matches `/admin` and `/admin/users`, never `/administrator`. A trailing `/` on a prefix is ignored.
 * ```yaml
 * allow:
 *   - and: [ { groups: [finance] }, { path: [/reports, /exports] } ]
 * ```
 */
export const pathRule = defineRule({
  name: 'path',
  description: 'The normalized request path is under one of these prefixes, segment-aware (/admin never matches /administrator).',
  example: 'path: [/reports, /exports]',
  schema: z.array(z.string().regex(/^\//, 'a path prefix starts with /')).min(1),
  compile(prefixes) {
    const entries: Array<{ prefix: string; ok: Verdict }> = prefixes.map((p) => {
      const prefix = p.length > 1 ? p.replace(/\/+$/, '') || '/' : p;
      return { prefix, ok: frozen(pass('path-ok', prefix)) };
    });
    return function path(input) {
      for (const { prefix, ok } of entries) if (under(input.path, prefix)) return ok;
      return fail('path-outside', input.path);
    };
  },
});
