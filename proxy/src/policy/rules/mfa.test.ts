// policy/rules/mfa.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule } from '../fixture.case.js';
import { MFA_METHODS } from './mfa.js';

test('mfa: any second-factor amr value passes', () => {
  const check = rule({ mfa: true });
  for (const m of MFA_METHODS) expectVerdict(check(input({}, { amr: ['pwd', m] })), true, 'mfa-ok');
});

test('mfa: a password-only sign-in asks for a step-up with MFA', () => {
  const check = rule({ mfa: true });
  const v = check(input({}, { amr: ['pwd'] }));
  expectVerdict(v, false, 'mfa-missing');
  assert.deepEqual(v.stepUp, { mfa: true });
  expectVerdict(check(input({}, { amr: [] })), false, 'mfa-missing');
  const anonymous = check(input({}, null));
  expectVerdict(anonymous, false, 'user-unauthenticated');
  assert.equal(anonymous.stepUp, undefined);
});
