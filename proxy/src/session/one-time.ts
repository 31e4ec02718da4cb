// session/one-time.ts — the short-lived records the sign-in flow keeps in the session store, each taken at most
// once: login attempts, hand-off codes, replaced sessions, logout-token jtis, pending user switches and access requests and grants. Each kind owns its key prefix, how
// its id becomes a key (hashed where the id is a secret), its lifetime and its codec; nothing else names a prefix.
import { sha256Base64url as sha256 } from '../digest.js';
import type { Identity } from '../policy/input.js';
import type { StepUpNeed } from '../policy/rule.js';
import type { HandoffTicket } from './handoff-binding.js';
import type { SessionStore, SessionTokens } from './store.js';

/** A login attempt, kept under its `state` until the callback consumes it (once). */
export interface LoginAttempt {
  verifier: string;
  nonce: string;
  rd: string;
  binding: string;
  stepUp?: StepUpNeed;
  maxAge?: number;
  /** For a return target on a route host: the route host's binding of the hand-off to this browser. */
  handoff?: HandoffTicket;
  /** A step-up's: the session (and its user) it was asked of, so that another user coming back is noticed. */
  stepUpOf?: StepUpOf;
}

/** The session a step-up was asked of, and who its user is (as the pages show them). */
export interface StepUpOf {
  sid: string;
  sub: string;
  user: string;
  email?: string;
  name?: string;
}

/** A hand-off code's record: the session, the one origin that may redeem it, and the browser binding there. */
export interface HandoffRecord {
  sid: string;
  origin: string;
  cookieId: string;
  binding: string;
}

/**
 * A step-up that came back as another user than the session's: the new sign-in, kept until the browser chooses (on
 * the page that says so) to continue as the new user; the previous session is left as it is until then.
 */
export interface UserSwitch {
  /** The session and user the step-up was asked of (that session may have ended meanwhile, e.g. by the IdP). */
  previous: StepUpOf;
  /** MAC of the nonce in this browser's switch cookie: the choice is made in the browser that got the page. */
  binding: string;
  identity: Identity;
  tokens: SessionTokens;
  idpSid?: string;
  rd: string;
  handoff?: HandoffTicket;
}

/** One kind of one-time record: where it lives in the store, for how long, and how it is written. */
export interface OneTimeKind<T> {
  /** The store key prefix, owned by this kind alone. */
  readonly prefix: string;
  readonly ttlMs: number;
  /** The part of the key after the prefix: the id itself, or its hash when the id is a secret (a code, a session id). */
  keyOf(id: string): string;
  encode(value: T): string;
  decode(text: string): T;
}

const json = <T>() => ({ encode: (v: T) => JSON.stringify(v), decode: (s: string) => JSON.parse(s) as T });
const text = { encode: (v: string) => v, decode: (s: string) => s };

/** Login attempts: `login:<state>`, ten minutes (as long as the browser's attempt cookie). */
export const LOGIN_ATTEMPT: OneTimeKind<LoginAttempt> = { prefix: 'login:', ttlMs: 10 * 60_000, keyOf: (state) => state, ...json<LoginAttempt>() };

/** Hand-off codes: `handoff:<sha256(code)>`, one minute (the code is in a URL: the store never holds it). */
export const HANDOFF: OneTimeKind<HandoffRecord> = { prefix: 'handoff:', ttlMs: 60_000, keyOf: sha256, ...json<HandoffRecord>() };

/**
 * Replaced sessions: `replaced:<sha256(old id)>` → the new session id, for as long as a hand-off code lives (another
 * tab of the same user on its way through a hand-off for the old session is given the new one).
 */
export const REPLACED_SESSION: OneTimeKind<string> = { prefix: 'replaced:', ttlMs: HANDOFF.ttlMs, keyOf: sha256, ...text };

/**
 * Logout-token jtis: `jti:<sha256(iss NUL jti)>`, ten minutes — longer than a logout token is ever accepted
 * (oidc/logout-token.ts: iat at most 300 s old, 30 s skew), with or without exp.
 */
export const LOGOUT_JTI: OneTimeKind<true> = { prefix: 'jti:', ttlMs: 10 * 60_000, keyOf: sha256, encode: () => '1', decode: () => true };

/** Pending user switches: `switch:<sha256(code)>`, five minutes (the code is in the page's form: the store never holds it). */
export const USER_SWITCH: OneTimeKind<UserSwitch> = { prefix: 'switch:', ttlMs: 5 * 60_000, keyOf: sha256, ...json<UserSwitch>() };

