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
  /**
   * The route's own token slot, built with the configuration snapshot from this same route (server/provision.ts):
   * the hot path's cache. Absent (a caller without a snapshot): the signer's slot for the route's name and origin.
   */
  readonly tokens?: RouteTokens | undefined;
  readonly identity: Identity;
  /** `sid`: a hash of the session id, never the id itself. */
  readonly sidHash: string;
  /** The request's verified device certificate's SHA-256 (hex): sent as `cnf: { "x5t#S256": … }` (RFC 8705 §3.1). */
  readonly deviceFingerprint?: string;
}

/** One session key (and device) with cached tokens: the identity that a route's slot compares, by reference. */
class SessionTokens {
  /** Tokens cached for it, over every route. */
  count = 0;
  constructor(
    readonly sessionKey: string,
    readonly device: string | undefined,
  ) {}
}

/** One cached token, in the signer's signing order. */
class CachedToken {
  constructor(
    readonly token: string,
    /** Epoch milliseconds after which a new token is signed (half the ttl). */
    readonly refreshAt: number,
    readonly session: SessionTokens,
    readonly slot: RouteTokens,
  ) {}
}

/**
 * A route's cached assertions: the first session's token inline (a hit reads this one object and the token string,
 * nothing that grows with the number of routes), the other sessions' in a map of their own. Built with the
 * configuration snapshot for one route object (server/provision.ts), so its `name` and `origin` are that route's: a
 * reload gives every route a new, empty slot and never serves a token with an old `route` or `aud`.
 */
export class RouteTokens {
  /**
   * The first session's token: its session (compared by reference), the token, its refresh time (`refreshTick`: a
   * small integer, kept in the object itself where a time in milliseconds would be a number object of its own, one
   * more read per request), its record.
   */
  session: SessionTokens | undefined = undefined;
  token = '';
  refreshTick = 0;
  first: CachedToken | undefined = undefined;
  /** The other sessions' tokens on this route. */
  more: Map<SessionTokens, CachedToken> | undefined = undefined;
  readonly name: string;
  readonly origin: string;

  constructor(route: { readonly name: string; readonly origin: string }) {
    this.name = route.name;
    this.origin = route.origin;
  }

  /** How many tokens this slot holds (tests). */
  get size(): number {
    return (this.first === undefined ? 0 : 1) + (this.more?.size ?? 0);
  }
}

const P256 = 'prime256v1';

// A token's refresh time as a count of half-seconds from 2025-01-01: exact (a refresh time is a whole second plus
// half the ttl, itself whole seconds) and a small integer until 2042 (later ones are still exact, as plain numbers).
const TICK_EPOCH_MS = Date.UTC(2025, 0, 1);
const TICK_MS = 500;

/** The tick at or before `ms` (never later: a token is re-signed no later than its refresh time). */
function tickOf(ms: number): number {
  return Math.floor((ms - TICK_EPOCH_MS) / TICK_MS);
}

function tickTime(tick: number): number {
  return tick * TICK_MS + TICK_EPOCH_MS;
}

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

/** A signing key and what is made from it once: its id, the JWT header, and the JWKS with the previous keys. */
export interface SignerKeys {
  readonly key: KeyObject;
  /** Generated at start (no keyFile). */
  readonly generated: boolean;
  readonly kid: string;
  readonly headerB64: string;
  readonly keySet: { readonly keys: readonly JWK[] };
}

/** The keys from a PEM private key (absent: a new one is generated) and the previous public keys' PEMs. */
function signerKeys(privateKeyPem: string | undefined, previousPublicKeysPem: readonly string[]): SignerKeys {
  if (privateKeyPem === undefined) return signerKeysOf(generateKeyPairSync('ec', { namedCurve: P256 }).privateKey, true, previousPublicKeysPem);
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new DrawbridgeError('DRB_CONFIG_INVALID', `assertion.keyFile: not a PEM private key (${(cause as Error).message})`, { cause });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== P256) {
    throw new DrawbridgeError('DRB_CONFIG_INVALID', 'assertion.keyFile: the key must be an EC P-256 key (ES256)');
  }
  return signerKeysOf(key, false, previousPublicKeysPem);
}

function signerKeysOf(key: KeyObject, generated: boolean, previousPublicKeysPem: readonly string[]): SignerKeys {
  const previous = previousPublicKeysPem.map((pem, i) => {
    try {
      return createPublicKey(pem);
    } catch (cause) {
      throw new DrawbridgeError('DRB_CONFIG_INVALID', `assertion.previousKeys[${i}]: not a PEM key (${(cause as Error).message})`, { cause });
    }
  });
  const current = publicJwk(createPublicKey(key));
  const keys = [current];
  for (const k of previous) {
    const jwk = publicJwk(k);
    if (!keys.some((existing) => existing.kid === jwk.kid)) keys.push(jwk);
  }
  return Object.freeze({
    key,
    generated,
    kid: current.kid,
    headerB64: b64url(JSON.stringify({ alg: 'ES256', kid: current.kid, typ: 'JWT' })),
    keySet: Object.freeze({ keys: Object.freeze(keys.map((k) => Object.freeze(k))) }),
  });
}

