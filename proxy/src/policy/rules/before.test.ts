// policy/rules/before.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('before: passes until the instant, then the grant has expired', () => {
  const check = rule({ before: '2025-07-01T00:00:00+02:00' });
  expectVerdict(check(input({ now: Date.parse('2025-06-30T21:59:59.999Z') })), true, 'before-ok');
  expectVerdict(check(input({ now: Date.parse('2025-06-30T22:00:00Z') })), false, 'grant-expired');
});

test('before: an instant needs a date, a time and a zone', () => {
  for (const bad of ['2025-07-01', '2025-07-01T00:00:00', 'next tuesday', '2025-13-01T00:00:00Z']) {
    assert.match(ruleErrors({ before: bad })[0] ?? '', /ISO-8601 instant/, bad);
  }
});
