// policy/rules/domain.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('domain: the part after the only @ of a verified email', () => {
  const check = rule({ domain: ['Example.com'] });
  const v = check(input({}, { email: 'alice@EXAMPLE.com' }));
  expectVerdict(v, true, 'domain-ok');
  assert.equal(v.reasons[0]!.detail, 'example.com');
  expectVerdict(check(input({}, { email: 'alice@example.org' })), false, 'domain-unauthorized');
  expectVerdict(check(input({}, { email: 'alice@sub.example.com' })), false, 'domain-unauthorized');
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});

test('domain: a second @ never matches, nor an unverified or missing email', () => {
  const check = rule({ domain: ['example.com'] });
  expectVerdict(check(input({}, { email: 'alice@evil.com@example.com' })), false, 'domain-unauthorized');
  expectVerdict(check(input({}, { email: '@example.com' })), false, 'domain-unauthorized');
  expectVerdict(check(input({}, { email: 'example.com' })), false, 'domain-unauthorized');
  expectVerdict(check(input({}, { email: undefined })), false, 'domain-unauthorized');
  expectVerdict(check(input({}, { emailVerified: false })), false, 'email-unverified');
  expectVerdict(check(input({}, { emailVerified: undefined })), false, 'email-unverified');
  expectVerdict(check(input({}, { emailVerified: true })), true, 'domain-ok');
});

test('domain: values are domain names, not addresses', () => {
  assert.match(ruleErrors({ domain: ['alice@example.com'] })[0]!, /domain name/);
});
