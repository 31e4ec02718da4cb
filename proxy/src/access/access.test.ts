// access/access.test.ts — the access records over a real memory store on an injected clock: one pending request per
// user and route, the per-user rate limit, atomic decisions (two approvers at once: one decides), self-approval
// refused, a grant read by its route and user only, expiry logged once by two instances sharing the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../session/memory-store.js';
import type { Identity } from '../policy/input.js';
import { AccessRecords, durationChoices, durationText } from './access.js';

const who = (user: string): Identity => ({ sub: `sub-${user}`, user, groups: [], amr: [], claims: {} });

function setup() {
  const clock = { t: Date.UTC(2030, 0, 1, 9) };
  const store = new MemoryStore({ maxSessions: 10, now: () => clock.t });
  const lines: Record<string, unknown>[] = [];
  const counted: string[] = [];
  const make = () =>
    new AccessRecords({
      store,
      now: () => clock.t,
      logger: { info: (f) => lines.push(f), warn: (f) => lines.push(f) },
      metrics: { access: (event, action) => counted.push(`${event}:${action}`) },
      requestsUrl: () => 'https://auth.example.com/.drawbridge/requests',
    });
  return { clock, store, lines, counted, make };
}

const ask = (records: AccessRecords, user: string, route = 'wiki') => records.ask({ route, identity: who(user), reason: 'why', durationMs: 600_000, requestId: 'r-1', deniedBy: ['no-allow-matched'], autoApprove: false });

test('one pending request per user and route; one new request per user every ten seconds', async () => {
  const { clock, make } = setup();
  const records = make();
  assert.equal((await ask(records, 'bob')).kind, 'pending');
  assert.equal((await ask(records, 'bob')).kind, 'duplicate');
  assert.equal((await ask(records, 'bob', 'billing')).kind, 'rate-limited');
  clock.t += 10_001;
  assert.equal((await ask(records, 'bob', 'billing')).kind, 'pending');
  assert.equal((await ask(records, 'dave')).kind, 'pending', 'another user is not limited by bob');
  assert.equal((await records.pending()).length, 3);
});

test('two approvers at once: one approves, the other finds it gone; the requester never decides', async () => {
  const { make, lines } = setup();
  const records = make();
  const asked = await ask(records, 'bob');
  assert.equal(asked.kind, 'pending');
  const id = asked.kind === 'pending' ? asked.request.id : '';
  assert.equal((await records.decide(id, true, who('bob'))).kind, 'self');
  const [a, b] = await Promise.all([records.decide(id, true, who('carol')), records.decide(id, false, who('erin'))]);
  assert.ok(['approved', 'gone'].includes(a.kind) && ['denied', 'gone'].includes(b.kind), `${a.kind}, ${b.kind}`);
  assert.equal([a.kind, b.kind].filter((k) => k === 'gone').length, 1, 'exactly one decided it');
  assert.equal(lines.filter((l) => l.event === 'access-request' && (l.action === 'approved' || l.action === 'denied')).length, 1);
});

test('a grant is read for its route and user only, until its expiry; the expiry is logged once by two instances sharing the store', async () => {
  const { clock, make, lines, counted } = setup();
  const a = make();
  const b = make();
  const asked = await ask(a, 'bob');
  const decided = await b.decide(asked.kind === 'pending' ? asked.request.id : '', true, who('carol'));
  assert.equal(decided.kind, 'approved');
  const grant = decided.kind === 'approved' ? decided.grant : undefined;
  assert.equal((await a.grantFor('wiki', 'sub-bob', clock.t))?.id, grant?.id);
  assert.equal(await a.grantFor('billing', 'sub-bob', clock.t), undefined);
  assert.equal(await a.grantFor('wiki', 'sub-dave', clock.t), undefined);
  clock.t += 600_000;
  assert.equal(await a.grantFor('wiki', 'sub-bob', clock.t), undefined, 'ended at its expiry, before any sweep');
  const [x, y] = await Promise.all([a.sweep(), b.sweep()]);
  assert.equal(x.length + y.length, 1);
  assert.equal(lines.filter((l) => l.event === 'access-grant' && l.action === 'expired').length, 1);
  assert.ok(counted.includes('access-grant:expired'));
});

test('revoke by id or user; a later grant replaces an earlier one for the same route and user', async () => {
  const { clock, make } = setup();
  const records = make();
  for (let i = 0; i < 2; i++) {
    const asked = await ask(records, 'bob');
    assert.equal((await records.decide(asked.kind === 'pending' ? asked.request.id : '', true, who('carol'))).kind, 'approved');
    clock.t += 10_001;
  }
  const grants = await records.grants({ user: 'bob' });
  assert.equal(grants.length, 1, 'one grant per route and user');
  assert.deepEqual(await records.revoke({ id: 'not-this-one' }, 'admin'), []);
  assert.equal((await records.revoke({ user: 'bob' }, 'admin')).length, 1);
  assert.equal(await records.grantFor('wiki', 'sub-bob', clock.t), undefined);
});

test('durations read as people say them; the form offers the usual ones up to the maximum, with the default', () => {
  assert.deepEqual([durationText(60), durationText(5400), durationText(7200), durationText(86_400)], ['1 minute', '90 minutes', '2 hours', '1 day']);
  assert.deepEqual(
    durationChoices(3 * 3_600_000, 45 * 60_000).map((c) => c.seconds),
    [900, 1800, 2700, 3600, 7200, 10800],
  );
});
