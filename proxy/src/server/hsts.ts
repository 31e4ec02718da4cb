// server/hsts.ts — the Strict-Transport-Security value (RFC 6797) of a configuration's `tls.hsts`, made once
// with the snapshot; every response over HTTPS carries it (Drawbridge's own answers, proxied ones unless the
// upstream sends its own).
import type { Config } from '../schema/config.js';
import { HSTS_DEFAULT_MAX_AGE } from '../schema/constants.js';
import { parseDuration } from '../policy/duration.js';

/**
 * The header value for `tls.hsts`, or undefined when it is `false`. Absent (or no `tls` at all, HTTPS terminated
 * by a trusted proxy): `max-age=31536000`.
 *
 * ```yaml
 * tls: { certFile: tls.crt, keyFile: tls.key, hsts: { maxAge: 365d, includeSubDomains: true, preload: true } }
 * ```
 */
export function hstsValue(tls: Config['tls']): string | undefined {
  const hsts = tls?.hsts;
  if (hsts === false) return undefined;
  const seconds = Math.max(1, Math.floor(parseDuration(hsts?.maxAge ?? HSTS_DEFAULT_MAX_AGE) / 1000));
  return `max-age=${seconds}${hsts?.includeSubDomains ? '; includeSubDomains' : ''}${hsts?.preload ? '; preload' : ''}`;
}
