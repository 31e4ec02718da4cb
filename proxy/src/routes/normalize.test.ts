// routes/normalize.test.ts — table-driven cases for request-target, Host, header-name and prefix normalization
// (SPEC §3 step 1): one row per case, each an input and what must come out or why it must be refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dropUnderscoreHeaders, normalizeHost, normalizeTarget } from './normalize.js';
import { isUnderPrefix } from './path-prefix.js';

type Refused = { reason: RegExp };
type TargetRow = readonly [input: string, expected: { path: string; query?: string } | Refused];

const TARGETS: readonly TargetRow[] = [
  // already clean (fast path)
  ['/', { path: '/' }],
  ['/a/b', { path: '/a/b' }],
  ['/a/b/', { path: '/a/b/' }],
  ['/Admin', { path: '/Admin' }], // case-sensitive
  ["/a-b_c.d~e/!$&'()*+,=:@", { path: "/a-b_c.d~e/!$&'()*+,=:@" }],
  ['/...', { path: '/...' }],
  ['/a..b/.c/..d', { path: '/a..b/.c/..d' }],
  // encoded dots and dot segments
  ['/%2e%2e', { reason: /above the root/ }],
  ['/a/%2e%2e', { path: '/' }],
  ['/a/b/%2E%2E/', { path: '/a/' }],
  ['/a/%2E%2e/b', { path: '/b' }],
  ['/a/.%2e/b', { path: '/b' }],
  ['/a/%2e/b', { path: '/a/b' }],
  ['/a%2eb', { path: '/a.b' }],
  ['/./', { path: '/' }],
  ['/.', { path: '/' }],
  ['/a/.', { path: '/a/' }],
  ['/a/./b', { path: '/a/b' }],
  ['/a/..', { path: '/' }],
  ['/a/b/..', { path: '/a/' }],
  ['/a/./b/../c//d/', { path: '/a/c/d/' }],
  ['/../', { reason: /above the root/ }],
  ['/..', { reason: /above the root/ }],
  ['/../x', { reason: /above the root/ }],
  ['/a/../../x', { reason: /above the root/ }],
  ['/a/b/../../..', { reason: /above the root/ }],
  ['/.%2e/admin', { reason: /above the root/ }],
  // repeated slashes
  ['//admin', { path: '/admin' }],
  ['//', { path: '/' }],
  ['/a//b', { path: '/a/b' }],
  ['/a///', { path: '/a/' }],
  ['//evil.example/x', { path: '/evil.example/x' }],
  // encoded slash and backslash
  ['/a%2Fb', { reason: /encoded slash \(%2F\)/ }],
  ['/a%2fb', { reason: /encoded slash \(%2F\)/ }],
  ['/%2e%2e%2fadmin', { reason: /encoded slash/ }],
  ['/a%5Cb', { reason: /encoded backslash/ }],
  ['/a%5cb', { reason: /encoded backslash/ }],
  ['/a\\b', { reason: /backslash/ }],
  ['/..\\admin', { reason: /backslash/ }],
  // path parameters and "..;"
  ['/admin;x', { reason: /semicolon/ }],
  ['/a;jsessionid=1', { reason: /semicolon/ }],
  ['/..;/admin', { reason: /"\.\.;"/ }],
  ['/public/..;/admin', { reason: /"\.\.;"/ }],
  ['/%2e%2e;/admin', { reason: /"\.\.;"/ }],
  ['/.;/admin', { reason: /"\.\.;"/ }],
  ['/..%3b/admin', { reason: /"\.\.;"/ }],
  ['/.%3B/admin', { reason: /"\.\.;"/ }],
  ['/a%3bb', { path: '/a%3Bb' }],
  ['/%3B', { path: '/%3B' }],
  // control characters, spaces, non-ASCII
  ['/a%00b', { reason: /encoded control/ }],
  ['/a%0d%0aX:1', { reason: /encoded control/ }],
  ['/a%1F', { reason: /encoded control/ }],
  ['/a%7f', { reason: /encoded control/ }],
  ['/a\u0000b', { reason: /control character in path/ }],
  ['/a\tb', { reason: /control character in path/ }],
  ['/a\r\nb', { reason: /control character in path/ }],
  ['/a\u007f', { reason: /control character in path/ }],
  ['/a b', { reason: /space in path/ }],
  ['/caf\u00e9', { reason: /non-ASCII/ }],
  ['/\u2215admin', { reason: /non-ASCII/ }],
  ['/%c0%ae%c0%ae/admin', { reason: /overlong/ }],
  ['/%C1%9C', { reason: /overlong/ }],
  // invalid percent-encoding
  ['/%zz', { reason: /invalid percent-encoding in path/ }],
  ['/%4', { reason: /invalid percent-encoding in path/ }],
  ['/a%', { reason: /invalid percent-encoding in path/ }],
  ['/a%g1', { reason: /invalid percent-encoding in path/ }],
  ['/a%%41', { reason: /invalid percent-encoding in path/ }],
  ['/a%4?x', { reason: /invalid percent-encoding in path/ }],
  // unreserved decoded, everything else kept with upper-case hex
  ['/%61dmin', { path: '/admin' }],
  ['/%41%5a%30%39%2D%2E%5F%7E', { path: '/AZ09-._~' }],
  ['/caf%c3%a9', { path: '/caf%C3%A9' }],
  ['/a%20b', { path: '/a%20b' }],
  ['/a%25b', { path: '/a%25b' }],
  ['/a%252e%252e', { path: '/a%252e%252e' }], // decoded once only: "2e" after %25 is plain text
  ['/a%3a%40%21', { path: '/a%3A%40%21' }],
  ['/a|b^c[d]{e}`"<>', { path: '/a%7Cb%5Ec%5Bd%5D%7Be%7D%60%22%3C%3E' }],
  // fragment and "#"
  ['/a#frag', { path: '/a', query: '' }],
  ['/a#/../../x', { path: '/a', query: '' }],
  ['/a#b?c', { path: '/a', query: '' }],
  ['/a?x=1#frag', { path: '/a', query: 'x=1' }],
  ['/a%23b', { path: '/a%23b' }],
  ['/a#\u0000', { reason: /control character in fragment/ }],
  // query: verbatim, never part of the path
  ['/a?x=1&y=%2F&z=%zz', { reason: /invalid percent-encoding in query/ }],
  ['/a?x=1&y=%2f&z=%5c', { path: '/a', query: 'x=1&y=%2f&z=%5c' }],
  ['/admin?x=/../..', { path: '/admin', query: 'x=/../..' }],
  ['/a/../b?q=%61;..;\\//', { path: '/b', query: 'q=%61;..;\\//' }],
  ['/a?', { path: '/a', query: '' }],
  ['/?a?b', { path: '/', query: 'a?b' }],
  ['/%2e%2e?x', { reason: /above the root/ }],
  ['/a?100%25', { path: '/a', query: '100%25' }],
  ['/a?x=%00', { reason: /encoded control character in query/ }],
  ['/a?x=%0A', { reason: /encoded control character in query/ }],
  ['/a?x=\u0001', { reason: /control character in query/ }],
  ['/a?x=a b', { reason: /space in query/ }],
  ['/a?x=\u00e9', { reason: /non-ASCII character in query/ }],
  ['/a?x=%', { reason: /invalid percent-encoding in query/ }],
  // not origin form
  ['', { reason: /must start with "\/"/ }],
  ['*', { reason: /must start with "\/"/ }],
  ['http://example.com/a', { reason: /must start with "\/"/ }],
  ['a/b', { reason: /must start with "\/"/ }],
  ['?x=1', { reason: /must start with "\/"/ }],
  ['%2Fa', { reason: /must start with "\/"/ }],
  ['\\a', { reason: /must start with "\/"/ }],
];

