// policy/rules/user.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('user: a listed user name passes, exactly', () => {
  const check = rule({ user: ['alice', 'bob'] });
  const v = check(input({}, { user: 'bob' }));
  expectVerdict(v, true, 'user-ok');
  assert.equal(v.reasons[0]!.detail, 'bob');
  expectVerdict(check(input({}, { user: 'carol' })), false, 'user-unauthorized');
  expectVerdict(check(input({}, { user: 'Alice' })), false, 'user-unauthorized');
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});

test('user: needs a non-empty list of names', () => {
  assert.equal(ruleErrors({ user: [] }).length, 1);
  assert.equal(ruleErrors({ user: [''] }).length, 1);
  assert.equal(ruleErrors({ user: 'alice' }).length, 1);
});
