// admission/classify.ts — the pure first half of admission (SPEC §3 steps 1–2): normalize the request-target and
// host, then Drawbridge's own reserved paths, then the one route that serves it. Every front door (the proxy,
// WebSocket upgrades, forward-auth, explain/test) classifies with this function, so they can never disagree on it.
import { isReservedPath } from '../pages/paths.js';
import type { Route, RouteTable } from '../routes/compile.js';
import { normalizeHost, normalizeTarget } from '../url/normalize.js';

/** What {@link classify} reads: the scheme and raw host the client used, the raw request-target and the method. */
export interface ClassifyInput {
  readonly scheme: 'http' | 'https';
  /** The Host (or the trusted X-Forwarded-Host) as sent; undefined when absent. */
  readonly rawHost: string | undefined;
  /** The raw request-target (`/a/b?q`), before any decoding. */
  readonly target: string;
  readonly method: string;
  /** The request carried more than one Host header (checked by the caller, which sees the raw headers). */
  readonly duplicateHost?: boolean;
}

/** Where the request is (normalized): set on every classification but a malformed target. */
export interface Located {
  /** Normalized host as written in origins: `app.example.com` or `app.example.com:8443`. */
  readonly host: string;
  readonly hostname: string;
  readonly port: number | undefined;
  readonly path: string;
  readonly query: string;
}

/**
 * The classification of a request, frozen:
 * - `bad-request`: refused with 400 before matching (`reason` is shown to the client); `path`/`query` when the
 *   target itself was fine (the host was not);
 * - `reserved`: one of Drawbridge's own paths (`/.drawbridge/...`), answered by Drawbridge, never forwarded;
 * - `no-route` (404) / `method-not-allowed` (405): no route serves it;
 * - `route`: the one route that serves it, used for authorization AND forwarding (never matched twice).
 */
export type Classification =
  | { readonly kind: 'bad-request'; readonly reason: string; readonly path?: string; readonly query?: string }
  | ({ readonly kind: 'reserved' } & Located)
  | ({ readonly kind: 'no-route' } & Located)
  | ({ readonly kind: 'method-not-allowed' } & Located)
  | ({ readonly kind: 'route'; readonly route: Route } & Located);

/** Classifies one request against the route table (pure: no I/O, no clock). */
export function classify(table: RouteTable, input: ClassifyInput): Classification {
  const target = normalizeTarget(input.target);
  if (!target.ok) return Object.freeze({ kind: 'bad-request', reason: target.reason });
  const { path, query } = target;
  if (input.duplicateHost) return Object.freeze({ kind: 'bad-request', reason: 'more than one Host header', path, query });
  const h = normalizeHost(input.rawHost, input.scheme);
  if (!h.ok) return Object.freeze({ kind: 'bad-request', reason: `host: ${h.reason}`, path, query });
  // One literal per outcome (no spread): this runs once per proxied request.
  if (isReservedPath(path)) return Object.freeze({ kind: 'reserved', host: h.host, hostname: h.hostname, port: h.port, path, query });
  const match = table.match(h.hostname, h.port, path, input.method);
  if ('status' in match) return Object.freeze({ kind: match.status === 404 ? 'no-route' : 'method-not-allowed', host: h.host, hostname: h.hostname, port: h.port, path, query });
  return Object.freeze({ kind: 'route', route: match, host: h.host, hostname: h.hostname, port: h.port, path, query });
}

/**
 * Reads an absolute http(s) URL (`explain --url`, a forward-auth `X-Original-URL`) into what {@link classify} takes;
 * a string with the reason when it is not one.
 */
export function absoluteUrlInput(url: string, method: string): ClassifyInput | string {
  const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(url);
  if (!m) return `expected an absolute http(s) URL, got "${url}"`;
  return { scheme: m[1]!.toLowerCase() as 'http' | 'https', rawHost: m[2]!, target: m[3] === '' ? '/' : m[3]!, method: method.toUpperCase() };
}
