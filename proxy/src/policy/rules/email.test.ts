// policy/rules/email.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('email: listed addresses pass, compared case-insensitively', () => {
  const check = rule({ email: ['Alice@Example.com'] });
  expectVerdict(check(input({}, { email: 'alice@example.COM' })), true, 'email-ok');
  expectVerdict(check(input({}, { email: 'mallory@example.com' })), false, 'email-unauthorized');
  expectVerdict(check(input({}, { email: undefined })), false, 'email-unauthorized');
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});

test('email: only a verified email matches: email_verified false or unknown never does', () => {
  const check = rule({ email: ['alice@example.com'] });
  expectVerdict(check(input({}, { emailVerified: true })), true, 'email-ok');
  expectVerdict(check(input({}, { emailVerified: false })), false, 'email-unverified');
  expectVerdict(check(input({}, { emailVerified: undefined })), false, 'email-unverified');
  expectVerdict(check(input({}, { email: 'bob@example.com', emailVerified: false })), false, 'email-unauthorized');
});

test('email: values must look like email addresses', () => {
  assert.match(ruleErrors({ email: ['alice'] })[0]!, /email address/);
  assert.equal(ruleErrors({ email: ['a@b@c'] }).length, 1);
  assert.equal(ruleErrors({ email: [] }).length, 1);
});
