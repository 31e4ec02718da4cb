// policy/rules/policy.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codes, expectVerdict, input, rule } from '../fixture.case.js';
import type { PolicyConfig } from '../schema.js';

const named: Record<string, PolicyConfig> = {
  staff: { allow: [{ domain: ['example.com'] }], deny: [{ groups: ['suspended'] }] },
  admins: { allow: [{ and: [{ groups: ['admins'] }, { mfa: true }] }] },
};

test('policy: passes when the named policy grants access', () => {
  const check = rule({ policy: 'staff' }, named);
  const v = check(input());
  expectVerdict(v, true, 'policy-ok');
  assert.equal(v.reasons[0]!.detail, 'staff');
  assert.deepEqual(codes(v), ['policy-ok', 'allow-matched', 'domain-ok']);
});

test('policy: fails when the named policy denies, or allows nothing', () => {
  const check = rule({ policy: 'staff' }, named);
  const suspended = check(input({}, { groups: ['suspended'] }));
  expectVerdict(suspended, false, 'policy-unauthorized');
  assert.deepEqual(codes(suspended), ['policy-unauthorized', 'deny-matched', 'groups-ok']);
  const outsider = check(input({}, { email: 'eve@example.org' }));
  assert.deepEqual(codes(outsider), ['policy-unauthorized', 'no-allow-matched', 'domain-unauthorized']);
  assert.equal(outsider.stepUp, undefined);
});

test('policy: a named policy that would ask for a step-up makes the rule ask for it', () => {
  const check = rule({ policy: 'admins' }, named);
  const v = check(input({}, { groups: ['admins'], amr: ['pwd'] }));
  expectVerdict(v, false, 'policy-unauthorized');
  assert.deepEqual(v.stepUp, { mfa: true });
});
