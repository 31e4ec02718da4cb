// routes/compile.test.ts — matching: host (exact beats wildcard), longest segment-aware prefix,
// regex routes after prefixes in file order, methods, no match; one frozen route object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { compileConfig, type MatchResult } from './compile.js';
import { normalizeTarget } from '../url/normalize.js';
import { isUnderPrefix } from '../url/path-prefix.js';

function compiled(routes: string) {
  const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
${routes}`;
  const r = loadConfigText(text, 't.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return compileConfig(r.config);
}

const route = (name: string, from: string, extra = '') => `  - { name: ${name}, from: "${from}", to: "http://10.0.0.1:80", public: true${extra} }\n`;

const TABLE = compiled(
  route('root', 'https://wiki.example.com') +
    route('admin', 'https://wiki.example.com/admin', ', methods: [GET, POST]') +
    route('admin-users', 'https://wiki.example.com/admin/users') +
    route('static', 'https://wiki.example.com/static/') +
    route('wild', 'https://*.example.com') +
    route('wild-api', 'https://*.example.com/api') +
    route('wild-port', 'https://*.example.com:8443/p') +
    route('exact-app', 'https://app.example.com/app') +
    route('port', 'https://wiki.example.com:8443/special') +
    route('re-first', 'https://re.example.com', ', regex: "^/items/[0-9]+$"') +
    route('re-second', 'https://re.example.com', ', regex: "^/items/"') +
    route('re-prefix', 'https://re.example.com/items/7') +
    route('trace', 'https://trace.example.com', ', methods: [GET, TRACE]'),
).table;

function name(m: MatchResult): string {
  return 'status' in m ? String(m.status) : m.name;
}

const CASES: Array<[string, number | undefined, string, string, string]> = [
  // host, port, path, method, expected
  ['wiki.example.com', undefined, '/', 'GET', 'root'],
  ['wiki.example.com', undefined, '/admin', 'GET', 'admin'],
  ['wiki.example.com', undefined, '/admin/', 'GET', 'admin'],
  ['wiki.example.com', undefined, '/admin/x/y', 'POST', 'admin'],
  ['wiki.example.com', undefined, '/administrator', 'GET', 'root'],
  ['wiki.example.com', undefined, '/admin/users', 'DELETE', 'admin-users'],
  ['wiki.example.com', undefined, '/admin/usersx', 'GET', 'admin'],
  ['wiki.example.com', undefined, '/admin/x', 'DELETE', '405'],
  ['wiki.example.com', undefined, '/static', 'GET', 'static'],
  ['wiki.example.com', undefined, '/static/a.css', 'GET', 'static'],
  ['wiki.example.com', undefined, '/staticx', 'GET', 'root'],
  ['wiki.example.com', 8443, '/special/a', 'GET', 'port'],
  ['wiki.example.com', 8443, '/other', 'GET', 'root'],
  ['wiki.example.com', 9999, '/special/a', 'GET', 'root'],
  ['foo.example.com', undefined, '/', 'GET', 'wild'],
  ['foo.example.com', undefined, '/api/v1', 'GET', 'wild-api'],
  ['foo.example.com', 8443, '/p/x', 'GET', 'wild-port'],
  ['foo.example.com', 8443, '/api', 'GET', 'wild-api'],
  ['foo.example.com', 8443, '/', 'GET', 'wild'],
  ['foo.example.com', undefined, '/p/x', 'GET', 'wild'],
  ['wiki.example.com', 8443, '/p', 'GET', 'root'],
  ['a.b.example.com', undefined, '/', 'GET', '404'],
  ['example.com', undefined, '/', 'GET', '404'],
  ['app.example.com', undefined, '/app/x', 'GET', 'exact-app'],
  // exact host beats wildcard, even when the wildcard has a matching prefix and the exact host has none
  ['app.example.com', undefined, '/api', 'GET', '404'],
  ['re.example.com', undefined, '/items/7', 'GET', 're-prefix'],
  ['re.example.com', undefined, '/items/8', 'GET', 're-first'],
  ['re.example.com', undefined, '/items/x', 'GET', 're-second'],
  ['re.example.com', undefined, '/other', 'GET', '404'],
  ['nothing.test', undefined, '/', 'GET', '404'],
  // TRACE would echo the identity headers and the assertion back: refused unless the route names it.
  ['wiki.example.com', undefined, '/', 'TRACE', '405'],
  ['wiki.example.com', undefined, '/admin/x', 'TRACE', '405'],
  ['trace.example.com', undefined, '/x', 'TRACE', 'trace'],
];

for (const [host, port, path, method, expected] of CASES) {
  test(`match ${method} ${host}${port ? `:${port}` : ''}${path} → ${expected}`, () => {
    assert.equal(name(TABLE.match(host, port, path, method)), expected);
  });
}

test('the matched route is one frozen object, the same on every match', () => {
  const a = TABLE.match('wiki.example.com', undefined, '/admin/a', 'GET');
  const b = TABLE.match('wiki.example.com', undefined, '/admin/b', 'POST');
  assert.ok(!('status' in a));
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
  assert.throws(() => {
    (a as { name: string }).name = 'other';
  });
});

test('a request is never matched to a route whose prefix it is not under (property)', () => {
  const segment = fc.constantFrom('admin', 'administrator', 'admin2', 'users', 'static', 'staticx', 'api', 'items', '7', 'x', 'special', 'a.css', '');
  fc.assert(
    fc.property(fc.constantFrom('wiki.example.com', 'foo.example.com', 'app.example.com', 're.example.com'), fc.array(segment, { maxLength: 5 }), fc.boolean(), (host, segs, trailing) => {
      const raw = `/${segs.join('/')}${trailing ? '/' : ''}`;
      const n = normalizeTarget(raw);
      if (!n.ok) return true;
      const m = TABLE.match(host, undefined, n.path, 'GET');
      if ('status' in m) return true;
      if (m.regex) return m.regex.test(n.path);
      return isUnderPrefix(n.path, m.prefix);
    }),
    { numRuns: 3000 },
  );
});

test('10,000 routes compile and match by hash lookups', () => {
  let routes = '';
  for (let i = 0; i < 10000; i++) routes += route(`r${i}`, `https://h${i % 500}.example.com/p${i}`);
  const big = compiled(routes).table;
  assert.equal(name(big.match('h7.example.com', undefined, '/p7/x', 'GET')), 'r7');
  assert.equal(name(big.match('h7.example.com', undefined, '/p8', 'GET')), '404');
});

