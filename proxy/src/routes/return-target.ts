// routes/return-target.ts — decides where a browser may be sent back to after sign-in, sign-out or
// hand-off (`rd`). Dangerous shapes are refused on the raw string, before any URL parsing.
import type { CompiledConfig } from './compile.js';
import { normalizeHost } from '../url/normalize.js';

// Control characters, space, backslash and anything non-ASCII: browsers "repair" these in ways
// that turn a harmless-looking target into another origin (`/\evil.com`, `/\t/evil.com`).
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const UNSAFE = /[\u0000-\u0020\u007f-\uffff\\]/;

/**
 * Returns an absolute URL for `rd` when it is a relative path or an absolute http(s) URL whose origin
 * is publicUrl's or one a route serves exactly (RouteTable.servesExactly: never another port of a port-less
 * route's host, nor a wildcard's host unless the route allows hand-offs there); otherwise `fallback` (publicUrl + '/').
 * `base` is the origin relative targets resolve against (the host that received the request).
 */
export function safeReturnTarget(rd: string | undefined | null, compiled: CompiledConfig, base: string = compiled.publicOrigin): string {
  const fallback = `${compiled.publicOrigin}/`;
  if (typeof rd !== 'string' || rd === '' || rd.length > 4096 || UNSAFE.test(rd)) return fallback;
  if (rd.startsWith('/')) {
    if (rd.startsWith('//')) return fallback;
    const url = tryUrl(rd, base);
    return url && url.origin === base ? url.href : fallback;
  }
  const m = /^(https?):\/\/([^/?#]*)/i.exec(rd);
  if (!m || m[2].includes('@') || m[2] === '') return fallback;
  const url = tryUrl(rd);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') return fallback;
  if (url.origin === compiled.publicOrigin) return url.href;
  const scheme = url.protocol.slice(0, -1) as 'http' | 'https';
  const host = normalizeHost(url.host, scheme);
  if (!host.ok) return fallback;
  return servesExactly(compiled, scheme, host.hostname, host.port) ? url.href : fallback;
}

function tryUrl(s: string, base?: string): URL | undefined {
  try {
    return new URL(s, base);
  } catch {
    return undefined;
  }
}

/** True when `origin` (scheme://host[:port], normalized) is publicUrl's or one a route serves exactly. */
export function isServedOrigin(origin: string, compiled: CompiledConfig): boolean {
  if (origin === compiled.publicOrigin) return true;
  const m = /^(https?):\/\/(.+)$/.exec(origin);
  if (!m) return false;
  const scheme = m[1] as 'http' | 'https';
  const host = normalizeHost(m[2], scheme);
  return host.ok && host.host === m[2] && servesExactly(compiled, scheme, host.hostname, host.port);
}

function servesExactly(compiled: CompiledConfig, scheme: 'http' | 'https', hostname: string, port: number | undefined): boolean {
  return compiled.table.servesExactly(scheme, hostname, port, compiled.ownPorts);
}
