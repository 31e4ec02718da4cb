// proxy/test/access-replicas.test.ts — access requests and grants live in the shared Redis store (docs/access-requests.md):
// two replicas behind one load balancer; bob asks through A, carol approves through B, and both replicas let bob in
// at once; `drawbridge grants` lists and revokes it in Redis (A refuses at once); the records are never stored readable.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { runCli } from '../src/cli/index.js';
import { startRedis, type TestRedis } from '../../test-support/redis.js';
import { startReplica, startStack, type Replica, type Stack } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: wiki-admin
    from: http://wiki.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow: [ { groups: [wiki-admins] } ]
    requests:
      approvers: { allow: [ { and: [ { groups: [wiki-admins] }, { mfa: true } ] } ] }
`;

const T = { timeout: 60_000 };
let redis: TestRedis;
let s: Stack;
let b2: Replica;

before(async () => {
  redis = await startRedis();
  const keyDir = mkdtempSync(join(tmpdir(), 'drawbridge-key-'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(keyDir, 'signing-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  s = await startStack({
    balancer: true,
    routes: ROUTES,
    store: `store: { type: redis, url: "${redis.url}", prefix: "access:" }`,
    extra: `assertion: { keyFile: ${join(keyDir, 'signing-key.pem')} }`,
  });
  b2 = await startReplica(s);
});

after(async () => {
  await b2?.close();
  await s?.close();
  await redis?.stop();
});

function via(name: 'A' | 'B'): void {
  s.balancer!.target = name === 'A' ? s.db.port : b2.db.port;
}

function field(body: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(body);
  assert.ok(m, `the page has a ${name} field`);
  return m[1]!;
}

async function cli(args: string[]): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) }, env: {} });
  return { code, out, err };
}

const wiki = (path = '/') => s.url('wiki.localhost', path);
const served = (logs: Record<string, any>[], path: string) => logs.find((l) => l.event === 'request' && l.path === path);

test('bob asks through A, carol approves through B: both replicas let bob in at once; `drawbridge grants` lists it and its revocation ends it on A at once', T, async () => {
  via('A');
  const bob: CookieJarClient = s.browser();
  const denied = (await s.signIn(bob, wiki('/'), 'bob')).response;
  assert.equal(denied.status, 403);
  const asked = await bob.post(s.url('wiki.localhost', '/.drawbridge/requests'), { form: { csrf: field(denied.body, 'csrf'), route: 'wiki-admin', reason: 'on-call', duration: '900' } });
  assert.equal(asked.status, 202, asked.body.slice(0, 200));
  assert.ok(s.logs.some((l) => l.event === 'access-request' && l.action === 'created'), 'A recorded the request');

  via('B');
  const carol = s.browser();
  assert.equal((await s.signIn(carol, s.url('app.localhost', '/'), 'carol')).response.status, 200);
  const page = await carol.get(s.url('app.localhost', '/.drawbridge/requests'));
  const id = /data-request="([0-9a-f-]{36})"/.exec(page.body)?.[1];
  assert.ok(id, 'B lists the request A recorded');
  const approved = await carol.post(s.url('app.localhost', '/.drawbridge/requests/decide'), { form: { csrf: field(page.body, 'csrf'), id, decision: 'approve' } });
  assert.equal(approved.status, 200, approved.body.slice(0, 200));
  const granted = b2.logs.find((l) => l.event === 'access-grant' && l.action === 'created');
  assert.ok(granted, 'B made the grant');

  for (const name of ['A', 'B'] as const) {
    via(name);
    const path = `/granted-${name}-${Date.now()}`;
    assert.equal((await bob.get(wiki(path))).status, 200, `replica ${name} lets bob in`);
    const line = served(name === 'A' ? s.logs : b2.logs, path);
    assert.deepEqual(line?.reasons, [`grant:${granted.id}`], `replica ${name} served it, as the grant`);
  }

  // Nothing readable in Redis: no user, route or reason in any key or value.
  const c = createClient({ url: redis.url });
  c.on('error', () => {});
  await c.connect();
  try {
    for (const key of await c.keys('access:*')) {
      assert.doesNotMatch(key, /bob|wiki-admin|on-call|grant/);
      const type = await c.type(key);
      if (type === 'string') assert.doesNotMatch((await c.get(key)) ?? '', /bob|wiki-admin|on-call/);
    }
  } finally {
    await c.close();
  }

  // `drawbridge grants` reaches Redis directly: it lists the grant B made, and its revocation ends it on A at once.
  const listed = await cli(['grants', 'list', '--json', '--config', s.configFile]);
  assert.equal(listed.code, 0, listed.err);
  assert.deepEqual((JSON.parse(listed.out) as Array<{ id: string; user: string }>).map((g) => [g.id, g.user]), [[granted.id, 'bob']]);
  const revoked = await cli(['grants', 'revoke', '--user', 'bob', '--config', s.configFile]);
  assert.equal(revoked.code, 0, revoked.err);
  assert.equal(revoked.out, '1 grant revoked\n');
  assert.equal(JSON.parse(revoked.err.trim().split('\n').at(-1)!).action, 'revoked', 'the revocation is an audit line');
  assert.equal((await cli(['grants', 'revoke', '--config', s.configFile])).code, 2, 'revoke says which grants');
  via('A');
  assert.equal((await bob.get(wiki(`/after-revoke-${Date.now()}`))).status, 403, 'A refuses bob at once');
});