describe('normalizeTarget', () => {
  for (const [input, expected] of TARGETS) {
    test(JSON.stringify(input), () => {
      const got = normalizeTarget(input);
      if ('reason' in expected) {
        assert.equal(got.ok, false, `expected refusal, got ${JSON.stringify(got)}`);
        if (!got.ok) assert.match(got.reason, expected.reason);
        return;
      }
      assert.deepEqual(got, { ok: true, path: expected.path, query: expected.query ?? '' });
      assert.deepEqual(normalizeTarget(expected.path), { ok: true, path: expected.path, query: '' }, 'idempotent');
    });
  }
});

type HostRow = readonly [raw: string | undefined, scheme: 'http' | 'https', expected: { host: string; hostname: string; port?: number } | Refused];

const HOSTS: readonly HostRow[] = [
  ['example.com', 'https', { host: 'example.com', hostname: 'example.com' }],
  ['Example.COM', 'https', { host: 'example.com', hostname: 'example.com' }],
  ['WIKI.example.com', 'http', { host: 'wiki.example.com', hostname: 'wiki.example.com' }],
  ['example.com.', 'https', { host: 'example.com', hostname: 'example.com' }],
  ['Example.COM.:8443', 'https', { host: 'example.com:8443', hostname: 'example.com', port: 8443 }],
  ['localhost', 'http', { host: 'localhost', hostname: 'localhost' }],
  ['127.0.0.1:8080', 'http', { host: '127.0.0.1:8080', hostname: '127.0.0.1', port: 8080 }],
  ['xn--caf-dma.example', 'https', { host: 'xn--caf-dma.example', hostname: 'xn--caf-dma.example' }],
  // default ports are dropped, others kept, per scheme
  ['example.com:443', 'https', { host: 'example.com', hostname: 'example.com' }],
  ['example.com:80', 'http', { host: 'example.com', hostname: 'example.com' }],
  ['example.com:80', 'https', { host: 'example.com:80', hostname: 'example.com', port: 80 }],
  ['example.com:443', 'http', { host: 'example.com:443', hostname: 'example.com', port: 443 }],
  ['example.com:8443', 'https', { host: 'example.com:8443', hostname: 'example.com', port: 8443 }],
  ['example.com:8080', 'http', { host: 'example.com:8080', hostname: 'example.com', port: 8080 }],
  ['example.com:1', 'http', { host: 'example.com:1', hostname: 'example.com', port: 1 }],
  ['example.com:65535', 'http', { host: 'example.com:65535', hostname: 'example.com', port: 65535 }],
  // IPv6 literals: canonical, brackets kept in hostname too
  ['[::1]', 'http', { host: '[::1]', hostname: '[::1]' }],
  ['[::1]:8080', 'http', { host: '[::1]:8080', hostname: '[::1]', port: 8080 }],
  ['[::1]:443', 'https', { host: '[::1]', hostname: '[::1]' }],
  ['[2001:DB8::A]', 'https', { host: '[2001:db8::a]', hostname: '[2001:db8::a]' }],
  ['[0:0:0:0:0:0:0:1]', 'https', { host: '[::1]', hostname: '[::1]' }],
  ['[2001:0db8:0000:0000:0001:0000:0000:0001]', 'https', { host: '[2001:db8::1:0:0:1]', hostname: '[2001:db8::1:0:0:1]' }],
  ['[::]', 'http', { host: '[::]', hostname: '[::]' }],
  ['[1::]', 'http', { host: '[1::]', hostname: '[1::]' }],
  ['[::ffff:192.0.2.1]', 'http', { host: '[::ffff:c000:201]', hostname: '[::ffff:c000:201]' }],
  ['[::1', 'http', { reason: /invalid IPv6/ }],
  ['[]', 'http', { reason: /invalid IPv6/ }],
  ['[::1::2]', 'http', { reason: /invalid IPv6/ }],
  ['[1:2:3:4:5:6:7:8:9]', 'http', { reason: /invalid IPv6/ }],
  ['[1:2:3:4:5:6:7]', 'http', { reason: /invalid IPv6/ }],
  ['[12345::1]', 'http', { reason: /invalid IPv6/ }],
  ['[fe80::1%25eth0]', 'http', { reason: /invalid IPv6/ }],
  ['[::ffff:1.2.3.04]', 'http', { reason: /invalid IPv6/ }],
  ['[example.com]', 'http', { reason: /invalid IPv6/ }],
  ['[::1]x', 'http', { reason: /invalid character/ }],
  ['[::1]:', 'http', { reason: /empty port/ }],
  ['::1', 'http', { reason: /more than one ":"/ }],
  // missing, userinfo, characters, labels
  [undefined, 'https', { reason: /missing Host/ }],
  ['', 'https', { reason: /missing Host/ }],
  ['user@example.com', 'https', { reason: /userinfo/ }],
  ['user:pass@example.com', 'https', { reason: /userinfo/ }],
  ['evil.com@example.com', 'https', { reason: /userinfo/ }],
  ['exa mple.com', 'https', { reason: /invalid character/ }],
  [' example.com', 'https', { reason: /invalid character/ }],
  ['example.com\r\nX: y', 'https', { reason: /invalid character/ }],
  ['example.com\u0000', 'https', { reason: /invalid character/ }],
  ['my_app.example.com', 'https', { reason: /invalid character/ }],
  ['example.com/x', 'https', { reason: /invalid character/ }],
  ['ex%61mple.com', 'https', { reason: /invalid character/ }],
  ['caf\u00e9.example', 'https', { reason: /invalid character/ }],
  ['*.example.com', 'https', { reason: /invalid character/ }],
  ['a..b', 'https', { reason: /empty label/ }],
  ['.example.com', 'https', { reason: /empty label/ }],
  ['example.com..', 'https', { reason: /empty label/ }],
  ['.', 'https', { reason: /empty label/ }],
  ['-a.example.com', 'https', { reason: /"-"/ }],
  ['a-.example.com', 'https', { reason: /"-"/ }],
  [`${'a'.repeat(64)}.com`, 'https', { reason: /63/ }],
  [`${'a.'.repeat(127)}ab`, 'https', { reason: /253/ }],
  // ports
  ['example.com:', 'https', { reason: /empty port/ }],
  [':443', 'https', { reason: /empty host name/ }],
  ['example.com:0', 'https', { reason: /port/ }],
  ['example.com:65536', 'https', { reason: /port/ }],
  ['example.com:99999999999999999999', 'https', { reason: /port/ }],
  ['example.com:0443', 'https', { reason: /port/ }],
  ['example.com:-1', 'https', { reason: /port/ }],
  ['example.com:+80', 'https', { reason: /port/ }],
  ['example.com:8a', 'https', { reason: /port/ }],
  ['example.com: 80', 'https', { reason: /port/ }],
  ['example.com:80:80', 'https', { reason: /more than one ":"/ }],
];

