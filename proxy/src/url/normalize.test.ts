// url/normalize.test.ts — table-driven cases for request-target, Host, header-name and prefix normalization
// (SPEC §3 step 1): one row per case, each an input and what must come out or why it must be refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeHost, normalizeTarget } from './normalize.js';
import { isUnderPrefix } from './path-prefix.js';
import { TARGETS, type Refused } from './normalize.case.js';

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
