// session/cluster-store.ts — one session store shared by the workers of one Drawbridge (server/cluster.ts,
// `workers: N`). The primary owns the store (StoreOwner, over a MemoryStore); each worker reaches it by messages
// (ClusterStore) and keeps a read cache of sessions. Every write is applied by the owner, which then tells every
// other worker to drop what it cached and waits for each to confirm BEFORE it acknowledges the write: a sign-out
// answered by one worker is seen by the very next request on any other. One-time values (state, nonce, hand-off
// codes, logout jtis) are never cached: put and take run in the owner alone, so each is redeemed at most once.
import type { LRUCache } from 'lru-cache';
import { growingLru } from './lru.js';
import { DrawbridgeError } from '../errors.js';
import { sessionDeadline, type SessionFilter, type SessionRecord, type SessionStore } from './store.js';

/** The store operations a worker asks the owner for. */
export type StoreOp = 'get' | 'set' | 'replace' | 'touch' | 'delete' | 'deleteWhere' | 'list' | 'count' | 'putOnce' | 'takeOnce' | 'peekOnce' | 'listOnce' | 'ping';

/** What travels between a worker and the owner (structured-clone / JSON safe). */
export type StoreMessage =
  | { drb: 'store-call'; seq: number; op: StoreOp; args: unknown[] }
  | { drb: 'store-result'; seq: number; ok: true; value: unknown }
  | { drb: 'store-result'; seq: number; ok: false; error: string }
  /** Drop these sessions from the cache (null: every session); `ended`: the sessions are gone (sign-out, revoke). */
  | { drb: 'store-invalidate'; seq: number; ids: string[] | null; ended: boolean }
  | { drb: 'store-invalidated'; seq: number };

const WRITES: ReadonlySet<StoreOp> = new Set<StoreOp>(['set', 'replace', 'touch', 'delete', 'deleteWhere']);
const OPS: ReadonlySet<string> = new Set<string>(['get', 'set', 'replace', 'touch', 'delete', 'deleteWhere', 'list', 'count', 'putOnce', 'takeOnce', 'peekOnce', 'listOnce', 'ping']);

export function isStoreMessage(m: unknown): m is StoreMessage {
  return typeof m === 'object' && m !== null && typeof (m as { drb?: unknown }).drb === 'string' && (m as { drb: string }).drb.startsWith('store-');
}

export interface StoreOwnerOptions {
  /** How long a worker may take to confirm an invalidation (default 5 s); past it, `onUnresponsive` ends it. */
  ackTimeoutMs?: number;
  /** Called with a worker that did not confirm an invalidation in time: it must stop serving (it may hold a stale session). */
  onUnresponsive?(peer: number): void;
}

interface PendingInvalidation {
  waiting: Set<number>;
  done(): void;
}

/** The primary's side: the store itself, the workers attached to it, and invalidations waiting for their confirmations. */
export class StoreOwner {
  readonly #peers = new Map<number, (m: StoreMessage) => void>();
  readonly #pending = new Map<number, PendingInvalidation>();
  #seq = 0;

  constructor(
    readonly store: SessionStore,
    private readonly options: StoreOwnerOptions = {},
  ) {}

  /** A worker that will send calls and must receive invalidations. */
  attach(peer: number, send: (m: StoreMessage) => void): void {
    this.#peers.set(peer, send);
  }

