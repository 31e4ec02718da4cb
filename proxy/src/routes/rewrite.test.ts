// routes/rewrite.test.ts — the path a route sends upstream: to's path + the authorized path, stripped, prefix-
// replaced or regex-rewritten; a property test that every accepted result is canonical and under to's path, and
// that a regex capture can never turn an allowed, normalized path into a dot segment, `//` or an escape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeTarget } from '../url/normalize.js';
import { compileRewrite, isCanonicalPath, parseReplacement, rewritePath, upstreamTarget, type PathRewrite, type RewriteConfig } from './rewrite.js';

function routeOf(to: string, prefix: string, stripPrefix: boolean, rewrite?: RewriteConfig): { upstream: { basePath: string }; rewrite: PathRewrite | undefined } {
  const p = new URL(to).pathname;
  return { upstream: { basePath: p.endsWith('/') ? p.slice(0, -1) : p }, rewrite: compileRewrite(prefix, stripPrefix, rewrite) };
}
const target = (r: ReturnType<typeof routeOf>, path: string, query = ''): string => {
  const t = upstreamTarget(r as Parameters<typeof upstreamTarget>[0], path, query);
  return t.ok ? t.path : `REFUSED ${t.reason}`;
};

test('without a rewrite: to\'s path + the normalized path (the documented default)', () => {
  const r = routeOf('http://10.0.0.5/assets', '/static', false);
  assert.equal(target(r, '/static/app.css'), '/assets/static/app.css');
  assert.equal(target(r, '/static/app.css', 'v=1'), '/assets/static/app.css?v=1');
  assert.equal(target(routeOf('http://10.0.0.5', '/', false), '/x'), '/x');
  assert.equal(target(routeOf('http://10.0.0.5/', '/', false), '/x'), '/x');
});

test('stripPrefix: the route prefix is removed before to\'s path is prepended; the prefix itself becomes /', () => {
  const r = routeOf('http://10.0.0.5/assets', '/static', true);
  assert.equal(target(r, '/static/app.css'), '/assets/app.css');
  assert.equal(target(r, '/static/css/a.css', 'q=%2F'), '/assets/css/a.css?q=%2F');
  assert.equal(target(r, '/static/'), '/assets/');
  assert.equal(target(r, '/static'), '/assets');
  const bare = routeOf('http://10.0.0.5', '/static', true);
  assert.equal(target(bare, '/static'), '/');
  assert.equal(target(bare, '/static/'), '/');
  assert.equal(target(bare, '/static/x'), '/x');
  // On a `/` route it would be a no-op (validate refuses it): nothing is compiled.
  assert.equal(compileRewrite('/', true, undefined), undefined);
});

test('rewrite.prefix replaces the route prefix; "/" strips it', () => {
  const r = routeOf('http://10.0.0.5', '/api', false, { prefix: '/v2' });
  assert.equal(target(r, '/api/users'), '/v2/users');
  assert.equal(target(r, '/api'), '/v2');
  assert.equal(target(r, '/api/'), '/v2/');
  assert.equal(target(routeOf('http://10.0.0.5/base', '/api', false, { prefix: '/' }), '/api/users'), '/base/users');
  assert.equal(target(routeOf('http://10.0.0.5', '/', false, { prefix: '/app' }), '/x'), '/app/x');
});

test('rewrite.regex: the first match is replaced; no match leaves the path as it is', () => {
  const r = routeOf('http://10.0.0.5/base', '/', false, { regex: '^/old/(.*)$', replace: '/new/$1' });
  assert.equal(target(r, '/old/a/b'), '/base/new/a/b');
  assert.equal(target(r, '/other'), '/base/other');
  const named = routeOf('http://10.0.0.5', '/', false, { regex: '^/u/(?<id>[0-9]+)$', replace: '/users/$<id>/$$$&' });
  assert.equal(target(named, '/u/42'), '/users/42/$/u/42');
});

test('rewrite.regex: a result that is not a canonical path is refused, whatever the captures hold', () => {
  const r = routeOf('http://10.0.0.5', '/', false, { regex: '^/files/(.*)x$', replace: '/data/$1/y' });
  // "/files/..x" is itself canonical ("..x" is no dot segment) and allowed: its capture is "..".
  assert.ok(isCanonicalPath('/files/..x'));
  assert.match(target(r, '/files/..x'), /^REFUSED .*"\/data\/\.\.\/y"/);
  assert.match(target(r, '/files/.x'), /^REFUSED /);
  assert.match(target(r, '/files/x'), /^REFUSED .*"\/data\/\/y"/);
  assert.equal(target(r, '/files/ax'), '/data/a/y');
  // "/files/.." itself never reaches a route: the normalizer resolves it first.
  assert.deepEqual(normalizeTarget('/files/..'), { ok: true, path: '/', query: '' });
  // Escapes assembled from pieces, a query, a relative result.
  const glue = routeOf('http://10.0.0.5', '/', false, { regex: '^/p/([0-9A-Za-z]+)/([0-9A-Za-z]+)$', replace: '/q/$1%$2' });
  assert.match(target(glue, '/p/a/2F'), /^REFUSED .*encoded slash/);
  assert.match(target(glue, '/p/a/2e'), /^REFUSED /);
  assert.match(target(routeOf('http://10.0.0.5', '/', false, { regex: '^/(a)', replace: '$1' }), '/a/b'), /^REFUSED .*does not start with/);
  assert.match(target(routeOf('http://10.0.0.5', '/', false, { regex: '^/a=(.*)$', replace: '/a/$1' }), '/a=~'), /^\/a\/~$/);
});

