// policy/rules/time.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

const at = (iso: string) => input({ now: Date.parse(iso) });

test('time: office hours on weekdays, in UTC by default', () => {
  const check = rule({ time: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' } });
  const v = check(at('2025-06-02T10:30:00Z'));
  expectVerdict(v, true, 'time-ok');
  assert.equal(v.reasons[0]!.detail, 'mon 10:30 UTC');
  expectVerdict(check(at('2025-06-02T08:00:00Z')), true, 'time-ok');
  expectVerdict(check(at('2025-06-02T18:00:00Z')), false, 'time-outside-window');
  expectVerdict(check(at('2025-06-02T07:59:59Z')), false, 'time-outside-window');
  expectVerdict(check(at('2025-06-07T10:30:00Z')), false, 'time-outside-window');
});

test('time: read in the given time zone, across daylight saving', () => {
  const check = rule({ time: { from: '09:00', to: '17:00', tz: 'Europe/Paris' } });
  // 07:30Z is 09:30 in Paris in summer (UTC+2) and 08:30 in winter (UTC+1).
  expectVerdict(check(at('2025-07-01T07:30:00Z')), true, 'time-ok');
  const winter = check(at('2025-01-06T07:30:00Z'));
  expectVerdict(winter, false, 'time-outside-window');
  assert.equal(winter.reasons[0]!.detail, 'mon 08:30 Europe/Paris');
  const tokyo = rule({ time: { days: ['tue'], tz: 'Asia/Tokyo' } });
  expectVerdict(tokyo(at('2025-06-02T20:00:00Z')), true, 'time-ok');
  expectVerdict(tokyo(at('2025-06-02T10:00:00Z')), false, 'time-outside-window');
});

test('time: a window with from > to runs past midnight and belongs to the day it opened', () => {
  const check = rule({ time: { days: ['fri'], from: '22:00', to: '02:00' } });
  expectVerdict(check(at('2025-06-06T23:00:00Z')), true, 'time-ok');
  expectVerdict(check(at('2025-06-07T01:59:00Z')), true, 'time-ok');
  expectVerdict(check(at('2025-06-07T02:00:00Z')), false, 'time-outside-window');
  expectVerdict(check(at('2025-06-06T01:00:00Z')), false, 'time-outside-window');
  expectVerdict(check(at('2025-06-06T12:00:00Z')), false, 'time-outside-window');
  const nightly = rule({ time: { from: '18:00', to: '00:00' } });
  expectVerdict(nightly(at('2025-06-06T23:59:00Z')), true, 'time-ok');
  expectVerdict(nightly(at('2025-06-07T00:00:00Z')), false, 'time-outside-window');
});

test('time: from or to alone, and the per-minute memo follows the clock both ways', () => {
  const check = rule({ time: { to: '12:00' } });
  expectVerdict(check(at('2025-06-02T11:59:59Z')), true, 'time-ok');
  expectVerdict(check(at('2025-06-02T12:00:00Z')), false, 'time-outside-window');
  expectVerdict(check(at('2025-06-02T11:59:30Z')), true, 'time-ok');
});

test('time: schema errors', () => {
  assert.match(ruleErrors({ time: { tz: 'Europe/Paris' } })[0]!, /at least one of days, from, to/);
  assert.match(ruleErrors({ time: { from: '9:00' } })[0]!, /HH:MM/);
  assert.match(ruleErrors({ time: { from: '24:00' } })[0]!, /HH:MM/);
  assert.match(ruleErrors({ time: { from: '09:00', tz: 'Mars/Olympus' } })[0]!, /^time\.tz: .*time zone/);
  assert.match(ruleErrors({ time: { from: '09:00', to: '09:00' } })[0]!, /equal/);
  assert.equal(ruleErrors({ time: { days: ['monday'] } }).length, 1);
  assert.match(ruleErrors({ time: { days: ['mon'], at: '09:00' } })[0]!, /at/);
});
