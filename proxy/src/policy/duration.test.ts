// policy/duration.test.ts — the duration parser and schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.js';
import { durationSchema } from './schema-kit.js';

test('parses every unit, integers and decimals', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('12h'), 43_200_000);
  assert.equal(parseDuration('2d'), 172_800_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('0s'), 0);
});

test('rejects anything else', () => {
  for (const bad of ['', '15', 'm', '15 m', ' 15m', '15M', '-5m', '+5m', '.5h', '5.h', '1e3s', '15min', '1h30m', '0x10s', '15m ']) {
    assert.throws(() => parseDuration(bad), /invalid duration/, bad);
    assert.equal(durationSchema.safeParse(bad).success, false, bad);
  }
});

test('the schema accepts positive durations and explains failures', () => {
  assert.equal(durationSchema.parse('15m'), '15m');
  const zero = durationSchema.safeParse('0s');
  assert.equal(zero.success, false);
  assert.match(zero.error!.issues[0]!.message, /greater than zero/);
  const bad = durationSchema.safeParse('15 minutes');
  assert.match(bad.error!.issues[0]!.message, /like 90s, 15m/);
  assert.equal(durationSchema.safeParse('9'.repeat(400) + 'd').success, false);
});
