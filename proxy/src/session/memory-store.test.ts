// session/memory-store.test.ts — MemoryStore passes the store conformance suite and keeps both of its LRUs bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from './memory-store.js';
import { sampleRecord, storeConformance } from './store.case.js';

storeConformance('memory', async (now) => {
  const store = new MemoryStore({ maxSessions: 1000, now });
  await store.start();
  return { store, cleanup: () => store.close(), ttlMs: async (id) => store.ttlMs(id) };
});

test('memory store: inserting maxSessions + 1 evicts the least recently used session', { timeout: 5000 }, async () => {
  const now = Date.now();
  const store = new MemoryStore({ maxSessions: 3, now: () => now });
  try {
    const [a, b, c, d] = [0, 1, 2, 3].map(() => sampleRecord(now));
    await store.set(a);
    await store.set(b);
    await store.set(c);
    assert.ok(await store.get(a.id), 'reading a makes b the least recently used');
    await store.set(d);
    assert.equal(await store.count(), 3);
    assert.equal(await store.get(b.id), undefined);
    for (const r of [a, c, d]) assert.ok(await store.get(r.id));
  } finally {
    await store.close();
  }
});

test('memory store: the one-time values have their own bound', { timeout: 10_000 }, async () => {
  const now = Date.now();
  const store = new MemoryStore({ maxSessions: 10, maxOneTime: 100, now: () => now });
  try {
    const session = sampleRecord(now);
    await store.set(session);
    // A flood of sign-in attempts evicts the oldest attempts, never sessions, and never grows past the bound.
    for (let i = 0; i < 5000; i++) assert.equal(await store.putOnce(`attempt:${i}`, `v${i}`, 60_000), true);
    assert.equal(await store.takeOnce('attempt:0'), undefined);
    assert.equal(await store.takeOnce('attempt:4899'), undefined);
    assert.equal(await store.takeOnce('attempt:4900'), 'v4900');
    assert.equal(await store.takeOnce('attempt:4999'), 'v4999');
    assert.ok(await store.get(session.id));
  } finally {
    await store.close();
  }
});

test('memory store: the default one-time bound is 10,000', { timeout: 10_000 }, async () => {
  const store = new MemoryStore({ maxSessions: 10 });
  try {
    for (let i = 0; i < 10_001; i++) await store.putOnce(`k${i}`, 'v', 60_000);
    assert.equal(await store.takeOnce('k0'), undefined);
    assert.equal(await store.takeOnce('k1'), 'v');
  } finally {
    await store.close();
  }
});

test('memory store: records are copied in and out', { timeout: 5000 }, async () => {
  const now = Date.now();
  const store = new MemoryStore({ maxSessions: 10, now: () => now });
  try {
    const record = sampleRecord(now);
    await store.set(record);
    record.lastSeenAt = 0;
    const got = await store.get(record.id);
    assert.ok(got);
    assert.equal(got.lastSeenAt, now);
    got.expiresAt = 0;
    assert.equal((await store.get(record.id))?.expiresAt, record.expiresAt);
  } finally {
    await store.close();
  }
});

test('memory store: maxSessions must be a positive integer', () => {
  assert.throws(() => new MemoryStore({ maxSessions: 0 }), RangeError);
  assert.throws(() => new MemoryStore({ maxSessions: 1.5 }), RangeError);
});