describe('normalizeHost', () => {
  for (const [raw, scheme, expected] of HOSTS) {
    test(`${JSON.stringify(raw)} (${scheme})`, () => {
      const got = normalizeHost(raw, scheme);
      if ('reason' in expected) {
        assert.equal(got.ok, false, `expected refusal, got ${JSON.stringify(got)}`);
        if (!got.ok) assert.match(got.reason, expected.reason);
        return;
      }
      assert.deepEqual(got, { ok: true, ...expected });
      assert.deepEqual(normalizeHost(expected.host, scheme), got, 'idempotent');
    });
  }
});

type PrefixRow = readonly [path: string, prefix: string, expected: boolean];

const PREFIXES: readonly PrefixRow[] = [
  ['/admin', '/admin', true],
  ['/admin/', '/admin', true],
  ['/admin/x/y', '/admin', true],
  ['/administrator', '/admin', false],
  ['/admin2/x', '/admin', false],
  ['/adm', '/admin', false],
  ['/', '/admin', false],
  ['/Admin', '/admin', false],
  ['/x/admin', '/admin', false],
  ['/', '/', true],
  ['/anything/at/all', '/', true],
  ['/admin', '/admin/', true],
  ['/admin/', '/admin/', true],
  ['/admin/x', '/admin/', true],
  ['/administrator', '/admin/', false],
  ['/a/b/c', '/a/b', true],
  ['/a/bc', '/a/b', false],
  ['/a', '/a/b', false],
  ['/admin', '', false],
  ['/admin', 'admin', false],
];

