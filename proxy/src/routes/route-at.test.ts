// routes/route-at.test.ts — the route a return target leads to (for naming it on pages), and how pages name it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { compileConfig } from './compile.js';
import { pageRoute, routeAt } from './route-at.js';

const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: wiki, title: "Team wiki", from: https://wiki.example.com, to: http://10.0.0.1, public: true }
  - { name: wiki-admin, from: https://wiki.example.com/admin, to: http://10.0.0.1, methods: [POST], public: true }
  - { name: reports, title: "Reports", from: "https://reports.example.com:8443", to: http://10.0.0.2, public: true }
`;

test('routeAt: the route a GET of the URL matches, or undefined', () => {
  const r = loadConfigText(text, 'f.yaml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatIssue).join('\n'));
  const { table } = compileConfig(r.config);
  assert.equal(routeAt(table, 'https://wiki.example.com/page?x=1')?.name, 'wiki');
  assert.equal(routeAt(table, 'https://WIKI.example.com/')?.name, 'wiki');
  assert.equal(routeAt(table, 'https://reports.example.com:8443/q3')?.name, 'reports');
  assert.equal(routeAt(table, 'https://reports.example.com/q3'), undefined, 'another port');
  assert.equal(routeAt(table, 'https://wiki.example.com/admin'), undefined, 'GET is refused there (405): no route');
  for (const bad of ['/relative', 'not a url', 'ftp://wiki.example.com/', 'https://elsewhere.example.com/']) assert.equal(routeAt(table, bad), undefined, bad);
  assert.deepEqual(pageRoute(routeAt(table, 'https://wiki.example.com/')!), { name: 'wiki', title: 'Team wiki' });
  assert.deepEqual(pageRoute(table.routes[1]!), { name: 'wiki-admin' });
});

test('title: optional, at most 80 characters, no control characters', () => {
  for (const [title, message] of [['""', /title/], [`"${'x'.repeat(81)}"`, /at most 80/], ['"a\\u0007b"', /no control characters/], ['"a\\nb"', /no control characters/]] as const) {
    const r = loadConfigText(text.replace('title: "Team wiki"', `title: ${title}`), 'f.yaml');
    assert.equal(r.ok, false, title);
    assert.match(r.ok ? '' : r.errors.map(formatIssue).join('\n'), message, title);
  }
});
