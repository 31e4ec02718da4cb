// forward/undici-names.test.ts — the names taught to undici are lower-case tokens only, each mapped to itself; undici
// still refuses a bad value under a taught name, and sends a taught name as given (over a real socket).
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Pool } from 'undici';
import { makeRoute } from './harness.case.js';
import { headerPlan } from './identity-headers.js';
import { sentHeaderNames, teachUndiciHeaderNames, undiciKnownHeaderName } from './undici-names.js';

test('teachUndiciHeaderNames: lower-case tokens become known names of themselves; anything else is left to undici', () => {
  assert.equal(undiciKnownHeaderName('x-undici-names-test-a'), undefined);
  const added = teachUndiciHeaderNames(['x-undici-names-test-a', 'X-Undici-Names-Test-B', 'x-undici names', 'x-undici:names', 'x-undici-é', '', 'host', 'content-type']);
  assert.deepEqual(added, ['x-undici-names-test-a']);
  assert.equal(undiciKnownHeaderName('x-undici-names-test-a'), 'x-undici-names-test-a');
  for (const name of ['X-Undici-Names-Test-B', 'x-undici-names-test-b', 'x-undici names', 'x-undici:names', 'x-undici-é', '']) assert.equal(undiciKnownHeaderName(name), undefined, name);
  // Names undici knew already keep their entry.
  assert.equal(undiciKnownHeaderName('host'), 'host');
  assert.deepEqual(teachUndiciHeaderNames(['x-undici-names-test-a']), [], 'taught once');
});

test('sentHeaderNames: the forwarding headers, the assertion header, and each plan’s identity and set names, lower-case', () => {
  const renamed = headerPlan(makeRoute('http://127.0.0.1:1', { identityHeaders: { user: 'Remote-User', email: 'Remote-Email', groups: 'Remote-Groups', name: 'Remote-Name' }, setRequestHeaders: [['X-App-Tenant', 'acme']] }));
  const none = headerPlan(makeRoute('http://127.0.0.1:1', { identityHeaders: false }));
  const names = sentHeaderNames([renamed, none], 'X-Signed-Identity');
  for (const n of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'x-forwarded-access-token', 'x-drawbridge-groups-truncated', 'x-signed-identity', 'remote-user', 'remote-email', 'remote-groups', 'remote-name', 'x-app-tenant']) assert.ok(names.has(n), n);
  assert.equal(names.has('x-forwarded-user'), false, 'no plan uses the default names');
});

test('a taught name: sent upstream as given, and a value undici refuses is still refused (nothing sent)', async () => {
  teachUndiciHeaderNames(['x-undici-names-test-c']);
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const ok = await pool.request({ method: 'GET', path: '/', headers: ['x-undici-names-test-c', 'alice'] });
    await ok.body.text();
    assert.equal(ok.statusCode, 200);
    assert.equal(seen[0]?.['x-undici-names-test-c'], 'alice');
    for (const bad of ['a\r\nx-evil: 1', 'a\nb', 'a\0b']) {
      await assert.rejects(pool.request({ method: 'GET', path: '/', headers: ['x-undici-names-test-c', bad] }), /invalid x-undici-names-test-c header/);
    }
    assert.equal(seen.length, 1, 'no request with a refused value reached the upstream');
  } finally {
    await pool.close();
    await new Promise((r) => server.close(r));
  }
});
