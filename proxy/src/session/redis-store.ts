// session/redis-store.ts — the `redis` session store, shared by several replicas: records AES-256-GCM encrypted
// at rest, keys hashed (no session id, user or token is readable in Redis), fail closed when Redis is unreachable.
// One server, a Sentinel-watched primary (found again after a failover) or a Cluster. Session reads are cached in
// process, kept coherent across replicas by Redis's client tracking (see `get`); not on a Cluster.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sha256Hex } from '../digest.js';
import { LRUCache } from 'lru-cache';
import type * as Redis from 'redis';
import { DrawbridgeError, wrap } from '../errors.js';
import type { AcmeRedisCommands } from '../tls/acme-redis-storage.js';
import type { SessionKeys } from './keys.js';
import { matchesFilter, sessionDeadline, type SessionFilter, type SessionRecord, type SessionStore } from './store.js';

// node-redis is loaded when a store first connects, not at start: a Drawbridge with the memory store never needs its
// ~15 MB of resident memory (docs/performance.md, "Memory after the load rounds"; proxy/test/lazy-packages.test.ts).
let redisPackage: typeof Redis | undefined;
const redis = (): typeof Redis => (redisPackage ??= createRequire(import.meta.url)('redis') as typeof Redis);

/** `host:port` of a sentinel or cluster node, parsed. */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** A primary watched by Redis Sentinel. */
export interface RedisSentinelOptions {
  /** The name the sentinels monitor the primary under. */
  name: string;
  /** Sentinels to ask for the primary's address. */
  nodes: RedisNodeAddress[];
  username?: string;
  /** Password of the Redis servers. */
  password?: string;
  /** Password of the sentinels. */
  sentinelPassword?: string;
}

/** A Redis Cluster: some of its nodes (the others are discovered). */
export interface RedisClusterOptions {
  nodes: RedisNodeAddress[];
  username?: string;
  password?: string;
}

export interface RedisStoreOptions {
  /** One server: `redis[s]://[[user][:password]@]host[:port][/db]`. Exactly one of url, sentinel and cluster. */
  url?: string;
  sentinel?: RedisSentinelOptions;
  /** A Cluster; the read cache is off (see `get`). */
  cluster?: RedisClusterOptions;
  /**
   * Replicas that must acknowledge (Redis WAIT) a session written, deleted or revoked and a one-time value taken,
   * before the operation resolves; otherwise it rejects (DRB_STORE_UNAVAILABLE). Default 1 with sentinel, else 0.
   */
  waitReplicas?: number;
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


type Client = ReturnType<typeof Redis.createClient>;

function newCluster(options: RedisClusterOptions, connectTimeoutMs: number) {
  return redis().createCluster({
    rootNodes: options.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
    defaults: {
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      // Fail closed: while a master is unreachable, commands for its slots reject at once.
      disableOfflineQueue: true,
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 100) },
    },
  });
}
type Cluster = ReturnType<typeof newCluster>;

function binaryView(client: Client) {
  return client.withTypeMapping({ [redis().RESP_TYPES.BLOB_STRING]: Buffer });
}
type BinaryClient = ReturnType<typeof binaryView>;

function binaryClusterView(cluster: Cluster) {
  return cluster.withTypeMapping({ [redis().RESP_TYPES.BLOB_STRING]: Buffer });
}
type BinaryCluster = ReturnType<typeof binaryClusterView>;

// The connection session reads go through: RESP3 with CLIENT TRACKING ON (sent again on every reconnect), so Redis
// pushes an `invalidate` message on it for every key it read that anyone changes, deletes or expires afterwards.
function createReader(options: Parameters<typeof Redis.createClient>[0] & object) {
  return redis().createClient({
    ...options,
    RESP: 3,
    emitInvalidate: true,
    // Redis Enterprise's maintenance hand-over (relaxed timeouts, moving endpoints) would change the fail-closed timing.
    maintNotifications: 'disabled',
    // No per-command timeout of node-redis here: every read on this connection (the session GET, the PING fence of
    // each turn, the readiness PING) runs inside the store's own `#run`, whose timer rejects it after
    // commandTimeoutMs. node-redis's own is an AbortSignal.timeout per command that cannot be cancelled: each fires
    // after its command has long been answered and builds an abort DOMException (about 4 µs per request in the
    // redis row's profile), for nothing.
    commandOptions: { ...options.commandOptions, timeout: 0, typeMapping: { [redis().RESP_TYPES.BLOB_STRING]: Buffer } },
  });
}
type Reader = ReturnType<typeof createReader>;

/** The session reads begun in one turn of the event loop, answered together once their PING is back (see `get`). */
interface ReadBatch {
  readonly reader: Reader;
  readonly generation: number;
  readonly waiting: Array<{ id: string; key: string; resolve(record: SessionRecord | undefined): void; reject(err: unknown): void }>;
}

/**
 * The commands the store sends, over one server's connection or a Cluster. On a Cluster every command names keys of
 * one hash slot only: multi-key reads and deletes are split per key, and no script touches more than one key.
 */
