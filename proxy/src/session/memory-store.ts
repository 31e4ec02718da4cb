// session/memory-store.ts — the `memory` session store: one process, bounded LRUs (lru-cache) for sessions
// and for one-time values; expiry is checked against the injected clock on every read. Sessions are held
// packed (record-codec.ts, about a third of their size as objects); the most recently read are also kept decoded.
import { LRUCache } from 'lru-cache';
import { growingLru } from './lru.js';
import { DrawbridgeError } from '../errors.js';
import { packRecord, unpackRecord } from './record-codec.js';
import { matchesFilter, sessionDeadline, type SessionFilter, type SessionRecord, type SessionStore } from './store.js';

export interface MemoryStoreOptions {
  /** Most sessions kept; inserting one more evicts the least recently used. */
  maxSessions: number;
  /**
   * Most sessions also kept decoded (the most recently read), so a session in use is unpacked once, not on every
   * request; reading any other costs some tens of microseconds. Default 5,000 (about 10 MB), at most maxSessions.
   */
  maxDecoded?: number;
  /**
   * Most one-time values kept of each kind (login attempts, hand-off codes, logout `jti`s, access grants, …: the key's
   * prefix up to its first `:`), the least recently used of that kind evicted beyond it. Default 10,000.
   */
  maxOneTime?: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

interface OneTime {
  value: string;
  expiresAt: number;
}

/** One stored session: the packed record, and what expiry and `SessionFilter`s read without unpacking it. */
class Entry {
  constructor(
    readonly packed: string,
    public lastSeenAt: number,
    readonly expiresAt: number,
    readonly idleTimeoutMs: number,
    readonly userHash: number,
    readonly subHash: number,
    readonly sidHash: number,
  ) {}
}

// `hash` is never negative: these two never collide with a value's hash.
const ABSENT = -1;
const ANY = -2;

/**
 * In-process session store. Records are packed on the way in; on the way out `get` gives a shallow copy and `getNow` the
 * frozen decoded record itself, so callers cannot change what is stored.
 */
export class MemoryStore implements SessionStore {
  readonly kind = 'memory';
  readonly #now: () => number;
  readonly #sessions: LRUCache<string, Entry>;
  readonly #decoded: LRUCache<string, SessionRecord>;
  /**
   * One bounded LRU per kind of one-time value (the key's prefix up to its first `:`): a flood of one kind evicts
   * only that kind. Anyone can start sign-ins, so login attempts must never push out an access grant, a pending
   * access request or a seen logout `jti` (whose loss would let the token be replayed).
   */
  readonly #once = new Map<string, LRUCache<string, OneTime>>();
  readonly #maxOneTime: number;
  #closed = false;

