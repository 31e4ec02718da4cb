// tls/acme-redis-storage.ts — ACME storage in the session store's Redis, so replicas share one account, one
// certificate per host and the pending HTTP-01 answers (the CA may reach any replica). Values are AES-256-GCM
// encrypted with a key derived from session.secret (the Redis key as AAD); a lock per host keeps replicas from
// ordering the same certificate at once. Over its own connection to `session.store.url`, or over the session store's
// (Sentinel, Cluster: the store follows failovers; every command names one key, so one hash slot).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Redis from 'redis';
import { directoryKey, storageName, type CertificateStorage, type StoredCertificate } from './acme-storage.js';

/** The commands the storage sends, each on one key; the Redis session store provides them over its connection. */
export interface AcmeRedisCommands {
  get(key: string): Promise<string | null>;
  /** SET, only if absent (`nx`), expiring after `px` ms; whether it was set. */
  set(key: string, value: string, options?: { nx?: boolean; px?: number }): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Deletes `key` only while it holds `value` (atomically). */
  delIf(key: string, value: string): Promise<void>;
}

export interface RedisCertificateStorageOptions {
  /** Its own connection to this Redis; or `commands`. */
  url?: string;
  /** Another connection's commands (the session store's, with Sentinel or Cluster); start/close then do nothing. */
  commands?: AcmeRedisCommands;
  /** session.store.prefix */
  prefix: string;
  directoryUrl: string;
  /** session.secret: the encryption key derives from it. */
  secret: string;
  connectTimeoutMs?: number;
  onError?: (err: Error) => void;
}

// Loaded on first use (a Redis storage is made), as session/redis-store.ts loads it: not in a Drawbridge without Redis.
let redisPackage: typeof Redis | undefined;
const redis = (): typeof Redis => (redisPackage ??= createRequire(import.meta.url)('redis') as typeof Redis);

const IV_BYTES = 12;
const TAG_BYTES = 16;
// Unlocks only a lock this replica still holds (its random token), never one taken over after expiry.
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class RedisCertificateStorage implements CertificateStorage {
  readonly description: string;
  // Its own connection (with `url`), to connect and close.
  private readonly client: { isReady: boolean; isOpen: boolean; connect(): Promise<unknown>; close(): Promise<unknown>; destroy(): void } | undefined;
  private readonly commands: AcmeRedisCommands;
  private readonly base: string;
  private readonly key: Buffer;
  private readonly connectTimeoutMs: number;

  constructor(options: RedisCertificateStorageOptions) {
    this.base = `${options.prefix}acme:${directoryKey(options.directoryUrl)}:`;
    this.description = `redis ${this.base}*`;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(options.secret, 'utf8'), 'drawbridge/acme-storage/v1', 'drawbridge acme-storage v1', 32));
    if (options.commands) {
      this.client = undefined;
      this.commands = options.commands;
      return;
    }
    if (options.url === undefined) throw new Error('RedisCertificateStorage: url or commands');
    const client = redis().createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: this.connectTimeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 10), 5000) },
    });
    client.on('error', (err: Error) => options.onError?.(err));
    this.client = client;
    this.commands = {
      get: (key) => client.get(key),
      set: async (key, value, o = {}) =>
        (await client.set(key, value, { ...(o.nx ? { condition: 'NX' as const } : {}), ...(o.px !== undefined ? { expiration: { type: 'PX' as const, value: o.px } } : {}) })) === 'OK',
      del: async (key) => void (await client.del(key)),
      delIf: async (key, value) => void (await client.eval(RELEASE, { keys: [key], arguments: [value] })),
    };
  }

  /** Connects; rejects when Redis does not answer within the connect timeout (the client keeps trying meanwhile). */
  async start(): Promise<void> {
    if (this.client === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const connecting = this.client.connect();
    connecting.catch(() => {});
    try {
      await Promise.race([connecting, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    if (client.isReady) await client.close().catch(() => client.destroy());
    else if (client.isOpen) client.destroy();
  }

  async loadAccountKey(): Promise<string | undefined> {
    return this.get('account');
  }

  async saveAccountKey(keyPem: string): Promise<void> {
    // A replica that lost the race keeps the key stored first: one account for all.
    const key = `${this.base}account`;
    await this.commands.set(key, this.seal(keyPem, key), { nx: true });
  }

  async load(host: string): Promise<StoredCertificate | undefined> {
    const text = await this.get(`cert:${storageName(host)}`);
    if (text === undefined) return undefined;
    const parsed = JSON.parse(text) as StoredCertificate;
    return typeof parsed.certPem === 'string' && typeof parsed.keyPem === 'string' ? { certPem: parsed.certPem, keyPem: parsed.keyPem } : undefined;
  }

  async save(host: string, certificate: StoredCertificate): Promise<void> {
    const key = `${this.base}cert:${storageName(host)}`;
    await this.commands.set(key, this.seal(JSON.stringify({ certPem: certificate.certPem, keyPem: certificate.keyPem }), key));
  }

  async lock(host: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const key = `${this.base}lock:${storageName(host)}`;
    const token = randomBytes(16).toString('hex');
    if (!(await this.commands.set(key, token, { nx: true, px: ttlMs }))) return undefined;
    return async () => {
      await this.commands.delIf(key, token).catch(() => undefined);
    };
  }

  async saveChallenge(token: string, host: string, keyAuthorization: string, ttlMs: number): Promise<void> {
    const key = `${this.base}http-01:${token}`;
    await this.commands.set(key, this.seal(JSON.stringify({ host, keyAuthorization }), key), { px: ttlMs });
  }

  async deleteChallenge(token: string): Promise<void> {
    await this.commands.del(`${this.base}http-01:${token}`);
  }

  async loadChallenge(token: string): Promise<{ host: string; keyAuthorization: string } | undefined> {
    const text = await this.get(`http-01:${token}`);
    return text === undefined ? undefined : (JSON.parse(text) as { host: string; keyAuthorization: string });
  }

  private async get(suffix: string): Promise<string | undefined> {
    const key = `${this.base}${suffix}`;
    const blob = await this.commands.get(key);
    return blob === null ? undefined : this.open(blob, key);
  }

  // version | iv | tag | ciphertext, base64; the Redis key as AAD so a value cannot be moved to another key.
  private seal(plain: string, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  // A value that fails authentication (tampered, or written under another secret) reads as absent.
  private open(blob: string, aad: string): string | undefined {
    if (!blob.startsWith('v1.')) return undefined;
    const raw = Buffer.from(blob.slice(3), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
