// proxy/test/workers.test.ts — `workers: 2` (server/cluster.ts): one `drawbridge serve` process, two workers sharing
// the listener and the memory session store the primary owns. Every request's log line names its worker, so each
// test pins keep-alive connections to each worker and checks what the other one sees: a session made through one is
// valid on the other; sign-out and back-channel logout are refused by the other on the very next request; one-time
// codes are redeemed once across them; a reload switches both (an invalid file neither); /metrics sums both; a worker
// killed mid-request fails that request (never forwards it unchecked) and is replaced; the workers run with Drawbridge's node flags.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { WebSocket } from 'ws';
import { startDevIdp, type DevIdp } from '../../e2e/idp/dev-idp.js';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { startSampleApp, type SampleApp } from '../../e2e/sample-app/sample-app.js';
import { CookieJarClient } from '../../e2e/support/http-client.js';
import { drawbridgeProcess, type DrawbridgeProcess } from '../../test-support/process.js';
import { marker } from '../../test-support/raw.js';
import { workerPins, workersTestConfig, type Pin } from '../../test-support/worker-pins.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';
import { MALLOC_ENV, NODE_FLAGS } from '../../proxy/src/server/node-flags.js';
import { CLIENT_ID, CLIENT_SECRET, received, reservePort, waitFor } from '../../test-support/stack.js';

const T = { timeout: 120_000 };
let admin: string;
const publicUrl = () => `http://auth.localhost:${port}`;

function configText(extraRoutes = ''): string {
  const routes = `${APP_ROUTE}${PUBLIC_ROUTE}  - name: metered
    from: http://metered.localhost:{{PORT}}
    to: {{APP}}
    public: true
${extraRoutes}`;
  return workersTestConfig({ port, issuer: idp.issuer, store: '{ type: memory, maxSessions: 1000 }', routes: routes.replaceAll('{{PORT}}', String(port)).replaceAll('{{APP}}', app.url) });
}

// Started at the top level (not in a hook): the process runner's own clean-up then belongs to the whole file.
const app: SampleApp = await startSampleApp({});
const port: number = await reservePort();
const idp: DevIdp = await startDevIdp({
  clients: [
    {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${publicUrl()}/.drawbridge/callback`],
      postLogoutRedirectUris: [`${publicUrl()}/.drawbridge/sign_out`],
      backchannelLogoutUri: `http://127.0.0.1:${port}/.drawbridge/backchannel_logout`,
    },
  ],
});
const file = join(mkdtempSync(join(tmpdir(), 'drawbridge-workers-')), 'drawbridge.yaml');
writeFileSync(file, configText());
const db: DrawbridgeProcess = drawbridgeProcess('serve', '--config', file);

before(async () => {
  const start = await db.line((l) => l.event === 'start' && l.workers === 2);
  admin = String(start.admin);
  // Both workers have discovered the IdP (readiness of the whole process).
  await waitFor(async () => (await fetch(`${admin}/readyz`)).status === 200, 60_000, 100);
});

after(async () => {
  closePins();
  await db.stop();
  await idp?.close();
  await app?.close();
});

const { request, workerOf, pinBoth, on, signIn, signOut, close: closePins } = workerPins(db, port);

test('workers: 2 — a session made through one worker is valid on connections served by each', T, async () => {
  const [a, b] = await pinBoth();
  const { cookie } = await signIn();
  for (const pin of [a, b, a, b]) {
    const res = await on(pin, 'app.localhost', '/echo', { cookie });
    assert.equal(res.status, 200, `worker ${pin.worker} takes the session`);
  }
  // Without the cookie, each worker refuses (nothing is shared but the store).
  for (const pin of [a, b]) assert.equal((await on(pin, 'app.localhost', '/echo')).status, 401);
});

test('workers: 2 — sign-out through one worker is refused by the other on the very next request', T, async () => {
  const [a, b] = await pinBoth();
  const { client, cookie } = await signIn();
  for (const pin of [a, b]) assert.equal((await on(pin, 'app.localhost', '/echo', { cookie })).status, 200, 'cached by both workers');
  await signOut(client);
  // No wait of any kind: both requests leave as soon as the sign-out is answered; whichever worker signed out, the
  // other one is among them.
  const [ra, rb] = await Promise.all([request(a.agent, 'app.localhost', '/echo', { cookie }), request(b.agent, 'app.localhost', '/echo', { cookie })]);
  assert.deepEqual([ra.status, rb.status], [401, 401]);
});

