// forward/strip.ts — the one inbound header policy (SPEC §3 steps 1 and 3), built from the compiled configuration:
// removes from a client's request every header it must not be able to set — any name with `_`, identity and
// assertion headers, x-drawbridge-*, Drawbridge's own cookies, a consumed bearer, untrusted proxy headers,
// `Forwarded`, URL- and method-override headers, and hop-by-hop headers. Replaces `req.headers` before the proxy
// library sees the request.
import type { IncomingHttpHeaders } from 'node:http';
import { OVERRIDE_HEADERS } from '../schema/constants.js';
import { isOwnCookie, removeCookies } from '../session/cookie.js';
import { DEFAULT_IDENTITY_HEADERS, DRAWBRIDGE_PREFIX, HEADERS, X_FORWARDED_PREFIX } from '../header-names.js';

/** The precomputed name sets of `stripClientHeaders`. Build once per configuration with `compileStripper`. */
export interface Stripper {
  /** Normalized names (lower-case, `_` as `-`) removed from every request. */
  readonly names: ReadonlySet<string>;
  /** Normalized names a client may not name in `Connection`: Drawbridge sets or reads them. */
  readonly guarded: ReadonlySet<string>;
}

/** Per-request facts `stripClientHeaders` needs. */
export interface StripOptions {
  /** The socket peer is a configured trusted proxy: its X-Forwarded-* and X-Real-IP are kept. */
  readonly trustedPeer: boolean;
  /**
   * The base name of Drawbridge's cookies (`session.cookieName`): every cookie of its namespace (the session
   * cookie, sign-in attempt cookies, with or without `__Host-`, see session/cookie.ts `isOwnCookie`) is removed
   * from `Cookie`. '' removes none.
   */
  readonly cookieBase: string;
  /** Drawbridge authenticated the request with its `Authorization: Bearer` token. */
  readonly consumedBearer: boolean;
  /** The route's `keepRequestHeaders`: override headers forwarded as sent (any other name in it is ignored). */
  readonly keep?: ReadonlySet<string> | undefined;
}

// Dropped from every request, trusted peer or not:
// - hop-by-hop headers that describe the client's connection to Drawbridge, never the upstream's (RFC 9110 §7.6.1);
// - `Forwarded` (RFC 7239): Drawbridge never reads it and sends X-Forwarded-* instead; passed on, it would carry a
//   chain (or a client's for=/host=/proto= a proxy appended to) that frameworks preferring it over X-Forwarded-*
//   (Spring's ForwardedHeaderFilter, Rack 3) would read in place of what Drawbridge decided on;
// - the override headers (schema/config.ts OVERRIDE_HEADERS): the URL and method Drawbridge authorized are the
//   request line's, an application honouring these would serve another. A route may keep one (`keepRequestHeaders`).
const DROPPED: ReadonlySet<string> = new Set([HEADERS.keepAlive, HEADERS.proxyConnection, HEADERS.proxyAuthorization, HEADERS.forwarded, ...OVERRIDE_HEADERS]);
const KEEPABLE: ReadonlySet<string> = new Set(OVERRIDE_HEADERS);

// What a `Connection` token may never delete: headers Drawbridge sets (deleting them after they are set would
// undo the identity it passes), credentials it reads, and the framing headers (deleting Content-Length or
// Transfer-Encoding would let a body be forwarded unframed, i.e. smuggled as a second request).
const ALWAYS_GUARDED = [
  HEADERS.forwardedFor,
  HEADERS.forwardedProto,
  HEADERS.forwardedHost,
  HEADERS.forwardedPort,
  HEADERS.forwarded,
  HEADERS.realIp,
  HEADERS.requestId,
  HEADERS.accessToken,
  HEADERS.host,
  HEADERS.contentLength,
  HEADERS.transferEncoding,
  HEADERS.cookie,
  HEADERS.authorization,
  HEADERS.upgrade,
  HEADERS.connection,
];

// Stripped whatever routes rename them to: an upstream may still read the defaults.
const DEFAULT_NAMES = [...Object.values(DEFAULT_IDENTITY_HEADERS), HEADERS.accessToken, HEADERS.assertion];

function normalize(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}

/**
 * Precomputes the stripper from every identity header name any route uses plus the assertion header
 * (`CompiledConfig.identityHeaderNames`). The default identity and assertion names and `X-Forwarded-Access-Token`
 * are always included.
 */
