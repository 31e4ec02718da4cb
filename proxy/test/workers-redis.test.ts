// proxy/test/workers-redis.test.ts — `workers: 2` with the Redis session store (a real redis-server): each worker
// reads and writes Redis itself (with its own read cache, invalidated by Redis), the primary only serves the admin
// listener. Every request's log line names its worker, so the tests pin a keep-alive connection to each worker: a
// session made through one is valid on the other, and a sign-out through one is refused by the very next request
// on either.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevIdp, type DevIdp } from '../../e2e/idp/dev-idp.js';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { startSampleApp, type SampleApp } from '../../e2e/sample-app/sample-app.js';
import { CookieJarClient, parseForms } from '../../e2e/support/http-client.js';
import { drawbridgeProcess, type DrawbridgeProcess } from '../../test-support/process.js';
import { marker } from '../../test-support/raw.js';
import { startRedis, type TestRedis } from '../../test-support/redis.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';
import { CLIENT_ID, CLIENT_SECRET, reservePort, SESSION_SECRET, waitFor } from '../../test-support/stack.js';

const T = { timeout: 120_000 };
const publicUrl = () => `http://auth.localhost:${port}`;

// Started at the top level (not in a hook): the process runner's own clean-up then belongs to the whole file.
const redis: TestRedis = await startRedis();
const app: SampleApp = await startSampleApp({});
const port: number = await reservePort();
const idp: DevIdp = await startDevIdp({
  clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${publicUrl()}/.drawbridge/callback`], postLogoutRedirectUris: [`${publicUrl()}/.drawbridge/sign_out`] }],
});
const file = join(mkdtempSync(join(tmpdir(), 'drawbridge-workers-redis-')), 'drawbridge.yaml');
writeFileSync(
  file,
  `listen: "127.0.0.1:${port}"
workers: 2
publicUrl: ${publicUrl()}
admin: { listen: "127.0.0.1:0" }
idp:
  issuer: ${idp.issuer}
  clientId: ${CLIENT_ID}
  clientSecret: ${CLIENT_SECRET}
  allowInsecureHttp: true
session:
  secret: ${SESSION_SECRET}
  store: { type: redis, url: "${redis.url}" }
limits: { keepAliveTimeout: 300s }
log: { level: info, format: json }
routes:
${`${APP_ROUTE}${PUBLIC_ROUTE}`.replaceAll('{{PORT}}', String(port)).replaceAll('{{APP}}', app.url)}`,
);
const db: DrawbridgeProcess = drawbridgeProcess('serve', '--config', file);

before(async () => {
  const start = await db.line((l) => l.event === 'start' && l.workers === 2);
  assert.equal(start.store, 'redis');
  await waitFor(async () => (await fetch(`${String(start.admin)}/readyz`)).status === 200, 60_000, 100);
});

after(async () => {
  for (const p of pins) p.agent.destroy();
  if (db.child.exitCode === null) {
    db.child.kill('SIGTERM');
    await db.exited;
  }
  await idp?.close();
  await app?.close();
  await redis?.stop();
});

interface Answer {
  status: number;
  body: string;
}

function request(agent: http.Agent, host: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { host: `${host}:${port}`, accept: 'application/json', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${host}${path}: no answer`)));
    req.on('error', reject);
  });
}

async function workerOf(mark: string): Promise<number> {
  const line = await db.line((l) => l.event === 'request' && String(l.path).includes(mark));
  assert.equal(typeof line.worker, 'number', 'every request line names its worker');
  return line.worker as number;
}

interface Pin {
  agent: http.Agent;
  worker: number;
}
const pins: Pin[] = [];

/** One keep-alive connection to each worker (new connections are dealt out among them, so a few suffice). */
async function pinBoth(): Promise<[Pin, Pin]> {
  for (const p of pins.splice(0)) p.agent.destroy();
  const found = new Map<number, Pin>();
  for (let i = 0; i < 40 && found.size < 2; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const mark = marker('pin');
    assert.equal((await request(agent, 'public.localhost', `/${mark}`)).status, 200);
    const worker = await workerOf(mark);
    if (found.has(worker)) agent.destroy();
    else found.set(worker, { agent, worker });
  }
  assert.equal(found.size, 2, 'both workers serve connections');
  pins.push(...found.values());
  return [pins[0]!, pins[1]!];
}

/** GET /echo/<mark> on a pinned connection, checking from the log that the pinned worker served it. */
async function echo(pin: Pin, cookie?: string): Promise<number> {
  const mark = marker('on');
  const answer = await request(pin.agent, 'app.localhost', `/echo/${mark}`, cookie ? { cookie } : {});
  assert.equal(await workerOf(mark), pin.worker, 'served by the pinned worker');
  return answer.status;
}

async function signIn(): Promise<{ client: CookieJarClient; cookie: string }> {
  const client = new CookieJarClient({ resolve: new Proxy({}, { get: () => '127.0.0.1' }) as Record<string, string>, headers: { accept: 'text/html' } });
  const url = `http://app.localhost:${port}/`;
  const result = await signInAtIdp(client, url, { login: 'alice', headers: { accept: 'text/html' } });
  assert.equal(result.response.status, 200, `signed in: ${result.response.url}`);
  const value = client.cookies(url)['drawbridge'];
  assert.ok(value, 'a session cookie on the route host');
  return { client, cookie: `drawbridge=${value}` };
}

test('workers: 2, redis store — a session made through one worker is valid on connections served by each', T, async () => {
  const [a, b] = await pinBoth();
  const { cookie } = await signIn();
  for (const pin of [a, b, a, b]) assert.equal(await echo(pin, cookie), 200, `worker ${pin.worker} takes the session`);
  for (const pin of [a, b]) assert.equal(await echo(pin), 401, `worker ${pin.worker} without the cookie`);
});

test('workers: 2, redis store — sign-out through one worker is refused by the next request on either', T, async () => {
  const [a, b] = await pinBoth();
  const { client, cookie } = await signIn();
  // Both workers have read the session (and cached it).
  for (const pin of [a, b, a, b]) assert.equal(await echo(pin, cookie), 200, `cached by worker ${pin.worker}`);
  const confirm = await client.get(`http://app.localhost:${port}/.drawbridge/sign_out?rd=/`);
  const csrf = parseForms(confirm.body, confirm.url).find((f) => 'csrf' in f.fields)?.fields.csrf;
  assert.ok(csrf, 'the confirm page carries the CSRF token');
  const posted = await client.post(`http://app.localhost:${port}/.drawbridge/sign_out`, { form: { csrf, rd: '/' }, redirect: 'manual' });
  assert.equal(posted.status, 302);
  // No wait of any kind: both leave as soon as the sign-out is answered; whichever worker signed out, the other
  // one is among them.
  const [ra, rb] = await Promise.all([request(a.agent, 'app.localhost', '/echo', { cookie }), request(b.agent, 'app.localhost', '/echo', { cookie })]);
  assert.deepEqual([ra.status, rb.status], [401, 401]);
});