describe('isUnderPrefix', () => {
  for (const [path, prefix, expected] of PREFIXES) {
    test(`${JSON.stringify(path)} under ${JSON.stringify(prefix)} is ${expected}`, () => {
      assert.equal(isUnderPrefix(path, prefix), expected);
    });
  }
});

describe('dropUnderscoreHeaders', () => {
  test('drops every name containing "_" and counts them', () => {
    const headers: Record<string, unknown> = {
      host: 'example.com',
      'x-forwarded-user': 'mallory',
      x_forwarded_user: 'alice',
      'x-drawbridge_assertion': 'forged',
      _: 'x',
      'user-agent': 'test',
      'set-cookie': ['a=1'],
    };
    assert.equal(dropUnderscoreHeaders(headers), 3);
    assert.deepEqual(headers, { host: 'example.com', 'x-forwarded-user': 'mallory', 'user-agent': 'test', 'set-cookie': ['a=1'] });
  });

  test('leaves clean headers alone and returns 0', () => {
    const headers: Record<string, unknown> = { host: 'example.com', accept: '*/*' };
    assert.equal(dropUnderscoreHeaders(headers), 0);
    assert.deepEqual(headers, { host: 'example.com', accept: '*/*' });
  });

  test('works on a null-prototype object like req.headers', () => {
    const headers = Object.assign(Object.create(null) as Record<string, unknown>, { a_b: '1', c: '2' });
    assert.equal(dropUnderscoreHeaders(headers), 1);
    assert.deepEqual(Object.keys(headers), ['c']);
  });
});