  /** A worker gone (exited, killed): its confirmations are no longer waited for; its cache died with it. */
  detach(peer: number): void {
    this.#peers.delete(peer);
    for (const p of this.#pending.values()) this.#settle(p, peer);
  }

  /** Handles a message from a worker. */
  receive(peer: number, m: StoreMessage): void {
    if (m.drb === 'store-invalidated') {
      const p = this.#pending.get(m.seq);
      if (p) this.#settle(p, peer);
      return;
    }
    if (m.drb !== 'store-call') return;
    const reply = (r: StoreMessage) => this.#peers.get(peer)?.(r);
    if (!OPS.has(m.op) || !Array.isArray(m.args)) return reply({ drb: 'store-result', seq: m.seq, ok: false, error: `unknown store operation ${String(m.op)}` });
    this.call(m.op, m.args, peer).then(
      (value) => reply({ drb: 'store-result', seq: m.seq, ok: true, value }),
      (e: Error) => reply({ drb: 'store-result', seq: m.seq, ok: false, error: e.message }),
    );
  }

  /**
   * Runs one operation on the store; a write resolves only once every worker but `from` (which drops its own copy)
   * has confirmed it dropped the session from its cache. The primary's own callers (admin revoke) use it too.
   */
  async call(op: StoreOp, args: unknown[], from?: number): Promise<unknown> {
    const s = this.store;
    switch (op) {
      case 'get':
        return s.getNow ? s.getNow(args[0] as string) : s.get(args[0] as string);
      case 'list':
        return s.list(args[0] as SessionFilter | undefined);
      case 'count':
        return s.count();
      case 'putOnce':
        return s.putOnce(args[0] as string, args[1] as string, args[2] as number);
      case 'takeOnce':
        return s.takeOnce(args[0] as string);
      case 'peekOnce':
        return s.peekOnce(args[0] as string);
      case 'listOnce':
        return s.listOnce(args[0] as string);
      case 'ping':
        return s.ping();
      default:
        break;
    }
    if (!WRITES.has(op)) throw new DrawbridgeError('DRB_INTERNAL', `unknown store operation ${op}`);
    let value: unknown;
    let ids: string[] | null;
    let ended = false;
    if (op === 'set' || op === 'replace') {
      const record = args[0] as SessionRecord;
      value = op === 'set' ? await s.set(record) : await s.replace(record);
      ids = [record.id];
    } else if (op === 'touch') {
      value = await s.touch(args[0] as string, args[1] as number);
      ids = [args[0] as string];
    } else if (op === 'delete') {
      value = await s.delete(args[0] as string);
      ids = [args[0] as string];
      ended = true;
    } else {
      value = await s.deleteWhere(args[0] as SessionFilter);
      ids = null;
      ended = true;
    }
    await this.#invalidate(ids, ended, from);
    return value;
  }

  /** Tells every worker but `from` to drop `ids` and resolves when each confirmed, left, or was ended for not answering. */
  #invalidate(ids: string[] | null, ended: boolean, from: number | undefined): Promise<void> {
    const targets = [...this.#peers.keys()].filter((p) => p !== from);
    if (targets.length === 0) return Promise.resolve();
    const seq = ++this.#seq;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // A worker that does not confirm may keep serving what it cached: it is ended, never waited for forever.
        for (const peer of [...pending.waiting]) {
          this.options.onUnresponsive?.(peer);
          this.detach(peer);
        }
      }, this.options.ackTimeoutMs ?? 5000);
      timer.unref();
      const pending: PendingInvalidation = {
        waiting: new Set(targets),
        done: () => {
          clearTimeout(timer);
          this.#pending.delete(seq);
          resolve();
        },
      };
      this.#pending.set(seq, pending);
      for (const peer of targets) this.#peers.get(peer)?.({ drb: 'store-invalidate', seq, ids, ended });
    });
  }

  #settle(p: PendingInvalidation, peer: number): void {
    if (!p.waiting.delete(peer)) return;
    if (p.waiting.size === 0) p.done();
  }
}

export interface ClusterStoreOptions {
  /** Sends a message to the owner; false or a throw when it cannot (the channel is closed). */
  send(m: StoreMessage): boolean | void;
  /** Clock, ms since the epoch (cached sessions expire on it, as in the owner). Default `Date.now`. */
  now?: () => number;
  /** Most sessions cached (the most recently read). Default 10,000. */
  maxCached?: number;
  /** How long a call may wait for the owner before it fails (503). Default 10 s. */
  callTimeoutMs?: number;
}

interface Call {
  resolve(value: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  /** `get`: the session asked for, and the invalidation count when it was asked (a later invalidation forbids caching the answer). */
  getId?: string;
  epoch: number;
}

/**
 * A worker's side: a SessionStore whose every call goes to the owner, except reads of sessions it has cached. The
 * owner's invalidations are applied (and confirmed) synchronously, in the order the channel delivers them.
 */
export class ClusterStore implements SessionStore {
  readonly kind = 'memory';
  /** Sessions ended by another worker (null: any may have been, revoke by filter): the worker closes their WebSockets. */
  onSessionsEnded: ((ids: string[] | null) => void) | undefined = undefined;
  readonly #send: ClusterStoreOptions['send'];
  readonly #now: () => number;
  readonly #cache: LRUCache<string, SessionRecord>;
  readonly #calls = new Map<number, Call>();
  readonly #timeoutMs: number;
  #seq = 0;
  /** Bumped by every invalidation and every write sent: a `get` answered across one is not cached. */
  #epoch = 0;
  #down: string | undefined;

  constructor(options: ClusterStoreOptions) {
    this.#send = options.send;
    this.#now = options.now ?? Date.now;
    this.#cache = growingLru<string, SessionRecord>(options.maxCached ?? 10_000);
    this.#timeoutMs = options.callTimeoutMs ?? 10_000;
  }