interface Ops {
  /** Whether a script may touch several keys at once (false on a Cluster: they would lie in different slots). */
  readonly multiKey: boolean;
  get(key: string): Promise<Buffer | null>;
  mGet(keys: string[]): Promise<(Buffer | null)[]>;
  del(keys: string[]): Promise<number>;
  eval(script: string, keys: string[], args: (string | Buffer)[]): Promise<unknown>;
  sMembers(key: string): Promise<string[]>;
  sRem(key: string, members: string[]): Promise<number>;
  /** SET, only if absent (`nx`), expiring after `px` ms; whether it was set. */
  set(key: string, value: Buffer | string, options: { nx?: boolean | undefined; px?: number | undefined }): Promise<boolean>;
  getDel(key: string): Promise<Buffer | null>;
  scan(match: string): AsyncGenerator<string[]>;
  ping(): Promise<void>;
  /** WAIT on the connection `key`'s writes went over: how many replicas acknowledged them within `ms`. */
  wait(key: string, replicas: number, ms: number): Promise<number>;
}

function setOptions(o: { nx?: boolean | undefined; px?: number | undefined }) {
  return { ...(o.nx ? { condition: 'NX' as const } : {}), ...(o.px !== undefined ? { expiration: { type: 'PX' as const, value: o.px } } : {}) };
}

async function* scanNode(client: Client, match: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const reply = await client.scan(cursor, { MATCH: match, COUNT: SCAN_COUNT });
    cursor = String(reply.cursor);
    if (reply.keys.length > 0) yield reply.keys.map(String);
  } while (cursor !== '0');
}

function nodeOps(client: Client): Ops {
  const bin: BinaryClient = binaryView(client);
  return {
    multiKey: true,
    get: (key) => bin.get(key),
    mGet: (keys) => bin.mGet(keys),
    del: (keys) => client.del(keys),
    eval: (script, keys, args) => client.eval(script, { keys, arguments: args as string[] }),
    sMembers: async (key) => (await client.sMembers(key)).map(String),
    sRem: (key, members) => client.sRem(key, members),
    set: async (key, value, options) => (await client.set(key, value, setOptions(options))) === 'OK',
    getDel: (key) => bin.getDel(key),
    scan: (match) => scanNode(client, match),
    ping: async () => void (await client.ping()),
    wait: async (_key, replicas, ms) => Number(await client.sendCommand(['WAIT', String(replicas), String(ms)])),
  };
}

function clusterOps(cluster: Cluster): Ops {
  const bin: BinaryCluster = binaryClusterView(cluster);
  return {
    multiKey: false,
    get: (key) => bin.get(key),
    mGet: (keys) => Promise.all(keys.map((key) => bin.get(key))),
    del: async (keys) => (await Promise.all(keys.map((key) => cluster.del(key)))).reduce((a, b) => a + b, 0),
    eval: (script, keys, args) => {
      if (keys.length !== 1) throw new Error('a script on a cluster touches exactly one key');
      return cluster.eval(script, { keys, arguments: args as string[] });
    },
    sMembers: async (key) => (await cluster.sMembers(key)).map(String),
    sRem: (key, members) => cluster.sRem(key, members),
    set: async (key, value, options) => (await cluster.set(key, value, setOptions(options))) === 'OK',
    getDel: (key) => bin.getDel(key),
    async *scan(match) {
      for (const master of cluster.masters) yield* scanNode((await cluster.nodeClient(master)) as Client, match);
    },
    ping: async () => {
      await Promise.all(cluster.masters.map(async (master) => (await cluster.nodeClient(master)).ping()));
    },
    // Routed by the key, WAIT goes over the connection to the master of its slot, the one that carried the write.
    wait: async (key, replicas, ms) => Number(await cluster.sendCommand(key, false, ['WAIT', String(replicas), String(ms)])),
  };
}

/** The session store's part of the configuration (session.store with type redis). */
export interface RedisStoreConfig {
  url?: string | undefined;
  sentinel?: { name: string; nodes: string[]; username?: string | undefined; passwordFile?: string | undefined; sentinelPasswordFile?: string | undefined } | undefined;
  cluster?: { nodes: string[]; username?: string | undefined; passwordFile?: string | undefined } | undefined;
  waitReplicas?: number | undefined;
  prefix: string;
}

/** `host:port` (IPv6 in brackets) → address. */
export function parseRedisNode(text: string): RedisNodeAddress {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(text.slice(colon + 1)) };
}

function readPassword(file: string | undefined, what: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw wrap(`reading ${what} ${file}`, err, 'DRB_CONFIG_READ');
  }
}

