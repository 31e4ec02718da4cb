// policy/rules/authenticated.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('authenticated: a signed-in user passes, nobody else', () => {
  const check = rule({ authenticated: true });
  expectVerdict(check(input()), true, 'authenticated-ok');
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});

test('authenticated: only true is accepted', () => {
  assert.equal(ruleErrors({ authenticated: false }).length, 1);
});
