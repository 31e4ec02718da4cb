// session/store.ts — the session store interface every backend (memory, redis) implements,
// and the session record it holds. store.case.ts is the conformance suite they all pass.
import type { Identity } from '../policy/input.js';
import type { RiskSignal, SeenContext, SessionBinding } from '../policy/context.js';

/** Tokens from the IdP. Never logged, never shown on a page, never forwarded unless `passAccessToken`. */
export interface SessionTokens {
  idToken?: string;
  accessToken?: string;
  refreshToken?: string;
  /** ms since epoch; when the access token expires. */
  accessTokenExpiresAt?: number;
  /** ms since epoch; when to refresh (before the access token expires). */
  refreshAt?: number;
}

export interface SessionRecord {
  /** The random 256-bit session id, 64 lower-case hex characters. The cookie carries it with a MAC. */
  id: string;
  identity: Identity;
  tokens: SessionTokens;
  /** The IdP's session id (`sid` claim), for back-channel logout. */
  idpSid?: string;
  /** ms since epoch. */
  createdAt: number;
  /** ms since epoch; the last request seen (idle timeout counts from here). */
  lastSeenAt: number;
  /** ms since epoch; the absolute end of the session (createdAt + maxLifetime). */
  expiresAt: number;
  /** Idle timeout in ms that applied when the record was written. */
  idleTimeoutMs: number;
  /** The context the session was created in (docs/device-trust.md); absent on sessions created before binding existed. */
  binding?: SessionBinding;
  /** The context last seen, so that each change is logged and counted once (admission/context.ts). */
  seen?: SeenContext;
  /** Recent risk signals, oldest first, at most SIGNALS_KEPT_PER_KIND of each kind (policy/rules/risk.ts). */
  signals?: RiskSignal[];
}

/** Selects sessions for `deleteWhere` (`sessions revoke`, back-channel logout). Fields are ANDed; `{}` matches all. */
export interface SessionFilter {
  user?: string;
  sub?: string;
  idpSid?: string;
}

export interface SessionStore {
  /** 'memory' | 'redis'. */
  readonly kind: string;
  /** Connects (redis). Safe to call once; rejects when the backend is unreachable. */
  start(): Promise<void>;
  /** Returns the record, or undefined when absent or past `expiresAt` / idle. Rejects when the backend fails. */
  get(id: string): Promise<SessionRecord | undefined>;
  /**
   * `get` without a promise, for a store whose reads are synchronous (memory); absent otherwise. Throws when the store
   * fails. The record may be shared with other readers (frozen): use `get` for a copy to change. `now`: the store's
   * clock read by the caller just before (default: read here).
   */
  getNow?(id: string, now?: number): SessionRecord | undefined;
  /**
   * `get` without the copy, for a store whose reads are asynchronous but cached (redis): the record may be shared with
   * other readers (frozen); absent otherwise. Rejects when the backend fails.
   */
  getShared?(id: string): Promise<SessionRecord | undefined>;
  /** Creates or replaces the record. The backend's own TTL is `min(expiresAt, lastSeenAt + idleTimeoutMs) - now`. */
  set(record: SessionRecord): Promise<void>;
  /**
   * Writes the record only if a live session with its id is still there, atomically (a refresh must never revive
   * a session that sign-out, revoke or back-channel logout ended while the IdP answered); false when absent.
   */
  replace(record: SessionRecord): Promise<boolean>;
  /** Moves `lastSeenAt` forward (and the backend TTL with it). No-op when absent. */
  touch(id: string, lastSeenAt: number): Promise<void>;
  delete(id: string): Promise<void>;
  /** Deletes every session matching the filter; returns how many. */
  deleteWhere(filter: SessionFilter): Promise<number>;
  /** Every live session (for `sessions list`). */
  list(filter?: SessionFilter): Promise<SessionRecord[]>;
  /** How many live sessions (for the active-sessions metric). */
  count(): Promise<number>;
  /**
   * One-time values (login attempts, hand-off codes, seen logout-token `jti`s): stores `value` under `key`
   * for `ttlMs` only if the key is absent; returns false when it already existed.
   */
  putOnce(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Atomically reads and deletes a one-time value; undefined when absent or expired. */
  takeOnce(key: string): Promise<string | undefined>;
  /** Reads a one-time value without taking it (access grants are read on every request they admit); undefined when absent or expired. */
  peekOnce(key: string): Promise<string | undefined>;
  /** Every live one-time value whose key starts with `prefix` (pending access requests, grants: few, listed rarely). */
  listOnce(prefix: string): Promise<Array<{ key: string; value: string }>>;
  /** Resolves when the backend answers; rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** When a record stops being valid: the earlier of its absolute end and its idle end (ms since epoch). */
export function sessionDeadline(record: Pick<SessionRecord, 'expiresAt' | 'lastSeenAt' | 'idleTimeoutMs'>): number {
  return Math.min(record.expiresAt, record.lastSeenAt + record.idleTimeoutMs);
}

/** True when the record matches every field the filter sets (`{}` matches all). */
export function matchesFilter(record: SessionRecord, filter: SessionFilter): boolean {
  return (
    (filter.user === undefined || record.identity.user === filter.user) &&
    (filter.sub === undefined || record.identity.sub === filter.sub) &&
    (filter.idpSid === undefined || record.idpSid === filter.idpSid)
  );
}
