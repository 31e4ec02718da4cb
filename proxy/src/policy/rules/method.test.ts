// policy/rules/method.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('method: a listed method passes, however it was written', () => {
  const check = rule({ method: ['get', 'HEAD'] });
  expectVerdict(check(input({ method: 'GET' })), true, 'method-ok');
  expectVerdict(check(input({ method: 'HEAD' })), true, 'method-ok');
  const v = check(input({ method: 'POST' }));
  expectVerdict(v, false, 'method-not-allowed');
  assert.equal(v.reasons[0]!.detail, 'POST');
});

test('method: needs no identity', () => {
  expectVerdict(rule({ method: ['GET'] })(input({}, null)), true, 'method-ok');
});

test('method: values are method names', () => {
  assert.match(ruleErrors({ method: ['GET /'] })[0]!, /HTTP method/);
});
