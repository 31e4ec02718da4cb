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

test('policy: a named policy refused only for want of the client address is undecided, as is its `not`', () => {
  const nets: Record<string, PolicyConfig> = {
    office: { allow: [{ ip: ['10.0.0.0/8'] }] },
    inside: { allow: [{ authenticated: true }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] },
    sales: { allow: [{ groups: ['sales'] }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] },
  };
  const unknown = input({ ip: undefined });
  for (const name of ['office', 'inside']) {
    const v = rule({ policy: name }, nets)(unknown);
    expectVerdict(v, false, 'policy-unauthorized');
    assert.equal(v.unknown, true, name);
    assert.equal(rule({ not: { policy: name } }, nets)(unknown).unknown, true, `not ${name}`);
  }
  // Refused for another reason too (an engineer is not in sales): still undecided, which is never less strict.
  assert.equal(rule({ policy: 'sales' }, nets)(unknown).unknown, true);
  // A known address decides.
  assert.equal(rule({ policy: 'office' }, nets)(input({ ip: '192.0.2.1' })).unknown, undefined);
});
