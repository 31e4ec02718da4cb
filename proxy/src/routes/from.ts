// routes/from.ts — parses a route's `from` (scheme://host[:port][/path-prefix]) into the parts the
// route table indexes. Hosts and prefixes go through the same normalization as requests.
import { normalizeHost } from '../url/normalize.js';
import { parsePathPrefix } from '../url/path-prefix.js';

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
  const path = parsePathPrefix(m[3], '"from" path');
  if ('error' in path) return path;
  const { prefix } = path;
  const parsed: ParsedFrom = { scheme, hostname: host.hostname, wildcard, prefix, origin: `${scheme}://${wildcard ? '*.' : ''}${host.host}` };
  if (host.port !== undefined) parsed.port = host.port;
  return parsed;
}
