// session/redis-store.test.ts — RedisStore against a real redis-server started by the test: the conformance
// suite, nothing readable at rest, fail closed while Redis is down, recovery once it is back.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { createClient, RESP_TYPES } from 'redis';
import { startRedis, type TestRedis } from '../../../test-support/redis.js';
import { DrawbridgeError } from '../errors.js';
import { deriveKeys } from './keys.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';
import { sampleRecord, storeConformance } from './store.case.js';

const keys = deriveKeys('a test session secret of at least 32 bytes!');
let redis: TestRedis;
let raw: ReturnType<typeof createClient>;
let prefixes = 0;

function sha256hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function newStore(options: Partial<RedisStoreOptions> = {}): RedisStore {
  return new RedisStore({ url: redis.url, keys, prefix: `t${++prefixes}:`, ...options });
}

/** Every key of the given prefix with its raw content (strings as bytes, sets as their members). */
async function dump(prefix: string): Promise<Map<string, Buffer[]>> {
  const bin = raw.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const out = new Map<string, Buffer[]>();
  for await (const batch of raw.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
    for (const key of batch) {
      const type = await raw.type(key);
      if (type === 'string') out.set(key, [(await bin.get(key)) as Buffer]);
      else if (type === 'set') out.set(key, (await raw.sMembers(key)).map((m) => Buffer.from(m)));
      else out.set(key, [Buffer.from(`unexpected type ${type}`)]);
    }
  }
  return out;
}

