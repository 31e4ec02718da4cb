// session/sessions.ts — sessions as the server uses them: read the cookie, load and check a
// session against the route's timeouts, create one at sign-in (always a new id), CSRF tokens.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { sha256Base64url } from '../digest.js';
import { growingLru } from './lru.js';
import type { Identity } from '../policy/input.js';
import { networkOf, type SessionBinding } from '../policy/context.js';
import { cookieValue, newSessionId, openSessionCookie, sealSessionId, serializeCookie, sessionCookieName, clearCookie, SESSION_ID_LENGTH, SESSION_COOKIE_LENGTH } from './cookie.js';
import type { SessionKeys } from './keys.js';
import type { SessionRecord, SessionStore, SessionTokens } from './store.js';

export interface SessionsOptions {
  cookieBase: string;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
}

/** Stricter limits a route may set (route.session). */
export interface SessionLimits {
  sessionIdleMs: number;
  sessionMaxMs: number;
}

/** `routeLimit`: the session is alive, but older or idler than this route allows (a fresh sign-in is needed). */
export type LoadResult = { state: 'none' } | { state: 'expired'; id: string; routeLimit?: boolean } | { state: 'valid'; id: string; record: SessionRecord };


/** A loaded record against its idle and absolute timeouts (the route's, when stricter). */
function checkLimits(id: string, record: SessionRecord | undefined, now: number, limits: SessionLimits | undefined): LoadResult {
  if (!record) return { state: 'expired', id };
  const idle = Math.min(record.idleTimeoutMs, limits?.sessionIdleMs ?? Infinity);
  const max = Math.min(record.expiresAt, record.createdAt + (limits?.sessionMaxMs ?? Infinity));
  if (now >= max || now - record.lastSeenAt >= idle) {
    const globallyAlive = now < record.expiresAt && now - record.lastSeenAt < record.idleTimeoutMs;
    return globallyAlive ? { state: 'expired', id, routeLimit: true } : { state: 'expired', id };
  }
  return { state: 'valid', id, record };
}

/**
 * A string of its own, flat: not a slice of a longer one (a cookie value cut from its header) nor a concatenation,
 * whose characters sit in other objects. Lossless for any string (JSON escapes lone surrogates and reads them back).
 */
