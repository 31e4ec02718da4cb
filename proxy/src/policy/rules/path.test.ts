// policy/rules/path.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseFrom } from '../../routes/from.js';
import { normalizeTarget } from '../../url/normalize.js';
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

// Spellings no normalized request path is under (SPEC §3): refused, never a rule that silently never matches.
const NOT_CANONICAL = ['/a//b', '/x/./y', '/x/../y', '/a/.', '/a/..', '/..', '/%73ecret', '/caf%c3%a9', '/caf%C3%A9', '/a%2Fb', '/a;b', '/a b', '/a?b', '/a#b', '/café', '/a\\b', '/a/!'];

test('path: a prefix that is not written normalized is refused, exactly as a route\'s "from" path is', () => {
  for (const p of NOT_CANONICAL) {
    const errs = ruleErrors({ path: ['/ok', p] });
    assert.equal(errs.length, 1, `${p}: ${errs.join('; ')}`);
    const from = parseFrom(`https://h.example.com${p}`);
    assert.ok('error' in from, `"from" accepts ${p}`);
    // `?` and `#` end the path of a URL: "from" refuses them as a URL, not as a path.
    if (from.error.startsWith('"from" path')) assert.equal(errs[0], `path.1: ${from.error.replace('"from" path', 'a path prefix')}`);
  }
  assert.deepEqual(ruleErrors({ path: ['/a//b'] }), ['path.0: a path prefix must be normalized: write "/a/b" instead of "/a//b"']);
  assert.deepEqual(ruleErrors({ path: ['/%73ecret'] }), ['path.0: a path prefix may only contain letters, digits, "-", ".", "_", "~" and "/" (got "/%73ecret")']);
  // Nested in combinators too: one schema for every place a rule can appear.
  assert.equal(ruleErrors({ and: [{ groups: ['x'] }, { not: { or: [{ path: ['/x/./y'] }] } }] })[0], 'and.1.not.or.0.path.0: a path prefix must be normalized: write "/x/y" instead of "/x/./y"');
});

test('path: every prefix the schema accepts is one "from" accepts, and a request for it is under it (property)', () => {
  const piece = fc.constantFrom('a', 'b', '.', '..', '/', '//', '%73', '%2F', '%c3%a9', '%C3%A9', '~', '-', '_', '!', ';', ' ');
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), (pieces) => {
      const p = `/${pieces.join('')}`;
      const accepted = ruleErrors({ path: [p] }).length === 0;
      const from = parseFrom(`https://h.example.com${p}`);
      assert.equal(accepted, !('error' in from), p);
      if (!accepted) return true;
      const request = normalizeTarget(p);
      assert.ok(request.ok, p);
      expectVerdict(rule({ path: [p] })(input({ path: request.path })), true, 'path-ok');
      expectVerdict(rule({ path: [p] })(input({ path: `${request.path.replace(/\/$/, '')}/x` })), true, 'path-ok');
      return true;
    }),
    { numRuns: 3000 },
  );
});