/** Opens a WebSocket over a pinned connection (so on its worker); resolves once open, with its close code to come. */
async function openSocket(pin: Pin, cookie: string): Promise<{ ws: WebSocket; closed: Promise<string> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { agent: pin.agent, headers: { host: `app.localhost:${port}`, cookie } });
  const closed = new Promise<string>((resolve) => ws.once('close', (code, reason) => resolve(`${code} ${String(reason)}`)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, closed };
}

test('workers: 2 — sign-out through one worker closes the session\'s WebSockets on every worker', T, async () => {
  const [a, b] = await pinBoth();
  const { client, cookie } = await signIn();
  const from = db.logs.length;
  // Each pinned connection becomes a WebSocket of its worker.
  const sockets = [await openSocket(a, cookie), await openSocket(b, cookie)];
  await signOut(client);
  // Closed by the worker that signed out and by the other one (told by the store): `session-ended`, not the
  // `revoked` of a periodic sweep (every 30 s).
  assert.deepEqual(await Promise.all(sockets.map((s) => s.closed)), ['1008 session-ended', '1008 session-ended']);
  // Both were admitted by the workers they were pinned to (a WebSocket's request line is written when it ends).
  const first = await db.line((l) => l.event === 'request' && l.path === '/ws' && l.user === 'alice', from);
  const second = await db.line((l) => l.event === 'request' && l.path === '/ws' && l.user === 'alice' && l !== first, from);
  assert.deepEqual(new Set([first.worker, second.worker]), new Set([a.worker, b.worker]));
});

test('workers: 2 — back-channel logout received by one worker ends the session on the other at once', T, async () => {
  const [a, b] = await pinBoth();
  const { cookie } = await signIn();
  for (const pin of [a, b]) assert.equal((await on(pin, 'app.localhost', '/echo', { cookie })).status, 200);
  assert.deepEqual(await idp.backchannelLogout('alice'), [200]);
  const [ra, rb] = await Promise.all([request(a.agent, 'app.localhost', '/echo', { cookie }), request(b.agent, 'app.localhost', '/echo', { cookie })]);
  assert.deepEqual([ra.status, rb.status], [401, 401]);
});

test('workers: 2 — a login state and a hand-off code redeemed by one worker are refused by the other', T, async () => {
  const [a, b] = await pinBoth();
  const client = new CookieJarClient({ resolve: new Proxy({}, { get: () => '127.0.0.1' }) as Record<string, string>, headers: { accept: 'text/html' } });
  const callbackPrefix = `${publicUrl()}/.drawbridge/callback`;
  const stopped = await signInAtIdp(client, `http://app.localhost:${port}/`, { login: 'alice', stopAt: callbackPrefix, headers: { accept: 'text/html' } });
  const callback = new URL(String(stopped.response.headers.location));
  assert.ok(callback.href.startsWith(callbackPrefix));
  const cookiesOf = (url: string) =>
    Object.entries(client.cookies(url))
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  const path = `${callback.pathname}${callback.search}`;
  const headers = { cookie: cookiesOf(callback.href), accept: 'text/html' };
  const [first, replay] = [await request(a.agent, 'auth.localhost', path, headers), await request(b.agent, 'auth.localhost', path, headers)];
  assert.equal(first.status, 302, `the first callback signs in: ${first.body.slice(0, 200)}`);
  assert.equal(replay.status, 400, 'the same state on the other worker is refused');
  // The hand-off code the first callback issued: redeemed on one worker, refused on the other.
  const handoff = new URL(String(first.headers.location));
  assert.match(handoff.pathname, /\/\.drawbridge\/handoff$/);
  const handoffPath = `${handoff.pathname}${handoff.search}`;
  const appCookies = { cookie: cookiesOf(`http://app.localhost:${port}/`), accept: 'text/html' };
  const redeemed = await request(b.agent, 'app.localhost', handoffPath, appCookies);
  const again = await request(a.agent, 'app.localhost', handoffPath, appCookies);
  assert.equal(redeemed.status, 302);
  assert.match(String(redeemed.headers['set-cookie'] ?? ''), /drawbridge=/);
  assert.doesNotMatch(String(again.headers['set-cookie'] ?? ''), /(^|,\s*)drawbridge=[^;]/, 'no second session from a replayed code');
});