/** The same signing key and the same published key ids, in the same order. */
function sameKeys(a: SignerKeys, b: SignerKeys): boolean {
  return a.kid === b.kid && a.keySet.keys.length === b.keySet.keys.length && a.keySet.keys.every((k, i) => k.kid === b.keySet.keys[i]!.kid);
}

/**
 * Signs the assertion JWTs and publishes their keys. Tokens are cached per session key and route and reused
 * until half their ttl has passed, so the hot path costs a cache lookup, not a signature (an ES256 signature
 * with node:crypto is ~45 µs; jose's SignJWT ~150 µs and async).
 */
export class AssertionSigner {
  /** The keys in force: replaced as a whole by `useKeys` (a reload that rotates them). */
  private keys: SignerKeys;
  private readonly issuer: string;
  private readonly ttlMs: number;
  private readonly ttlSec: number;
  private readonly now: () => number;
  /**
   * The sessions with cached tokens, by session key; with a device certificate, by session key then fingerprint.
   * One lookup per request, in a map as large as the active sessions (hot), whatever the number of routes.
   */
  private readonly sessions = new Map<string, SessionTokens>();
  private readonly deviceSessions = new Map<string, Map<string, SessionTokens>>();
  /** Slots for callers that pass none (`AssertionSubject.tokens`), by route name; replaced when the origin differs. */
  private readonly slots = new Map<string, RouteTokens>();
  /**
   * Every cached token in the order it was signed, not an LRU: a token is re-signed (and re-inserted at the end) when
   * half its ttl has passed, and every token has the same ttl, so this is the order in which tokens go stale. The
   * first ones are dropped: the stale ones, and the oldest while over `maxCached`. A hit only reads (an LRU moves the
   * entry on every read: with 10,000 routes that is measurable, its bookkeeping is no longer in the CPU caches).
   */
  private readonly order = new Set<CachedToken>();
  private readonly maxCached: number;

  private constructor(keys: SignerKeys, opts: AssertionSignerOptions) {
    this.keys = keys;
    this.issuer = opts.issuer;
    this.ttlSec = Math.max(1, Math.floor(opts.ttlMs / 1000));
    this.ttlMs = this.ttlSec * 1000;
    this.now = opts.now ?? Date.now;
    this.maxCached = opts.maxCached ?? 50_000;
  }

  /** Loads the configured key (or generates one) and the previous public keys. */
  static async create(opts: AssertionSignerOptions): Promise<AssertionSigner> {
    return new AssertionSigner(signerKeys(opts.privateKeyPem, opts.previousPublicKeysPem ?? []), opts);
  }

  /** The current key's id: its JWK SHA-256 thumbprint. */
  get kid(): string {
    return this.keys.kid;
  }

  /** The key was generated at start (no keyFile): tokens verify on this replica only. */
  get generated(): boolean {
    return this.keys.generated;
  }

  /**
   * The keys a reload would put in force (a rotation, server/server.ts): from `privateKeyPem` (absent: the current
   * private key, e.g. the one generated at start) and the previous public keys; `undefined` when they are the ones in
   * force (same key, same JWKS). Throws `DRB_CONFIG_INVALID` naming the bad key; nothing changes until `useKeys`.
   */
  keysFor(privateKeyPem: string | undefined, previousPublicKeysPem: readonly string[]): SignerKeys | undefined {
    const next = privateKeyPem === undefined ? signerKeysOf(this.keys.key, this.keys.generated, previousPublicKeysPem) : signerKeys(privateKeyPem, previousPublicKeysPem);
    return sameKeys(next, this.keys) ? undefined : next;
  }

  /**
   * Puts `keys` in force: the next token is signed with the new key and the JWKS publishes the new set. Every cached
   * token is forgotten, in every route's slot, so none signed with a key just retired is served again (a key taken
   * out of the JWKS because it leaked must stop verifying at once, not when the cache would have refreshed).
   */
  useKeys(keys: SignerKeys): void {
    this.keys = keys;
    for (const t of this.order) this.drop(t);
  }

  /** The JWKS served at /.drawbridge/jwks.json: the current key first, then every previous key. */
  jwks(): { keys: JWK[] } {
    return this.keys.keySet as { keys: JWK[] };
  }

