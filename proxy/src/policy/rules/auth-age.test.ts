// policy/rules/auth-age.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MONDAY_1030_UTC, expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

const signedInAgo = (seconds: number) => input({}, { authTime: MONDAY_1030_UTC / 1000 - seconds });

test('authAge: a sign-in at most this old passes', () => {
  const check = rule({ authAge: '15m' });
  expectVerdict(check(signedInAgo(60)), true, 'auth-age-ok');
  expectVerdict(check(signedInAgo(900)), true, 'auth-age-ok');
  expectVerdict(check(signedInAgo(-5)), true, 'auth-age-ok');
});

test('authAge: an older or unknown sign-in asks for a step-up with max_age', () => {
  const check = rule({ authAge: '15m' });
  const old = check(signedInAgo(901));
  expectVerdict(old, false, 'auth-too-old');
  assert.deepEqual(old.stepUp, { maxAge: 900 });
  const unknown = check(input({}, { authTime: undefined }));
  expectVerdict(unknown, false, 'auth-time-missing');
  assert.deepEqual(unknown.stepUp, { maxAge: 900 });
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});

test('authAge: takes a duration', () => {
  assert.match(ruleErrors({ authAge: '15 minutes' })[0]!, /duration/);
  assert.match(ruleErrors({ authAge: '0s' })[0]!, /greater than zero/);
  assert.equal(ruleErrors({ authAge: 900 }).length, 1);
});
