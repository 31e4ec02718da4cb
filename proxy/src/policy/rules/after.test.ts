// policy/rules/after.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('after: not yet active before the instant, active from it on', () => {
  const check = rule({ after: '2025-06-01T08:00:00Z' });
  expectVerdict(check(input({ now: Date.parse('2025-06-01T07:59:59Z') })), false, 'grant-not-yet-active');
  expectVerdict(check(input({ now: Date.parse('2025-06-01T08:00:00Z') })), true, 'after-ok');
});

test('after and before make a just-in-time grant', () => {
  const check = rule({ and: [{ after: '2025-06-01T08:00:00Z' }, { before: '2025-06-08T08:00:00Z' }] });
  expectVerdict(check(input({ now: Date.parse('2025-06-03T00:00:00Z') })), true, 'and-ok');
  assert.deepEqual(check(input({ now: Date.parse('2025-06-09T00:00:00Z') })).reasons.map((r) => r.code), ['and-unauthorized', 'grant-expired']);
});

test('after: invalid instants are schema errors', () => {
  assert.match(ruleErrors({ after: 'tomorrow' })[0]!, /ISO-8601 instant/);
});