function flat(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/**
 * One route's last verified session cookie (`RouteState`, built with the configuration snapshot, empty at first): the
 * cookie value, the session id it carries and the origin its MAC was verified for, back to back in one flat string
 * (`''`: none). With a cookie per route host, a hit reads this one string instead of the map of every host's values
 * (with 10,000 routes, not in the CPU caches), and the id is cut from it; another value on the route goes through the
 * map (or the MAC) and takes the slot: the very string the map remembers for that value, never a new one.
 */
export interface RouteCookie {
  verifiedCookie: string;
}

/** An empty slot of its own (a caller without a snapshot, tests). */
export function routeCookie(): RouteCookie {
  return { verifiedCookie: '' };
}

/** The session layer of one Drawbridge instance. */
export class Sessions {
  constructor(
    readonly store: SessionStore,
    readonly keys: SessionKeys,
    private readonly options: SessionsOptions,
  ) {}

  /** Most verified cookie values remembered (`readId`). */
  static readonly MAX_VERIFIED = 10_000;

  /** The cookie name for a request scheme (`__Host-` prefix over HTTPS). */
  cookieName(secure: boolean): string {
    return sessionCookieName(this.options.cookieBase, secure);
  }


  /** The base name of Drawbridge's cookies (their namespace is stripped from every forwarded request). */
  get cookieBase(): string {
    return this.options.cookieBase;
  }

  // Cookie values whose MAC already verified → their session id and the origin they were issued for: an HMAC per
  // request is the costliest step of authentication. Only verified values enter; bounded, so a flood of forged
  // cookies cannot grow it. The origin is compared on every hit: a value is a session on its own host only.
  // A plain map in insertion order, the oldest value dropped when full, not an LRU: a hit only reads (an LRU moves
  // the entry on every read; with a cookie per route host, hundreds of hosts, that bookkeeping is no longer in the
  // CPU caches). A value dropped while still in use costs one HMAC to verify again. The value remembered is the cookie
  // value, the session id (always SESSION_ID_LENGTH long) and the origin back to back, one flat string, and the key is
  // its first part (a slice of it, not a copy): a hit reads two strings rather than a record, its origin and the cookie
  // header the key was cut from (with a cookie per route host, hundreds of hosts, none of them in the CPU caches). A
  // route's slot (`RouteCookie`) takes that same string when it moves to another value, so moving allocates nothing: a
  // new string stored in a slot outlives the young generation (the slot lives as long as its snapshot) and is promoted,
  // and with thousands of routes, or several users or hosts per route, slots move on most requests that reach the map
  // (the 10,000-route bench row: one request in ten, its wildcard routes' hosts), which filled the old generation
  // faster and brought full collections sooner.
  private readonly verified = new Map<string, string>();

  /**
   * The session id the request's cookie carries, when its MAC verifies for `origin` (the scheme://host[:port] the
   * request addressed); undefined otherwise (a cookie issued for another route host is no session here). `route`: the
   * matched route's slot (`RouteState.cookie`), read first and set to the value that verified.
   */
  readId(cookieHeader: string | undefined, secure: boolean, origin: string, route?: RouteCookie): string | undefined {
    if (cookieHeader === undefined) return undefined;
    const name = this.cookieName(secure);
    if (!cookieHeader.includes(name)) return undefined;
    const value = cookieValue(cookieHeader, name);
    if (value === undefined) return undefined;
    // Only a sealed value (of its one length) ever takes the slot, so its value, id and origin split at fixed places.
    if (route !== undefined && value.length === SESSION_COOKIE_LENGTH) {
      const slot = route.verifiedCookie;
      if (slot.length === SESSION_COOKIE_LENGTH + SESSION_ID_LENGTH + origin.length && slot.startsWith(value)) return slot.endsWith(origin) ? slot.slice(SESSION_COOKIE_LENGTH, SESSION_COOKIE_LENGTH + SESSION_ID_LENGTH) : undefined;
    }
    const known = this.verified.get(value);
    if (known !== undefined) {
      if (known.length !== value.length + SESSION_ID_LENGTH + origin.length || !known.endsWith(origin)) return undefined;
      if (route !== undefined && value.length === SESSION_COOKIE_LENGTH) route.verifiedCookie = known;
      return known.slice(value.length, value.length + SESSION_ID_LENGTH);
    }
    const id = openSessionCookie(value, this.keys.cookieMac, origin);
    // Only an id of its one length is remembered: the remembered string is cut at fixed places.
    if (id !== undefined && id.length === SESSION_ID_LENGTH) {
      if (this.verified.size >= Sessions.MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
      const held = flat(`${value}${id}${origin}`);
      this.verified.set(held.slice(0, value.length), held);
      if (route !== undefined && value.length === SESSION_COOKIE_LENGTH) route.verifiedCookie = held;
    }
    return id;
  }

  /** How many verified cookie values are remembered (tests). */
  get verifiedCount(): number {
    return this.verified.size;
  }

  /** What is remembered for a verified cookie value: the value, its session id and origin back to back (tests). */
  rememberedFor(value: string): string | undefined {
    return this.verified.get(value);
  }

  /**
   * Loads a session and checks idle and absolute timeouts (the route's, when stricter) against `now`.
   * Rejects when the store fails: the caller answers 503, never allows.
   */
  async load(id: string | undefined, now: number, limits?: SessionLimits): Promise<LoadResult> {
    if (id === undefined) return { state: 'none' };
    return checkLimits(id, await this.store.get(id), now, limits);
  }

  /**
   * `load` for the request path: the record may be the store's own, frozen and shared with other readers (Redis's read
   * cache: no copy per request, and the same record gives the same principal). Callers must not change it.
   */
  loadShared(id: string, now: number, limits?: SessionLimits): Promise<LoadResult> {
    const store = this.store;
    const read = store.getShared === undefined ? store.get(id) : store.getShared(id);
    return read.then((record) => checkLimits(id, record, now, limits));
  }

  /**
   * `load` without a promise, for a store that reads synchronously (memory): undefined when the store cannot
   * (Redis; the caller then uses `load`). Throws when the store fails.
   */
  loadNow(id: string, now: number, limits?: SessionLimits): LoadResult | undefined {
    if (this.store.getNow === undefined) return undefined;
    // `now` is the store's clock too (one clock per Drawbridge, server.ts): read once per request.
    return checkLimits(id, this.store.getNow(id, now), now, limits);
  }

  /** Moves the idle clock, at most every 1/10 of the idle timeout (or minute) to spare the store. */
  touchIfDue(record: SessionRecord, now: number): Promise<void> | undefined {
    const every = Math.min(60_000, record.idleTimeoutMs / 10);
    if (now - record.lastSeenAt < every) return undefined;
    // A frozen record is the store's own (MemoryStore.getNow, RedisStore.getShared): the store's touch replaces it for the next reader.
    if (!Object.isFrozen(record)) record.lastSeenAt = now;
    return this.store.touch(record.id, now);
  }

  /**
   * Creates a session with a NEW random id (no fixation); the caller deletes any previous one. `binding`: the context
   * of the sign-in (network, device certificate, browser family), which the `context` rule compares requests with.
   */
  async create(identity: Identity, tokens: SessionTokens, idpSid: string | undefined, now: number, binding?: SessionBinding): Promise<SessionRecord> {
    const record: SessionRecord = {
      id: newSessionId(),
      identity,
      tokens,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.options.maxLifetimeMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
    };
    if (idpSid !== undefined) record.idpSid = idpSid;
    if (binding !== undefined) record.binding = binding;
    await this.store.set(record);
    // The user is now known on this network: a session of theirs seen there later gets no `new-network` signal.
    const network = networkOf(binding?.ip);
    if (network !== undefined) await this.store.putOnce(userNetworkKey(identity.sub, network), '1', this.options.maxLifetimeMs);
    return record;
  }

  /** The sessions' maximum lifetime (ms): how long a network stays known for a user. */
  get maxLifetimeMs(): number {
    return this.options.maxLifetimeMs;
  }

  /** Set-Cookie value carrying the session id, valid on `origin` only; lives as long as the session may. */
  setCookie(record: SessionRecord, secure: boolean, now: number, origin: string): string {
    return serializeCookie(this.cookieName(secure), sealSessionId(record.id, this.keys.cookieMac, origin), {
      secure,
      maxAgeSec: Math.max(1, Math.floor((record.expiresAt - now) / 1000)),
    });
  }

  clearCookie(secure: boolean): string {
    return clearCookie(this.cookieName(secure), secure);
  }

  /** The CSRF token of Drawbridge's forms for this session. */
  csrfToken(id: string): string {
    return createHmac('sha256', this.keys.csrf).update(id).digest('base64url');
  }

  checkCsrf(id: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length !== 43) return false;
    const expected = Buffer.from(this.csrfToken(id));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private static readonly sidHashes = growingLru<string, string>(10_000);

  /** A stable, non-reversible handle of the session for the assertion's `sid` and for logs. */
  static sidHash(id: string): string {
    let hash = Sessions.sidHashes.get(id);
    if (hash === undefined) {
      hash = sha256Base64url(`drawbridge-sid\0${id}`).slice(0, 22);
      Sessions.sidHashes.set(id, hash);
    }
    return hash;
  }
}

/** The one-time key that marks a network (prefix) as seen for a user, for the `risk` rule's `new-network` signal. */
export function userNetworkKey(sub: string, network: string): string {
  return `user-network:${sha256Base64url(`${sub}\0${network}`)}`;
}

/** The tokens a session keeps (never logged, never shown). */
export function tokenFields(t: { idToken?: string; accessToken?: string; refreshToken?: string; accessTokenExpiresAt?: number; refreshAt?: number }): SessionTokens {
  return {
    ...(t.refreshAt !== undefined ? { refreshAt: t.refreshAt } : {}),
    ...(t.idToken ? { idToken: t.idToken } : {}),
    ...(t.accessToken ? { accessToken: t.accessToken } : {}),
    ...(t.refreshToken ? { refreshToken: t.refreshToken } : {}),
    ...(t.accessTokenExpiresAt !== undefined ? { accessTokenExpiresAt: t.accessTokenExpiresAt } : {}),
  };
}
