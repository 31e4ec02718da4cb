// session/cluster-store.test.ts — the workers' store (ClusterStore, a read cache in front of a StoreOwner) passes the
// store conformance suite over a real asynchronous channel (MessageChannel: structured clone, delivery in order), and
// keeps two workers' caches coherent: a write acknowledged to one is seen by the other's next read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ClusterStore, StoreOwner, type StoreMessage } from './cluster-store.js';
import { MemoryStore } from './memory-store.js';
import { sampleRecord, storeConformance } from './store.case.js';

interface Bench {
  owner: StoreOwner;
  backing: MemoryStore;
  workers: ClusterStore[];
  /** Messages the owner received, in order, per worker (to see what went over the channel). */
  ports: MessagePort[];
  cleanup(): Promise<void>;
}

/** An owner over a MemoryStore and `n` ClusterStores, each on its own MessageChannel. */
async function bench(n: number, now: () => number = Date.now): Promise<Bench> {
  const backing = new MemoryStore({ maxSessions: 1000, now });
  await backing.start();
  const owner = new StoreOwner(backing);
  const workers: ClusterStore[] = [];
  const ports: MessagePort[] = [];
  for (let i = 1; i <= n; i++) {
    const { port1, port2 } = new MessageChannel();
    owner.attach(i, (m) => port1.postMessage(m));
    port1.on('message', (m: StoreMessage) => owner.receive(i, m));
    const worker = new ClusterStore({ send: (m) => port2.postMessage(m), now });
    port2.on('message', (m: StoreMessage) => worker.receive(m));
    workers.push(worker);
    ports.push(port1, port2);
  }
  for (const w of workers) await w.start();
  return {
    owner,
    backing,
    workers,
    ports,
    async cleanup() {
      for (const w of workers) await w.close();
      for (const p of ports) p.close();
      await backing.close();
    },
  };
}

storeConformance('cluster', async (now) => {
  // Two workers: the suite drives the first; the second only receives (and confirms) invalidations.
  const b = await bench(2, now);
  return { store: b.workers[0]!, cleanup: () => b.cleanup(), ttlMs: async (id) => b.backing.ttlMs(id) };
});

test('cluster store: a sign-out through one worker is seen by the next read of another that had the session cached', { timeout: 10_000 }, async () => {
  const b = await bench(2);
  try {
    const [a, other] = b.workers as [ClusterStore, ClusterStore];
    const record = sampleRecord(Date.now());
    await a.set(record);
    assert.ok(await other.get(record.id), 'read (and cached) by the other worker');
    assert.ok(await other.get(record.id), 'served from its cache');
    await a.delete(record.id);
    // No wait: delete resolved only after the other worker dropped its copy.
    assert.equal(await other.get(record.id), undefined);
  } finally {
    await b.cleanup();
  }
});

test('cluster store: revoke by filter and a refresh through one worker reach the other worker before they resolve', { timeout: 10_000 }, async () => {
  const b = await bench(2);
  try {
    const [a, other] = b.workers as [ClusterStore, ClusterStore];
    const ended: (string[] | null)[] = [];
    other.onSessionsEnded = (ids) => ended.push(ids);
    const alice = sampleRecord(Date.now(), { user: 'alice' });
    await a.set(alice);
    assert.deepEqual((await other.get(alice.id))?.identity.groups, ['engineering', 'wiki-admins']);
    assert.equal(await a.replace({ ...alice, identity: { ...alice.identity, groups: ['sales'] } }), true);
    assert.deepEqual((await other.get(alice.id))?.identity.groups, ['sales'], 'the refreshed groups, not the cached ones');
    assert.deepEqual(ended, [], 'a refresh ends nothing');
    assert.equal(await a.deleteWhere({ user: 'alice' }), 1);
    assert.equal(await other.get(alice.id), undefined);
    assert.deepEqual(ended, [null], 'the other worker is told (to close its WebSockets)');
    // The owner's own callers (the admin listener's revoke) invalidate every worker too.
    const bob = sampleRecord(Date.now(), { user: 'bob' });
    await a.set(bob);
    assert.ok(await a.get(bob.id));
    assert.ok(await other.get(bob.id));
    assert.equal(await b.owner.call('deleteWhere', [{ user: 'bob' }]), 1);
    assert.equal(await a.get(bob.id), undefined);
    assert.equal(await other.get(bob.id), undefined);
  } finally {
    await b.cleanup();
  }
});

test('cluster store: a read answered across another worker\'s write is not cached', { timeout: 10_000 }, async () => {
  const b = await bench(2);
  try {
    const [a, other] = b.workers as [ClusterStore, ClusterStore];
    const record = sampleRecord(Date.now());
    await a.set(record);
    // The other worker asks; before its answer is delivered, a deletes. Whatever the interleaving, once the delete
    // resolved the other worker must not hold the session.
    const reading = other.get(record.id);
    await a.delete(record.id);
    await reading;
    assert.equal(await other.get(record.id), undefined);
  } finally {
    await b.cleanup();
  }
});

test('cluster store: a one-time code is redeemed once across workers', { timeout: 10_000 }, async () => {
  const b = await bench(3);
  try {
    assert.equal(await b.workers[0]!.putOnce('code:x', 'session', 60_000), true);
    assert.equal(await b.workers[1]!.putOnce('code:x', 'other', 60_000), false);
    const taken = await Promise.all(b.workers.map((w) => w.takeOnce('code:x')));
    assert.deepEqual(taken.filter((v) => v !== undefined), ['session']);
  } finally {
    await b.cleanup();
  }
});

test('cluster store: a worker that does not confirm an invalidation is ended, and the write still completes', { timeout: 10_000 }, async () => {
  const backing = new MemoryStore({ maxSessions: 10 });
  const ended: number[] = [];
  const owner = new StoreOwner(backing, { ackTimeoutMs: 50, onUnresponsive: (peer) => ended.push(peer) });
  const { port1, port2 } = new MessageChannel();
  owner.attach(1, (m) => port1.postMessage(m));
  port1.on('message', (m: StoreMessage) => owner.receive(1, m));
  const worker = new ClusterStore({ send: (m) => port2.postMessage(m) });
  port2.on('message', (m: StoreMessage) => worker.receive(m));
  // Peer 2 never answers (a hung event loop).
  owner.attach(2, () => {});
  try {
    const record = sampleRecord(Date.now());
    await worker.set(record);
    assert.deepEqual(ended, [2]);
    await worker.delete(record.id);
    assert.deepEqual(ended, [2], 'detached: not waited for again');
  } finally {
    await worker.close();
    port1.close();
    port2.close();
    await backing.close();
  }
});

test('cluster store: with the primary gone every call fails (503), nothing cached is served', { timeout: 10_000 }, async () => {
  const b = await bench(1);
  try {
    const [w] = b.workers as [ClusterStore];
    const record = sampleRecord(Date.now());
    await w.set(record);
    assert.ok(await w.get(record.id));
    w.disconnected();
    await assert.rejects(w.get(record.id), (e: Error & { code?: string }) => e.code === 'DRB_STORE_UNAVAILABLE');
    await assert.rejects(w.takeOnce('code:y'), (e: Error & { code?: string }) => e.code === 'DRB_STORE_UNAVAILABLE');
  } finally {
    await b.cleanup();
  }
});
