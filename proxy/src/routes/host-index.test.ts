// routes/host-index.test.ts — the flat lookup finds exactly the route the matching rules name: RouteTable.match held equal
// to a plain reading of them (exact host with port, exact host, wildcard with port, wildcard; port-less routes inherited
// by a host's port; longest segment-aware prefix; regex routes in file order; methods) over hosts, ports and paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { compileConfig, type MatchResult, type Route } from './compile.js';
import { isUnderPrefix } from '../url/path-prefix.js';

function compiled(routes: string[]) {
  const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
${routes.join('')}`;
  const r = loadConfigText(text, 't.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return compileConfig(r.config);
}

/** The matching rules read plainly, over the route list (no index). */
function reference(routes: readonly Route[], hostname: string, port: number | undefined, path: string, method: string): string {
  const on = (wild: boolean, name: string, p: number | undefined) => routes.filter((r) => r.wildcard === wild && r.hostname === name && r.port === p);
  const serving = (wild: boolean, name: string): Route[] | undefined => {
    const any = on(wild, name, undefined);
    const own = port !== undefined ? on(wild, name, port) : [];
    // A host's port inherits the host's port-less routes; its own prefixes win.
    if (own.length > 0) return [...own, ...any.filter((a) => a.regex !== undefined || !own.some((o) => o.regex === undefined && o.prefix === a.prefix))];
    return any.length > 0 ? any : undefined;
  };
  const dot = hostname.indexOf('.');
  const set = serving(false, hostname) ?? (dot > 0 ? serving(true, hostname.slice(dot + 1)) : undefined);
  if (set === undefined) return '404';
  let best: Route | undefined;
  for (const r of set) if (r.regex === undefined && isUnderPrefix(path, r.prefix) && (best === undefined || r.prefix.length > best.prefix.length)) best = r;
  best ??= set.filter((r) => r.regex !== undefined).sort((a, b) => a.index - b.index).find((r) => r.regex!.test(path));
  if (best === undefined) return '404';
  if (best.methods ? !best.methods.has(method) : method === 'TRACE') return '405';
  return best.name;
}

const name = (m: MatchResult): string => ('status' in m ? String(m.status) : m.name);

const LONG = '/l/0123456789/0123456789/0123456789/end';
const PREFIXES = ['', '/a', '/a/b', '/ab', '/a/b/c', '/team1', '/team1/admin', '/team19/admin', LONG, `${LONG}/more/x`];
const HOSTS = ['a.example.com', 'b.example.com', '*.example.com', '*.w.example.com', '[::1]', 'single'];

/** Every host with and without a port, each with a few of PREFIXES, regex routes on some, methods on some. */
function mixedRoutes(): string[] {
  const out: string[] = [];
  let i = 0;
  HOSTS.forEach((host, h) => {
    // Every other host has no `/` route but regex routes (after a `/` route they could never match).
    const regex = h % 2 === 1 && host !== 'single';
    for (const port of ['', ':8443']) {
      PREFIXES.forEach((prefix, k) => {
        if (prefix === '' ? regex : !prefix.startsWith('/l/') && (k + i) % 3 === 2) return;
        const extra = k % 4 === 1 ? ', methods: [GET, POST]' : '';
        out.push(`  - { name: r${i++}, from: "https://${host}${port}${prefix}", to: "http://10.0.0.1:80", public: true${extra} }\n`);
      });
      if (regex && port === '') out.push(`  - { name: r${i++}, from: "https://${host}", to: "http://10.0.0.1:80", public: true, regex: "^/re/[0-9]+$" }\n`);
      if (regex && port !== '') out.push(`  - { name: r${i++}, from: "https://${host}${port}", to: "http://10.0.0.1:80", public: true, regex: "^/(re|q)/" }\n`);
    }
  });
  // A host only with regex routes, and one only on a port.
  out.push(`  - { name: r${i++}, from: "https://re.example.com", to: "http://10.0.0.1:80", public: true, regex: "^/items/" }\n`);
  out.push(`  - { name: r${i++}, from: "https://portonly.example.com:9000/p", to: "http://10.0.0.1:80", public: true }\n`);
  return out;
}

const REQUEST_HOSTS = ['a.example.com', 'b.example.com', 'c.example.com', 'x.w.example.com', 'x.y.example.com', 'example.com', '[::1]', 'single', 'other', 're.example.com', 'portonly.example.com', '.example.com'];
const REQUEST_PATHS = ['/', '/a', '/a/', '/a/b', '/a/bc', '/a/b/c/d', '/ab', '/abc', '/team1/admin/x', '/team19/admin', '/team1/', LONG, `${LONG}/x`, `${LONG}x`, `${LONG}/y/z`, `${LONG}/more/x/1`, '/re/12', '/re/x', '/items/3'];

test('the flat lookup matches as the rules read plainly: hosts, ports, wildcards, prefixes, regexes, methods', () => {
  const table = compiled(mixedRoutes()).table;
  let checked = 0;
  for (const host of REQUEST_HOSTS)
    for (const port of [undefined, 8443, 9000, 80])
      for (const path of REQUEST_PATHS)
        for (const method of ['GET', 'DELETE', 'TRACE']) {
          assert.equal(name(table.match(host, port, path, method)), reference(table.routes, host, port, path, method), `${method} ${host}:${port ?? ''}${path}`);
          checked++;
        }
  assert.ok(checked > 2000);
});

test('the flat lookup matches as the rules read plainly: random paths', () => {
  const table = compiled(mixedRoutes()).table;
  const segment = fc.constantFrom('a', 'b', 'c', 'ab', 'team1', 'team19', 'admin', 'l', '0123456789', 'end', 're', '12', '');
  const path = fc.array(segment, { maxLength: 8 }).map((s) => `/${s.join('/')}`);
  fc.assert(
    fc.property(fc.constantFrom(...REQUEST_HOSTS), fc.constantFrom(undefined, 8443), path, (host, port, p) => {
      assert.equal(name(table.match(host, port, p, 'GET')), reference(table.routes, host, port, p, 'GET'));
    }),
    { numRuns: 3000 },
  );
});

test('the flat lookup matches as the rules read plainly: thousands of routes on hundreds of hosts', () => {
  // The shape of the bench's routes rows (bench/micro-routes.ts): ~20 routes a host, one host in ten a wildcard.
  const routes: string[] = [];
  const perHost = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const wild = i % 10 === 9;
    const from = wild ? `*.w${Math.floor(i / 10) % 15}.bench.test` : `h${i % 135}.bench.test`;
    const j = perHost.get(from) ?? 0;
    perHost.set(from, j + 1);
    const prefix = j === 0 ? '' : j % 2 === 1 ? `/team${j}` : `/team${j - 1}/admin`;
    routes.push(`  - { name: r${i}, from: "http://${from}${prefix}", to: "http://10.0.0.1:80", public: true }\n`);
  }
  const table = compiled(routes).table;
  for (let k = 0; k < 20_000; k++) {
    const host = k % 10 === 9 ? `x${k % 97}.w${k % 16}.bench.test` : `h${k % 140}.bench.test`;
    const path = `/team${k % 23}${k % 3 === 0 ? '/admin' : ''}/page/${k % 13}`;
    assert.equal(name(table.match(host, undefined, path, 'GET')), reference(table.routes, host, undefined, path, 'GET'), `${host}${path}`);
  }
});