/** A pending access request (access/): who asks for which route, why and for how long. */
export interface AccessRequestRecord {
  id: string;
  route: string;
  sub: string;
  user: string;
  email?: string;
  name?: string;
  reason: string;
  durationSeconds: number;
  /** ms since epoch. */
  createdAt: number;
  /** The request id of the denied request the 403 page offered it on, and the reasons it was denied. */
  requestId: string;
  deniedBy: string[];
}

/** An active access grant (access/): an allow for one route and one user until `expiresAt`. */
export interface AccessGrantRecord {
  id: string;
  route: string;
  sub: string;
  user: string;
  /** Who approved it (`auto` for autoApprove). */
  approver: string;
  reason: string;
  /** The access request it came from. */
  requestOf: string;
  /** ms since epoch. */
  createdAt: number;
  expiresAt: number;
}

/**
 * Pending access requests: `access-request:<sha256(route NUL sub)>`, one per user and route (putOnce refuses a
 * second), a day; approving or denying takes it.
 */
export const ACCESS_REQUEST: OneTimeKind<AccessRequestRecord> = { prefix: 'access-request:', ttlMs: 24 * 3_600_000, keyOf: sha256, ...json<AccessRequestRecord>() };

/**
 * Access grants: `access-grant:<sha256(route NUL sub)>`, kept for the grant's duration plus an hour (the record
 * outlives its expiry so that one replica's sweep takes it and logs the expiry; the decision reads `expiresAt`).
 */
export const ACCESS_GRANT: OneTimeKind<AccessGrantRecord> = { prefix: 'access-grant:', ttlMs: 3_600_000, keyOf: sha256, ...json<AccessGrantRecord>() };

/** Access-request rate limit: `access-rate:<sha256(sub)>`, one new request per user per ten seconds. */
export const ACCESS_RATE: OneTimeKind<true> = { prefix: 'access-rate:', ttlMs: 10_000, keyOf: sha256, encode: () => '1', decode: () => true };

/** Every kind, for tests that hold the prefixes distinct. */
export const ONE_TIME_KINDS: readonly OneTimeKind<unknown>[] = [LOGIN_ATTEMPT, HANDOFF, REPLACED_SESSION, LOGOUT_JTI, USER_SWITCH, ACCESS_REQUEST, ACCESS_GRANT, ACCESS_RATE] as readonly OneTimeKind<unknown>[];

/** One kind's records in one store. */
export class OneTimeRecords<T> {
  constructor(
    private readonly store: Pick<SessionStore, 'putOnce' | 'takeOnce' | 'peekOnce' | 'listOnce'>,
    readonly kind: OneTimeKind<T>,
  ) {}

  /** The store key of `id`. */
  key(id: string): string {
    return `${this.kind.prefix}${this.kind.keyOf(id)}`;
  }

  /** Writes the record unless one is already there (atomically); false when it was. `ttlMs`: the kind's by default. */
  put(id: string, value: T, ttlMs = this.kind.ttlMs): Promise<boolean> {
    return this.store.putOnce(this.key(id), this.kind.encode(value), ttlMs);
  }

  /** Reads the record without taking it; undefined when absent or expired. */
  async peek(id: string): Promise<T | undefined> {
    const raw = await this.store.peekOnce(this.key(id));
    return raw === undefined ? undefined : this.kind.decode(raw);
  }

  /** Every live record of this kind. */
  async list(): Promise<T[]> {
    return (await this.store.listOnce(this.kind.prefix)).map((e) => this.kind.decode(e.value));
  }

  /** Reads and deletes the record (atomically); undefined when absent, expired or already taken. */
  async take(id: string): Promise<T | undefined> {
    const raw = await this.store.takeOnce(this.key(id));
    return raw === undefined ? undefined : this.kind.decode(raw);
  }
}

/** The sign-in flow's one-time records in `store`. */
export function oneTimeRecords(store: Pick<SessionStore, 'putOnce' | 'takeOnce' | 'peekOnce' | 'listOnce'>) {
  return {
    loginAttempts: new OneTimeRecords(store, LOGIN_ATTEMPT),
    handoffs: new OneTimeRecords(store, HANDOFF),
    replacedSessions: new OneTimeRecords(store, REPLACED_SESSION),
    logoutJtis: new OneTimeRecords(store, LOGOUT_JTI),
    userSwitches: new OneTimeRecords(store, USER_SWITCH),
    accessRequests: new OneTimeRecords(store, ACCESS_REQUEST),
    accessGrants: new OneTimeRecords(store, ACCESS_GRANT),
    accessRate: new OneTimeRecords(store, ACCESS_RATE),
  };
}