export function compileStripper(names: readonly string[]): Stripper {
  const stripped = new Set<string>();
  for (const n of [...names, ...DEFAULT_NAMES]) stripped.add(normalize(n));
  const guarded = new Set<string>([...stripped, ...ALWAYS_GUARDED]);
  return Object.freeze({ names: stripped, guarded });
}

function isGuarded(stripper: Stripper, normalized: string): boolean {
  return stripper.guarded.has(normalized) || normalized.startsWith(DRAWBRIDGE_PREFIX) || normalized.startsWith(X_FORWARDED_PREFIX);
}

/**
 * Removes what the client must not pass upstream: every name containing `_` (SPEC §3 step 1: CGI-style upstreams
 * read `X_Forwarded_User` as X-Forwarded-User, and no legitimate client needs one), every stripper name and every `x-drawbridge-*` header
 * (case-insensitive, `_` and `-` alike), `x-forwarded-access-token`, the named cookies, `Authorization` when
 * Drawbridge consumed its bearer, `X-Forwarded-*`/`X-Real-IP` from an untrusted peer, `Forwarded`, the URL- and
 * method-override headers but those in `opts.keep`, and hop-by-hop headers. `Connection` keeps at most `upgrade`
 * (with an `Upgrade` header); the headers its other tokens name are removed, except those Drawbridge sets or reads,
 * whose tokens are just dropped.
 *
 * Replaces `req.headers` with a new object rather than deleting from node's: a `delete` turns the object into a
 * slow dictionary, which costs every later step (http-proxy copies it, node iterates it) about 2 µs per request.
 * Destructive: read the session cookie and the bearer token before calling this.
 */
export function stripClientHeaders(req: { headers: IncomingHttpHeaders }, stripper: Stripper, opts: StripOptions): void {
  const headers = req.headers;
  const { names } = stripper;
  const keep = opts.keep;
  // Headers the client named in Connection (rare: browsers send only keep-alive or close).
  let named: string[] | undefined;
  let upgrade = false;
  const connection = headers.connection;
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    for (const raw of connection.split(',')) {
      const token = raw.trim().toLowerCase();
      // keep-alive and close describe the client's socket; the upstream connection is the agent's.
      if (token === '' || token === 'keep-alive' || token === 'close') continue;
      if (token === 'upgrade') upgrade = headers.upgrade !== undefined;
      else if (!isGuarded(stripper, normalize(token))) (named ??= []).push(token);
    }
  }

  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    // Node lower-cases names. Every `_` name goes: an upstream may read it as the `-` spelling of a header
    // Drawbridge sets or strips.
    if (name.includes('_')) continue;
    if (names.has(name) || name.startsWith(DRAWBRIDGE_PREFIX)) continue;
    if (DROPPED.has(name)) {
      if (keep !== undefined && keep.has(name) && KEEPABLE.has(name) && !named?.includes(name)) out[name] = headers[name];
      continue;
    }
    if (name.startsWith(X_FORWARDED_PREFIX) || name === HEADERS.realIp) {
      // Untrusted: replaced by Drawbridge's own, never appended to.
      if (opts.trustedPeer) out[name] = headers[name];
      continue;
    }
    if (named !== undefined && named.includes(name)) continue;
    switch (name) {
      case HEADERS.connection:
      case HEADERS.upgrade:
        // Re-added below for an upgrade; otherwise hop-by-hop (an Upgrade without Connection: upgrade is stray).
        break;
      case HEADERS.cookie: {
        const kept = opts.cookieBase !== '' ? removeOwnCookies(headers.cookie, opts.cookieBase) : headers.cookie;
        if (kept !== undefined) out.cookie = kept;
        break;
      }
      case HEADERS.authorization:
        if (!opts.consumedBearer) out.authorization = headers.authorization;
        break;
      default:
        out[name] = headers[name];
    }
  }
  if (upgrade) {
    out.connection = 'upgrade';
    out.upgrade = headers.upgrade;
  }
  req.headers = out;
}

/** The Cookie header without Drawbridge's own cookies (base name `base`); undefined when nothing is left. */
function removeOwnCookies(header: string | undefined, base: string): string | undefined {
  // Most requests carry the session cookie and a few others: only look at pieces when one can be present.
  if (header === undefined || !header.includes(base)) return header;
  return removeCookies(header, (name) => isOwnCookie(base, name));
}
