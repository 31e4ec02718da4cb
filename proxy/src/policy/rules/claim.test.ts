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

test('claim: a dotted name reaches into nested claims; an exact top-level key wins over the path', () => {
  const roles = rule({ claim: { 'realm_access.roles': ['admin'] } });
  expectVerdict(roles(input({}, { claims: { realm_access: { roles: ['user', 'admin'] } } })), true, 'claim-ok');
  expectVerdict(roles(input({}, { claims: { realm_access: { roles: ['user'] } } })), false, 'claim-mismatch');
  expectVerdict(roles(input({}, { claims: { realm_access: ['admin'] } })), false, 'claim-mismatch');
  expectVerdict(roles(input({}, { claims: { 'realm_access.roles': 'admin', realm_access: { roles: ['user'] } } })), true, 'claim-ok');
  const uri = rule({ claim: { 'https://example.com/groups': ['eng'] } });
  expectVerdict(uri(input({}, { claims: { 'https://example.com/groups': ['eng'] } })), true, 'claim-ok');
  // Only own properties of plain objects: never something inherited.
  const inherited = rule({ claim: { 'a.constructor': ['x'] } });
  expectVerdict(inherited(input({}, { claims: { a: {} } })), false, 'claim-mismatch');
});

test('claim: scope and scp strings are space-separated lists; other strings compare whole', () => {
  const scope = rule({ claim: { scope: ['wiki:write'] } });
  expectVerdict(scope(input({}, { claims: { scope: 'openid wiki:read wiki:write' } })), true, 'claim-ok');
  expectVerdict(scope(input({}, { claims: { scope: 'openid wiki:read' } })), false, 'claim-mismatch');
  expectVerdict(scope(input({}, { claims: { scope: ['wiki:write'] } })), true, 'claim-ok');
  const scp = rule({ claim: { scp: 'api.read' } });
  expectVerdict(scp(input({}, { claims: { scp: 'api.read  api.write' } })), true, 'claim-ok');
  const other = rule({ claim: { department: 'eng' } });
  expectVerdict(other(input({}, { claims: { department: 'eng ops' } })), false, 'claim-mismatch');
});