test('workers: 2 — a reload switches both workers; an invalid file, or one no worker can build, changes neither', T, async () => {
  const [a, b] = await pinBoth();
  for (const pin of [a, b]) assert.equal((await on(pin, 'added.localhost', '/')).status, 404);
  const from = db.logs.length;
  writeFileSync(file, configText(`  - name: added\n    from: http://added.localhost:{{PORT}}\n    to: {{APP}}\n    public: true\n`));
  db.child.kill('SIGHUP');
  const reloaded = await db.line((l) => l.event === 'reload' && l.worker === undefined, from);
  assert.equal(reloaded.result, 'success', JSON.stringify(reloaded));
  assert.equal(reloaded.workers, 2);
  for (const pin of [a, b]) assert.equal((await on(pin, 'added.localhost', '/')).status, 200, `worker ${pin.worker} serves the new route`);
  const bad = db.logs.length;
  writeFileSync(file, `${configText()}\n  - name: broken\n    from: not-a-url\n`);
  db.child.kill('SIGHUP');
  const refused = await db.line((l) => l.event === 'reload' && l.worker === undefined, bad);
  assert.equal(refused.result, 'failure');
  for (const pin of [a, b]) assert.equal((await on(pin, 'added.localhost', '/')).status, 200, `worker ${pin.worker} keeps the running configuration`);
  // Valid, but no worker can build it (a password file that is not there, read when the routes are provisioned):
  // every worker drops what it prepared, none switches.
  const unbuildable = db.logs.length;
  writeFileSync(
    file,
    configText(
      `  - name: other\n    from: http://other.localhost:{{PORT}}\n    to: {{APP}}\n    public: true\n` +
        `  - name: basic\n    from: http://basic.localhost:{{PORT}}\n    to: {{APP}}\n    public: true\n    upstreamAuth: { basic: { user: u, passwordFile: ${join(tmpdir(), `${marker('absent')}.txt`)} } }\n`,
    ),
  );
  db.child.kill('SIGHUP');
  const aborted = await db.line((l) => l.event === 'reload' && l.worker === undefined, unbuildable);
  assert.equal(aborted.result, 'failure', JSON.stringify(aborted));
  assert.match(JSON.stringify(aborted.errors), /worker \d: .*passwordFile/);
  for (const pin of [a, b]) {
    assert.equal((await on(pin, 'other.localhost', '/')).status, 404, `worker ${pin.worker} did not switch`);
    assert.equal((await on(pin, 'added.localhost', '/')).status, 200, `worker ${pin.worker} keeps the running configuration`);
  }
  writeFileSync(file, configText(`  - name: added\n    from: http://added.localhost:{{PORT}}\n    to: {{APP}}\n    public: true\n`));
});

test('workers: 2 — a reload that rotates the assertion key switches both workers to the one key the primary read', T, async () => {
  const [a, b] = await pinBoth();
  const { cookie } = await signIn();
  const kidOn = async (pin: Pin): Promise<string | undefined> => {
    const m = marker('kid');
    assert.equal((await on(pin, 'app.localhost', `/${m}`, { cookie })).status, 200);
    const token = received(app, m)[0]?.headers['x-drawbridge-assertion'];
    return typeof token === 'string' ? decodeProtectedHeader(token).kid : undefined;
  };
  const jwksOn = async (pin: Pin) => {
    // Over the pinned connection (the JWKS has no request log line to name its worker).
    const res = await request(pin.agent, 'auth.localhost', '/.drawbridge/jwks.json');
    assert.equal(res.status, 200, res.body);
    return (JSON.parse(res.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  };
  // At start, no keyFile: the primary generated one key for both.
  const generated = await kidOn(a);
  assert.ok(generated);
  assert.equal(await kidOn(b), generated);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'drawbridge-workers-key-')), 'assertion.key');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const from = db.logs.length;
  writeFileSync(file, configText().replace('\nroutes:\n', `\nassertion: { keyFile: ${keyFile} }\nroutes:\n`));
  db.child.kill('SIGHUP');
  const reloaded = await db.line((l) => l.event === 'reload' && l.worker === undefined, from);
  assert.equal(reloaded.result, 'success', JSON.stringify(reloaded));
  const rotated = await kidOn(a);
  assert.ok(rotated && rotated !== generated, 'signed with the new key, the cached token under the old one not served');
  assert.equal(await kidOn(b), rotated, 'the other worker signs with the same key');
  for (const pin of [a, b]) assert.deepEqual(await jwksOn(pin), [rotated], `worker ${pin.worker} publishes it`);
  // The file taken out again: the key in force stays (a new one would be generated only by a restart).
  const restored = db.logs.length;
  writeFileSync(file, configText());
  db.child.kill('SIGHUP');
  const kept = await db.line((l) => l.event === 'reload' && l.worker === undefined, restored);
  assert.equal(kept.result, 'success', JSON.stringify(kept));
  for (const pin of [a, b]) assert.equal(await kidOn(pin), rotated);
});