test('parseReplacement: group references are checked against the regex', () => {
  const re = /^\/(a)\/(?<b>b)$/;
  assert.ok('parts' in parseReplacement('/$1/$2/$<b>/$&/$$', re));
  assert.match((parseReplacement('/$3', re) as { error: string }).error, /group 3, but the regex has only 2/);
  assert.match((parseReplacement('/$0', re) as { error: string }).error, /group 0/);
  assert.match((parseReplacement('/$<c>', re) as { error: string }).error, /names no capture group .*<b>/);
  assert.match((parseReplacement('/$x', re) as { error: string }).error, /\$\$ for a literal/);
  assert.match((parseReplacement('/$1', /^\/x$/) as { error: string }).error, /has none/);
});

// Normalized request paths: segments of characters a path may hold, dots included (single and double dots get
// resolved by the normalizer, as they would be for a request).
const SEGMENT = fc.array(fc.constantFrom('a', 'b', '.', '..', '-', '_', '~', '%20', '%C3%A9', '0', 'x', 'old', 'files', 'static'), { minLength: 0, maxLength: 4 }).map((p) => p.join(''));
const NORMALIZED = fc
  .array(SEGMENT, { minLength: 0, maxLength: 6 })
  .map((segs) => normalizeTarget(`/${segs.join('/')}`))
  .filter((r) => r.ok)
  .map((r) => (r as { path: string }).path);
const REWRITES: [string, string, boolean, RewriteConfig | undefined][] = [
  ['http://10.0.0.5/assets', '/static', true, undefined],
  ['http://10.0.0.5/assets/', '/static', false, undefined],
  ['http://10.0.0.5/b', '/old', false, { prefix: '/v2' }],
  ['http://10.0.0.5/b', '/', false, { prefix: '/app' }],
  ['http://10.0.0.5/b', '/', false, { regex: '^/old/(.*)$', replace: '/new/$1' }],
  ['http://10.0.0.5/b', '/', false, { regex: '^/files/(.*)$', replace: '/$1' }],
  ['http://10.0.0.5/b', '/', false, { regex: '([a-z]+)', replace: '$1.$1' }],
  ['http://10.0.0.5', '/', false, { regex: '^/(.*)/(.*)$', replace: '/$2/$1' }],
  ['http://10.0.0.5', '/', false, { regex: 'a', replace: '/' }],
];

test('property: for every normalized request path, the upstream path is canonical and starts with to\'s path, or refused', () => {
  for (const [to, prefix, strip, rewrite] of REWRITES) {
    const r = routeOf(to, prefix, strip, rewrite);
    const base = r.upstream.basePath;
    fc.assert(
      fc.property(NORMALIZED, (path) => {
        // A route with a prefix only ever sees paths under it.
        const request = prefix === '/' || path === prefix || path.startsWith(`${prefix}/`) ? path : `${prefix}${path === '/' ? '' : path}`;
        const t = upstreamTarget(r as Parameters<typeof upstreamTarget>[0], request, '');
        if (!t.ok) {
          assert.ok(rewrite !== undefined && 'regex' in rewrite, `only a regex rewrite may be refused (${request})`);
          return;
        }
        assert.ok(t.path.startsWith(`${base}/`) || (base !== '' && t.path === base), `${t.path} under ${base}`);
        const rest = t.path.slice(base.length) || '/';
        assert.ok(isCanonicalPath(rest), `${rest} canonical (from ${request})`);
        assert.ok(isCanonicalPath(t.path), `${t.path} canonical`);
      }),
      { numRuns: 500 },
    );
  }
});

test('property: rewritePath never returns a path the normalizer would change', () => {
  const rewrite = compileRewrite('/', false, { regex: '^/([^/]*)/([^/]*)(.*)$', replace: '/$2$1/$3' })!;
  fc.assert(
    fc.property(NORMALIZED, (path) => {
      const r = rewritePath(rewrite, path);
      if (r.ok) assert.deepEqual(normalizeTarget(r.path), { ok: true, path: r.path, query: '' });
    }),
    { numRuns: 1000 },
  );
});
