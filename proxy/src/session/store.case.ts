// session/store.case.ts — the one conformance suite every SessionStore passes (memory-store.test.ts,
// redis-store.test.ts): records, timeouts against an injected clock, revocation, listing, one-time values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newSessionId } from './cookie.js';
import type { SessionRecord, SessionStore } from './store.js';

/** What a store's test hands the suite: a started store on the given clock, and how to tear it down. */
export interface StoreUnderTest {
  store: SessionStore;
  cleanup(): Promise<void>;
  /** The backend's own remaining TTL of a session (undefined when absent), to check it is set and moved. */
  ttlMs?(id: string): Promise<number | undefined>;
}

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const TEST_TIMEOUT_MS = 20_000;
// The backend TTL is counted on the real clock while the test runs; allow for that much slack.
const TTL_SLACK_MS = 5_000;

interface Clock {
  t: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A complete record: every optional field set, so a lossy backend shows up in deepEqual. */
export function sampleRecord(now: number, overrides: { user?: string; sub?: string; idpSid?: string | null; expiresInMs?: number; idleMs?: number } = {}): SessionRecord {
  const user = overrides.user ?? 'alice';
  const sub = overrides.sub ?? `sub-${user}`;
  const record: SessionRecord = {
    id: newSessionId(),
    identity: {
      sub,
      user,
      email: `${user}@example.com`,
      emailVerified: true,
      groups: ['engineering', 'wiki-admins'],
      name: `${user[0]?.toUpperCase() ?? ''}${user.slice(1)} Example`,
      amr: ['pwd', 'otp'],
      acr: 'urn:example:mfa',
      authTime: Math.floor(now / 1000) - 5,
      claims: { sub, preferred_username: user, groups: ['engineering', 'wiki-admins'], nested: { level: 2, list: [1, 'two', null, true] } },
    },
    tokens: {
      idToken: `eyJ.id-token-of-${user}.sig`,
      accessToken: `access-token-of-${user}-${Math.random().toString(36).slice(2)}`,
      refreshToken: `refresh-token-of-${user}`,
      accessTokenExpiresAt: now + 5 * MIN,
    },
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + (overrides.expiresInMs ?? 12 * HOUR),
    idleTimeoutMs: overrides.idleMs ?? 30 * MIN,
  };
  if (overrides.idpSid !== null) record.idpSid = overrides.idpSid ?? `sid-${record.id.slice(0, 8)}`;
  return record;
}

function byId(records: SessionRecord[]): SessionRecord[] {
  return [...records].sort((a, b) => a.id.localeCompare(b.id));
}

function assertTtlNear(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: the backend holds no TTL for the session`);
  assert.ok(actual <= expected && actual > expected - TTL_SLACK_MS, `${what}: backend TTL ${actual} ms, expected about ${expected} ms`);
}

/** Registers the conformance tests for one store implementation. `make` gets the clock the store must use. */
export function storeConformance(name: string, make: (now: () => number) => Promise<StoreUnderTest>): void {
  function conformance(title: string, body: (sut: StoreUnderTest, clock: Clock) => Promise<void>): void {
    test(`${name} store: ${title}`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const clock: Clock = { t: T0 };
      const sut = await make(() => clock.t);
      const { store } = sut;
      if (store.getNow !== undefined) {
        // A store that also reads synchronously: every read of the suite checks that both reads agree.
        const get = store.get.bind(store);
        const getNow = store.getNow.bind(store);
        store.get = async (id) => {
          const now = getNow(id);
          const later = await get(id);
          assert.deepEqual(now, later, 'getNow and get disagree');
          return later;
        };
      }
      if (store.getShared !== undefined) {
        // A store that also shares its records (redis): every read of the suite checks that both reads agree, and that
        // what is shared is frozen (no reader can change it under another).
        const get = store.get.bind(store);
        const getShared = store.getShared.bind(store);
        store.get = async (id) => {
          const shared = await getShared(id);
          const copy = await get(id);
          assert.deepEqual(shared, copy, 'getShared and get disagree');
          if (shared !== undefined) assert.ok(Object.isFrozen(shared), 'getShared gave a record a reader could change');
          if (copy !== undefined) assert.ok(!Object.isFrozen(copy), 'get gave the shared record, not a copy');
          return copy;
        };
      }
      try {
        await body(sut, clock);
      } finally {
        await sut.cleanup();
      }
    });
  }

  conformance('set then get returns the same record, every field', async ({ store }, clock) => {
    const record = sampleRecord(clock.t);
    await store.set(record);
    assert.deepEqual(await store.get(record.id), record);
    const minimal = sampleRecord(clock.t, { idpSid: null });
    await store.set(minimal);
    assert.deepEqual(await store.get(minimal.id), minimal);
  });

  conformance('the bound context, the context last seen and the risk signals come back, and replace keeps them', async ({ store }, clock) => {
    const record: SessionRecord = { ...sampleRecord(clock.t), binding: { ip: '203.0.113.7', device: 'ab'.repeat(32), agent: 'firefox/linux' } };
    await store.set(record);
    assert.deepEqual(await store.get(record.id), record);
    const changed: SessionRecord = { ...record, seen: { network: '198.51.100.0/24', agent: 'chrome/windows' }, signals: [{ kind: 'context-change', at: clock.t, detail: 'browser' }, { kind: 'denial', at: clock.t }] };
    assert.equal(await store.replace(changed), true);
    assert.deepEqual(await store.get(record.id), changed);
  });

  conformance('set replaces a record with the same id', async ({ store }, clock) => {
    const record = sampleRecord(clock.t);
    await store.set(record);
    const refreshed: SessionRecord = { ...record, tokens: { ...record.tokens, accessToken: 'new-access-token' }, identity: { ...record.identity, groups: ['sales'] } };
    await store.set(refreshed);
    assert.deepEqual(await store.get(record.id), refreshed);
    assert.equal(await store.count(), 1);
  });

  conformance('replace writes only over a live session: never revives a deleted or expired one', async ({ store }, clock) => {
    const record = sampleRecord(clock.t);
    await store.set(record);
    const refreshed: SessionRecord = { ...record, identity: { ...record.identity, groups: ['sales'] } };
    assert.equal(await store.replace(refreshed), true);
    assert.deepEqual(await store.get(record.id), refreshed);
    await store.delete(record.id);
    assert.equal(await store.replace(refreshed), false, 'deleted: not written back');
    assert.equal(await store.get(record.id), undefined);
    assert.equal(await store.replace(sampleRecord(clock.t)), false, 'never there');
    assert.equal(await store.count(), 0);
    const short = sampleRecord(clock.t, { idleMs: 1_000 });
    await store.set(short);
    clock.t += 2_000;
    assert.equal(await store.replace({ ...short, lastSeenAt: clock.t }), false, 'idle-expired: not revived');
    assert.equal(await store.get(short.id), undefined);
  });

  conformance('get of an unknown id is undefined', async ({ store }) => {
    assert.equal(await store.get(newSessionId()), undefined);
  });

  conformance('delete removes the record; deleting an unknown id is fine', async ({ store }, clock) => {
    const record = sampleRecord(clock.t);
    await store.set(record);
    await store.delete(record.id);
    assert.equal(await store.get(record.id), undefined);
    await store.delete(record.id);
    await store.delete(newSessionId());
  });

  conformance('a record past its idle timeout is gone; the backend TTL is the idle timeout', async ({ store, ttlMs }, clock) => {
    const record = sampleRecord(clock.t, { idleMs: 30 * MIN });
    await store.set(record);
    if (ttlMs) assertTtlNear(await ttlMs(record.id), 30 * MIN, 'after set');
    clock.t = T0 + 30 * MIN - 1;
    assert.ok(await store.get(record.id), 'still alive just before the idle timeout');
    clock.t = T0 + 30 * MIN;
    assert.equal(await store.get(record.id), undefined);
  });

  conformance('a record past its absolute end is gone even when active', async ({ store, ttlMs }, clock) => {
    const record = sampleRecord(clock.t, { expiresInMs: HOUR, idleMs: 30 * MIN });
    await store.set(record);
    clock.t = T0 + 25 * MIN;
    await store.touch(record.id, clock.t);
    clock.t = T0 + 50 * MIN;
    // Touched at 50 min, idle would allow until 80 min; the absolute end (60 min) comes first.
    await store.touch(record.id, clock.t);
    if (ttlMs) assertTtlNear(await ttlMs(record.id), 10 * MIN, 'after touch near the absolute end');
    clock.t = T0 + 59 * MIN;
    assert.ok(await store.get(record.id));
    clock.t = T0 + HOUR;
    assert.equal(await store.get(record.id), undefined);
  });

  conformance('a record written already expired is not kept', async ({ store }, clock) => {
    const record = sampleRecord(clock.t - HOUR, { idleMs: 30 * MIN });
    await store.set(record);
    assert.equal(await store.get(record.id), undefined);
    assert.equal(await store.count(), 0);
  });

  conformance('touch moves lastSeenAt and the idle timeout forward, never back', async ({ store, ttlMs }, clock) => {
    const record = sampleRecord(clock.t, { idleMs: 30 * MIN });
    await store.set(record);
    clock.t = T0 + 20 * MIN;
    await store.touch(record.id, clock.t);
    if (ttlMs) assertTtlNear(await ttlMs(record.id), 30 * MIN, 'after touch');
    await store.touch(record.id, T0 + 5 * MIN);
    clock.t = T0 + 45 * MIN;
    const got = await store.get(record.id);
    assert.ok(got, 'alive 25 min after the touch');
    assert.equal(got.lastSeenAt, T0 + 20 * MIN);
    assert.deepEqual(got, { ...record, lastSeenAt: T0 + 20 * MIN });
    clock.t = T0 + 50 * MIN;
    assert.equal(await store.get(record.id), undefined);
  });

  conformance('touch of an unknown or expired id does nothing', async ({ store }, clock) => {
    const unknown = newSessionId();
    await store.touch(unknown, clock.t);
    assert.equal(await store.get(unknown), undefined);
    const record = sampleRecord(clock.t, { idleMs: 30 * MIN });
    await store.set(record);
    clock.t = T0 + 31 * MIN;
    await store.touch(record.id, clock.t);
    assert.equal(await store.get(record.id), undefined);
  });

  async function population(store: SessionStore, now: number) {
    const alice1 = sampleRecord(now, { user: 'alice', sub: 'sub-a', idpSid: 'sid-a1' });
    const alice2 = sampleRecord(now, { user: 'alice', sub: 'sub-a', idpSid: 'sid-a2' });
    const bob = sampleRecord(now, { user: 'bob', sub: 'sub-b', idpSid: 'sid-b' });
    const carol = sampleRecord(now, { user: 'carol', sub: 'sub-c', idpSid: null });
    for (const r of [alice1, alice2, bob, carol]) await store.set(r);
    return { alice1, alice2, bob, carol, all: [alice1, alice2, bob, carol] };
  }

  conformance('deleteWhere by user deletes all of that user\'s sessions and counts them', async ({ store }, clock) => {
    const p = await population(store, clock.t);
    assert.equal(await store.deleteWhere({ user: 'alice' }), 2);
    assert.equal(await store.get(p.alice1.id), undefined);
    assert.equal(await store.get(p.alice2.id), undefined);
    assert.ok(await store.get(p.bob.id));
    assert.ok(await store.get(p.carol.id));
    assert.equal(await store.deleteWhere({ user: 'alice' }), 0);
    assert.equal(await store.deleteWhere({ user: 'nobody' }), 0);
  });

  conformance('deleteWhere by sub', async ({ store }, clock) => {
    const p = await population(store, clock.t);
    assert.equal(await store.deleteWhere({ sub: 'sub-b' }), 1);
    assert.equal(await store.get(p.bob.id), undefined);
    assert.equal(await store.count(), 3);
    assert.equal(await store.deleteWhere({ sub: 'sub-a' }), 2);
    assert.equal(await store.count(), 1);
  });

  conformance('deleteWhere by idpSid deletes only that IdP session', async ({ store }, clock) => {
    const p = await population(store, clock.t);
    assert.equal(await store.deleteWhere({ idpSid: 'sid-a2' }), 1);
    assert.equal(await store.get(p.alice2.id), undefined);
    assert.ok(await store.get(p.alice1.id));
    assert.equal(await store.deleteWhere({ idpSid: 'sid-unknown' }), 0);
    assert.equal(await store.count(), 3);
  });

  conformance('deleteWhere ANDs the fields of the filter', async ({ store }, clock) => {
    const p = await population(store, clock.t);
    assert.equal(await store.deleteWhere({ user: 'alice', sub: 'sub-b' }), 0);
    assert.equal(await store.deleteWhere({ user: 'alice', idpSid: 'sid-b' }), 0);
    assert.equal(await store.count(), 4);
    assert.equal(await store.deleteWhere({ sub: 'sub-a', idpSid: 'sid-a1' }), 1);
    assert.equal(await store.get(p.alice1.id), undefined);
    assert.ok(await store.get(p.alice2.id));
  });

  conformance('deleteWhere({}) deletes every session', async ({ store }, clock) => {
    const p = await population(store, clock.t);
    assert.equal(await store.deleteWhere({}), 4);
    for (const r of p.all) assert.equal(await store.get(r.id), undefined);
    assert.equal(await store.count(), 0);
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.deleteWhere({}), 0);
  });

  conformance('a session re-created after deleteWhere is indexed again', async ({ store }, clock) => {
    const p = await population(store, clock.t);
    assert.equal(await store.deleteWhere({ user: 'bob' }), 1);
    const again = sampleRecord(clock.t, { user: 'bob', sub: 'sub-b', idpSid: 'sid-b' });
    await store.set(again);
    assert.equal(await store.deleteWhere({ idpSid: 'sid-b' }), 1);
    assert.equal(await store.get(again.id), undefined);
    assert.ok(await store.get(p.alice1.id));
  });

  conformance('list returns live sessions, all or filtered', async ({ store }, clock) => {
    const p = await population(store, clock.t);
    assert.deepEqual(byId(await store.list()), byId(p.all));
    assert.deepEqual(byId(await store.list({})), byId(p.all));
    assert.deepEqual(byId(await store.list({ user: 'alice' })), byId([p.alice1, p.alice2]));
    assert.deepEqual(await store.list({ sub: 'sub-b' }), [p.bob]);
    assert.deepEqual(await store.list({ idpSid: 'sid-a2' }), [p.alice2]);
    assert.deepEqual(await store.list({ user: 'alice', idpSid: 'sid-b' }), []);
    assert.deepEqual(await store.list({ user: 'nobody' }), []);
    // An idle session drops out of the list once the clock passes its idle timeout.
    clock.t = T0 + 20 * MIN;
    await store.touch(p.bob.id, clock.t);
    clock.t = T0 + 35 * MIN;
    assert.deepEqual(await store.list(), [{ ...p.bob, lastSeenAt: T0 + 20 * MIN }]);
  });

  conformance('count counts live sessions', async ({ store }, clock) => {
    assert.equal(await store.count(), 0);
    const p = await population(store, clock.t);
    assert.equal(await store.count(), 4);
    await store.delete(p.carol.id);
    assert.equal(await store.count(), 3);
  });

  conformance('putOnce stores only when absent; takeOnce returns it once', async ({ store }) => {
    assert.equal(await store.putOnce('attempt:1', 'first', 60_000), true);
    assert.equal(await store.putOnce('attempt:1', 'second', 60_000), false);
    assert.equal(await store.putOnce('attempt:2', 'other', 60_000), true);
    assert.equal(await store.takeOnce('attempt:1'), 'first');
    assert.equal(await store.takeOnce('attempt:1'), undefined);
    assert.equal(await store.putOnce('attempt:1', 'third', 60_000), true);
    assert.equal(await store.takeOnce('attempt:1'), 'third');
    assert.equal(await store.takeOnce('attempt:2'), 'other');
    assert.equal(await store.takeOnce('never-put'), undefined);
    const odd = 'key with spaces, üñíçødé and \u0000 bytes';
    assert.equal(await store.putOnce(odd, '{"json":"value","n":1}', 60_000), true);
    assert.equal(await store.takeOnce(odd), '{"json":"value","n":1}');
  });

  conformance('concurrent takeOnce of one value: exactly one caller gets it', async ({ store }) => {
    for (let i = 0; i < 20; i++) {
      assert.equal(await store.putOnce(`code:${i}`, `value-${i}`, 60_000), true);
      const results = await Promise.all([store.takeOnce(`code:${i}`), store.takeOnce(`code:${i}`), store.takeOnce(`code:${i}`)]);
      assert.deepEqual(results.filter((r) => r !== undefined), [`value-${i}`]);
    }
  });

  conformance('concurrent putOnce of one key: exactly one caller wins', async ({ store }) => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.putOnce('once:abc', `v${i}`, 60_000)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  conformance('a one-time value expires after its TTL', async ({ store }, clock) => {
    assert.equal(await store.putOnce('once:x', 'v', 200), true);
    assert.equal(await store.putOnce('once:y', 'w', 60_000), true);
    clock.t += 250;
    await sleep(300);
    assert.equal(await store.takeOnce('once:x'), undefined);
    assert.equal(await store.putOnce('once:x', 'again', 60_000), true);
    assert.equal(await store.takeOnce('once:x'), 'again');
    assert.equal(await store.takeOnce('once:y'), 'w');
  });

  conformance('peekOnce reads without taking; listOnce lists the live values under a prefix', async ({ store }, clock) => {
    assert.equal(await store.putOnce('grant:a', 'A', 60_000), true);
    assert.equal(await store.putOnce('grant:b', 'B', 200), true);
    assert.equal(await store.putOnce('other:c', 'C', 60_000), true);
    assert.equal(await store.peekOnce('grant:a'), 'A');
    assert.equal(await store.peekOnce('grant:a'), 'A');
    assert.equal(await store.peekOnce('never-put'), undefined);
    const sorted = (list: Array<{ key: string; value: string }>) => [...list].sort((x, y) => x.key.localeCompare(y.key));
    assert.deepEqual(sorted(await store.listOnce('grant:')), [{ key: 'grant:a', value: 'A' }, { key: 'grant:b', value: 'B' }]);
    clock.t += 250;
    await sleep(300);
    assert.equal(await store.peekOnce('grant:b'), undefined);
    assert.deepEqual(await store.listOnce('grant:'), [{ key: 'grant:a', value: 'A' }]);
    assert.equal(await store.takeOnce('grant:a'), 'A');
    assert.deepEqual(await store.listOnce('grant:'), []);
    assert.equal(await store.peekOnce('other:c'), 'C');
  });

  conformance('putOnce refuses a TTL that is not positive', async ({ store }) => {
    await assert.rejects(store.putOnce('k', 'v', 0));
    await assert.rejects(store.putOnce('k', 'v', -5));
    await assert.rejects(store.putOnce('k', 'v', Number.NaN));
  });

  conformance('ping answers; close is idempotent; a closed store rejects', async ({ store }, clock) => {
    await store.ping();
    assert.equal(typeof store.kind, 'string');
    await store.close();
    await store.close();
    await assert.rejects(store.ping());
    await assert.rejects(store.get(newSessionId()));
    await assert.rejects(store.set(sampleRecord(clock.t)));
    await assert.rejects(store.takeOnce('k'));
  });
}
