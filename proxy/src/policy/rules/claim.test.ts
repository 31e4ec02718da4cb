// policy/rules/claim.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('claim: equals one of the values, or an array claim contains one', () => {
  const check = rule({ claim: { department: ['eng', 'ops'] } });
  expectVerdict(check(input({}, { claims: { department: 'ops' } })), true, 'claim-ok');
  expectVerdict(check(input({}, { claims: { department: ['sales', 'eng'] } })), true, 'claim-ok');
  expectVerdict(check(input({}, { claims: { department: 'sales' } })), false, 'claim-mismatch');
  expectVerdict(check(input({}, { claims: { department: ['sales'] } })), false, 'claim-mismatch');
  expectVerdict(check(input({}, { claims: {} })), false, 'claim-mismatch');
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});

test('claim: values compare strictly by type and value', () => {
  const numeric = rule({ claim: { level: 3 } });
  expectVerdict(numeric(input({}, { claims: { level: 3 } })), true, 'claim-ok');
  expectVerdict(numeric(input({}, { claims: { level: '3' } })), false, 'claim-mismatch');
  const flag = rule({ claim: { contractor: false } });
  expectVerdict(flag(input({}, { claims: { contractor: false } })), true, 'claim-ok');
  expectVerdict(flag(input({}, { claims: { contractor: 'false' } })), false, 'claim-mismatch');
  expectVerdict(flag(input({}, { claims: { contractor: 0 } })), false, 'claim-mismatch');
  expectVerdict(flag(input({}, { claims: {} })), false, 'claim-mismatch');
  const text = rule({ claim: { level: '3' } });
  expectVerdict(text(input({}, { claims: { level: 3 } })), false, 'claim-mismatch');
});

test('claim: every listed claim must hold; the failing one is named', () => {
  const check = rule({ claim: { department: 'eng', country: ['de', 'fr'] } });
  expectVerdict(check(input({}, { claims: { department: 'eng', country: 'fr' } })), true, 'claim-ok');
  const v = check(input({}, { claims: { department: 'eng', country: 'us' } }));
  expectVerdict(v, false, 'claim-mismatch');
  assert.equal(v.reasons[0]!.detail, 'country');
});

test('claim: at least one claim; values are scalars', () => {
  assert.match(ruleErrors({ claim: {} })[0]!, /at least one/);
  assert.equal(ruleErrors({ claim: { a: { nested: 1 } } }).length, 1);
  assert.equal(ruleErrors({ claim: { a: [] } }).length, 1);
  assert.equal(ruleErrors({ claim: { a: null } }).length, 1);
});
