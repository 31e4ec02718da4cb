import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LRUCache } from 'lru-cache';
import { growingLru } from './lru.js';

const arrays = (c: LRUCache<string, string>) => {
  const i = LRUCache.unsafeExposeInternals(c);
  return [i.keyList, i.valList, i.next, i.prev, i.ttls ?? [], i.starts ?? []].map((a) => a.length);
};

test('growingLru allocates nothing up front and its arrays grow with the entries held', () => {
  const c = growingLru<string, string>(10_000, { ttl: 60_000 });
  assert.ok(arrays(c).every((n) => n === 0), `arrays allocated up front: ${arrays(c).join(', ')}`);
  for (let i = 0; i < 3; i++) c.set(`k${i}`, 'v');
  assert.ok(arrays(c).every((n) => n <= 3), `arrays: ${arrays(c).join(', ')}`);
  // What lru-cache's own `max` does, and what growingLru replaces: arrays for every entry at once.
  assert.ok(arrays(new LRUCache<string, string>({ max: 10_000 })).some((n) => n === 10_000));
});

test('growingLru holds at most max entries, evicting the least recently used, like `max`', () => {
  const c = growingLru<string, number>(3);
  for (const k of ['a', 'b', 'c']) c.set(k, 1);
  assert.equal(c.get('a'), 1);
  c.set('d', 1);
  assert.deepEqual([...c.keys()].sort(), ['a', 'c', 'd']);
  assert.equal(c.size, 3);
  assert.equal(c.maxSize, 3);
  for (let i = 0; i < 100; i++) c.set(`x${i}`, i);
  assert.equal(c.size, 3);
  assert.deepEqual([...c.keys()], ['x99', 'x98', 'x97']);
});

test('growingLru keeps the TTL it is given', () => {
  let now = 1_000;
  const c = growingLru<string, string>(10, { ttl: 50, perf: { now: () => now }, ttlResolution: 0, ttlAutopurge: false });
  c.set('a', 'v');
  now += 49;
  assert.equal(c.get('a'), 'v');
  now += 2;
  assert.equal(c.get('a'), undefined);
});