  constructor(options: MemoryStoreOptions) {
    if (!Number.isInteger(options.maxSessions) || options.maxSessions < 1) throw new RangeError('MemoryStore: maxSessions must be a positive integer');
    const maxDecoded = Math.min(options.maxDecoded ?? 5_000, options.maxSessions);
    if (!Number.isInteger(maxDecoded) || maxDecoded < 1) throw new RangeError('MemoryStore: maxDecoded must be a positive integer');
    this.#now = options.now ?? Date.now;
    // No lru-cache TTLs for sessions: expiry is the explicit check against the record's own times on every read,
    // and per-entry TTL arrays would cost 16 bytes a session for nothing. However a session leaves (delete,
    // replacement, eviction), its decoded copy goes with it.
    this.#decoded = growingLru<string, SessionRecord>(maxDecoded);
    // Bounded by count through maxSize (each session sizes 1), not `max`: with `max`, lru-cache allocates its arrays
    // for maxSessions entries up front (2.8 MB for the default 100,000, in every process, however few sign in);
    // this way they grow with the sessions held.
    this.#sessions = new LRUCache<string, Entry>({ maxSize: options.maxSessions, sizeCalculation: () => 1, dispose: (_entry, id) => this.#decoded.delete(id) });
    this.#maxOneTime = options.maxOneTime ?? 10_000;
    if (!Number.isInteger(this.#maxOneTime) || this.#maxOneTime < 1) throw new RangeError('MemoryStore: maxOneTime must be a positive integer');
  }

  /** The LRU of `key`'s kind; `create`: made when absent (else undefined). */
  #kindOf(key: string, create: true): LRUCache<string, OneTime>;
  #kindOf(key: string, create: false): LRUCache<string, OneTime> | undefined;
  #kindOf(key: string, create: boolean): LRUCache<string, OneTime> | undefined {
    const kind = key.slice(0, key.indexOf(':') + 1);
    let lru = this.#once.get(kind);
    if (lru === undefined && create) {
      // lru-cache reads the same clock (perf), with no debouncing timer (ttlResolution 0) and no per-entry
      // timers (ttlAutopurge false); its TTL only frees memory early, correctness is the explicit check on read.
      lru = growingLru<string, OneTime>(this.#maxOneTime, { perf: { now: this.#now }, ttlResolution: 0, ttlAutopurge: false });
      this.#once.set(kind, lru);
    }
    return lru;
  }

  async start(): Promise<void> {
    this.#open();
  }

  /** A copy of the record, the caller's to change (the record `getNow` shares is frozen). */
  async get(id: string): Promise<SessionRecord | undefined> {
    const record = this.getNow(id);
    return record === undefined ? undefined : { ...record };
  }

  /**
   * The record as the store holds it decoded: frozen and shared by every reader until a write replaces it (set,
   * replace and touch put a new object in its place, so a record once read never changes under its reader); no copy
   * per request. A caller that needs to change a record uses `get`. `now`: the store's clock, when the caller has
   * just read it (no second read per request).
   */
  getNow(id: string, now: number = this.#now()): SessionRecord | undefined {
    this.#open();
    const entry = this.#sessions.get(id);
    if (entry === undefined) return undefined;
    if (now >= sessionDeadline(entry)) {
      this.#sessions.delete(id);
      return undefined;
    }
    let record = this.#decoded.get(id);
    if (record === undefined) {
      record = unpack(id, entry);
      this.#decoded.set(id, record);
    }
    return record;
  }

  async set(record: SessionRecord): Promise<void> {
    this.#open();
    if (this.#now() >= sessionDeadline(record)) {
      this.#sessions.delete(record.id);
      return;
    }
    const { identity, idpSid } = record;
    const entry = new Entry(packRecord(record), record.lastSeenAt, record.expiresAt, record.idleTimeoutMs, hash(identity.user), hash(identity.sub), hash(idpSid));
    this.#sessions.set(record.id, entry);
  }

  async replace(record: SessionRecord): Promise<boolean> {
    this.#open();
    const entry = this.#sessions.peek(record.id);
    if (entry === undefined || this.#now() >= sessionDeadline(entry)) return false;
    await this.set(record);
    return this.#sessions.has(record.id);
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    this.#open();
    const entry = this.#sessions.peek(id);
    if (entry === undefined || lastSeenAt <= entry.lastSeenAt) return;
    if (this.#now() >= sessionDeadline(entry)) {
      this.#sessions.delete(id);
      return;
    }
    entry.lastSeenAt = lastSeenAt;
    // Readers may hold the decoded record: it is replaced, never changed.
    const decoded = this.#decoded.peek(id);
    if (decoded !== undefined) this.#decoded.set(id, Object.freeze({ ...decoded, lastSeenAt }));
    // A touch is a write: it makes the session the most recently used, as a set would.
    this.#sessions.get(id);
  }

  async delete(id: string): Promise<void> {
    this.#open();
    this.#sessions.delete(id);
  }

  async deleteWhere(filter: SessionFilter): Promise<number> {
    this.#open();
    const now = this.#now();
    const hashes = filterHashes(filter);
    const doomed: string[] = [];
    let live = 0;
    this.#sessions.forEach((entry, id) => {
      if (!this.#matches(id, entry, filter, hashes)) return;
      doomed.push(id);
      if (now < sessionDeadline(entry)) live++;
    });
    for (const id of doomed) this.#sessions.delete(id);
    return live;
  }

  async list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    this.#open();
    const now = this.#now();
    const hashes = filterHashes(filter);
    const out: SessionRecord[] = [];
    this.#sessions.forEach((entry, id) => {
      if (now >= sessionDeadline(entry) || !mayMatch(entry, hashes)) return;
      const decoded = this.#decoded.peek(id);
      const record = decoded !== undefined ? { ...decoded } : unpack(id, entry);
      if (matchesFilter(record, filter)) out.push(record);
    });
    return out;
  }

