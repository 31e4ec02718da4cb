// forward/assertion.ts — the signed identity assertion (SPEC §6): an ES256 JWT per session and route, its signing
// key (configured or generated at start), the JWKS that publishes it, and the cache that keeps signing off the hot path.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { DrawbridgeError } from '../errors.js';
import type { Identity } from '../policy/input.js';

/** Options of `AssertionSigner.create`. */
export interface AssertionSignerOptions {
  /** PKCS#8 or SEC1 PEM of a P-256 key; absent: a key is generated (valid for one replica only). */
  readonly privateKeyPem?: string;
  /** Public (or private) PEMs of retired keys, still published in the JWKS during a rotation. */
  readonly previousPublicKeysPem?: readonly string[];
  /** `iss`: the publicUrl. */
  readonly issuer: string;
  /** Lifetime of a token; `exp - iat` is this in whole seconds (at least 1). */
  readonly ttlMs: number;
  /** Clock in milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** Tokens kept in the cache; default 50,000. */
  readonly maxCached?: number;
}

/** What one assertion is about. */
export interface AssertionSubject {
  /**
   * Cache key of the signer: it MUST change whenever the identity behind it changes (sign-in, refresh, step-up,
   * new groups), e.g. `${sessionId}:${revision}`, or a stale identity is reused for up to half the ttl.
   */
  readonly sessionKey: string;
  /** The matched route: `name` becomes `route`, `origin` becomes `aud`. */
  readonly route: { readonly name: string; readonly origin: string };
  readonly identity: Identity;
  /** `sid`: a hash of the session id, never the id itself. */
  readonly sidHash: string;
  /** The request's verified device certificate's SHA-256 (hex): sent as `cnf: { "x5t#S256": … }` (RFC 8705 §3.1). */
  readonly deviceFingerprint?: string;
}

interface CachedToken {
  readonly token: string;
  readonly aud: string;
  /** Epoch milliseconds after which a new token is signed (half the ttl). */
  readonly refreshAt: number;
  /** Where it is cached: `cache.get(session).get(route)`. */
  readonly session: string;
  readonly route: string;
}

const P256 = 'prime256v1';

/**
 * Most bytes of JSON the `groups` claim may take. Beyond it the claim holds the first groups that fit and
 * `groups_truncated: true` is added: 2000 groups would make a ~25 KB header, which upstreams refuse (node and
 * nginx allow 8–16 KB of headers in all), so the request would fail instead of arriving with a partial list.
 */
export const MAX_ASSERTION_GROUPS_BYTES = 2048;

/** The `groups` claim (and `groups_truncated` when some did not fit in MAX_ASSERTION_GROUPS_BYTES). */
function groupsClaim(groups: readonly string[]): { groups: readonly string[]; groups_truncated?: true } {
  let size = 2;
  for (let i = 0; i < groups.length; i++) {
    size += JSON.stringify(groups[i]).length + (i > 0 ? 1 : 0);
    if (size > MAX_ASSERTION_GROUPS_BYTES) return { groups: groups.slice(0, i), groups_truncated: true };
  }
  return { groups };
}

