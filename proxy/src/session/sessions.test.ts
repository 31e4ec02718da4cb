// session/sessions.test.ts — Sessions.readId: a cookie value is a session on the origin it was issued for only, and
// the verified values it remembers are bounded (the oldest dropped), a dropped one verifying again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookieValue } from './cookie.js';
import { deriveKeys } from './keys.js';
import { MemoryStore } from './memory-store.js';
import { routeCookie, Sessions } from './sessions.js';

const T0 = Date.UTC(2026, 0, 5, 9);

async function setup() {
  const store = new MemoryStore({ maxSessions: 100, now: () => T0 });
  const sessions = new Sessions(store, deriveKeys('a-session-secret-that-is-long-enough-0123456789'), { cookieBase: 'drawbridge', idleTimeoutMs: 600_000, maxLifetimeMs: 3_600_000 });
  const record = await sessions.create({ sub: 's1', user: 'alice', groups: [], amr: ['pwd'], claims: {} }, {}, undefined, T0);
  /** The Cookie header of the session's cookie for `origin`. */
  const cookieFor = (origin: string) => sessions.setCookie(record, false, T0, origin).split(';')[0]!;
  return { sessions, record, cookieFor };
}

test('readId: a verified cookie value is a session on its own origin only, remembered or not; a forged value is never remembered', async () => {
  const { sessions, record, cookieFor } = await setup();
  const app = cookieFor('http://app.example.com');
  assert.equal(sessions.readId(app, false, 'http://app.example.com'), record.id);
  assert.equal(sessions.verifiedCount, 1);
  assert.equal(sessions.readId(app, false, 'http://app.example.com'), record.id, 'remembered');
  assert.equal(sessions.readId(app, false, 'http://wiki.example.com'), undefined, 'remembered, but for another origin');
  assert.equal(sessions.readId(`${app}x`, false, 'http://app.example.com'), undefined, 'forged');
  assert.equal(sessions.verifiedCount, 1);
});

test('readId: at most MAX_VERIFIED values are remembered, the oldest dropped first; a dropped value verifies again', async () => {
  const { sessions, record, cookieFor } = await setup();
  const origin = (i: number) => `http://h${i}.example.com`;
  const first = cookieFor(origin(0));
  for (let i = 0; i <= Sessions.MAX_VERIFIED; i++) assert.equal(sessions.readId(cookieFor(origin(i)), false, origin(i)), record.id);
  assert.equal(sessions.verifiedCount, Sessions.MAX_VERIFIED);
  assert.equal(sessions.readId(first, false, origin(0)), record.id, 'dropped, verified again');
  assert.equal(sessions.readId(first, false, origin(1)), undefined);
  assert.equal(sessions.verifiedCount, Sessions.MAX_VERIFIED);
});

test('readId: a remembered value is a session on exactly its origin: never on one of the same length, one it ends with, or one that ends with it', async () => {
  const { sessions, record, cookieFor } = await setup();
  const app = cookieFor('http://app.example.com');
  assert.equal(sessions.readId(app, false, 'http://app.example.com'), record.id);
  for (const other of ['http://apq.example.com', 'p://app.example.com', 'app.example.com', 'https://app.example.com', 'http://app.example.co', 'xhttp://app.example.com', `${record.id}http://app.example.com`, '']) {
    assert.equal(sessions.readId(app, false, other), undefined, other);
  }
  assert.equal(sessions.readId(app, false, 'http://app.example.com'), record.id, 'still remembered for its own');
  assert.equal(sessions.verifiedCount, 1);
});

