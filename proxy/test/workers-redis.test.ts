// proxy/test/workers-redis.test.ts — `workers: 2` with the Redis session store (a real redis-server): each worker
// reads and writes Redis itself (with its own read cache, invalidated by Redis), the primary only serves the admin
// listener. Every request's log line names its worker, so the tests pin a keep-alive connection to each worker: a
// session made through one is valid on the other, and a sign-out through one is refused by the very next request
// on either.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevIdp, type DevIdp } from '../../e2e/idp/dev-idp.js';
import { startSampleApp, type SampleApp } from '../../e2e/sample-app/sample-app.js';
import { drawbridgeProcess, type DrawbridgeProcess } from '../../test-support/process.js';
import { workerPins, workersTestConfig, type Pin } from '../../test-support/worker-pins.js';
import { startRedis, type TestRedis } from '../../test-support/redis.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';
import { CLIENT_ID, CLIENT_SECRET, reservePort, waitFor } from '../../test-support/stack.js';

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
writeFileSync(file, workersTestConfig({ port, issuer: idp.issuer, store: `{ type: redis, url: "${redis.url}" }`, routes: `${APP_ROUTE}${PUBLIC_ROUTE}`.replaceAll('{{PORT}}', String(port)).replaceAll('{{APP}}', app.url) }));
const db: DrawbridgeProcess = drawbridgeProcess('serve', '--config', file);

before(async () => {
  const start = await db.line((l) => l.event === 'start' && l.workers === 2);
  assert.equal(start.store, 'redis');
  await waitFor(async () => (await fetch(`${String(start.admin)}/readyz`)).status === 200, 60_000, 100);
});

after(async () => {
  closePins();
  await db.stop();
  await idp?.close();
  await app?.close();
  await redis?.stop();
});

const { request, pinBoth, on, signIn, signOut, close: closePins } = workerPins(db, port);

/** GET /echo on a pinned connection, checking from the log that the pinned worker served it. */
async function echo(pin: Pin, cookie?: string): Promise<number> {
  return (await on(pin, 'app.localhost', '/echo', cookie ? { cookie } : {})).status;
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
  await signOut(client);
  // No wait of any kind: both leave as soon as the sign-out is answered; whichever worker signed out, the other
  // one is among them.
  const [ra, rb] = await Promise.all([request(a.agent, 'app.localhost', '/echo', { cookie }), request(b.agent, 'app.localhost', '/echo', { cookie })]);
  assert.deepEqual([ra.status, rb.status], [401, 401]);
});
