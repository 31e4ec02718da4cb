// routes/from.ts — parses a route's `from` (scheme://host[:port][/path-prefix]) into the parts the
// route table indexes. Hosts and prefixes go through the same normalization as requests.
import { normalizeHost, normalizeTarget } from './normalize.js';

export interface ParsedFrom {
  scheme: 'http' | 'https';
  /** Lower-case hostname without port; for a wildcard, the suffix after `*.` (e.g. `example.com`). */
  hostname: string;
  wildcard: boolean;
  /** An explicit port in `from` (a default port is dropped); absent → the route answers on any port. */
  port?: number;
  /** Normalized, segment-aware path prefix; `/` when none. A trailing slash is removed (`/admin/` → `/admin`). */
  prefix: string;
  /** scheme://host[:port] as written (normalized), the route's origin (assertion `aud`, return targets). */
  origin: string;
}

/** Parses `from`; returns a message naming the problem instead of throwing. */
export function parseFrom(from: string): ParsedFrom | { error: string } {
  const m = /^(https?):\/\/([^/?#]*)([^?#]*)$/i.exec(from);
  if (!m) return { error: `"from" must look like https://host[:port][/path] without query or fragment (got "${from}")` };
  const scheme = m[1].toLowerCase() as 'http' | 'https';
  let authority = m[2];
  const wildcard = authority.startsWith('*.');
  if (wildcard) authority = authority.slice(2);
  if (authority.includes('*')) return { error: `"from" host may only be wildcarded as a leading "*." label (got "${m[2]}")` };
  const host = normalizeHost(authority, scheme);
  if (!host.ok) return { error: `"from" host: ${host.reason}` };
  let prefix = '/';
  if (m[3] !== '' && m[3] !== '/') {
    // Only unreserved characters: an encoded spelling (`%21` for `!`) could otherwise miss the route
    // while an upstream that decodes fully serves the same resource.
    if (!/^[A-Za-z0-9\-._~/]+$/.test(m[3])) return { error: `"from" path may only contain letters, digits, "-", ".", "_", "~" and "/" (got "${m[3]}")` };
    const p = normalizeTarget(m[3]);
    if (!p.ok) return { error: `"from" path: ${p.reason}` };
    if (p.path !== m[3] && p.path !== m[3] + '/' && p.path + '/' !== m[3]) {
      return { error: `"from" path must be normalized: write "${p.path}" instead of "${m[3]}"` };
    }
    prefix = p.path.length > 1 && p.path.endsWith('/') ? p.path.slice(0, -1) : p.path;
  }
  const parsed: ParsedFrom = { scheme, hostname: host.hostname, wildcard, prefix, origin: `${scheme}://${wildcard ? '*.' : ''}${host.host}` };
  if (host.port !== undefined) parsed.port = host.port;
  return parsed;
}
