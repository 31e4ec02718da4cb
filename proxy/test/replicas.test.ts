// proxy/test/replicas.test.ts — two Drawbridge replicas behind one load balancer, sharing one real Redis
// (SPEC §4 stores, §7): a session made through one works through the other, sign-out and back-channel logout
// received by one end it on both, and a Redis outage fails closed (503) and heals without a restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { parseForms, type CookieJarClient } from '../../e2e/support/http-client.js';
import { runCli } from '../src/cli/index.js';
import { sessionCookie, startReplica, startStack, waitFor, type Replica, type Stack, signInStart } from '../../test-support/stack.js';

/**
 * A redis-server whose data outlives a restart (append-only file, fsync on every write), as a production Redis
 * has: the outage test stops it and starts it again on the same port and expects the sessions back.
 */
interface DurableRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startDurableRedis(): Promise<DurableRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  const ping = async (): Promise<boolean> => {
    const c = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false, connectTimeout: 300 } });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      return true;
    } catch {
      return false;
    } finally {
      if (c.isOpen) c.destroy();
    }
  };
  const redis: DurableRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--loglevel', 'warning'], { stdio: 'ignore' });
      process.once('exit', killOnExit);
      await waitFor(ping, 5000, 25);
    },
    async stop() {
      const proc = child;
      child = undefined;
      process.removeListener('exit', killOnExit);
      if (!proc || proc.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      });
    },
  };
  await redis.start();
  return redis;
}

let redis: DurableRedis;
let s: Stack;
let b2: Replica;
let keyDir: string;