test('workers: 2 — each worker runs with Drawbridge\'s node flags (server/node-flags.ts), though the primary was started without them', T, async () => {
  const argv = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const primary = db.child.pid!;
  for (const flag of NODE_FLAGS) assert.ok(!argv(primary).includes(flag), `the primary was started with ${flag}`);
  const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.equal(workers.length, 2);
  for (const pid of workers) for (const flag of NODE_FLAGS) assert.ok(argv(pid).includes(flag), `worker ${pid} runs without ${flag}: ${argv(pid).join(' ')}`);
});

test('workers: 2 — each worker runs with Drawbridge\'s malloc settings (server/node-flags.ts), though the primary was started without them', T, async () => {
  const environ = (pid: number) => Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const primary = db.child.pid!;
  for (const name of Object.keys(MALLOC_ENV)) assert.equal(environ(primary)[name], undefined, `the primary was started with ${name}`);
  const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.equal(workers.length, 2);
  for (const pid of workers) for (const [name, value] of Object.entries(MALLOC_ENV)) assert.equal(environ(pid)[name], value, `worker ${pid} runs without ${name}=${value}`);
});

test('workers: 2 — /metrics on the admin listener sums both workers', T, async () => {
  const [a, b] = await pinBoth();
  const marks: string[] = [];
  for (const pin of [a, a, a, b, b]) {
    const mark = marker('metered');
    marks.push(mark);
    assert.equal((await request(pin.agent, 'metered.localhost', `/${mark}`)).status, 200);
  }
  // The request is counted before its log line is written: once every line is seen, every request is counted.
  const workers = await Promise.all(marks.map(workerOf));
  assert.deepEqual(workers, [a.worker, a.worker, a.worker, b.worker, b.worker]);
  const text = await (await fetch(`${admin}/metrics`)).text();
  const metered = [...text.matchAll(/^drawbridge_requests_total\{[^}]*route="metered"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(metered, 5, 'three requests of one worker and two of the other');
  assert.match(text, /^drawbridge_workers 2$/m);
  assert.match(text, /^drawbridge_active_sessions \d+$/m);
  assert.equal(text.match(/^# TYPE drawbridge_requests_total /gm)?.length, 1, 'one series, not one per worker');
});

test('workers: 2 — a worker killed mid-request fails that request, never forwards it unchecked, and is replaced', T, async () => {
  const [victim, survivor] = await pinBoth();
  const { cookie } = await signIn();
  const started = [...db.logs].reverse().find((l) => l.event === 'worker' && l.result === 'started' && l.worker === victim.worker);
  assert.ok(started?.pid, 'the primary logs each worker\'s pid');
  const mark = marker('killed');
  const slow = request(victim.agent, 'app.localhost', `/slow?ms=60000&m=${mark}`, { cookie });
  await waitFor(() => received(app, mark).length === 1, 30_000, 20);
  const from = db.logs.length;
  process.kill(started.pid as number, 'SIGKILL');
  await assert.rejects(slow, 'the client sees the request fail');
  // The one request upstream is the authenticated one the worker forwarded before it died; no retry, no other.
  const got = received(app, mark);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.headers['x-forwarded-user'], 'alice');
  const exited = await db.line((l) => l.event === 'worker' && l.result === 'exited' && l.worker === victim.worker, from);
  assert.equal(exited.signal, 'SIGKILL');
  // Meanwhile the other worker serves, the session intact (the store is the primary's).
  assert.equal((await on(survivor, 'app.localhost', '/echo', { cookie })).status, 200);
  const replaced = await db.line((l) => l.event === 'worker' && l.result === 'started' && l.worker === victim.worker, from);
  assert.notEqual(replaced.pid, started.pid);
  // New connections reach the replacement too, and it takes the session.
  let served = false;
  for (let i = 0; i < 40 && !served; i++) {
    const m = marker('after');
    const res = await request(false, 'app.localhost', `/echo/${m}`, { cookie });
    if (res.status !== 200) {
      const line = await db.line((l) => l.event === 'request' && String(l.path ?? '').includes(m), 0).catch(() => undefined);
      assert.fail(`${res.status}: ${JSON.stringify(line)} ${res.body.slice(0, 300)}`);
    }
    served = (await workerOf(m)) === victim.worker;
  }
  assert.ok(served, 'the replacement serves');
});