  /**
   * The assertion for this session and route: the cached token while less than half its ttl has passed,
   * else a freshly signed one. Synchronous.
   */
  sign(subject: AssertionSubject): string {
    const slot = subject.tokens ?? this.slotFor(subject.route);
    const device = subject.deviceFingerprint;
    const now = this.now();
    // The slot's first session: compared by its key and device (the same strings give the same SessionTokens).
    const first = slot.session;
    if (first !== undefined && first.sessionKey === subject.sessionKey && first.device === device) {
      if (now < tickTime(slot.refreshTick)) return slot.token;
    } else if (slot.more !== undefined) {
      const session = this.sessionOf(subject.sessionKey, device);
      const hit = session === undefined ? undefined : slot.more.get(session);
      if (hit !== undefined && now < hit.refreshAt) return hit.token;
    }

    const { identity } = subject;
    const iat = Math.floor(now / 1000);
    const claims = {
      iss: this.issuer,
      aud: slot.origin,
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
      route: slot.name,
      cnf: device === undefined ? undefined : { 'x5t#S256': Buffer.from(device, 'hex').toString('base64url') },
    };
    const keys = this.keys;
    const input = `${keys.headerB64}.${b64url(JSON.stringify(claims))}`;
    // IEEE P1363 (r || s) is the JWS encoding of an ECDSA signature; DER is the node default.
    const signature = sign('sha256', Buffer.from(input, 'utf8'), { key: keys.key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${signature.toString('base64url')}`;
    this.remember(slot, subject.sessionKey, device, token, iat * 1000 + this.ttlMs / 2, now);
    return token;
  }

  /** The signer's own slot for a route given without one: by name, a new one when the origin (`aud`) differs. */
  private slotFor(route: { readonly name: string; readonly origin: string }): RouteTokens {
    const slot = this.slots.get(route.name);
    if (slot !== undefined && slot.origin === route.origin) return slot;
    const fresh = new RouteTokens(route);
    this.slots.set(route.name, fresh);
    return fresh;
  }

  private sessionOf(sessionKey: string, device: string | undefined): SessionTokens | undefined {
    return device === undefined ? this.sessions.get(sessionKey) : this.deviceSessions.get(sessionKey)?.get(device);
  }

  private remember(slot: RouteTokens, sessionKey: string, device: string | undefined, token: string, refreshAt: number, now: number): void {
    let session = this.sessionOf(sessionKey, device);
    if (session === undefined) {
      session = new SessionTokens(sessionKey, device);
      if (device === undefined) this.sessions.set(sessionKey, session);
      else {
        let devices = this.deviceSessions.get(sessionKey);
        if (devices === undefined) this.deviceSessions.set(sessionKey, (devices = new Map()));
        devices.set(device, session);
      }
    }
    const entry = new CachedToken(token, refreshAt, session, slot);
    if (slot.session === session) {
      this.order.delete(slot.first!);
      session.count--;
    } else {
      const old = slot.more?.get(session);
      if (old !== undefined) {
        this.order.delete(old);
        session.count--;
        slot.more!.delete(session);
      }
    }
    if (slot.session === undefined || slot.session === session) {
      slot.session = session;
      slot.token = token;
      slot.refreshTick = tickOf(refreshAt);
      slot.first = entry;
    } else (slot.more ??= new Map()).set(session, entry);
    session.count++;
    this.order.add(entry);
    for (const t of this.order) {
      if (this.order.size <= this.maxCached && t.refreshAt > now) break;
      this.drop(t);
    }
  }

  /** Forgets one cached token: from its slot, its session (gone with its last token) and the signing order. */
  private drop(t: CachedToken): void {
    this.order.delete(t);
    const { slot, session } = t;
    if (slot.first === t) {
      slot.session = undefined;
      slot.token = '';
      slot.refreshTick = 0;
      slot.first = undefined;
    } else {
      slot.more!.delete(session);
      if (slot.more!.size === 0) slot.more = undefined;
    }
    if (slot.size === 0 && this.slots.get(slot.name) === slot) this.slots.delete(slot.name);
    if (--session.count > 0) return;
    if (session.device === undefined) {
      if (this.sessions.get(session.sessionKey) === session) this.sessions.delete(session.sessionKey);
    } else {
      const devices = this.deviceSessions.get(session.sessionKey);
      if (devices?.get(session.device) === session) {
        devices.delete(session.device);
        if (devices.size === 0) this.deviceSessions.delete(session.sessionKey);
      }
    }
  }

  /** How many signed tokens are cached (tests). */
  get cachedCount(): number {
    return this.order.size;
  }

  /** How many session keys have cached tokens, with or without a device (tests). */
  get cachedSessions(): number {
    return new Set([...this.sessions.keys(), ...this.deviceSessions.keys()]).size;
  }
}
