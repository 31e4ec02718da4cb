// session/redis-ha.test.ts — RedisStore over Redis Sentinel and Redis Cluster, real servers on loopback (Debian's
// redis-server and redis-sentinel): the conformance suite on both, and what a failover does to the store: it fails
// closed while no primary answers, heals by itself, and loses no acknowledged sign-in and no revocation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { command, DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS, startCluster, startSentinelSet, until, type SentinelSet, type TestCluster } from '../../../test-support/redis-ha.js';
import { sha256Hex } from '../digest.js';
import { DrawbridgeError } from '../errors.js';
import { RedisCertificateStorage } from '../tls/acme-redis-storage.js';
import { deriveKeys } from './keys.js';
import { parseRedisNode, RedisStore } from './redis-store.js';
import { sampleRecord, storeConformance } from './store.case.js';

const keys = deriveKeys('a test session secret of at least 32 bytes!');
let prefixes = 0;

/** tls.acme's certificate storage over the store's own connection: every operation, one key each. */
async function acmeRoundTrip(store: RedisStore, prefix: string): Promise<void> {
  const storage = new RedisCertificateStorage({ commands: store.acmeCommands(), prefix, directoryUrl: 'https://acme.example/dir', secret: 'a test session secret of at least 32 bytes!' });
  await storage.start();
  assert.equal(await storage.loadAccountKey(), undefined);
  await storage.saveAccountKey('ACCOUNT-KEY-1');
  await storage.saveAccountKey('ACCOUNT-KEY-2');
  assert.equal(await storage.loadAccountKey(), 'ACCOUNT-KEY-1', 'the first account key stays');
  await storage.save('a.example.com', { certPem: 'CERT', keyPem: 'KEY' });
  assert.deepEqual(await storage.load('a.example.com'), { certPem: 'CERT', keyPem: 'KEY' });
  const release = await storage.lock('a.example.com', 10_000);
  assert.ok(release, 'the lock is taken');
  assert.equal(await storage.lock('a.example.com', 10_000), undefined, 'and held');
  await release();
  assert.ok(await storage.lock('a.example.com', 10_000), 'released by its holder');
  await storage.saveChallenge('token-1', 'a.example.com', 'token-1.thumbprint', 60_000);
  assert.deepEqual(await storage.loadChallenge('token-1'), { host: 'a.example.com', keyAuthorization: 'token-1.thumbprint' });
  await storage.deleteChallenge('token-1');
  assert.equal(await storage.loadChallenge('token-1'), undefined);
  await storage.close();
}

function isStoreDown(err: unknown): boolean {
  return err instanceof DrawbridgeError && err.code === 'DRB_STORE_UNAVAILABLE';
}

