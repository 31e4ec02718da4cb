// session/memory-store.test.ts — MemoryStore passes the store conformance suite and keeps its LRUs bounded.
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

test('memory store: getNow shares one frozen record per write; a write replaces it, never changes a record already read', { timeout: 5000 }, async () => {
  let now = Date.now();
  const store = new MemoryStore({ maxSessions: 10, now: () => now });
  try {
    const record = sampleRecord(now);
    await store.set(record);
    const first = store.getNow(record.id)!;
    assert.ok(Object.isFrozen(first), 'the shared record cannot be changed by a reader');
    assert.equal(store.getNow(record.id), first, 'no copy per read');
    assert.throws(() => {
      (first as { expiresAt: number }).expiresAt = 0;
    }, TypeError);
    const copy = (await store.get(record.id))!;
    assert.notEqual(copy, first);
    assert.equal(Object.isFrozen(copy), false, 'get gives the caller its own copy');
    copy.expiresAt = 0;
    assert.equal(store.getNow(record.id)?.expiresAt, record.expiresAt);
    // A touch: readers holding the record keep what they read; the next read sees the new time.
    now += 1000;
    await store.touch(record.id, now);
    const touched = store.getNow(record.id)!;
    assert.equal(first.lastSeenAt, record.lastSeenAt);
    assert.equal(touched.lastSeenAt, now);
    assert.ok(Object.isFrozen(touched));
    // A replace: a new record, the old one unchanged.
    assert.equal(await store.replace({ ...record, lastSeenAt: now, identity: { ...record.identity, groups: ['sales'] } }), true);
    const replaced = store.getNow(record.id)!;
    assert.deepEqual(replaced.identity.groups, ['sales']);
    assert.notDeepEqual(touched.identity.groups, ['sales']);
    // Revoked: gone at once, whatever a reader still holds.
    await store.delete(record.id);
    assert.equal(store.getNow(record.id), undefined);
  } finally {
    await store.close();
  }
});

test('memory store: getNow with the time its caller read checks expiry at that time', { timeout: 5000 }, async () => {
  const now = Date.now();
  const store = new MemoryStore({ maxSessions: 10, now: () => now });
  try {
    const record = sampleRecord(now, { idleMs: 60_000 });
    await store.set(record);
    assert.equal(store.getNow(record.id, now + 59_999)?.id, record.id);
    assert.equal(store.getNow(record.id, now + 60_000), undefined, 'idle at the time given');
    assert.equal(store.getNow(record.id), undefined, 'and gone from the store');
  } finally {
    await store.close();
  }
});

test('memory store: maxSessions must be a positive integer', () => {
  assert.throws(() => new MemoryStore({ maxSessions: 0 }), RangeError);
  assert.throws(() => new MemoryStore({ maxSessions: 1.5 }), RangeError);
  assert.throws(() => new MemoryStore({ maxSessions: 10, maxDecoded: 0 }), RangeError);
});

test('memory store: only the most recently read sessions stay decoded; the others read back the same', { timeout: 10_000 }, async () => {
  let now = Date.now();
  const store = new MemoryStore({ maxSessions: 100, maxDecoded: 3, now: () => now });
  try {
    const records = Array.from({ length: 10 }, () => sampleRecord(now));
    for (const r of records) await store.set(r);
    assert.equal(store.decodedUsage().size, 0, 'writing decodes nothing');
    now += 1000;
    for (const r of records) await store.touch(r.id, now);
    for (const r of records) assert.deepEqual(await store.get(r.id), { ...r, lastSeenAt: now });
    assert.deepEqual(store.decodedUsage(), { size: 3, max: 3 });
    // Touched while decoded and while only packed: both read back the new time.
    now += 1000;
    for (const r of records) await store.touch(r.id, now);
    for (const r of records) assert.equal((await store.get(r.id))?.lastSeenAt, now);
    assert.equal(store.decodedUsage().size, 3);
    const replaced = { ...records[8]!, lastSeenAt: now, identity: { ...records[8]!.identity, groups: ['sales'] } };
    await store.set(replaced);
    assert.deepEqual(await store.get(replaced.id), replaced, 'a replaced session is read anew');
    await store.delete(records[9]!.id);
    assert.equal(store.decodedUsage().size, 2, 'a deleted session leaves no decoded copy');
  } finally {
    await store.close();
  }
});

test('memory store: filters find sessions that are not decoded', { timeout: 5000 }, async () => {
  const now = Date.now();
  const store = new MemoryStore({ maxSessions: 100, maxDecoded: 1, now: () => now });
  try {
    const alice = sampleRecord(now, { user: 'alice', sub: 'sub-a', idpSid: 'sid-a' });
    const bob = sampleRecord(now, { user: 'bob', sub: 'sub-b', idpSid: 'sid-b' });
    await store.set(alice);
    await store.set(bob);
    await store.get(bob.id);
    assert.deepEqual(await store.list({ user: 'alice' }), [alice]);
    assert.deepEqual(await store.list({ idpSid: 'sid-b' }), [bob]);
    assert.equal(await store.deleteWhere({ sub: 'sub-a', idpSid: 'sid-a' }), 1);
    assert.equal(await store.get(alice.id), undefined);
    assert.deepEqual(await store.list(), [bob]);
  } finally {
    await store.close();
  }
});

test('memory store: count frees the sessions that have expired', { timeout: 5000 }, async () => {
  let now = Date.now();
  const store = new MemoryStore({ maxSessions: 10, now: () => now });
  try {
    const short = sampleRecord(now, { idleMs: 60_000 });
    const long = sampleRecord(now, { idleMs: 3_600_000 });
    await store.set(short);
    await store.set(long);
    assert.equal(store.ttlMs(short.id), 60_000);
    now += 60_000;
    assert.equal(await store.count(), 1);
    assert.equal(store.ttlMs(short.id), undefined);
    assert.equal(store.ttlMs(long.id), 3_540_000);
  } finally {
    await store.close();
  }
});

test('memory store: an empty store does not allocate for maxSessions up front', () => {
  // lru-cache with `max` allocates its key, value and link arrays for every entry at construction (28 bytes each).
  const before = process.memoryUsage();
  const store = new MemoryStore({ maxSessions: 10_000_000 });
  const after = process.memoryUsage();
  const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  assert.ok(grown < 20e6, `an empty store for 10,000,000 sessions took ${(grown / 1e6).toFixed(1)} MB`);
  void store.close();
});