/** Where the configured store's Redis is, with the passwords read from their files. */
export function redisTopology(config: RedisStoreConfig): Pick<RedisStoreOptions, 'url' | 'sentinel' | 'cluster' | 'waitReplicas' | 'prefix'> {
  const out: Pick<RedisStoreOptions, 'url' | 'sentinel' | 'cluster' | 'waitReplicas' | 'prefix'> = { prefix: config.prefix };
  if (config.waitReplicas !== undefined) out.waitReplicas = config.waitReplicas;
  if (config.url !== undefined) out.url = config.url;
  const s = config.sentinel;
  if (s !== undefined) {
    out.sentinel = { name: s.name, nodes: s.nodes.map(parseRedisNode) };
    if (s.username !== undefined) out.sentinel.username = s.username;
    const password = readPassword(s.passwordFile, 'session.store.sentinel.passwordFile');
    if (password !== undefined) out.sentinel.password = password;
    const sentinelPassword = readPassword(s.sentinelPasswordFile, 'session.store.sentinel.sentinelPasswordFile');
    if (sentinelPassword !== undefined) out.sentinel.sentinelPassword = sentinelPassword;
  }
  const c = config.cluster;
  if (c !== undefined) {
    out.cluster = { nodes: c.nodes.map(parseRedisNode) };
    if (c.username !== undefined) out.cluster.username = c.username;
    const password = readPassword(c.passwordFile, 'session.store.cluster.passwordFile');
    if (password !== undefined) out.cluster.password = password;
  }
  return out;
}

// Adds one session to one index set (ARGV[2]), kept at least ARGV[1] ms: SET_SCRIPT's loop for a Cluster, where
// each index set may lie in another slot. Run before the session is written, so an index never misses a session.
const INDEX_SCRIPT = `
redis.call('SADD', KEYS[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`;

// Deletes KEYS[1] only while it holds ARGV[1] (an ACME lock released only by its holder).
const DELETE_IF_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

// How often a store that lost its primary (or never reached Redis) tries again: asks the sentinels, reconnects.
const RECOVER_EVERY_MS = 200;
// One sentinel may take this long to answer before the next one is asked.
const SENTINEL_ASK_TIMEOUT_MS = 500;
// Connecting to the primary the sentinels named: on a LAN it answers well within this. Longer would delay the
// recovery when the sentinels still name a primary that is gone without a trace (no RST), until they fail over.
const PRIMARY_CONNECT_TIMEOUT_MS = 1000;

type NodeOptions = Parameters<typeof Redis.createClient>[0] & object;
type Closable = { isOpen: boolean; isReady: boolean; close(): Promise<unknown>; destroy(): void };

