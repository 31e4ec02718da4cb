// url/path-prefix.ts — a path prefix as the configuration writes one (the path of a route's `from`, each
// entry of a `path:` rule): refused unless it is already in the normalized form requests are matched in (SPEC §3);
// and the one segment-wise test of a path against a prefix (routes, `path:` rules, Drawbridge's reserved paths).
import { normalizeTarget } from './normalize.js';

/**
 * Parses a configured path prefix; `what` names it in messages (`"from" path`). Only unreserved characters and
 * `/`: an escape (`%73` for `s`, `%C3%A9`) or a sub-delimiter could be spelled another way in a request and miss
 * the prefix while an upstream that decodes fully serves the same resource. The spelling must already be
 * normalized (no `//`, `.` or `..` segment), since a request is normalized before it is matched and so could
 * never be under a prefix that is not. A trailing `/` is dropped (`/admin/` → `/admin`); `` and `/` give `/`.
 * Returns a message naming the problem instead of throwing.
 */
export function parsePathPrefix(raw: string, what: string): { prefix: string } | { error: string } {
  if (raw === '' || raw === '/') return { prefix: '/' };
  if (!/^[A-Za-z0-9\-._~/]+$/.test(raw)) return { error: `${what} may only contain letters, digits, "-", ".", "_", "~" and "/" (got "${raw}")` };
  const p = normalizeTarget(raw);
  if (!p.ok) return { error: `${what}: ${p.reason}` };
  if (p.path !== raw && p.path !== raw + '/' && p.path + '/' !== raw) return { error: `${what} must be normalized: write "${p.path}" instead of "${raw}"` };
  return { prefix: p.path.length > 1 && p.path.endsWith('/') ? p.path.slice(0, -1) : p.path };
}

/**
 * True when `path` equals `prefix` or lies under it segment-wise ("/admin" → "/admin", "/admin/x"; never
 * "/administrator"). Both must be normalized. Prefix "/" matches all; a trailing "/" on the prefix is ignored
 * ("/admin/" also matches "/admin"); a prefix not starting with "/" matches nothing.
 */
export function isUnderPrefix(path: string, prefix: string): boolean {
  if (prefix.charCodeAt(0) !== 0x2f) return false;
  let n = prefix.length;
  if (prefix.charCodeAt(n - 1) === 0x2f) n--;
  if (n === 0) return true;
  if (path.length > n && path.charCodeAt(n) !== 0x2f) return false;
  if (n === prefix.length) return path.startsWith(prefix);
  return path.length === n ? prefix.startsWith(path) : path.startsWith(prefix);
}
