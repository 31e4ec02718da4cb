// policy/rules/mfa.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicies } from '../evaluate.js';
import type { MfaMethods } from '../rule.js';
import { expectVerdict, input, rule } from '../fixture.case.js';
import { multiFactorBy, RFC8176_MFA_AMR } from './mfa.js';

/** The `mfa` rule compiled with this configuration's `idp.mfa`. */
function mfaWith(mfa: MfaMethods) {
  return compilePolicies({}, { mfa }).compile({ allow: [{ mfa: true }] }).allow[0]!.check;
}

test('mfa: any RFC 8176 second-factor amr value passes by default', () => {
  const check = rule({ mfa: true });
  for (const m of RFC8176_MFA_AMR) expectVerdict(check(input({}, { amr: ['pwd', m] })), true, 'mfa-ok');
  for (const m of ['mfa', 'otp', 'hwk', 'swk', 'sms', 'fpt', 'face', 'sc']) assert.ok(RFC8176_MFA_AMR.includes(m), `${m} still counts`);
});

test('mfa: knowledge factors, risk signals and names outside RFC 8176 do not count by default', () => {
  const check = rule({ mfa: true });
  for (const m of ['pwd', 'pin', 'kba', 'wia', 'user', 'geo', 'rba', 'webauthn', 'fido', 'MFA', '']) {
    expectVerdict(check(input({}, { amr: ['pwd', m] })), false, 'mfa-missing');
  }
  expectVerdict(check(input({}, { amr: ['pwd'], acr: 'mfa' })), false, 'mfa-missing');
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

test('mfa: idp.mfa.amr replaces the defaults (an IdP\u2019s own names count, a dropped default does not)', () => {
  const check = mfaWith({ amr: ['webauthn', 'otp'], acr: [] });
  const v = check(input({}, { amr: ['pwd', 'webauthn'] }));
  expectVerdict(v, true, 'mfa-ok');
  assert.equal(v.reasons[0]!.detail, 'amr webauthn');
  expectVerdict(check(input({}, { amr: ['pwd', 'otp'] })), true, 'mfa-ok');
  expectVerdict(check(input({}, { amr: ['pwd', 'sms'] })), false, 'mfa-missing');
});

test('mfa: an IdP that sends no amr passes by an acr idp.mfa.acr lists, and only by that one', () => {
  const check = mfaWith({ amr: RFC8176_MFA_AMR, acr: ['urn:example:mfa', 'gold'] });
  const v = check(input({}, { amr: [], acr: 'urn:example:mfa' }));
  expectVerdict(v, true, 'mfa-ok');
  assert.equal(v.reasons[0]!.detail, 'acr urn:example:mfa');
  expectVerdict(check(input({}, { amr: [], acr: 'silver' })), false, 'mfa-missing');
  expectVerdict(check(input({}, { amr: [] })), false, 'mfa-missing');
  expectVerdict(check(input({}, { amr: ['hwk'], acr: 'silver' })), true, 'mfa-ok');
});

test('multiFactorBy: the one test shared with the step-up callback', () => {
  const methods = { amr: ['otp'], acr: ['gold'] };
  assert.equal(multiFactorBy({ amr: ['pwd', 'otp'] }, methods), 'amr otp');
  assert.equal(multiFactorBy({ amr: ['pwd'], acr: 'gold' }, methods), 'acr gold');
  assert.equal(multiFactorBy({ amr: ['pwd'], acr: 'silver' }, methods), undefined);
  assert.equal(multiFactorBy({ amr: [] }, methods), undefined);
});