/** Redis-backed session store. `start()` before use; every method rejects (DRB_STORE_UNAVAILABLE) while Redis is down. */
export class RedisStore implements SessionStore {
  readonly kind = 'redis';
  readonly #url: string | undefined;
  readonly #sentinel: RedisSentinelOptions | undefined;
  readonly #cluster: RedisClusterOptions | undefined;
  readonly #waitReplicas: number;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #encKey: Buffer;
  readonly #hashKey: Buffer;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  readonly #onError: (err: Error) => void;
  #ops: Ops | undefined;
  #reader: Reader | undefined;
  // Every connection in use (closed by close(), or when a failover makes them useless).
  #connections: Closable[] = [];
  // Bumped when the connections are replaced: a late 'error' of an old connection changes nothing.
  #generation = 0;
  #recovering: Promise<void> | undefined;
  // Sentinel: `host:port` of the primary in use, and whether the sentinels are being asked if it is still the one.
  #primary: string | undefined;
  #verifying = false;
  #wake: (() => void) | undefined;
  // Redis key → decoded record, as the reader connection last read it; entries leave on invalidation.
  readonly #cache = new LRUCache<string, SessionRecord>({ max: READ_CACHE_MAX, ttl: READ_CACHE_TTL_MS, ttlAutopurge: false });
  // Keys being read on the reader connection → the read's number; an invalidation meanwhile removes the key, so a
  // reply that may predate the change is not cached (it can arrive in the same packet, before the read resumes).
  readonly #reading = new Map<string, number>();
  #reads = 0;
  // The reads begun in this turn, waiting for one PING (see `get`).
  #batch: ReadBatch | undefined;
  // Session id → its Redis key, for the ids read most recently: spares a SHA-256 on every cached read.
  readonly #keys = new LRUCache<string, string>({ max: READ_CACHE_MAX });
  #lastError: Error | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions) {
    const given = [options.url, options.sentinel, options.cluster].filter((x) => x !== undefined).length;
    if (given !== 1) throw new DrawbridgeError('DRB_CONFIG_INVALID', 'redis session store: give exactly one of url, sentinel and cluster');
    this.#url = options.url;
    this.#sentinel = options.sentinel;
    this.#cluster = options.cluster;
    this.#waitReplicas = options.waitReplicas ?? (options.sentinel ? 1 : 0);
    this.#prefix = options.prefix ?? 'drawbridge:';
    this.#now = options.now ?? Date.now;
    this.#encKey = options.keys.storeEncryption;
    // The index hashes get their own key so the AES key is used for nothing else.
    this.#hashKey = Buffer.from(hkdfSync('sha256', options.keys.storeEncryption, '', 'drawbridge redis-index v1', 32));
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.#onError = options.onError ?? (() => {});
  }

  /** `sentinel NAME`, `cluster` or `server` and where: for logs and `drawbridge doctor`. */
  get topology(): string {
    const list = (nodes: RedisNodeAddress[]) => nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(', ');
    if (this.#sentinel) return `sentinel ${this.#sentinel.name} via ${list(this.#sentinel.nodes)}`;
    if (this.#cluster) return `cluster via ${list(this.#cluster.nodes)}`;
    return `server ${redactUrl(this.#url ?? '')}`;
  }

  /** Connects; rejects when Redis does not answer within `connectTimeoutMs` (and goes on trying by itself). */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new DrawbridgeError('DRB_STORE_UNAVAILABLE', 'redis session store: closed'));
    this.#starting ??= this.#url !== undefined ? this.#connect(this.#url) : this.#connectAgain();
    return this.#starting;
  }

  // Sentinel and Cluster: the recovery loop connects; start() waits for it at most connectTimeoutMs.
  async #connectAgain(): Promise<void> {
    const step = `redis session store: connecting to ${this.topology}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const why = () => (this.#lastError ? ` (last error: ${this.#lastError.message})` : '');
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#connectTimeoutMs} ms${why()}`)), this.#connectTimeoutMs);
    });
    try {
      await Promise.race([this.#recover(), timeout]);
    } catch (err) {
      this.#starting = undefined;
      throw wrap(step, err, 'DRB_STORE_UNAVAILABLE');
    } finally {
      clearTimeout(timer);
    }
  }

  async #connect(url: string): Promise<void> {
    const step = `redis session store: connecting to ${redactUrl(url)}`;
    let client: Client;
    let reader: Reader;
    try {
      client = this.#createClient(this.#clientOptions({ url }));
      reader = this.#createReader(this.#clientOptions({ url }));
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
        this.#useNodes(client, reader);
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
    this.#useNodes(client, reader);
  }

  #useNodes(client: Client, reader: Reader): void {
    this.#generation++;
    this.#forget();
    this.#ops = nodeOps(client);
    this.#reader = reader;
    this.#connections = [client, reader];
  }

  /**
   * Sentinel and Cluster: connects, again and again every RECOVER_EVERY_MS until it works or the store is closed;
   * resolves once connected. While it runs the store has no connection: every operation fails closed at once.
   */
  #recover(): Promise<void> {
    this.#recovering ??= (async () => {
      try {
        while (!this.#closing) {
          try {
            await (this.#sentinel ? this.#openPrimary(this.#sentinel) : this.#openCluster(this.#cluster as RedisClusterOptions));
            return;
          } catch (err) {
            this.#reportError(err);
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, RECOVER_EVERY_MS);
            this.#wake = () => (clearTimeout(timer), resolve());
          });
          this.#wake = undefined;
        }
        throw new Error('closed');
      } finally {
        this.#recovering = undefined;
      }
    })();
    return this.#recovering;
  }

  /** Asks the sentinels for the primary, connects to it (both connections) and checks it says it is the primary. */
  async #openPrimary(sentinel: RedisSentinelOptions): Promise<void> {
    const address = await this.#askSentinels(sentinel);
    const socket = { host: address.host, port: address.port };
    const auth = { ...(sentinel.username !== undefined ? { username: sentinel.username } : {}), ...(sentinel.password !== undefined ? { password: sentinel.password } : {}) };
    // No reconnecting to this address: after a failover it is no longer the primary; the sentinels say which is.
    const client = this.#createClient(this.#clientOptions({ socket, ...auth }, false, PRIMARY_CONNECT_TIMEOUT_MS));
    const reader = this.#createReader(this.#clientOptions({ socket, ...auth }, false, PRIMARY_CONNECT_TIMEOUT_MS));
    try {
      await Promise.all([client.connect(), reader.connect()]);
      const role = (await client.sendCommand(['ROLE'])) as unknown[];
      if (String(role?.[0]) !== 'master') throw new Error(`${address.host}:${address.port} is not the primary (role ${String(role?.[0])})`);
    } catch (err) {
      client.destroy();
      reader.destroy();
      throw err;
    }
    if (this.#closing) {
      client.destroy();
      reader.destroy();
      return;
    }
    this.#useNodes(client, reader);
    this.#primary = `${address.host}:${address.port}`;
    const generation = this.#generation;
    for (const c of [client, reader]) {
      c.on('error', () => {
        if (!c.isReady) this.#lost(generation);
      });
      c.on('end', () => this.#lost(generation));
    }
  }

  async #askSentinels(sentinel: RedisSentinelOptions): Promise<RedisNodeAddress> {
    const failures: string[] = [];
    for (const node of sentinel.nodes) {
      const client = redis().createClient({
        socket: { host: node.host, port: node.port, connectTimeout: SENTINEL_ASK_TIMEOUT_MS, reconnectStrategy: false },
        ...(sentinel.sentinelPassword !== undefined ? { password: sentinel.sentinelPassword } : {}),
        disableOfflineQueue: true,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const reply = (await client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.name], { timeout: SENTINEL_ASK_TIMEOUT_MS })) as unknown[] | null;
        if (Array.isArray(reply) && reply.length === 2) return { host: String(reply[0]), port: Number(reply[1]) };
        failures.push(`${node.host}:${node.port}: does not monitor ${sentinel.name}`);
      } catch (err) {
        failures.push(`${node.host}:${node.port}: ${(err as Error).message}`);
      } finally {
        client.destroy();
      }
    }
    throw new Error(`no sentinel named the primary (${failures.join('; ')})`);
  }

  /** The primary went away (connection lost, or it answered READONLY): drop both connections, find the new one. */
  #lost(generation: number): void {
    if (generation !== this.#generation || this.#closing || this.#ops === undefined) return;
    this.#generation++;
    const old = this.#connections;
    this.#ops = undefined;
    this.#reader = undefined;
    this.#connections = [];
    this.#forget();
    for (const c of old) {
      try {
        c.destroy();
      } catch {
        // already closed
      }
    }
    void this.#recover().catch(() => {});
  }

  /** Drops the connections when the sentinels name another primary than the one in use (one check at a time). */
  #verifyPrimary(sentinel: RedisSentinelOptions, generation: number): void {
    if (this.#verifying || generation !== this.#generation) return;
    this.#verifying = true;
    void this.#askSentinels(sentinel)
      .then(
        (address) => {
          if (`${address.host}:${address.port}` !== this.#primary) this.#lost(generation);
        },
        () => {},
      )
      .finally(() => (this.#verifying = false));
  }

  async #openCluster(options: RedisClusterOptions): Promise<void> {
    const cluster = newCluster(options, this.#connectTimeoutMs);
    cluster.on('error', (err: unknown) => this.#reportError(err));
    cluster.on('node-error', (err: unknown) => this.#reportError(err));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        cluster.connect(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs))),
      ]);
    } catch (err) {
      try {
        cluster.destroy();
      } catch {
        // not open
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.#closing) {
      cluster.destroy();
      return;
    }
    this.#generation++;
    this.#forget();
    this.#ops = clusterOps(cluster);
    this.#reader = undefined;
    this.#connections = [cluster];
  }

  #clientOptions(target: { url: string } | { socket: { host: string; port: number }; username?: string; password?: string }, reconnect = true, connectTimeoutMs = this.#connectTimeoutMs): NodeOptions {
    const { socket, ...rest } = 'socket' in target ? target : { ...target, socket: {} };
    return {
      ...rest,
      // Fail closed: while disconnected, commands reject at once instead of queueing until Redis is back.
      disableOfflineQueue: true,
      commandOptions: { timeout: this.#commandTimeoutMs },
      socket: {
        ...socket,
        connectTimeout: Math.min(connectTimeoutMs, this.#connectTimeoutMs),
        reconnectStrategy: reconnect
          ? (retries: number) => Math.min(100 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 100)
          : (false as const),
      },
    };
  }

  #createClient(options: NodeOptions): Client {
    const client: Client = redis().createClient(options);
    client.on('error', (err: unknown) => this.#reportError(err));
    return client;
  }

  #createReader(options: NodeOptions): Reader {
    const reader = createReader(options);
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
   * connection sent in the same turn of the event loop or later: the reads begun in one turn wait together, as one
   * batch, for one PING (sent at the end of the turn, when node-redis writes what the turn queued). Redis queues the
   * invalidations for a change on that connection while it executes the change, so a change acknowledged before the
   * read began has reached the cache once the PONG is back: a cached answer is as fresh as a GET would be. And a Redis
   * that is down or hung fails the read (DRB_STORE_UNAVAILABLE) instead of being answered from the cache. What the
   * cache saves is the GET itself, decryption and JSON parsing; the batch saves a timer and a promise race per read
   * (one timer per batch bounds them all).
   *
   * With Sentinel the reader is a connection to the primary like any other: a failover drops it, and with it the
   * cache (every entry came through it), before the connections to the new primary are used. On a Cluster there is
   * no cache: a read would have to fence on the connection to the master of its key's slot, and invalidations come
   * from every master over its own connection, which node-redis's cluster client does not hand out; plain GETs.
   */
  async get(id: string): Promise<SessionRecord | undefined> {
    const record = await this.getShared(id);
    // A copy, the caller's to change (the shared record is frozen).
    return record === undefined ? undefined : { ...record };
  }

  /**
   * `get` without the copy: the decoded record as the read cache holds it, frozen and shared by every reader until an
   * invalidation drops it (the next read decodes a new one), so a record once read never changes under its reader.
   */
  getShared(id: string): Promise<SessionRecord | undefined> {
    let key = this.#keys.get(id);
    if (key === undefined) this.#keys.set(id, (key = this.#sessionKey(id)));
    const reader = this.#reader;
    if (reader === undefined || this.#ops === undefined) return this.#run('reading a session', (ops) => this.#readDirect(ops, key)).then((r) => this.#live(r, id));
    let batch = this.#batch;
    if (batch === undefined || batch.reader !== reader) batch = this.#openBatch(reader);
    const waiting = batch.waiting;
    return new Promise((resolve, reject) => waiting.push({ id, key, resolve, reject }));
  }

  /** The record, unless it is another id's (a hash collision cannot happen; a moved blob fails its AAD) or past its end. */
  #live(record: SessionRecord | undefined, id: string): SessionRecord | undefined {
    return record === undefined || record.id !== id || this.#now() >= sessionDeadline(record) ? undefined : record;
  }

  async #readDirect(ops: Ops, key: string): Promise<SessionRecord | undefined> {
    const blob = await ops.get(key);
    const record = blob ? this.#decodeRecord(blob, key) : undefined;
    return record === undefined ? undefined : Object.freeze(record);
  }

  /**
   * The batch of the reads begun in this turn: one PING for all of them. node-redis writes what was queued in one turn
   * at its end (a setImmediate queued with the first command); the batch closes in a setImmediate queued after it,
   * so no read joins a batch whose PING is already written.
   */
  #openBatch(reader: Reader): ReadBatch {
    const batch: ReadBatch = { reader, generation: this.#generation, waiting: [] };
    this.#batch = batch;
    setImmediate(() => {
      if (this.#batch === batch) this.#batch = undefined;
    });
    const ms = this.#commandTimeoutMs;
    let settled = false;
    // Settled (answered, failed or timed out) before its turn ends, as a PING refused at once by a connection that is
    // not ready is: closed at once, so no later read of the turn waits on a batch nothing will answer again.
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      if (this.#batch === batch) this.#batch = undefined;
      return true;
    };
    const timer = setTimeout(() => {
      if (settle()) this.#failBatch(batch, new Error(`no answer within ${ms} ms`));
    }, ms);
    const ping = reader.isReady ? reader.ping() : Promise.reject(new Error('not connected'));
    ping.then(
      () => {
        if (settle()) this.#fenced(batch);
      },
      (err: unknown) => {
        if (settle()) this.#failBatch(batch, err);
      },
    );
    return batch;
  }

  /** The batch's PING is back: each read is answered from the cache, or read (a GET on the same connection). */
  #fenced(batch: ReadBatch): void {
    // A reader replaced meanwhile (failover): its PONG fences nothing of the new one; each read starts again.
    const current = batch.reader === this.#reader;
    for (const w of batch.waiting) {
      if (!current) {
        this.getShared(w.id).then(w.resolve, w.reject);
        continue;
      }
      const cached = this.#cache.get(w.key);
      if (cached !== undefined) w.resolve(this.#live(cached, w.id));
      else this.#run('reading a session', () => this.#fetch(batch.reader, w.key)).then((r) => w.resolve(this.#live(r, w.id)), w.reject);
    }
  }

  #failBatch(batch: ReadBatch, err: unknown): void {
    const failure = this.#failed('reading a session', err, batch.generation);
    for (const w of batch.waiting) w.reject(failure);
  }

  /** A GET on the reader connection (after its fence): the decoded record, frozen, cached unless invalidated meanwhile. */
  async #fetch(reader: Reader, key: string): Promise<SessionRecord | undefined> {
    if (!reader.isReady) throw new Error('not connected');
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
    if (record === undefined) return undefined;
    Object.freeze(record);
    // A reader replaced meanwhile (failover) is no longer the one whose invalidations reach the cache.
    if (cacheable && reader === this.#reader) this.#cache.set(key, record);
    return record;
  }

  /** Writes the record and its index entries: one script on one server; on a Cluster the indexes first, one by one. */
  async #write(ops: Ops, script: string, key: string, record: SessionRecord, ttl: number, indexTtl: number): Promise<number> {
    const blob = this.#seal(Buffer.from(JSON.stringify(record), 'utf8'), key);
    const indexes = this.#indexKeysOf(record);
    const member = key.slice(this.#sessionPrefix().length);
    const args = [blob, String(ttl), String(indexTtl), member];
    if (ops.multiKey) return Number(await ops.eval(script, [key, ...indexes], args));
    for (const index of indexes) await ops.eval(INDEX_SCRIPT, [index], [String(indexTtl), member]);
    return Number(await ops.eval(script, [key], args));
  }

  /** Waits until `waitReplicas` replicas hold the writes to `keys`; rejects when they do not acknowledge in time. */
  async #replicated(ops: Ops, keys: string[]): Promise<void> {
    const want = this.#waitReplicas;
    if (want === 0 || keys.length === 0) return;
    const ms = Math.max(10, Math.floor(this.#commandTimeoutMs / 2));
    // On one server every write went over the one connection WAIT is sent on; on a Cluster, one WAIT per key's master.
    const acked = await Promise.all((ops.multiKey ? keys.slice(0, 1) : keys).map((key) => ops.wait(key, want, ms)));
    const least = Math.min(...acked);
    if (least < want) throw new Error(`${least} of ${want} replica(s) acknowledged the write within ${ms} ms (waitReplicas)`);
  }

  async set(record: SessionRecord): Promise<void> {
    const key = this.#sessionKey(record.id);
    const now = this.#now();
    const ttl = Math.ceil(sessionDeadline(record) - now);
    if (ttl <= 0) {
      await this.#run('deleting an expired session', async (ops) => {
        await ops.del([key]);
        await this.#replicated(ops, [key]);
      });
      return;
    }
    const indexTtl = Math.max(ttl, Math.ceil(record.expiresAt - now));
    await this.#run('writing a session', async (ops) => {
      await this.#write(ops, SET_SCRIPT, key, record, ttl, indexTtl);
      await this.#replicated(ops, [key, ...(ops.multiKey ? [] : this.#indexKeysOf(record))]);
    });
  }

  async replace(record: SessionRecord): Promise<boolean> {
    const key = this.#sessionKey(record.id);
    const now = this.#now();
    const ttl = Math.ceil(sessionDeadline(record) - now);
    if (ttl <= 0) {
      await this.#run('deleting an expired session', async (ops) => {
        await ops.del([key]);
        await this.#replicated(ops, [key]);
      });
      return false;
    }
    const indexTtl = Math.max(ttl, Math.ceil(record.expiresAt - now));
    return this.#run('replacing a session', async (ops) => {
      // Live by this store's clock (as get decides) ...
      const current = await ops.get(key);
      const decoded = current ? this.#decodeRecord(current, key) : undefined;
      if (decoded === undefined || now >= sessionDeadline(decoded)) return false;
      // ... and still there when written: the script checks and writes in one step (a delete in between wins).
      const replaced = (await this.#write(ops, REPLACE_SCRIPT, key, record, ttl, indexTtl)) === 1;
      if (replaced) await this.#replicated(ops, [key, ...(ops.multiKey ? [] : this.#indexKeysOf(record))]);
      return replaced;
    });
  }

  async touch(id: string, lastSeenAt: number): Promise<void> {
    const key = this.#sessionKey(id);
    await this.#run('touching a session', async (ops) => {
      const blob = await ops.get(key);
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
      // Not waited for: a touch lost in a failover only makes the session look idle for longer (it ends sooner).
      await ops.eval(CAS_SCRIPT, [key], [oldSha1, newBlob, String(ttl)]);
    });
  }

  async delete(id: string): Promise<void> {
    const key = this.#sessionKey(id);
    await this.#run('deleting a session', async (ops) => {
      await ops.del([key]);
      // A revocation lost in a failover would bring the session back: it is done once a replica has it.
      await this.#replicated(ops, [key]);
    });
  }

  async deleteWhere(filter: SessionFilter): Promise<number> {
    const step = 'deleting sessions';
    return this.#run(step, async (ops) => {
      const now = this.#now();
      let deleted = 0;
      const touched: string[] = [];
      const index = this.#indexFor(filter);
      if (index === undefined) {
        for await (const keys of ops.scan(`${escapeGlob(this.#sessionPrefix())}*`)) {
          const blobs = await ops.mGet(keys);
          const removed = await ops.del(keys);
          touched.push(...keys);
          if (removed === 0) continue;
          for (let i = 0; i < keys.length; i++) {
            const record = blobs[i] ? this.#decodeRecord(blobs[i] as Buffer, keys[i]) : undefined;
            if (record !== undefined && now < sessionDeadline(record)) deleted++;
          }
        }
        // Index sets stay: one may already hold a session created during the scan; stale members are harmless.
        await this.#replicated(ops, touched);
        return deleted;
      }
      for (const { key, record, member } of await this.#viaIndex(ops, index)) {
        if (record === undefined || !matchesFilter(record, filter)) continue;
        const removed = await ops.del([key]);
        await ops.sRem(index, [member]);
        touched.push(key);
        if (removed === 1 && now < sessionDeadline(record)) deleted++;
      }
      await this.#replicated(ops, touched);
      return deleted;
    }, BULK_TIMEOUT_MS);
  }

  async list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    return this.#run('listing sessions', async (ops) => {
      const now = this.#now();
      const out: SessionRecord[] = [];
      const keep = (record: SessionRecord | undefined): void => {
        if (record !== undefined && now < sessionDeadline(record) && matchesFilter(record, filter)) out.push(record);
      };
      const index = this.#indexFor(filter);
      if (index !== undefined) {
        for (const { record } of await this.#viaIndex(ops, index)) keep(record);
        return out;
      }
      for await (const keys of ops.scan(`${escapeGlob(this.#sessionPrefix())}*`)) {
        const blobs = await ops.mGet(keys);
        for (let i = 0; i < keys.length; i++) keep(blobs[i] ? this.#decodeRecord(blobs[i] as Buffer, keys[i]) : undefined);
      }
      return out;
    }, BULK_TIMEOUT_MS);
  }

  /** Session keys in Redis: live by Redis's own TTL (set from this store's clock when written). */
  async count(): Promise<number> {
    return this.#run('counting sessions', async (ops) => {
      let n = 0;
      for await (const keys of ops.scan(`${escapeGlob(this.#sessionPrefix())}*`)) n += keys.length;
      return n;
    }, BULK_TIMEOUT_MS);
  }

  async putOnce(key: string, value: string, ttlMs: number): Promise<boolean> {
    const ttl = Math.ceil(ttlMs);
    if (!(ttl > 0)) throw new RangeError('putOnce: ttlMs must be positive');
    const redisKey = this.#onceKey(key);
    const payload: OneTimePayload = { v: value, e: this.#now() + ttl, k: key };
    const blob = this.#seal(Buffer.from(JSON.stringify(payload), 'utf8'), redisKey);
    return this.#run('storing a one-time value', (ops) => ops.set(redisKey, blob, { nx: true, px: ttl }));
  }

  async takeOnce(key: string): Promise<string | undefined> {
    const redisKey = this.#onceKey(key);
    const blob = await this.#run('taking a one-time value', async (ops) => {
      const taken = await ops.getDel(redisKey);
      // A code taken but back after a failover could be used twice.
      if (taken) await this.#replicated(ops, [redisKey]);
      return taken;
    });
    if (!blob) return undefined;
    const plain = this.#open(blob, redisKey);
    if (plain === undefined) return undefined;
    const payload = JSON.parse(plain.toString('utf8')) as OneTimePayload;
    return this.#now() < payload.e ? payload.v : undefined;
  }

  async peekOnce(key: string): Promise<string | undefined> {
    const redisKey = this.#onceKey(key);
    const blob = await this.#run('reading a one-time value', (ops) => ops.get(redisKey));
    if (!blob) return undefined;
    const payload = this.#openOnce(blob, redisKey);
    return payload !== undefined && this.#now() < payload.e ? payload.v : undefined;
  }

  // The keys are keyed hashes: a scan of every one-time value (login attempts, codes, access records), each opened
  // to read its key. They are few (minutes-long) and only `drawbridge grants`, /.drawbridge/requests and /me list them.
  async listOnce(prefix: string): Promise<Array<{ key: string; value: string }>> {
    return this.#run('listing one-time values', async (ops) => {
      const out: Array<{ key: string; value: string }> = [];
      const now = this.#now();
      for await (const keys of ops.scan(`${escapeGlob(this.#prefix)}o:*`)) {
        const blobs = await ops.mGet(keys);
        keys.forEach((redisKey, i) => {
          const payload = blobs[i] ? this.#openOnce(blobs[i]!, redisKey) : undefined;
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


  /**
   * The commands `tls.acme`'s certificate storage needs, over this store's connection: with Sentinel it follows the
   * failovers, on a Cluster each names one key. Each fails (DRB_STORE_UNAVAILABLE) while Redis is unreachable.
   */
  acmeCommands(): AcmeRedisCommands {
    return {
      get: (key) => this.#run('reading ACME storage', async (ops) => (await ops.get(key))?.toString('utf8') ?? null),
      set: (key, value, options = {}) => this.#run('writing ACME storage', (ops) => ops.set(key, value, options)),
      del: (key) => this.#run('writing ACME storage', async (ops) => void (await ops.del([key]))),
      delIf: (key, value) => this.#run('writing ACME storage', async (ops) => void (await ops.eval(DELETE_IF_SCRIPT, [key], [value]))),
    };
  }

  /** Every connection answers (the one for writes and the one session reads go through; every Cluster master). */
  async ping(): Promise<void> {
    await this.#run('pinging redis', (ops, reader) => Promise.all([ops.ping(), reader?.ping()]));
  }

  close(): Promise<void> {
    this.#closing ??= this.#disconnect();
    return this.#closing;
  }

  async #disconnect(): Promise<void> {
    this.#wake?.();
    await this.#starting?.catch(() => {});
    await this.#recovering?.catch(() => {});
    const connections = this.#connections;
    this.#generation++;
    this.#connections = [];
    this.#ops = undefined;
    this.#reader = undefined;
    this.#forget();
    await Promise.all(connections.map((c) => this.#closeClient(c)));
  }

  async #closeClient(client: Closable): Promise<void> {
    if (!client.isOpen) return;
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
  async #run<T>(step: string, op: (ops: Ops, reader: Reader | undefined) => Promise<T>, ms = this.#commandTimeoutMs): Promise<T> {
    const ops = this.#ops;
    const reader = this.#reader;
    if (ops === undefined) {
      const why = this.#closing ? 'closed' : this.#recovering ? `no connection to ${this.#sentinel ? 'the primary' : 'Redis'} (trying again)` : 'not started';
      throw new DrawbridgeError('DRB_STORE_UNAVAILABLE', `redis session store: ${step}: ${why}`);
    }
    const generation = this.#generation;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([op(ops, reader), late]);
    } catch (err) {
      throw this.#failed(step, err, generation);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The error an operation that failed rejects with; with Sentinel, it may also be the sign of a failover. */
  #failed(step: string, err: unknown, generation: number): DrawbridgeError {
    // A primary demoted under a connection that stayed up: look for the new one. A hung one (no answer, no RST):
    // ask the sentinels whether they have promoted another.
    if (this.#sentinel && /\bREADONLY\b/.test((err as Error)?.message ?? '')) this.#lost(generation);
    else if (this.#sentinel) this.#verifyPrimary(this.#sentinel, generation);
    return wrap(`redis session store: ${step}`, err, 'DRB_STORE_UNAVAILABLE');
  }

  /** Reads every member of an index set; members whose session is gone are removed from the set. */
  async #viaIndex(ops: Ops, index: string): Promise<{ key: string; member: string; record: SessionRecord | undefined }[]> {
    const members = await ops.sMembers(index);
    if (members.length === 0) return [];
    const keys = members.map((m) => this.#sessionPrefix() + m);
    const blobs = await ops.mGet(keys);
    const stale = members.filter((_, i) => !blobs[i]);
    if (stale.length > 0) await ops.sRem(index, stale);
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
