// policy/rules/path.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';

test('path: prefixes match whole segments', () => {
  const check = rule({ path: ['/admin'] });
  expectVerdict(check(input({ path: '/admin' })), true, 'path-ok');
  expectVerdict(check(input({ path: '/admin/' })), true, 'path-ok');
  expectVerdict(check(input({ path: '/admin/users/1' })), true, 'path-ok');
  expectVerdict(check(input({ path: '/administrator' })), false, 'path-outside');
  expectVerdict(check(input({ path: '/adm' })), false, 'path-outside');
  expectVerdict(check(input({ path: '/' })), false, 'path-outside');
});

test('path: / matches every path; a trailing / on a prefix is ignored', () => {
  const all = rule({ path: ['/'] });
  for (const p of ['/', '/x', '/a/b']) expectVerdict(all(input({ path: p })), true, 'path-ok');
  const trailing = rule({ path: ['/reports/'] });
  expectVerdict(trailing(input({ path: '/reports' })), true, 'path-ok');
  expectVerdict(trailing(input({ path: '/reports/q1' })), true, 'path-ok');
  expectVerdict(trailing(input({ path: '/reportsx' })), false, 'path-outside');
});

test('path: prefixes start with /', () => {
  assert.match(ruleErrors({ path: ['admin'] })[0]!, /starts with \//);
});