describe('redis store over Sentinel', () => {
  let set: SentinelSet;
  before(async () => {
    set = await startSentinelSet();
  });
  after(async () => {
    await set?.close();
  });
  const sentinel = () => ({ name: set.name, nodes: set.sentinels.map(parseRedisNode) });

  storeConformance('redis sentinel', async (now) => {
    const prefix = `c${++prefixes}:`;
    const store = new RedisStore({ sentinel: sentinel(), keys, prefix, now });
    await store.start();
    return {
      store,
      cleanup: () => store.close(),
      ttlMs: async (id) => {
        const ms = Number(await command(set.primaryPort, ['PTTL', `${prefix}s:${sha256Hex(id)}`]));
        return ms === -2 ? undefined : ms === -1 ? Number.POSITIVE_INFINITY : ms;
      },
    };
  });

  test('redis sentinel: a write the replica does not acknowledge fails (waitReplicas 1 by default); waitReplicas 0 does not wait', { timeout: 30_000 }, async () => {
    const store = new RedisStore({ sentinel: sentinel(), keys, prefix: `w${++prefixes}:` });
    const lax = new RedisStore({ sentinel: sentinel(), keys, prefix: `w${prefixes}:`, waitReplicas: 0 });
    await Promise.all([store.start(), lax.start()]);
    const record = sampleRecord(Date.now());
    try {
      await store.set(record);
      set.pauseReplica(true);
      try {
        await assert.rejects(store.set(sampleRecord(Date.now())), (err) => isStoreDown(err) && /replica/.test((err as Error).message));
        await assert.rejects(store.delete(record.id), isStoreDown);
        await lax.set(sampleRecord(Date.now()));
      } finally {
        set.pauseReplica(false);
      }
    } finally {
      await Promise.all([store.close(), lax.close()]);
    }
  });

  test('redis sentinel: tls.acme\'s certificate storage works over the store\'s connection', { timeout: 30_000 }, async () => {
    const store = new RedisStore({ sentinel: sentinel(), keys, prefix: `a${++prefixes}:` });
    await store.start();
    try {
      await acmeRoundTrip(store, `a${prefixes}:`);
    } finally {
      await store.close();
    }
  });

  // Last: it kills the primary, so the set has no replica left.
  test('redis sentinel: kill -9 the primary: operations fail closed until the replica is promoted, then the session written and the one revoked just before are as they were', { timeout: 60_000 }, async (t) => {
    const store = new RedisStore({ sentinel: sentinel(), keys, prefix: `f${++prefixes}:` });
    await store.start();
    try {
      const now = Date.now();
      const kept = sampleRecord(now, { user: 'kept' });
      const revoked = sampleRecord(now, { user: 'revoked' });
      const byUser = sampleRecord(now, { user: 'mallory' });
      await store.set(kept);
      await store.set(revoked);
      await store.set(byUser);
      // Cached on the reader connection, so a stale cache would answer for them after the failover.
      assert.deepEqual(await store.get(kept.id), kept);
      assert.deepEqual(await store.get(revoked.id), revoked);
      assert.deepEqual(await store.get(byUser.id), byUser);
      // Revoked just before the kill: acknowledged once the replica has it (WAIT 1).
      await store.delete(revoked.id);
      assert.equal(await store.deleteWhere({ user: 'mallory' }), 1);

      const oldPort = set.primaryPort;
      const killedAt = performance.now();
      await set.killPrimary();
      let failures = 0;
      let recoveredAt = 0;
      const switched = set.waitForSwitch(oldPort, 30_000);
      // Poll the store as requests would: every answer is an error (fail closed) or the truth, never a revoked session.
      await until('the store answering again', async () => {
        for (const id of [revoked.id, byUser.id]) {
          try {
            assert.equal(await store.get(id), undefined, 'a revoked session never comes back');
          } catch (err) {
            if (!isStoreDown(err)) throw err;
          }
        }
        try {
          const got = await store.get(kept.id);
          assert.deepEqual(got, kept);
          recoveredAt = performance.now();
          return true;
        } catch (err) {
          if (!isStoreDown(err)) throw err;
          failures++;
          return false;
        }
      }, 30_000, 20);
      const newPort = await switched;
      assert.notEqual(newPort, oldPort);
      assert.ok(failures > 0, 'requests failed while no primary answered');
      const windowMs = recoveredAt - killedAt;
      t.diagnostic(`failover window ${Math.round(windowMs)} ms, ${failures} failed reads`);
      // docs/deploy.md: down-after-milliseconds + the election and promotion (a few seconds) + one retry.
      assert.ok(windowMs < DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 2000, `failover window ${Math.round(windowMs)} ms`);
      assert.equal(await store.get(revoked.id), undefined);
      assert.equal(await store.get(byUser.id), undefined);
      assert.deepEqual((await store.list({ user: 'kept' })).map((r) => r.id), [kept.id]);
      // Writes go to the new primary (with no replica left, only when not waiting for one).
      const lax = new RedisStore({ sentinel: sentinel(), keys, prefix: `f${prefixes}:`, waitReplicas: 0 });
      await lax.start();
      try {
        const later = sampleRecord(Date.now(), { user: 'later' });
        await lax.set(later);
        assert.deepEqual(await store.get(later.id), later);
      } finally {
        await lax.close();
      }
    } finally {
      await store.close();
    }
  });
});

describe('redis store over Sentinel, a hung primary', () => {
  let set: SentinelSet;
  before(async () => {
    set = await startSentinelSet();
  });
  after(async () => {
    await set?.close();
  });

  test('redis sentinel: a primary that hangs (no answer, no RST): reads time out (503) until the sentinels promote the replica, then the store moves to it by itself', { timeout: 60_000 }, async (t) => {
    const store = new RedisStore({ sentinel: { name: set.name, nodes: set.sentinels.map(parseRedisNode) }, keys, prefix: `h${++prefixes}:` });
    await store.start();
    try {
      const record = sampleRecord(Date.now());
      await store.set(record);
      assert.deepEqual(await store.get(record.id), record);
      const oldPort = set.primaryPort;
      const frozenAt = performance.now();
      set.pausePrimary();
      let failures = 0;
      await until('the store answering from the new primary', async () => {
        try {
          assert.deepEqual(await store.get(record.id), record);
          return true;
        } catch (err) {
          if (!isStoreDown(err)) throw err;
          failures++;
          return false;
        }
      }, 40_000, 20);
      const windowMs = performance.now() - frozenAt;
      t.diagnostic(`hung-primary window ${Math.round(windowMs)} ms, ${failures} failed reads`);
      assert.ok(failures > 0, 'reads failed while the primary hung');
      assert.notEqual(await set.waitForSwitch(oldPort), oldPort);
      // down-after-milliseconds, the election and promotion, plus one command timeout (1 s) to notice.
      assert.ok(windowMs < DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 3000, `window ${Math.round(windowMs)} ms`);
    } finally {
      await store.close();
    }
  });
});