  /** Handles a message from the owner (results and invalidations). */
  receive(m: StoreMessage): void {
    if (m.drb === 'store-invalidate') {
      this.#epoch++;
      if (m.ids === null) this.#cache.clear();
      else for (const id of m.ids) this.#cache.delete(id);
      // Confirmed only once dropped: the owner acknowledges the write after this.
      this.#post({ drb: 'store-invalidated', seq: m.seq });
      if (m.ended) this.onSessionsEnded?.(m.ids);
      return;
    }
    if (m.drb !== 'store-result') return;
    const call = this.#calls.get(m.seq);
    if (!call) return;
    this.#calls.delete(m.seq);
    clearTimeout(call.timer);
    if (!m.ok) return call.reject(new DrawbridgeError('DRB_STORE_UNAVAILABLE', `session store (primary): ${m.error}`));
    if (call.getId !== undefined && m.value !== undefined && m.value !== null && call.epoch === this.#epoch && this.#down === undefined) {
      this.#cache.set(call.getId, m.value as SessionRecord);
    }
    call.resolve(m.value);
  }

  /** The channel to the owner is gone: every call in flight fails, nothing cached is trusted any more (fail closed). */
  disconnected(reason = 'the primary process is gone'): void {
    this.#down = reason;
    this.#cache.clear();
    for (const [seq, call] of this.#calls) {
      this.#calls.delete(seq);
      clearTimeout(call.timer);
      call.reject(this.#unavailable());
    }
  }

  async start(): Promise<void> {
    await this.ping();
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    if (this.#down !== undefined) throw this.#unavailable();
    const cached = this.#cache.get(id);
    if (cached !== undefined) {
      if (this.#now() < sessionDeadline(cached)) return { ...cached };
      this.#cache.delete(id);
    }
    const value = (await this.#call('get', [id], id)) as SessionRecord | undefined | null;
    // The answer may be the cached object: the caller gets its own copy (as from the memory store).
    return value ? { ...value } : undefined;
  }

  async set(record: SessionRecord): Promise<void> {
    await this.#write('set', [record], record.id);
  }

  async replace(record: SessionRecord): Promise<boolean> {
    return (await this.#write('replace', [record], record.id)) as boolean;
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    await this.#write('touch', [id, lastSeenAt], id);
  }

  async delete(id: string): Promise<void> {
    await this.#write('delete', [id], id);
  }

  async deleteWhere(filter: SessionFilter): Promise<number> {
    return (await this.#write('deleteWhere', [filter], null)) as number;
  }

  async list(filter?: SessionFilter): Promise<SessionRecord[]> {
    return (await this.#call('list', filter === undefined ? [] : [filter])) as SessionRecord[];
  }

  async count(): Promise<number> {
    return (await this.#call('count', [])) as number;
  }

  async putOnce(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (!(Math.ceil(ttlMs) > 0)) throw new RangeError('putOnce: ttlMs must be positive');
    return (await this.#call('putOnce', [key, value, ttlMs])) as boolean;
  }

  async takeOnce(key: string): Promise<string | undefined> {
    return ((await this.#call('takeOnce', [key])) as string | null | undefined) ?? undefined;
  }
  // Access requests and grants (access/): read in the owner, never cached here (a grant revoked through another
  // worker must stop counting at once).
  async peekOnce(key: string): Promise<string | undefined> {
    return ((await this.#call('peekOnce', [key])) as string | null | undefined) ?? undefined;
  }

  async listOnce(prefix: string): Promise<Array<{ key: string; value: string }>> {
    return (await this.#call('listOnce', [prefix])) as Array<{ key: string; value: string }>;
  }


  async ping(): Promise<void> {
    await this.#call('ping', []);
  }

  async close(): Promise<void> {
    if (this.#down === undefined) this.disconnected('closed');
  }

  /** A write: this worker's copy is dropped before it is sent and again when it is acknowledged. */
  async #write(op: StoreOp, args: unknown[], id: string | null): Promise<unknown> {
    this.#epoch++;
    if (id === null) this.#cache.clear();
    else this.#cache.delete(id);
    try {
      return await this.#call(op, args);
    } finally {
      if (id === null) this.#cache.clear();
      else this.#cache.delete(id);
    }
  }

  #call(op: StoreOp, args: unknown[], getId?: string): Promise<unknown> {
    if (this.#down !== undefined) return Promise.reject(this.#unavailable());
    const seq = ++this.#seq;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(seq);
        reject(new DrawbridgeError('DRB_STORE_UNAVAILABLE', `session store (primary): no answer to ${op} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      timer.unref();
      this.#calls.set(seq, { resolve, reject, timer, epoch: this.#epoch, ...(getId !== undefined ? { getId } : {}) });
      if (!this.#post({ drb: 'store-call', seq, op, args })) {
        this.#calls.delete(seq);
        clearTimeout(timer);
        reject(this.#unavailable());
      }
    });
  }

  #post(m: StoreMessage): boolean {
    try {
      return this.#send(m) !== false;
    } catch {
      return false;
    }
  }

  #unavailable(): DrawbridgeError {
    return new DrawbridgeError('DRB_STORE_UNAVAILABLE', `session store (primary): ${this.#down ?? 'unreachable'}`);
  }
}