test('the longest prefix wins, as a naive scan of every route finds it (property)', () => {
  // `/p58458` and `/p905806` share an index hash: a collision must still match exactly.
  const prefixes = ['/a', '/a/b', '/a/b/c', '/ab', '/b', '/a/bc', '/p58458', '/p905806', '/p58458/x'];
  const table = compiled(route('root', 'https://h.example.com') + prefixes.map((p, i) => route(`r${i}`, `https://h.example.com${p}`)).join('')).table;
  const naive = (path: string) => {
    let best = 'root';
    let length = 0;
    prefixes.forEach((p, i) => {
      if (p.length > length && isUnderPrefix(path, p)) [best, length] = [`r${i}`, p.length];
    });
    return best;
  };
  const segment = fc.constantFrom('a', 'b', 'c', 'ab', 'bc', 'p58458', 'p905806', 'x', '');
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 5 }), fc.boolean(), (segs, trailing) => {
      const n = normalizeTarget(`/${segs.join('/')}${trailing ? '/' : ''}`);
      if (!n.ok) return true;
      assert.equal(name(table.match('h.example.com', undefined, n.path, 'GET')), naive(n.path), n.path);
      return true;
    }),
    { numRuns: 3000 },
  );
  assert.equal(name(table.match('h.example.com', undefined, '/p905806/y', 'GET')), 'r7');
  assert.equal(name(table.match('h.example.com', undefined, '/p58458', 'GET')), 'r6');
});

test('routes share what they have in common: one upstream object per `to`, one method set, one prefix string', () => {
  const { routes } = compiled(
    route('a', 'https://a.example.com/x', ', methods: [GET]') +
      route('b', 'https://b.example.com/x', ', methods: [GET]') +
      '  - { name: c, from: "https://c.example.com/x", to: "http://10.0.0.2:80/base/", public: true }\n' +
      '  - { name: d, from: "https://d.example.com/x", to: "http://10.0.0.2:80/base/", public: true }\n',
  ).table;
  const [a, b, c, d] = routes;
  assert.equal(a!.upstream, b!.upstream);
  assert.equal(c!.upstream, d!.upstream);
  assert.notEqual(a!.upstream, c!.upstream);
  assert.deepEqual({ ...c!.upstream }, { protocol: 'http:', hostname: '10.0.0.2', port: 80, origin: 'http://10.0.0.2', basePath: '/base', hostHeader: '10.0.0.2' });
  assert.ok(Object.isFrozen(a!.upstream));
  assert.equal(a!.methods, b!.methods);
  assert.equal(a!.prefix, b!.prefix);
});