  async count(): Promise<number> {
    this.#open();
    const now = this.#now();
    const dead: string[] = [];
    let n = 0;
    this.#sessions.forEach((entry, id) => {
      if (now < sessionDeadline(entry)) n++;
      else dead.push(id);
    });
    // An expired session is otherwise dropped only when read or evicted: the metrics' periodic count frees it.
    for (const id of dead) this.#sessions.delete(id);
    return n;
  }

  async putOnce(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.#open();
    const ttl = Math.ceil(ttlMs);
    if (!(ttl > 0)) throw new RangeError('putOnce: ttlMs must be positive');
    const now = this.#now();
    const lru = this.#kindOf(key, true);
    const existing = lru.peek(key);
    if (existing !== undefined && now < existing.expiresAt) return false;
    lru.set(key, { value, expiresAt: now + ttl }, { ttl });
    return true;
  }

  async takeOnce(key: string): Promise<string | undefined> {
    this.#open();
    const lru = this.#kindOf(key, false);
    const entry = lru?.peek(key);
    if (entry === undefined) return undefined;
    lru!.delete(key);
    return this.#now() < entry.expiresAt ? entry.value : undefined;
  }

  async peekOnce(key: string): Promise<string | undefined> {
    this.#open();
    const entry = this.#kindOf(key, false)?.peek(key);
    return entry !== undefined && this.#now() < entry.expiresAt ? entry.value : undefined;
  }

  async listOnce(prefix: string): Promise<Array<{ key: string; value: string }>> {
    this.#open();
    const now = this.#now();
    const out: Array<{ key: string; value: string }> = [];
    for (const lru of this.#once.values()) {
      for (const [key, entry] of lru.entries()) if (key.startsWith(prefix) && now < entry.expiresAt) out.push({ key, value: entry.value });
    }
    return out;
  }

  async ping(): Promise<void> {
    this.#open();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sessions.clear();
    this.#once.clear();
  }

  /**
   * How many one-time values are held now, and the most that can be: of one kind (`kind`, a kind's key prefix, as
   * session/one-time.ts names them), or in all (each kind held so far has its own bound). Diagnostics and tests.
   */
  oneTimeUsage(kind?: string): { size: number; max: number } {
    if (kind !== undefined) return { size: this.#once.get(kind)?.size ?? 0, max: this.#maxOneTime };
    let size = 0;
    for (const lru of this.#once.values()) size += lru.size;
    return { size, max: this.#maxOneTime * Math.max(1, this.#once.size) };
  }

  /** How long the store still keeps the session (until its idle or absolute end), undefined when absent. Diagnostics and tests. */
  ttlMs(id: string): number | undefined {
    const entry = this.#sessions.peek(id);
    return entry === undefined ? undefined : Math.max(0, sessionDeadline(entry) - this.#now());
  }

  /** How many sessions are held decoded now, and the most ever held. Diagnostics and tests. */
  decodedUsage(): { size: number; max: number } {
    return { size: this.#decoded.size, max: this.#decoded.maxSize };
  }

  /** True when the session matches the filter: the hashes rule most sessions out, the record decides the rest. */
  #matches(id: string, entry: Entry, filter: SessionFilter, hashes: FilterHashes): boolean {
    if (hashes.any) return true;
    if (!mayMatch(entry, hashes)) return false;
    return matchesFilter(this.#decoded.peek(id) ?? unpack(id, entry), filter);
  }

  #open(): void {
    if (this.#closed) throw new DrawbridgeError('DRB_STORE_UNAVAILABLE', 'memory session store: closed');
  }
}

interface FilterHashes {
  /** The filter is `{}`. */
  any: boolean;
  /** Each a `hash` of the filter's field, or ANY when the filter leaves it out. */
  user: number;
  sub: number;
  sid: number;
}

function filterHashes(filter: SessionFilter): FilterHashes {
  const user = filter.user === undefined ? ANY : hash(filter.user);
  const sub = filter.sub === undefined ? ANY : hash(filter.sub);
  const sid = filter.idpSid === undefined ? ANY : hash(filter.idpSid);
  return { any: user === ANY && sub === ANY && sid === ANY, user, sub, sid };
}

/** False when the session certainly does not match (a hash differs); true when it may. */
function mayMatch(entry: Entry, h: FilterHashes): boolean {
  return (h.user === ANY || h.user === entry.userHash) && (h.sub === ANY || h.sub === entry.subHash) && (h.sid === ANY || h.sid === entry.sidHash);
}

/** 32-bit FNV-1a of the string's UTF-16 code units, cut to 30 bits so V8 keeps it as a small integer (no heap number). */
function hash(s: string | undefined): number {
  if (typeof s !== 'string') return ABSENT;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 2;
}

/** The entry's record decoded, frozen (getNow shares it with every reader). */
function unpack(id: string, entry: Entry): SessionRecord {
  const record = unpackRecord(id, entry.packed);
  // touch moves lastSeenAt in the entry only; the packed record keeps the time it was written.
  record.lastSeenAt = entry.lastSeenAt;
  return Object.freeze(record);
}