function nodeClient(port: number) {
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
  c.on('error', () => {});
  return c;
}

describe('redis store over Cluster', () => {
  let cluster: TestCluster;
  let raw: ReturnType<typeof nodeClient>[];
  before(async () => {
    cluster = await startCluster();
    raw = cluster.ports.map(nodeClient);
    await Promise.all(raw.map((c) => c.connect()));
  });
  after(async () => {
    for (const c of raw ?? []) c.destroy();
    await cluster?.close();
  });

  // Every session of the suite spreads its key, its index sets and one-time values over the three masters' slots:
  // a script or MGET/DEL naming keys of two slots would fail with CROSSSLOT.
  storeConformance('redis cluster', async (now) => {
    const prefix = `k${++prefixes}:`;
    const store = new RedisStore({ cluster: { nodes: cluster.nodes.map(parseRedisNode) }, keys, prefix, now });
    await store.start();
    return {
      store,
      cleanup: () => store.close(),
      ttlMs: async (id) => {
        const key = `${prefix}s:${sha256Hex(id)}`;
        const slot = Number(await raw[0]!.sendCommand(['CLUSTER', 'KEYSLOT', key]));
        for (const c of raw) {
          const ms = Number(await c.sendCommand(['PTTL', key]).catch(() => -3));
          if (ms !== -3 && ms !== -2) return ms === -1 ? Number.POSITIVE_INFINITY : ms;
        }
        assert.ok(slot >= 0);
        return undefined;
      },
    };
  });

  test('redis cluster: one user\'s session key and index sets lie on different masters, and revoke-all still finds them', { timeout: 30_000 }, async () => {
    const prefix = `x${++prefixes}:`;
    const store = new RedisStore({ cluster: { nodes: cluster.nodes.map(parseRedisNode) }, keys, prefix });
    await store.start();
    try {
      const records = Array.from({ length: 12 }, () => sampleRecord(Date.now(), { user: 'spread' }));
      for (const r of records) await store.set(r);
      const holders = new Set<number>();
      for (const r of records) {
        for (const [i, c] of raw.entries()) if ((await c.exists(`${prefix}s:${sha256Hex(r.id)}`).catch(() => 0)) === 1) holders.add(i); // MOVED: another master's slot
      }
      assert.ok(holders.size > 1, 'the sessions are spread over several masters');
      assert.equal((await store.list({ user: 'spread' })).length, 12);
      assert.equal(await store.deleteWhere({ user: 'spread' }), 12);
      for (const r of records) assert.equal(await store.get(r.id), undefined);
      assert.equal(store.topology, `cluster via ${cluster.nodes.join(', ')}`);
    } finally {
      await store.close();
    }
  });

  test('redis cluster: waitReplicas 1 on masters without a replica: a session written or revoked fails (503) instead of claiming it is replicated', { timeout: 30_000 }, async () => {
    const store = new RedisStore({ cluster: { nodes: cluster.nodes.map(parseRedisNode) }, keys, prefix: `r${++prefixes}:`, waitReplicas: 1, commandTimeoutMs: 400 });
    await store.start();
    try {
      const record = sampleRecord(Date.now());
      // "0 of 1 replica(s) acknowledged", or the command timeout when two WAITs queue on one master.
      await assert.rejects(store.set(record), isStoreDown);
      await assert.rejects(store.delete(record.id), isStoreDown);
    } finally {
      await store.close();
    }
  });

  test('redis cluster: tls.acme\'s certificate storage works over the store\'s connection (its keys in several slots)', { timeout: 30_000 }, async () => {
    const store = new RedisStore({ cluster: { nodes: cluster.nodes.map(parseRedisNode) }, keys, prefix: `a${++prefixes}:` });
    await store.start();
    try {
      await acmeRoundTrip(store, `a${prefixes}:`);
    } finally {
      await store.close();
    }
  });
});
