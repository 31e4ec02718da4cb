// session/redis-store.ts — the `redis` session store, shared by several replicas: records AES-256-GCM encrypted
// at rest, keys hashed (no session id, user or token is readable in Redis), fail closed when Redis is unreachable.
// Session reads are cached in process, kept coherent across replicas by Redis's client tracking (see `get`).
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { sha256Hex } from '../digest.js';
import { LRUCache } from 'lru-cache';
import { createClient, RESP_TYPES } from 'redis';
import { DrawbridgeError, wrap } from '../errors.js';
import type { SessionKeys } from './keys.js';
import { matchesFilter, sessionDeadline, type SessionFilter, type SessionRecord, type SessionStore } from './store.js';

export interface RedisStoreOptions {
  /** `redis[s]://[[user][:password]@]host[:port][/db]`. */
  url: string;
  /** The derived session keys; `storeEncryption` encrypts records and keys the index hashes. */
  keys: SessionKeys;
  /** Prepended to every Redis key. Default `drawbridge:`. */
  prefix?: string;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** How long `start()` waits for Redis. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** How long one operation may wait for Redis before it rejects. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** Called with connection errors (the client reconnects by itself); for logging. */
  onError?: (err: Error) => void;
}

type Client = ReturnType<typeof createClient>;

function binaryView(client: Client) {
  return client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
}
type BinaryClient = ReturnType<typeof binaryView>;

// The connection session reads go through: RESP3 with CLIENT TRACKING ON (sent again on every reconnect), so Redis
// pushes an `invalidate` message on it for every key it read that anyone changes, deletes or expires afterwards.
function createReader(options: Parameters<typeof createClient>[0] & object) {
  return createClient({
    ...options,
    RESP: 3,
    emitInvalidate: true,
    // Redis Enterprise's maintenance hand-over (relaxed timeouts, moving endpoints) would change the fail-closed timing.
    maintNotifications: 'disabled',
    commandOptions: { ...options.commandOptions, typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
  });
}
type Reader = ReturnType<typeof createReader>;

interface OneTimePayload {
  v: string;
  e: number;
  /** The key itself (the Redis key is its keyed hash), for listOnce. */
  k?: string;
}

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
// Long enough for a scan of many sessions; each command inside still has the per-command timeout.
const BULK_TIMEOUT_MS = 30_000;
const SCAN_COUNT = 500;
// The read cache: at most this many decoded records, each kept at most this long after Redis sent it. The age
// bound only matters if invalidations could be lost while PINGs still come back (say, a TCP proxy in front of
// Redis that fails over to another server behind the same connection).
const READ_CACHE_MAX = 5_000;
const READ_CACHE_TTL_MS = 1_000;

// Writes the record and adds it to its index sets in one step; an index set lives at least as long as
// any session in it could (ARGV[3] = until the absolute end), so stale members are the only leftovers.
const SET_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[3])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[4])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1`;

// replace: SET_SCRIPT, only while the session key exists (a refresh never revives a deleted session).
const REPLACE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
${SET_SCRIPT}`;

// touch: replaces the record only if it is still the one that was read (compare by SHA-1 of the ciphertext),
// so a touch never overwrites a record another replica rewrote meanwhile (e.g. after a token refresh).
const CAS_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur or redis.sha1hex(cur) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;


function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, '\\$&');
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid redis URL)';
  }
}