before(async () => {
  redis = await startDurableRedis();
  keyDir = mkdtempSync(join(tmpdir(), 'drawbridge-key-'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(keyDir, 'signing-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  s = await startStack({
    balancer: true,
    store: `store: { type: redis, url: "${redis.url}", prefix: "replicas:" }`,
    extra: `assertion: { keyFile: ${join(keyDir, 'signing-key.pem')} }`,
  });
  b2 = await startReplica(s);
});

after(async () => {
  await b2?.close();
  await s?.close();
  await redis?.stop();
});

/** The two replicas as the load balancer sees them. */
const replicas = () => [
  { name: 'A', port: s.db.port, logs: s.logs, adminUrl: s.db.adminUrl! },
  { name: 'B', port: b2.db.port, logs: b2.logs, adminUrl: b2.db.adminUrl! },
];

/** Sends the next connections to replica `name`. */
function via(name: 'A' | 'B'): void {
  s.balancer!.target = replicas().find((r) => r.name === name)!.port;
}

/** The request log line of `path` on one replica, if it served it. */
function served(logs: Record<string, any>[], path: string) {
  return logs.find((l) => l.event === 'request' && l.path === path);
}

/** A request carrying only this session cookie value (no jar): what the store says about the session. */
async function withCookie(cookie: string, path: string) {
  return s.api().get(s.url('app.localhost', path), { headers: { cookie: `drawbridge=${cookie}` }, redirect: 'manual' });
}

async function signIn(): Promise<{ b: CookieJarClient; cookie: string }> {
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', `/signed-in-${Date.now()}`), 'alice');
  assert.equal(response.status, 200);
  return { b, cookie: sessionCookie(b, s.url('app.localhost'))! };
}

test('a session made through replica A works through replica B: the same user, a verifiable assertion', { timeout: 60_000 }, async () => {
  via('A');
  const { b } = await signIn();
  assert.ok(s.logs.some((l) => l.event === 'sign-in' && l.result === 'success'), 'A handled the sign-in');
  assert.ok(!b2.logs.some((l) => l.event === 'sign-in'), 'B did not');

  via('B');
  const path = `/through-b-${Date.now()}`;
  const r = await b.get(s.url('app.localhost', path), { headers: { accept: 'application/json' }, redirect: 'manual' });
  assert.equal(r.status, 200);
  const page = r.json();
  assert.equal(page.headers['x-forwarded-user'], 'alice');
  // Both replicas sign with the configured key: the app verifies B's assertion with the JWKS (served by B too).
  assert.equal(page.assertion.verified, true, JSON.stringify(page.assertion));
  assert.equal(served(b2.logs, path)?.user, 'alice', 'B served it');
  assert.equal(served(s.logs, path), undefined, 'A did not');

  const me = await b.get(s.url('app.localhost', '/.drawbridge/me'), { headers: { accept: 'application/json' } });
  assert.equal(me.status, 200);
  assert.equal(me.json().user, 'alice');

  // Another host reached through B: the hand-off code minted by B's sign_in is redeemed by A.
  via('B');
  const start = await b.get(signInStart(s.url('app.localhost', '/x')), { redirect: 'manual' });
  assert.equal(start.status, 302);
  const handoff = await b.get(start.location!, { redirect: 'manual' });
  assert.equal(handoff.status, 302);
  via('A');
  const redeemed = await b.get(handoff.location!, { redirect: 'manual' });
  assert.equal(redeemed.status, 302);
  assert.equal(redeemed.location, s.url('app.localhost', '/x'));
});

test('hand-off codes live in Redis with a TTL of at most 60 s; nothing readable is stored', { timeout: 60_000 }, async () => {
  via('A');
  const { b } = await signIn();
  const c = createClient({ url: redis.url });
  c.on('error', () => {});
  await c.connect();
  try {
    const before = new Set(await c.keys('replicas:o:*'));
    const start = await b.get(signInStart(s.url('app.localhost', '/ttl')), { redirect: 'manual' });
    const r = await b.get(start.location!, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.match(r.location!, /\/\.drawbridge\/handoff\?code=/);
    const minted = (await c.keys('replicas:o:*')).filter((k) => !before.has(k));
    assert.equal(minted.length, 1, 'one hand-off code stored');
    const pttl = await c.pTTL(minted[0]!);
    assert.ok(pttl > 0 && pttl <= 60_000, `hand-off code TTL ${pttl} ms`);

    const all = await c.keys('replicas:*');
    for (const key of all) {
      assert.doesNotMatch(key, /alice/);
      if ((await c.type(key)) === 'string') assert.doesNotMatch(String(await c.get(key)), /alice|example\.com/);
    }
  } finally {
    c.destroy();
  }
});

test('signing out through one replica ends the session on both', { timeout: 60_000 }, async () => {
  via('A');
  const { b, cookie } = await signIn();
  via('B');
  assert.equal((await withCookie(cookie, '/before-sign-out')).status, 200);

  // The confirmation page comes from B, the CSRF-checked POST goes to A.
  const confirm = await b.get(s.url('app.localhost', '/.drawbridge/sign_out'));
  const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
  assert.ok(form, 'the sign-out page has a form');
  via('A');
  const out = await b.post(form.action, { form: form.fields });
  assert.equal(out.status, 200);
  assert.ok(s.logs.some((l) => l.event === 'sign-out' && l.result === 'success'));

  for (const name of ['A', 'B'] as const) {
    via(name);
    const api = await withCookie(cookie, `/after-sign-out-${name}`);
    assert.equal(api.status, 401, `replica ${name} refuses the ended session`);
    assert.equal(api.json().error, 'unauthenticated');
    const page = await b.get(s.url('app.localhost', '/after'), { redirect: 'manual' });
    assert.equal(page.status, 302);
    assert.match(page.location!, /\/\.drawbridge\/sign_in\?rd=/);
  }
});

test('a back-channel logout received by one replica ends the session on both', { timeout: 60_000 }, async () => {
  via('A');
  const { cookie } = await signIn();
  via('B');
  assert.equal((await withCookie(cookie, '/before-logout')).status, 200);

  via('A');
  // Earlier sign-outs at the IdP sent logout tokens too: look only at what this one adds.
  const logout = (logs: Record<string, any>[]) => logs.filter((l) => l.event === 'backchannel-logout');
  const [seenA, seenB] = [logout(s.logs).length, logout(b2.logs).length];
  assert.deepEqual(await s.idp!.backchannelLogout('alice'), [200]);
  const received = logout(s.logs).slice(seenA);
  assert.equal(received.length, 1, 'A received the logout token');
  assert.equal(received[0]!.result, 'success');
  assert.ok(received[0]!.sessionsEnded >= 1);
  assert.equal(logout(b2.logs).length, seenB, 'B never saw it');

  for (const name of ['A', 'B'] as const) {
    via(name);
    assert.equal((await withCookie(cookie, `/after-logout-${name}`)).status, 401, `replica ${name}`);
  }
});

test('`drawbridge sessions` reaches the shared Redis: list shows alice, revoke ends her sessions on both replicas', { timeout: 60_000 }, async () => {
  via('A');
  const { cookie } = await signIn();
  const run = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(args, { stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) }, env: {} });
    return { code, out, err };
  };
  const list = await run(['sessions', 'list', '--json', '--config', s.configFile]);
  assert.equal(list.code, 0, list.err);
  const rows = JSON.parse(list.out) as { user: string; sid: string }[];
  assert.ok(rows.some((r) => r.user === 'alice'));
  assert.ok(!list.out.includes(cookie.split('.')[0]!), 'never the session id');

  const revoke = await run(['sessions', 'revoke', '--user', 'alice', '--config', s.configFile]);
  assert.equal(revoke.code, 0, revoke.err);
  assert.match(revoke.out, /^[1-9]\d* sessions? revoked$/m);
  for (const name of ['A', 'B'] as const) {
    via(name);
    assert.equal((await withCookie(cookie, `/after-revoke-${name}`)).status, 401, `replica ${name}`);
  }
});

