// session/memory-store.ts — the `memory` session store: one process, bounded LRUs (lru-cache) for sessions
// and for one-time values; expiry is checked against the injected clock on every read.
import { LRUCache } from 'lru-cache';
import { DrawbridgeError } from '../errors.js';
import { matchesFilter, sessionDeadline, type SessionFilter, type SessionRecord, type SessionStore } from './store.js';

export interface MemoryStoreOptions {
  /** Most sessions kept; inserting one more evicts the least recently used. */
  maxSessions: number;
  /** Most one-time values kept (login attempts, hand-off codes, logout `jti`s). Default 10,000. */
  maxOneTime?: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

interface OneTime {
  value: string;
  expiresAt: number;
}

/** In-process session store. Records are shallow-copied in and out, so callers cannot change what is stored. */
export class MemoryStore implements SessionStore {
  readonly kind = 'memory';
  readonly #now: () => number;
  readonly #sessions: LRUCache<string, SessionRecord>;
  readonly #once: LRUCache<string, OneTime>;
  #closed = false;

  constructor(options: MemoryStoreOptions) {
    if (!Number.isInteger(options.maxSessions) || options.maxSessions < 1) throw new RangeError('MemoryStore: maxSessions must be a positive integer');
    this.#now = options.now ?? Date.now;
    // lru-cache reads the same clock (perf), with no debouncing timer (ttlResolution 0) and no per-entry
    // timers (ttlAutopurge false); its TTL only frees memory early, correctness is the explicit check on read.
    const clock = { now: this.#now };
    this.#sessions = new LRUCache<string, SessionRecord>({ max: options.maxSessions, perf: clock, ttlResolution: 0, ttlAutopurge: false });
    this.#once = new LRUCache<string, OneTime>({ max: options.maxOneTime ?? 10_000, perf: clock, ttlResolution: 0, ttlAutopurge: false });
  }

  async start(): Promise<void> {
    this.#open();
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    this.#open();
    const record = this.#sessions.get(id);
    if (record === undefined) return undefined;
    if (this.#now() >= sessionDeadline(record)) {
      this.#sessions.delete(id);
      return undefined;
    }
    return { ...record };
  }

  async set(record: SessionRecord): Promise<void> {
    this.#open();
    this.#put({ ...record });
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    this.#open();
    const record = this.#sessions.peek(id);
    if (record === undefined || lastSeenAt <= record.lastSeenAt) return;
    if (this.#now() >= sessionDeadline(record)) {
      this.#sessions.delete(id);
      return;
    }
    this.#put({ ...record, lastSeenAt });
  }

  async delete(id: string): Promise<void> {
    this.#open();
    this.#sessions.delete(id);
  }

  async deleteWhere(filter: SessionFilter): Promise<number> {
    this.#open();
    const now = this.#now();
    const doomed: string[] = [];
    let live = 0;
    for (const [id, record] of this.#sessions.entries()) {
      if (!matchesFilter(record, filter)) continue;
      doomed.push(id);
      if (now < sessionDeadline(record)) live++;
    }
    for (const id of doomed) this.#sessions.delete(id);
    return live;
  }

  async list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    this.#open();
    const now = this.#now();
    const out: SessionRecord[] = [];
    for (const record of this.#sessions.values()) {
      if (now < sessionDeadline(record) && matchesFilter(record, filter)) out.push({ ...record });
    }
    return out;
  }

  async count(): Promise<number> {
    this.#open();
    const now = this.#now();
    let n = 0;
    for (const record of this.#sessions.values()) if (now < sessionDeadline(record)) n++;
    return n;
  }

  async putOnce(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.#open();
    const ttl = Math.ceil(ttlMs);
    if (!(ttl > 0)) throw new RangeError('putOnce: ttlMs must be positive');
    const now = this.#now();
    const existing = this.#once.peek(key);
    if (existing !== undefined && now < existing.expiresAt) return false;
    this.#once.set(key, { value, expiresAt: now + ttl }, { ttl });
    return true;
  }

  async takeOnce(key: string): Promise<string | undefined> {
    this.#open();
    const entry = this.#once.peek(key);
    if (entry === undefined) return undefined;
    this.#once.delete(key);
    return this.#now() < entry.expiresAt ? entry.value : undefined;
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

  /** How many one-time values are held now, and the most ever held (the LRU's bound). Diagnostics and tests. */
  oneTimeUsage(): { size: number; max: number } {
    return { size: this.#once.size, max: this.#once.max };
  }

  /** The time the backend will still keep the session (the LRU's own TTL), undefined when absent. Diagnostics and tests. */
  ttlMs(id: string): number | undefined {
    if (!this.#sessions.has(id)) return undefined;
    return this.#sessions.getRemainingTTL(id);
  }

  #put(record: SessionRecord): void {
    const ttl = Math.ceil(sessionDeadline(record) - this.#now());
    if (ttl <= 0) {
      this.#sessions.delete(record.id);
      return;
    }
    this.#sessions.set(record.id, record, { ttl });
  }

  #open(): void {
    if (this.#closed) throw new DrawbridgeError('DRB_STORE_UNAVAILABLE', 'memory session store: closed');
  }
}
