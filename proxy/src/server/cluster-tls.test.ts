// server/cluster-tls.test.ts — the primary's session-ticket key (`workers: N` with tls): rotated on the injected clock
// for every worker at once, one rotation at a time, its period changed by a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TicketKeys } from './cluster-tls.js';

test('ticket keys: rotated when ticketKeyRotation has passed, the new key given to every worker before the next', async () => {
  let now = 1_000_000;
  const given: Buffer[] = [];
  let release: () => void = () => {};
  const keys = new TicketKeys({
    periodMs: 60_000,
    now: () => now,
    distribute: (key) => {
      given.push(key);
      return new Promise<void>((r) => (release = r));
    },
  });
  const first = keys.key;
  assert.equal(first.length, 48);
  now += 59_999;
  assert.equal(keys.tick(), undefined, 'not yet due');
  now += 1;
  const rotation = keys.tick();
  assert.ok(rotation, 'due');
  assert.notDeepEqual(keys.key, first);
  assert.deepEqual(given, [keys.key], 'the workers get the key in force');
  now += 120_000;
  assert.equal(keys.tick(), undefined, 'one rotation at a time');
  release();
  await rotation;
  assert.ok(keys.tick(), 'due again once the previous one is distributed');
  release();
  keys.setPeriod(3_600_000);
  now += 60_000;
  assert.equal(keys.tick(), undefined, 'a longer period after a reload');
  keys.close();
  keys.close();
});