function publicJwk(key: KeyObject): JWK & { kid: string } {
  const { kty, crv, x, y } = key.export({ format: 'jwk' });
  if (kty !== 'EC' || crv !== 'P-256' || !x || !y) throw new DrawbridgeError('DRB_CONFIG_INVALID', 'assertion key: not a P-256 (ES256) key');
  // RFC 7638: SHA-256 of the required members in lexicographic order.
  const kid = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
  return { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' };
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * Signs the assertion JWTs and publishes their keys. Tokens are cached per session key and route and reused
 * until half their ttl has passed, so the hot path costs a cache lookup, not a signature (an ES256 signature
 * with node:crypto is ~45 µs; jose's SignJWT ~150 µs and async).
 */
export class AssertionSigner {
  /** The current key's id: its JWK SHA-256 thumbprint. */
  readonly kid: string;
  /** The key was generated at start (no keyFile): tokens verify on this replica only. */
  readonly generated: boolean;
  private readonly key: KeyObject;
  private readonly issuer: string;
  private readonly ttlMs: number;
  private readonly ttlSec: number;
  private readonly now: () => number;
  private readonly headerB64: string;
  private readonly keySet: { readonly keys: readonly JWK[] };
  /**
   * Signed tokens by session key, then by route name (and device). Looked up by the route's own name string, whose
   * hash V8 keeps: no key string is built per request, and a hit compares no long key held in memory the CPU caches
   * no longer have (with 10,000 routes, one per route).
   */
  private readonly cache = new Map<string, Map<string, CachedToken>>();
  /**
   * Every cached token in the order it was signed, not an LRU: a token is re-signed (and re-inserted at the end) when
   * half its ttl has passed, and every token has the same ttl, so this is the order in which tokens go stale. The
   * first ones are dropped: the stale ones, and the oldest while over `maxCached`. A hit only reads (an LRU moves the
   * entry on every read: with 10,000 routes that is measurable, its bookkeeping is no longer in the CPU caches).
   */
  private readonly order = new Set<CachedToken>();
  private readonly maxCached: number;

  private constructor(key: KeyObject, generated: boolean, previous: readonly KeyObject[], opts: AssertionSignerOptions) {
    const current = publicJwk(createPublicKey(key));
    this.kid = current.kid;
    this.generated = generated;
    this.key = key;
    this.issuer = opts.issuer;
    this.ttlSec = Math.max(1, Math.floor(opts.ttlMs / 1000));
    this.ttlMs = this.ttlSec * 1000;
    this.now = opts.now ?? Date.now;
    this.headerB64 = b64url(JSON.stringify({ alg: 'ES256', kid: this.kid, typ: 'JWT' }));
    const keys = [current];
    for (const k of previous) {
      const jwk = publicJwk(k);
      if (!keys.some((existing) => existing.kid === jwk.kid)) keys.push(jwk);
    }
    this.keySet = Object.freeze({ keys: Object.freeze(keys.map((k) => Object.freeze(k))) });
    this.maxCached = opts.maxCached ?? 50_000;
  }

  /** Loads the configured key (or generates one) and the previous public keys. */
  static async create(opts: AssertionSignerOptions): Promise<AssertionSigner> {
    let key: KeyObject;
    let generated = false;
    if (opts.privateKeyPem !== undefined) {
      try {
        key = createPrivateKey(opts.privateKeyPem);
      } catch (cause) {
        throw new DrawbridgeError('DRB_CONFIG_INVALID', `assertion.keyFile: not a PEM private key (${(cause as Error).message})`, { cause });
      }
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== P256) {
        throw new DrawbridgeError('DRB_CONFIG_INVALID', 'assertion.keyFile: the key must be an EC P-256 key (ES256)');
      }
    } else {
      key = generateKeyPairSync('ec', { namedCurve: P256 }).privateKey;
      generated = true;
    }
    const previous = (opts.previousPublicKeysPem ?? []).map((pem, i) => {
      try {
        return createPublicKey(pem);
      } catch (cause) {
        throw new DrawbridgeError('DRB_CONFIG_INVALID', `assertion.previousKeys[${i}]: not a PEM key (${(cause as Error).message})`, { cause });
      }
    });
    return new AssertionSigner(key, generated, previous, opts);
  }

  /** The JWKS served at /.drawbridge/jwks.json: the current key first, then every previous key. */
  jwks(): { keys: JWK[] } {
    return this.keySet as { keys: JWK[] };
  }

  /**
   * The assertion for this session and route: the cached token while less than half its ttl has passed,
   * else a freshly signed one. Synchronous.
   */
  sign(subject: AssertionSubject): string {
    const { route } = subject;
    // The device is part of the key: the same session from two devices gets two tokens, each with its own `cnf`.
    // (A route name holds no newline: config/schema.)
    const routeKey = subject.deviceFingerprint === undefined ? route.name : `${route.name}\n${subject.deviceFingerprint}`;
    const now = this.now();
    const hit = this.cache.get(subject.sessionKey)?.get(routeKey);
    // `aud` is compared so that a reload that moves a route to another origin never reuses the old audience.
    if (hit !== undefined && now < hit.refreshAt && hit.aud === route.origin) return hit.token;

    const { identity } = subject;
    const iat = Math.floor(now / 1000);
    const claims = {
      iss: this.issuer,
      aud: route.origin,
      sub: identity.sub,
      user: identity.user,
      // Like the email header: an address the IdP did not verify is not identity.
      email: identity.emailVerified === true ? identity.email : undefined,
      ...groupsClaim(identity.groups),
      name: identity.name,
      sid: subject.sidHash,
      amr: identity.amr,
      acr: identity.acr,
      auth_time: identity.authTime,
      iat,
      exp: iat + this.ttlSec,
      route: route.name,
      cnf: subject.deviceFingerprint === undefined ? undefined : { 'x5t#S256': Buffer.from(subject.deviceFingerprint, 'hex').toString('base64url') },
    };
    const input = `${this.headerB64}.${b64url(JSON.stringify(claims))}`;
    // IEEE P1363 (r || s) is the JWS encoding of an ECDSA signature; DER is the node default.
    const signature = sign('sha256', Buffer.from(input, 'utf8'), { key: this.key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${signature.toString('base64url')}`;
    this.remember({ token, aud: route.origin, refreshAt: iat * 1000 + this.ttlMs / 2, session: subject.sessionKey, route: routeKey }, now);
    return token;
  }

  private remember(entry: CachedToken, now: number): void {
    let tokens = this.cache.get(entry.session);
    if (tokens === undefined) this.cache.set(entry.session, (tokens = new Map()));
    const old = tokens.get(entry.route);
    if (old !== undefined) this.order.delete(old);
    tokens.set(entry.route, entry);
    this.order.add(entry);
    for (const t of this.order) {
      if (this.order.size <= this.maxCached && t.refreshAt > now) break;
      this.order.delete(t);
      const of = this.cache.get(t.session)!;
      of.delete(t.route);
      if (of.size === 0) this.cache.delete(t.session);
    }
  }

  /** How many signed tokens are cached (tests). */
  get cachedCount(): number {
    return this.order.size;
  }

  /** How many session keys have cached tokens (tests). */
  get cachedSessions(): number {
    return this.cache.size;
  }
}