async function elapsed<T>(promise: Promise<T>): Promise<{ ms: number; error: unknown }> {
  const start = performance.now();
  try {
    await promise;
    return { ms: performance.now() - start, error: undefined };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

before(async () => {
  redis = await startRedis();
  raw = createClient({ url: redis.url, disableOfflineQueue: true, socket: { reconnectStrategy: 100 } });
  raw.on('error', () => {});
  await raw.connect();
});

after(async () => {
  if (raw?.isOpen) raw.destroy();
  await redis?.stop();
});

storeConformance('redis', async (now) => {
  const store = newStore({ now });
  const prefix = `t${prefixes}:`;
  await store.start();
  const key = (id: string): string => `${prefix}s:${sha256hex(id)}`;
  return {
    store,
    cleanup: () => store.close(),
    ttlMs: async (id) => {
      const ms = await raw.pTTL(key(id));
      return ms === -2 ? undefined : ms === -1 ? Number.POSITIVE_INFINITY : ms;
    },
  };
});

test('redis store: nothing in Redis reveals the session id, user, email, tokens or one-time values', { timeout: 10_000 }, async () => {
  const store = newStore();
  const prefix = `t${prefixes}:`;
  await store.start();
  try {
    const record = sampleRecord(Date.now(), { user: 'zelda-secret-user', sub: 'sub-zelda-0042', idpSid: 'idp-sid-zelda-77' });
    record.tokens = { idToken: 'IDTOKEN-aaaa-secret', accessToken: 'ACCESSTOKEN-bbbb-secret', refreshToken: 'REFRESHTOKEN-cccc-secret', accessTokenExpiresAt: record.expiresAt };
    await store.set(record);
    await store.putOnce('login-state-XYZZY', 'pkce-verifier-PLUGH', 60_000);
    const content = await dump(prefix);
    assert.ok(content.size >= 5, `expected the session, 3 index sets and a one-time value, got ${[...content.keys()].join(', ')}`);
    const secrets = [record.id, record.identity.user, record.identity.sub, record.identity.email!, record.idpSid!, 'IDTOKEN', 'ACCESSTOKEN', 'REFRESHTOKEN', 'XYZZY', 'PLUGH', 'engineering', 'example.com'];
    const hexId = Buffer.from(record.id, 'hex');
    for (const [key, values] of content) {
      for (const secret of secrets) assert.ok(!key.includes(secret), `key ${key} contains ${secret}`);
      for (const value of values) {
        for (const secret of secrets) {
          assert.ok(!value.includes(secret), `value of ${key} contains ${secret}`);
          assert.ok(!value.includes(Buffer.from(secret).toString('base64')), `value of ${key} contains ${secret} in base64`);
        }
        assert.ok(!value.includes(hexId), `value of ${key} contains the raw id bytes`);
      }
    }
    assert.ok(content.has(`${prefix}s:${sha256hex(record.id)}`), 'the session key is the SHA-256 of the id');
    assert.deepEqual(await store.get(record.id), record);
  } finally {
    await store.close();
  }
});

test('redis store: a tampered or moved ciphertext reads as absent', { timeout: 10_000 }, async () => {
  const store = newStore();
  const prefix = `t${prefixes}:`;
  await store.start();
  try {
    const now = Date.now();
    const a = sampleRecord(now);
    const b = sampleRecord(now);
    await store.set(a);
    await store.set(b);
    const bin = raw.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    const keyA = `${prefix}s:${sha256hex(a.id)}`;
    const keyB = `${prefix}s:${sha256hex(b.id)}`;
    const blobA = (await bin.get(keyA)) as Buffer;
    // Moving A's ciphertext under B's key fails authentication (the key is the AAD).
    await raw.set(keyB, blobA, { expiration: { type: 'PX', value: 60_000 } });
    assert.equal(await store.get(b.id), undefined);
    const flipped = Buffer.from(blobA);
    flipped[flipped.length - 1] ^= 1;
    await raw.set(keyA, flipped, { expiration: { type: 'PX', value: 60_000 } });
    assert.equal(await store.get(a.id), undefined);
    await raw.set(keyA, 'garbage', { expiration: { type: 'PX', value: 60_000 } });
    assert.equal(await store.get(a.id), undefined);
    assert.deepEqual(await store.list(), []);
  } finally {
    await store.close();
  }
});

test('redis store: replicas with the same secret share sessions; another secret reads nothing', { timeout: 10_000 }, async () => {
  const prefix = `shared${++prefixes}:`;
  const one = new RedisStore({ url: redis.url, keys, prefix });
  const two = new RedisStore({ url: redis.url, keys, prefix });
  const stranger = new RedisStore({ url: redis.url, keys: deriveKeys('another secret, also at least 32 bytes long'), prefix });
  await Promise.all([one.start(), two.start(), stranger.start()]);
  try {
    const record = sampleRecord(Date.now());
    await one.set(record);
    assert.deepEqual(await two.get(record.id), record);
    assert.equal(await stranger.get(record.id), undefined);
    assert.equal(await one.putOnce('handoff', 'code', 60_000), true);
    assert.equal(await two.putOnce('handoff', 'other', 60_000), false);
    assert.equal(await two.takeOnce('handoff'), 'code');
    assert.equal(await two.deleteWhere({ user: record.identity.user }), 1);
    assert.equal(await one.get(record.id), undefined);
  } finally {
    await Promise.all([one.close(), two.close(), stranger.close()]);
  }
});

test('redis store: start rejects promptly when Redis is unreachable; methods reject before start', { timeout: 10_000 }, async () => {
  const unstarted = newStore();
  await assert.rejects(unstarted.get('x'.repeat(64)), (e: unknown) => e instanceof DrawbridgeError && e.code === 'DRB_STORE_UNAVAILABLE');
  await unstarted.close();
  const malformed = new RedisStore({ url: 'not a redis url', keys });
  await assert.rejects(malformed.start(), (e: unknown) => e instanceof DrawbridgeError && e.code === 'DRB_STORE_UNAVAILABLE');
  await malformed.close();

  // A port nothing listens on: the one of a server that was just stopped.
  const gone = await startRedis();
  await gone.stop();
  const errors: Error[] = [];
  const store = new RedisStore({ url: gone.url, keys, connectTimeoutMs: 1000, onError: (e) => errors.push(e) });
  const { ms, error } = await elapsed(store.start());
  assert.ok(error instanceof DrawbridgeError && error.code === 'DRB_STORE_UNAVAILABLE', `start rejected with ${String(error)}`);
  assert.ok(ms < 2500, `start took ${ms} ms`);
  assert.ok(!String(error).includes('undefined'));
  await assert.rejects(store.ping());
  await store.close();
  await store.close();
});

test('redis store: fails closed while Redis is down and recovers by itself when it is back', { timeout: 30_000 }, async () => {
  const errors: Error[] = [];
  const store = newStore({ onError: (e) => errors.push(e) });
  await store.start();
  try {
    const record = sampleRecord(Date.now());
    await store.set(record);
    assert.equal(await store.putOnce('pending', 'v', 60_000), true);

    await redis.stop();
    const attempts: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(record.id)],
      ['set', () => store.set(sampleRecord(Date.now()))],
      ['touch', () => store.touch(record.id, Date.now())],
      ['delete', () => store.delete(record.id)],
      ['takeOnce', () => store.takeOnce('pending')],
      ['putOnce', () => store.putOnce('other', 'v', 60_000)],
      ['deleteWhere', () => store.deleteWhere({ user: record.identity.user })],
      ['list', () => store.list()],
      ['count', () => store.count()],
      ['ping', () => store.ping()],
    ];
    for (const [name, attempt] of attempts) {
      const { ms, error } = await elapsed(attempt());
      assert.ok(error instanceof DrawbridgeError && error.code === 'DRB_STORE_UNAVAILABLE', `${name} while Redis is down: ${error === undefined ? 'resolved' : String(error)}`);
      assert.ok(ms < 2000, `${name} took ${ms} ms to reject`);
    }
    // Concurrent calls during the outage all reject as well (nothing queues up until Redis returns).
    const burst = await Promise.allSettled(Array.from({ length: 50 }, () => store.get(record.id)));
    assert.ok(burst.every((r) => r.status === 'rejected'));
    assert.ok(errors.length > 0, 'connection errors reach onError (and do not crash the process)');

    await redis.restart();
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await store.ping();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    // The restarted server is empty; the same store object works again.
    assert.equal(await store.get(record.id), undefined);
    const fresh = sampleRecord(Date.now());
    await store.set(fresh);
    assert.deepEqual(await store.get(fresh.id), fresh);
    assert.equal(await store.putOnce('pending', 'v2', 60_000), true);
    assert.equal(await store.takeOnce('pending'), 'v2');
    assert.equal(await store.count(), 1);
    if (!raw.isReady) {
      // The inspection client reconnects by itself too; wait so later tests (if any) can use it.
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await store.close();
  }
});

test('redis store: close while Redis is down does not hang', { timeout: 15_000 }, async () => {
  const store = newStore();
  await store.start();
  await redis.stop();
  try {
    await assert.rejects(store.ping());
    const { ms } = await elapsed(store.close());
    assert.ok(ms < 2000, `close took ${ms} ms`);
    await store.close();
  } finally {
    await redis.restart();
  }
});

/** How many GETs Redis has executed so far (all clients): tells a cached read from one that went to Redis. */
async function redisGets(): Promise<number> {
  if (!raw.isReady) await once(raw, 'ready');
  const stats = await raw.info('commandstats');
  return Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

async function redisPings(): Promise<number> {
  // The inspection client reconnects by itself after a test that restarted Redis: wait for it.
  if (!raw.isReady) await once(raw, 'ready');
  const stats = await raw.info('commandstats');
  return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

test('redis store: the session reads begun in one turn share one PING; a read begun later waits for a PING of its own', { timeout: 15_000 }, async () => {
  const store = newStore();
  await store.start();
  try {
    const record = sampleRecord(Date.now());
    await store.set(record);
    assert.deepEqual(await store.get(record.id), record);
    const pings = await redisPings();
    const reads = await Promise.all(Array.from({ length: 100 }, () => store.getShared(record.id)));
    assert.equal((await redisPings()) - pings, 1, 'one PING for the 100 reads of one turn');
    for (const read of reads) assert.equal(read, reads[0], 'the cached record is shared, not copied per read');
    assert.deepEqual(reads[0], record);
    assert.ok(Object.isFrozen(reads[0]), 'a shared record cannot be changed by one reader under another');
    const copy = await store.get(record.id);
    assert.ok(copy !== reads[0] && !Object.isFrozen(copy), 'get gives a copy the caller may change');
    // Each read begun after the previous one's PING was sent waits for its own.
    const before = await redisPings();
    await store.getShared(record.id);
    await store.getShared(record.id);
    assert.equal((await redisPings()) - before, 2, 'a read never rides on a PING sent before it began');
  } finally {
    await store.close();
  }
});

test('redis store: a read begun just after another was refused is refused too, never left waiting', { timeout: 15_000 }, async () => {
  // A long command timeout: a read left waiting would show as this test timing out, not as a late refusal.
  const store = newStore({ commandTimeoutMs: 10_000 });
  await store.start();
  try {
    const record = sampleRecord(Date.now());
    await store.set(record);
    assert.deepEqual(await store.get(record.id), record);
    await redis.stop();
    // The first refusal may take until the client sees the connection go; the reads after it follow in the same turn.
    for (let i = 0; i < 3; i++) {
      const { ms, error } = await elapsed(store.getShared(record.id));
      assert.ok(error instanceof DrawbridgeError && error.code === 'DRB_STORE_UNAVAILABLE', `read ${i + 1} while Redis is down: ${error === undefined ? 'resolved' : String(error)}`);
      assert.ok(ms < 5000, `read ${i + 1} took ${ms} ms to be refused`);
    }
  } finally {
    await store.close();
    await redis.restart();
  }
});

test('redis store: a cached session read sees every change made before it through any replica or client', { timeout: 15_000 }, async () => {
  const prefix = `cached${++prefixes}:`;
  const a = new RedisStore({ url: redis.url, keys, prefix });
  const b = new RedisStore({ url: redis.url, keys, prefix });
  await Promise.all([a.start(), b.start()]);
  try {
    const record = sampleRecord(Date.now());
    await b.set(record);
    assert.deepEqual(await a.get(record.id), record);
    const gets = await redisGets();
    const copy = await a.get(record.id);
    assert.deepEqual(copy, record);
    assert.equal(await redisGets(), gets, 'the second read is answered from the cache');
    copy!.lastSeenAt = 0;
    assert.deepEqual(await a.get(record.id), record, 'a caller changing its copy does not change the cache');

    // No polling below: a read waits for a PING on its connection sent after it began, and Redis puts the
    // invalidation of a change on that connection before the PONG, so the change is in by then.
    const rewritten = { ...record, identity: { ...record.identity, groups: ['contractors'] } };
    await b.set(rewritten);
    assert.deepEqual(await a.get(record.id), rewritten, 'a rewrite through another replica');
    assert.deepEqual(await a.get(record.id), rewritten);
    await b.touch(record.id, record.lastSeenAt + 5_000);
    assert.equal((await a.get(record.id))?.lastSeenAt, record.lastSeenAt + 5_000, 'a touch through another replica');
    await b.delete(record.id);
    assert.equal(await a.get(record.id), undefined, 'a delete through another replica');

    const revoked = sampleRecord(Date.now(), { user: 'mallory' });
    await a.set(revoked);
    assert.ok(await a.get(revoked.id));
    assert.equal(await b.deleteWhere({ user: 'mallory' }), 1);
    assert.equal(await a.get(revoked.id), undefined, 'a revocation through another replica');

    const external = sampleRecord(Date.now());
    await a.set(external);
    assert.ok(await a.get(external.id));
    await raw.del(`${prefix}s:${sha256hex(external.id)}`);
    assert.equal(await a.get(external.id), undefined, 'a delete by another Redis client');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('redis store: a cached session is refused while Redis is hung or down, never answered from the cache', { timeout: 30_000 }, async () => {
  const store = newStore({ commandTimeoutMs: 500 });
  await store.start();
  try {
    const record = sampleRecord(Date.now());
    await store.set(record);
    assert.deepEqual(await store.get(record.id), record);
    const gets = await redisGets();
    assert.deepEqual(await store.get(record.id), record);
    assert.equal(await redisGets(), gets, 'the session is cached');

    redis.pause();
    try {
      const { ms, error } = await elapsed(store.get(record.id));
      assert.ok(error instanceof DrawbridgeError && error.code === 'DRB_STORE_UNAVAILABLE', `get while Redis is hung: ${error === undefined ? 'resolved' : String(error)}`);
      assert.ok(ms < 2000, `get took ${ms} ms to reject`);
      await assert.rejects(store.ping());
    } finally {
      redis.resume();
    }
    await store.ping();
    assert.deepEqual(await store.get(record.id), record);

    await redis.stop();
    const { ms, error } = await elapsed(store.get(record.id));
    assert.ok(error instanceof DrawbridgeError && error.code === 'DRB_STORE_UNAVAILABLE', `get while Redis is down: ${error === undefined ? 'resolved' : String(error)}`);
    assert.ok(ms < 2000, `get took ${ms} ms to reject`);
  } finally {
    await store.close();
    await redis.restart();
  }
});
