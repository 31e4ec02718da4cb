// routes/rewrite.ts — the path a route sends upstream: `to`'s path + the normalized, authorized request path, or that
// path with the route's prefix stripped or replaced (`stripPrefix`, `rewrite.prefix`), or rewritten by a regex
// (`rewrite.regex` + `rewrite.replace`). Compiled once per route; a regex result that is not a canonical path is refused.
import type { Route } from './compile.js';
import { normalizeTarget } from '../url/normalize.js';

/** A route's `rewrite` as configured. */
export type RewriteConfig = { readonly prefix: string } | { readonly regex: string; readonly replace: string };

/** A replacement compiled into parts: literal text, or the number or name of a capture group (0 for the match). */
type ReplacePart = string | number | { readonly group: string };

/** The compiled path rewrite of a route; undefined when the request path is sent as it is. */
export type PathRewrite =
  | { readonly kind: 'prefix'; readonly prefix: string; readonly replacement: string }
  | { readonly kind: 'regex'; readonly regex: RegExp; readonly parts: readonly ReplacePart[] };

/** Why a rewritten path is refused, or the path. */
export type RewriteResult = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Parses a regex replacement: `$1`…`$99` (a capture group by number), `$<name>` (by name), `$&` (the whole match),
 * `$$` (a `$`); any other `$` is an error, so a typo never becomes literal text. Returns the parts, or the error.
 */
export function parseReplacement(replace: string, regex: RegExp): { parts: ReplacePart[] } | { error: string } {
  const groups = new RegExp(`${regex.source}|`).exec('')!.length - 1;
  const names = new Set(Object.keys(new RegExp(`${regex.source}|`).exec('')!.groups ?? {}));
  const parts: ReplacePart[] = [];
  let literal = '';
  for (let i = 0; i < replace.length; i++) {
    const c = replace[i]!;
    if (c !== '$') {
      literal += c;
      continue;
    }
    const next = replace[i + 1];
    let part: ReplacePart;
    if (next === '$') {
      literal += '$';
      i++;
      continue;
    } else if (next === '&') {
      part = 0;
      i++;
    } else if (next !== undefined && next >= '0' && next <= '9') {
      const digits = /^\d+/.exec(replace.slice(i + 1))![0];
      const n = Number(digits);
      if (n < 1 || n > groups) return { error: `"$${digits}" names capture group ${n}, but the regex has ${groups === 0 ? 'none' : groups === 1 ? 'only 1' : `only ${groups}`} (group numbers start at 1; use $<name> for a named group)` };
      part = n;
      i += digits.length;
    } else if (next === '<') {
      const end = replace.indexOf('>', i + 2);
      const name = end < 0 ? '' : replace.slice(i + 2, end);
      if (!names.has(name)) return { error: `"${end < 0 ? replace.slice(i) : replace.slice(i, end + 1)}" names no capture group of the regex${names.size ? ` (it has ${[...names].map((n) => `<${n}>`).join(', ')})` : ''}` };
      part = { group: name };
      i = end;
    } else {
      return { error: `"$" must be followed by a group number, <name>, & or $ (write $$ for a literal "$")` };
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push(part);
  }
  if (literal !== '') parts.push(literal);
  return { parts };
}

/** A path written in the configuration is canonical: what the normalizer makes of it is itself, without a query. */
export function isCanonicalPath(path: string): boolean {
  if (path.length === 0 || path.charCodeAt(0) !== 0x2f) return false;
  const n = normalizeTarget(path);
  return n.ok && n.path === path && n.query === '';
}

/**
 * Compiles a route's path rewrite (the configuration is validated: config/semantic.ts `checkRewrite` reports what
 * this would throw on). `prefix` is the route's `from` prefix ('/' for none).
 */
export function compileRewrite(prefix: string, stripPrefix: boolean, rewrite: RewriteConfig | undefined): PathRewrite | undefined {
  if (rewrite && 'regex' in rewrite) {
    const regex = new RegExp(rewrite.regex);
    const parsed = parseReplacement(rewrite.replace, regex);
    if ('error' in parsed) throw new Error(`rewrite.replace: ${parsed.error}`);
    return Object.freeze({ kind: 'regex', regex, parts: Object.freeze(parsed.parts) });
  }
  if (rewrite) return Object.freeze({ kind: 'prefix', prefix, replacement: rewrite.prefix === '/' ? '' : rewrite.prefix });
  if (stripPrefix && prefix !== '/') return Object.freeze({ kind: 'prefix', prefix, replacement: '' });
  return undefined;
}

/**
 * The path to send upstream for a normalized, authorized request path (without `to`'s base path). A prefix
 * rewrite replaces the route's prefix (`/static/app.css` → `/app.css`, `/static/` → `/`); the result is canonical
 * by construction, or '' for the prefix itself (`/static` stripped: `to`'s path is sent as it is, `/` when it has none). A regex rewrite replaces the first match; its result is refused unless it is itself a canonical
 * path (starts with `/`; no `.`/`..` segment, `//`, `?`, `#`, `\`, encoded slash or control character, …): a capture
 * can hold a piece of a segment (`..` of `/files/..x`), and the upstream must never receive a path that means
 * something else than the string Drawbridge sends.
 */
export function rewritePath(rewrite: PathRewrite | undefined, path: string): RewriteResult {
  if (rewrite === undefined) return { ok: true, path };
  if (rewrite.kind === 'prefix') {
    const rest = rewrite.prefix === '/' ? path : path.slice(rewrite.prefix.length);
    return { ok: true, path: rewrite.replacement + rest };
  }
  const m = rewrite.regex.exec(path);
  if (m === null) return { ok: true, path };
  let replaced = '';
  for (const part of rewrite.parts) {
    replaced += typeof part === 'string' ? part : typeof part === 'number' ? (m[part] ?? '') : (m.groups?.[part.group] ?? '');
  }
  const out = path.slice(0, m.index) + replaced + path.slice(m.index + m[0].length);
  if (!isCanonicalPath(out)) {
    const n = out.charCodeAt(0) === 0x2f ? normalizeTarget(out) : undefined;
    const why = n === undefined ? 'it does not start with "/"' : !n.ok ? n.reason : n.query !== '' || out.includes('?') ? 'it contains "?"' : `it is not canonical (normalizes to ${n.path})`;
    return { ok: false, reason: `the route's rewrite turns ${path} into ${JSON.stringify(out)}, which is refused: ${why}` };
  }
  return { ok: true, path: out };
}

/**
 * The request-target sent upstream: `to`'s path, the (rewritten) authorized path, and the query (without `?`, ''
 * for none), or why the rewrite is refused. The result always starts with `to`'s path followed by a canonical path.
 */
export function upstreamTarget(route: Pick<Route, 'upstream' | 'rewrite'>, normalizedPath: string, query: string): RewriteResult {
  if (route.rewrite === undefined) return { ok: true, path: plainTarget(route, normalizedPath, query) };
  const r = rewritePath(route.rewrite, normalizedPath);
  return r.ok ? { ok: true, path: plainTarget(route, r.path, query) } : r;
}

/** `upstreamTarget` of a route without a rewrite (the proxied hot path: no result object): base path, path, query. */
export function plainTarget(route: Pick<Route, 'upstream'>, path: string, query: string): string {
  const base = route.upstream.basePath + path || '/';
  return query === '' ? base : `${base}?${query}`;
}