test('Redis down: requests needing a session get 503 on both replicas, /readyz says so, public routes work; Redis back: the same session works again', { timeout: 90_000 }, async () => {
  via('A');
  const { b, cookie } = await signIn();
  via('B');
  assert.equal((await b.get(s.url('app.localhost', '/before-outage'), { redirect: 'manual' })).status, 200);

  await redis.stop();
  for (const r of replicas()) {
    via(r.name as 'A' | 'B');
    await waitFor(async () => (await fetch(`${r.adminUrl}/readyz`)).status === 503, 10_000);
    const ready = await fetch(`${r.adminUrl}/readyz`);
    const body = (await ready.json()) as { ready: boolean; checks: Record<string, boolean> };
    assert.deepEqual(body, { ready: false, checks: { config: true, idp: true, store: false } }, `replica ${r.name}`);
    assert.equal((await fetch(`${r.adminUrl}/healthz`)).status, 200, 'alive, just not ready');

    // A browser gets the 503 page, an API client JSON; never the upstream, never a sign-in loop.
    const page = await b.get(s.url('app.localhost', `/during-outage-${r.name}`), { redirect: 'manual' });
    assert.equal(page.status, 503, `replica ${r.name}`);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.equal(page.headers['retry-after'], '5');
    const api = await withCookie(cookie, `/during-outage-api-${r.name}`);
    assert.equal(api.status, 503);
    assert.equal(api.json().error, 'session_store_unavailable');
    // A request without any session cookie needs none yet: it is sent to sign in...
    assert.equal((await s.api().get(s.url('app.localhost', '/anonymous'), { redirect: 'manual' })).status, 401);
    // ...where starting a sign-in needs the store: 503 rather than a login attempt that could not be kept.
    const signInPage = await s.browser().get(`${s.publicUrl}/.drawbridge/sign_in?rd=%2F`, { redirect: 'manual' });
    assert.equal(signInPage.status, 503);
    // Public routes need no session.
    const pub = await s.api().get(s.url('public.localhost', `/public-during-outage-${r.name}`));
    assert.equal(pub.status, 200);
  }
  assert.ok(s.logs.some((l) => l.event === 'session-store' && l.level === 'error'), 'the outage is logged');

  await redis.start();
  for (const r of replicas()) {
    await waitFor(async () => (await fetch(`${r.adminUrl}/readyz`)).status === 200, 15_000, 100);
    via(r.name as 'A' | 'B');
    const page = await b.get(s.url('app.localhost', `/after-outage-${r.name}`), { redirect: 'manual' });
    assert.equal(page.status, 200, `replica ${r.name}: the session made before the outage still works`);
  }
});