test('readId with a route slot: its value is a session on exactly the origin it verified for; other values, users and forgeries get their own answer', async () => {
  const { sessions, record, cookieFor } = await setup();
  const other = await sessions.create({ sub: 's2', user: 'mallory', groups: [], amr: ['pwd'], claims: {} }, {}, undefined, T0);
  const slot = routeCookie();
  // The slot's value, session id and origin, as one string holds them back to back.
  const held = () => [slot.verifiedCookie.slice(0, 87), slot.verifiedCookie.slice(87, 87 + 64), slot.verifiedCookie.slice(87 + 64)];
  const [a, b] = ['http://a.example.com', 'http://b.example.com'];
  const aliceA = cookieFor(a);
  const malloryA = sessions.setCookie(other, false, T0, a).split(';')[0]!;
  // First verified by the MAC (the slot empty), then read from the slot.
  assert.equal(sessions.readId(aliceA, false, a, slot), record.id);
  assert.deepEqual(held(), [cookieValue(aliceA, 'drawbridge'), record.id, a]);
  assert.equal(sessions.readId(aliceA, false, a, slot), record.id, 'from the slot');
  // A route that serves several hosts (a wildcard): the slot's value is no session on another origin.
  for (const elsewhere of [b, 'https://a.example.com', 'http://a.example.co', `${a}x`, '']) assert.equal(sessions.readId(aliceA, false, elsewhere, slot), undefined, elsewhere);
  // Another user's value takes the slot (from the remembered map or the MAC); each value always gives its own session.
  assert.equal(sessions.readId(malloryA, false, a, slot), other.id);
  assert.equal(held()[1], other.id);
  assert.equal(sessions.readId(aliceA, false, a, slot), record.id, 'from the map, not the slot');
  assert.equal(sessions.readId(malloryA, false, a, slot), other.id);
  // A forged value, one character changed or appended, never takes the slot nor reads it.
  const forged = `${aliceA.slice(0, -1)}${aliceA.endsWith('A') ? 'B' : 'A'}`;
  for (const f of [forged, `${aliceA}x`]) {
    assert.equal(sessions.readId(f, false, a, slot), undefined, f);
    assert.equal(held()[1], other.id);
  }
  // Alice's value for host b, read on a's route slot: a session on b only.
  const aliceB = cookieFor(b);
  assert.equal(sessions.readId(aliceB, false, a, slot), undefined);
  assert.equal(sessions.readId(aliceB, false, b, slot), record.id);
  assert.equal(sessions.readId(aliceB, false, a, slot), undefined, 'now in the slot, still not on a');
});

test('readId with a route slot: a slot moving between verified values takes the string remembered for each (nothing new per move), and each value still answers its own session on its own origin', async () => {
  const { sessions, record, cookieFor } = await setup();
  const other = await sessions.create({ sub: 's2', user: 'mallory', groups: [], amr: ['pwd'], claims: {} }, {}, undefined, T0);
  // Two routes of a wildcard host, whose hosts each have their own cookie: the slots move on most requests.
  const [routeA, routeB] = [routeCookie(), routeCookie()];
  const [h1, h2] = ['http://x1.w.example.com', 'http://x2.w.example.com'];
  const values = [
    { header: cookieFor(h1), origin: h1, id: record.id },
    { header: cookieFor(h2), origin: h2, id: record.id },
    { header: sessions.setCookie(other, false, T0, h1).split(';')[0]!, origin: h1, id: other.id },
  ];
  for (let i = 0; i < 60; i++) {
    const v = values[(i * 7) % 3]!;
    const slot = i % 2 === 0 ? routeA : routeB;
    assert.equal(sessions.readId(v.header, false, v.origin, slot), v.id, `request ${i}`);
    const value = cookieValue(v.header, 'drawbridge')!;
    assert.equal(slot.verifiedCookie, sessions.rememberedFor(value), `request ${i}: the slot holds what the map remembers`);
    assert.equal(sessions.rememberedFor(value), `${value}${v.id}${v.origin}`);
    // On the other values' origins it is no session, from the slot or the map.
    for (const o of [h1, h2].filter((x) => x !== v.origin)) assert.equal(sessions.readId(v.header, false, o, slot), undefined, `request ${i} on ${o}`);
  }
  assert.equal(sessions.verifiedCount, 3, 'one remembered string per value, however often the slots moved');
});

test('touchIfDue on the memory store’s shared (frozen) record: the store moves the idle clock, the record read stays as it was', async () => {
  const { sessions, record } = await setup();
  const read = sessions.loadNow(record.id, T0)!;
  assert.ok(read.state === 'valid' && Object.isFrozen(read.record));
  assert.equal(sessions.touchIfDue(read.record, T0 + 1000), undefined, 'not due yet');
  const later = T0 + 60_000;
  await sessions.touchIfDue(read.record, later);
  assert.equal(read.record.lastSeenAt, T0);
  const next = sessions.loadNow(record.id, later)!;
  assert.ok(next.state === 'valid');
  assert.equal(next.record.lastSeenAt, later);
  assert.equal(sessions.touchIfDue(next.record, later + 1000), undefined, 'just touched: not due');
});
