// signin/start-budget.test.ts — the per-network budget of sign-in starts, on an injected clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartBudget } from './start-budget.js';

const WINDOW = 600_000;

test('a network may start its allowance at once, then one more per window/allowance; another network is not touched', () => {
  const budget = new StartBudget(WINDOW);
  const t0 = 1_000_000;
  for (let i = 0; i < 10; i++) assert.deepEqual(budget.take('192.0.2.1/32', 10, t0), { ok: true }, `start ${i + 1}`);
  const refused = budget.take('192.0.2.1/32', 10, t0);
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.retryAfterSec, 60, 'one start back every 60 s (10 per 10 minutes)');
  assert.deepEqual(budget.take('192.0.2.2/32', 10, t0), { ok: true }, 'another network has its own budget');
  assert.equal(budget.take('192.0.2.1/32', 10, t0 + 59_000).ok, false, 'not refilled before its time');
  assert.deepEqual(budget.take('192.0.2.1/32', 10, t0 + 60_000), { ok: true });
  assert.equal(budget.take('192.0.2.1/32', 10, t0 + 60_000).ok, false);
  // A whole window later the allowance is back, never more than it.
  for (let i = 0; i < 10; i++) assert.deepEqual(budget.take('192.0.2.1/32', 10, t0 + 60_000 + 10 * WINDOW), { ok: true });
  assert.equal(budget.take('192.0.2.1/32', 10, t0 + 60_000 + 10 * WINDOW).ok, false);
});

test('refusals do not spend the allowance; a clock going back refills nothing; 0 is no limit; a lower limit applies at once', () => {
  const budget = new StartBudget(WINDOW);
  const t0 = 5_000_000;
  assert.deepEqual(budget.take('n', 1, t0), { ok: true });
  for (let i = 0; i < 100; i++) assert.equal(budget.take('n', 1, t0 + 1000).ok, false);
  assert.deepEqual(budget.take('n', 1, t0 + WINDOW), { ok: true }, 'the refused tries cost nothing');
  assert.equal(budget.take('n', 1, t0).ok, false, 'time going back refills nothing');
  assert.equal(budget.take('n', 1, t0 + WINDOW + 1000).ok, false, '…nor counts the time it went back twice');
  assert.deepEqual(budget.take('n', 1, t0 + 2 * WINDOW), { ok: true });
  for (let i = 0; i < 1000; i++) assert.deepEqual(budget.take('unlimited', 0, t0), { ok: true });
  const lowered = new StartBudget(WINDOW);
  assert.deepEqual(lowered.take('m', 100, t0), { ok: true });
  for (let i = 0; i < 3; i++) assert.deepEqual(lowered.take('m', 3, t0), { ok: true });
  assert.equal(lowered.take('m', 3, t0).ok, false, 'the 99 left of the old limit are cut to the new one');
});

test('the buckets are bounded: the least recently seen network is forgotten first', () => {
  const budget = new StartBudget(WINDOW, 3);
  const t0 = 0;
  for (const n of ['a', 'b', 'c']) assert.deepEqual(budget.take(n, 1, t0), { ok: true });
  assert.equal(budget.take('a', 1, t0).ok, false);
  assert.deepEqual(budget.take('d', 1, t0), { ok: true }, 'a fourth network evicts b, the least recently seen');
  assert.deepEqual(budget.take('b', 1, t0), { ok: true }, 'b starts again full');
  assert.equal(budget.take('a', 1, t0).ok, false, 'a, seen recently, is still counted');
});