/** Redis-backed session store. `start()` before use; every method rejects (DRB_STORE_UNAVAILABLE) while Redis is down. */
export class RedisStore implements SessionStore {
  readonly kind = 'redis';
  readonly #url: string;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #encKey: Buffer;
  readonly #hashKey: Buffer;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  readonly #onError: (err: Error) => void;
  #client: Client | undefined;
  #bin: BinaryClient | undefined;
  #reader: Reader | undefined;
  // Redis key → decoded record, as the reader connection last read it; entries leave on invalidation.
  readonly #cache = new LRUCache<string, SessionRecord>({ max: READ_CACHE_MAX, ttl: READ_CACHE_TTL_MS, ttlAutopurge: false });
  // Keys being read on the reader connection → the read's number; an invalidation meanwhile removes the key, so a
  // reply that may predate the change is not cached (it can arrive in the same packet, before the read resumes).
  readonly #reading = new Map<string, number>();
  #reads = 0;
  #fence: Promise<unknown> | undefined;
  // Session id → its Redis key, for the ids read most recently: spares a SHA-256 on every cached read.
  readonly #keys = new LRUCache<string, string>({ max: READ_CACHE_MAX });
  #lastError: Error | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions) {
    this.#url = options.url;
    this.#prefix = options.prefix ?? 'drawbridge:';
    this.#now = options.now ?? Date.now;
    this.#encKey = options.keys.storeEncryption;
    // The index hashes get their own key so the AES key is used for nothing else.
    this.#hashKey = Buffer.from(hkdfSync('sha256', options.keys.storeEncryption, '', 'drawbridge redis-index v1', 32));
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.#onError = options.onError ?? (() => {});
  }

  /** Connects; rejects when Redis does not answer within `connectTimeoutMs`. */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new DrawbridgeError('DRB_STORE_UNAVAILABLE', 'redis session store: closed'));
    this.#starting ??= this.#connect();
    return this.#starting;
  }

  async #connect(): Promise<void> {
    const step = `redis session store: connecting to ${redactUrl(this.#url)}`;
    let client: Client;
    let reader: Reader;
    try {
      client = this.#createClient();
      reader = this.#createReader();
    } catch (err) {
      this.#starting = undefined;
      throw wrap(step, err, 'DRB_STORE_UNAVAILABLE');
    }
    const connecting = Promise.all([client.connect(), reader.connect()]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // The clients retry by themselves; what they last ran into says why (refused, NOPERM for CLIENT TRACKING, ...).
      const why = () => (this.#lastError ? ` (last error: ${this.#lastError.message})` : '');
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#connectTimeoutMs} ms${why()}`)), this.#connectTimeoutMs);
    });
    try {
      await Promise.race([connecting, timeout]);
    } catch (err) {
      connecting.catch(() => {});
      if (client.isOpen && reader.isOpen) {
        // Redis is not up yet: the clients go on reconnecting by themselves, commands fail closed (offline queue
        // disabled) until they are ready. Dropping them here would leave the store down until a restart.
        this.#use(client, reader);
        throw wrap(step, err, 'DRB_STORE_UNAVAILABLE');
      }
      for (const c of [client, reader]) {
        try {
          c.destroy();
        } catch {
          // already closed
        }
      }
      this.#starting = undefined;
      throw wrap(step, err, 'DRB_STORE_UNAVAILABLE');
    } finally {
      clearTimeout(timer);
    }
    this.#use(client, reader);
  }

  #use(client: Client, reader: Reader): void {
    this.#client = client;
    this.#bin = binaryView(client);
    this.#reader = reader;
  }

  #clientOptions() {
    return {
      url: this.#url,
      // Fail closed: while disconnected, commands reject at once instead of queueing until Redis is back.
      disableOfflineQueue: true,
      commandOptions: { timeout: this.#commandTimeoutMs },
      socket: {
        connectTimeout: this.#connectTimeoutMs,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 100),
      },
    };
  }

  #createClient(): Client {
    const client: Client = createClient(this.#clientOptions());
    client.on('error', (err: unknown) => this.#reportError(err));
    return client;
  }

  #createReader(): Reader {
    const reader = createReader(this.#clientOptions());
    reader.on('invalidate', (key: unknown) => {
      if (key === null) {
        this.#forget();
      } else {
        this.#cache.delete(String(key));
        this.#reading.delete(String(key));
      }
    });
    // Tracking belongs to the connection: whatever was cached through a lost one is no longer invalidated.
    for (const event of ['error', 'end', 'reconnecting', 'ready']) reader.on(event, () => this.#forget());
    reader.on('error', (err: unknown) => this.#reportError(err));
    return reader;
  }

  // Without a listener, an 'error' event (a dropped connection) would crash the process.
  #reportError(err: unknown): void {
    this.#lastError = err instanceof Error ? err : new Error(String(err));
    try {
      this.#onError(this.#lastError);
    } catch {
      // a failing logger must not take the store down
    }
  }

  #forget(): void {
    this.#cache.clear();
    this.#reading.clear();
  }

  /**
   * Reads through the reader connection and its cache. Every read, cached or not, first waits for a PING on that
   * connection sent in the same turn of the event loop or later (one PING per turn, shared by all reads begun in
   * it). Redis queues the invalidations for a change on that connection while it executes the change, so a change
   * acknowledged before the read began has reached the cache once the PONG is back: a cached answer is as fresh as
   * a GET would be. And a Redis that is down or hung fails the read (DRB_STORE_UNAVAILABLE) instead of being
   * answered from the cache. What the cache saves is the GET itself, decryption and JSON parsing.
   */
  async get(id: string): Promise<SessionRecord | undefined> {
    let key = this.#keys.get(id);
    if (key === undefined) this.#keys.set(id, (key = this.#sessionKey(id)));
    const record = await this.#run('reading a session', (_c, _b, reader) => this.#read(reader, key));
    if (record === undefined || record.id !== id || this.#now() >= sessionDeadline(record)) return undefined;
    // A copy, so a caller moving `lastSeenAt` does not change the cached record.
    return { ...record };
  }

  async #read(reader: Reader, key: string): Promise<SessionRecord | undefined> {
    if (!reader.isReady) throw new Error('not connected');
    await this.#awaitFence(reader);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const read = ++this.#reads;
    this.#reading.set(key, read);
    let blob: Buffer | null;
    let cacheable: boolean;
    try {
      blob = await reader.get(key);
    } finally {
      cacheable = this.#reading.get(key) === read;
      if (cacheable) this.#reading.delete(key);
    }
    if (!blob) return undefined;
    const record = this.#decodeRecord(blob, key);
    if (record !== undefined && cacheable) this.#cache.set(key, record);
    return record;
  }

  // node-redis writes what was sent in one turn at its end (setImmediate); the fence closes right after that write.
  #awaitFence(reader: Reader): Promise<unknown> {
    let fence = this.#fence;
    if (fence === undefined) {
      const current = (fence = this.#fence = reader.ping());
      setImmediate(() => {
        if (this.#fence === current) this.#fence = undefined;
      });
    }
    return fence;
  }

  async set(record: SessionRecord): Promise<void> {
    const key = this.#sessionKey(record.id);
    const now = this.#now();
    const ttl = Math.ceil(sessionDeadline(record) - now);
    if (ttl <= 0) {
      await this.#run('deleting an expired session', (c) => c.del(key));
      return;
    }
    const indexTtl = Math.max(ttl, Math.ceil(record.expiresAt - now));
    const blob = this.#seal(Buffer.from(JSON.stringify(record), 'utf8'), key);
    const keys = [key, ...this.#indexKeysOf(record)];
    const member = key.slice(this.#sessionPrefix().length);
    await this.#run('writing a session', (c) =>
      c.eval(SET_SCRIPT, { keys, arguments: [blob, String(ttl), String(indexTtl), member] }),
    );
  }

  async replace(record: SessionRecord): Promise<boolean> {
    const key = this.#sessionKey(record.id);
    const now = this.#now();
    const ttl = Math.ceil(sessionDeadline(record) - now);
    if (ttl <= 0) {
      await this.#run('deleting an expired session', (c) => c.del(key));
      return false;
    }
    const indexTtl = Math.max(ttl, Math.ceil(record.expiresAt - now));
    const blob = this.#seal(Buffer.from(JSON.stringify(record), 'utf8'), key);
    const keys = [key, ...this.#indexKeysOf(record)];
    const member = key.slice(this.#sessionPrefix().length);
    return this.#run('replacing a session', async (c, bin) => {
      // Live by this store's clock (as get decides) ...
      const current = await bin.get(key);
      const decoded = current ? this.#decodeRecord(current, key) : undefined;
      if (decoded === undefined || now >= sessionDeadline(decoded)) return false;
      // ... and still there when written: the script checks and writes in one step (a delete in between wins).
      return Number(await c.eval(REPLACE_SCRIPT, { keys, arguments: [blob, String(ttl), String(indexTtl), member] })) === 1;
    });
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    const key = this.#sessionKey(id);
    await this.#run('touching a session', async (c, bin) => {
      const blob = await bin.get(key);
      if (!blob) return;
      const record = this.#decodeRecord(blob, key);
      const now = this.#now();
      // An expired session stays expired: a late touch must not bring it back.
      if (record === undefined || lastSeenAt <= record.lastSeenAt || now >= sessionDeadline(record)) return;
      const next: SessionRecord = { ...record, lastSeenAt };
      const ttl = Math.ceil(sessionDeadline(next) - now);
      if (ttl <= 0) return;
      const oldSha1 = createHash('sha1').update(blob).digest('hex');
      const newBlob = this.#seal(Buffer.from(JSON.stringify(next), 'utf8'), key);
      await c.eval(CAS_SCRIPT, { keys: [key], arguments: [oldSha1, newBlob, String(ttl)] });
    });
  }

  async delete(id: string): Promise<void> {
    const key = this.#sessionKey(id);
    await this.#run('deleting a session', (c) => c.del(key));
  }

  async deleteWhere(filter: SessionFilter): Promise<number> {
    const step = 'deleting sessions';
    return this.#run(step, async (c, bin) => {
      const now = this.#now();
      let deleted = 0;
      const index = this.#indexFor(filter);
      if (index === undefined) {
        for await (const keys of this.#scan(c, `${escapeGlob(this.#sessionPrefix())}*`)) {
          const blobs = await bin.mGet(keys);
          const removed = await c.del(keys);
          if (removed === 0) continue;
          for (let i = 0; i < keys.length; i++) {
            const record = blobs[i] ? this.#decodeRecord(blobs[i] as Buffer, keys[i]) : undefined;
            if (record !== undefined && now < sessionDeadline(record)) deleted++;
          }
        }
        // Index sets stay: one may already hold a session created during the scan; stale members are harmless.
        return deleted;
      }
      for (const { key, record, member } of await this.#viaIndex(c, bin, index)) {
        if (record === undefined || !matchesFilter(record, filter)) continue;
        const removed = await c.del(key);
        await c.sRem(index, member);
        if (removed === 1 && now < sessionDeadline(record)) deleted++;
      }
      return deleted;
    }, BULK_TIMEOUT_MS);
  }

  async list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    return this.#run('listing sessions', async (c, bin) => {
      const now = this.#now();
      const out: SessionRecord[] = [];
      const keep = (record: SessionRecord | undefined): void => {
        if (record !== undefined && now < sessionDeadline(record) && matchesFilter(record, filter)) out.push(record);
      };
      const index = this.#indexFor(filter);
      if (index !== undefined) {
        for (const { record } of await this.#viaIndex(c, bin, index)) keep(record);
        return out;
      }
      for await (const keys of this.#scan(c, `${escapeGlob(this.#sessionPrefix())}*`)) {
        const blobs = await bin.mGet(keys);
        for (let i = 0; i < keys.length; i++) keep(blobs[i] ? this.#decodeRecord(blobs[i] as Buffer, keys[i]) : undefined);
      }
      return out;
    }, BULK_TIMEOUT_MS);
  }

  /** Session keys in Redis: live by Redis's own TTL (set from this store's clock when written). */
  async count(): Promise<number> {
    return this.#run('counting sessions', async (c) => {
      let n = 0;
      for await (const keys of this.#scan(c, `${escapeGlob(this.#sessionPrefix())}*`)) n += keys.length;
      return n;
    }, BULK_TIMEOUT_MS);
  }

  async putOnce(key: string, value: string, ttlMs: number): Promise<boolean> {
    const ttl = Math.ceil(ttlMs);
    if (!(ttl > 0)) throw new RangeError('putOnce: ttlMs must be positive');
    const redisKey = this.#onceKey(key);
    const payload: OneTimePayload = { v: value, e: this.#now() + ttl, k: key };
    const blob = this.#seal(Buffer.from(JSON.stringify(payload), 'utf8'), redisKey);
    const reply = await this.#run('storing a one-time value', (c) =>
      c.set(redisKey, blob, { condition: 'NX', expiration: { type: 'PX', value: ttl } }),
    );
    return reply === 'OK';
  }

  async takeOnce(key: string): Promise<string | undefined> {
    const redisKey = this.#onceKey(key);
    const blob = await this.#run('taking a one-time value', (_c, bin) => bin.getDel(redisKey));
    if (!blob) return undefined;
    const plain = this.#open(blob, redisKey);
    if (plain === undefined) return undefined;
    const payload = JSON.parse(plain.toString('utf8')) as OneTimePayload;
    return this.#now() < payload.e ? payload.v : undefined;
  }

  async peekOnce(key: string): Promise<string | undefined> {
    const redisKey = this.#onceKey(key);
    const blob = await this.#run('reading a one-time value', (_c, bin) => bin.get(redisKey));
    if (!blob) return undefined;
    const payload = this.#openOnce(blob as Buffer, redisKey);
    return payload !== undefined && this.#now() < payload.e ? payload.v : undefined;
  }

  // The keys are keyed hashes: a scan of every one-time value (login attempts, codes, access records), each opened
  // to read its key. They are few (minutes-long) and only `drawbridge grants`, /.drawbridge/requests and /me list them.
  async listOnce(prefix: string): Promise<Array<{ key: string; value: string }>> {
    return this.#run('listing one-time values', async (c, bin) => {
      const out: Array<{ key: string; value: string }> = [];
      const now = this.#now();
      for await (const keys of this.#scan(c, `${escapeGlob(this.#prefix)}o:*`)) {
        const blobs = await bin.mGet(keys);
        keys.forEach((redisKey, i) => {
          const payload = blobs[i] ? this.#openOnce(blobs[i] as Buffer, redisKey) : undefined;
          if (payload?.k !== undefined && payload.k.startsWith(prefix) && now < payload.e) out.push({ key: payload.k, value: payload.v });
        });
      }
      return out;
    }, BULK_TIMEOUT_MS);
  }

  #openOnce(blob: Buffer, redisKey: string): OneTimePayload | undefined {
    const plain = this.#open(blob, redisKey);
    if (plain === undefined) return undefined;
    try {
      return JSON.parse(plain.toString('utf8')) as OneTimePayload;
    } catch {
      return undefined;
    }
  }

  /** Both connections answer (the one for writes and the one session reads go through). */
  async ping(): Promise<void> {
    await this.#run('pinging redis', (c, _b, reader) => Promise.all([c.ping(), reader.ping()]));
  }

  close(): Promise<void> {
    this.#closing ??= this.#disconnect();
    return this.#closing;
  }

  async #disconnect(): Promise<void> {
    await this.#starting?.catch(() => {});
    const clients = [this.#client, this.#reader];
    this.#client = undefined;
    this.#bin = undefined;
    this.#reader = undefined;
    this.#forget();
    await Promise.all(clients.map((c) => this.#closeClient(c)));
  }

  async #closeClient(client: Client | Reader | undefined): Promise<void> {
    if (client === undefined || !client.isOpen) return;
    if (client.isReady) {
      let timer: NodeJS.Timeout | undefined;
      const graceful = client.close().then(() => true, () => false);
      const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.#commandTimeoutMs)));
      const closed = await Promise.race([graceful, late]);
      clearTimeout(timer);
      if (closed) return;
    }
    try {
      client.destroy();
    } catch {
      // already closed
    }
  }

  /** Runs one operation against Redis; rejects with DRB_STORE_UNAVAILABLE on any failure or after `ms`. */
  async #run<T>(step: string, op: (client: Client, bin: BinaryClient, reader: Reader) => Promise<T>, ms = this.#commandTimeoutMs): Promise<T> {
    const client = this.#client;
    const bin = this.#bin;
    const reader = this.#reader;
    if (client === undefined || bin === undefined || reader === undefined) {
      const why = this.#closing ? 'closed' : 'not started';
      throw new DrawbridgeError('DRB_STORE_UNAVAILABLE', `redis session store: ${step}: ${why}`);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([op(client, bin, reader), late]);
    } catch (err) {
      throw wrap(`redis session store: ${step}`, err, 'DRB_STORE_UNAVAILABLE');
    } finally {
      clearTimeout(timer);
    }
  }

  async *#scan(client: Client, match: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const reply = await client.scan(cursor, { MATCH: match, COUNT: SCAN_COUNT });
      cursor = String(reply.cursor);
      if (reply.keys.length > 0) yield reply.keys.map(String);
    } while (cursor !== '0');
  }

  /** Reads every member of an index set; members whose session is gone are removed from the set. */
  async #viaIndex(client: Client, bin: BinaryClient, index: string): Promise<{ key: string; member: string; record: SessionRecord | undefined }[]> {
    const members = (await client.sMembers(index)).map(String);
    if (members.length === 0) return [];
    const keys = members.map((m) => this.#sessionPrefix() + m);
    const blobs = await bin.mGet(keys);
    const stale = members.filter((_, i) => !blobs[i]);
    if (stale.length > 0) await client.sRem(index, stale);
    return keys.map((key, i) => ({ key, member: members[i], record: blobs[i] ? this.#decodeRecord(blobs[i] as Buffer, key) : undefined }));
  }

  #sessionPrefix(): string {
    return `${this.#prefix}s:`;
  }

  // The raw id never reaches Redis: only its SHA-256, which cannot be turned back into a cookie.
  #sessionKey(id: string): string {
    return this.#sessionPrefix() + sha256Hex(id);
  }

  #keyedHash(label: string, value: string): string {
    return createHmac('sha256', this.#hashKey).update(`${label}\0${value}`, 'utf8').digest('hex');
  }

  #onceKey(key: string): string {
    return `${this.#prefix}o:${this.#keyedHash('once', key)}`;
  }

  #indexSetKey(kind: 'u' | 's' | 'p', value: string): string {
    return `${this.#prefix}i:${kind}:${this.#keyedHash(kind, value)}`;
  }

  #indexKeysOf(record: SessionRecord): string[] {
    const keys = [this.#indexSetKey('u', record.identity.user), this.#indexSetKey('s', record.identity.sub)];
    if (record.idpSid !== undefined) keys.push(this.#indexSetKey('p', record.idpSid));
    return keys;
  }

  /** The most selective index set for the filter, or undefined for `{}` (all sessions). */
  #indexFor(filter: SessionFilter): string | undefined {
    if (filter.idpSid !== undefined) return this.#indexSetKey('p', filter.idpSid);
    if (filter.sub !== undefined) return this.#indexSetKey('s', filter.sub);
    if (filter.user !== undefined) return this.#indexSetKey('u', filter.user);
    return undefined;
  }

  #decodeRecord(blob: Buffer, key: string): SessionRecord | undefined {
    const plain = this.#open(blob, key);
    if (plain === undefined) return undefined;
    try {
      return JSON.parse(plain.toString('utf8')) as SessionRecord;
    } catch {
      return undefined;
    }
  }

  // AES-256-GCM, the Redis key as AAD so a ciphertext cannot be moved to another key: version | iv | tag | ciphertext.
  #seal(plain: Buffer, aad: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#encKey, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.of(FORMAT_V1), iv, cipher.getAuthTag(), body]);
  }

  // A blob that fails authentication (tampered, or written under another secret) reads as absent.
  #open(blob: Buffer, aad: string): Buffer | undefined {
    if (blob.length < HEADER_BYTES || blob[0] !== FORMAT_V1) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#encKey, blob.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(blob.subarray(1 + IV_BYTES, HEADER_BYTES));
      return Buffer.concat([decipher.update(blob.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}
