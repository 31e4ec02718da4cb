// proxy/test/faults.test.ts — fault injection over real sockets (SPEC §3 step 6, §4 stores, §7 IdP down): the IdP,
// the upstream and the session store fail — before start, mid-sign-in, mid-refresh; refusing, resetting, hanging;
// stopped, hung. Every case fails closed (never forwards), recovers by itself, and loses no other user's session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import type { Drawbridge } from '../src/server/server.js';
import { startRedis } from '../../test-support/redis.js';
import { movableClock, received, reservePort, sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';

const ROUTES = `routes:
${APP_ROUTE}  - name: open
    from: http://open.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
${PUBLIC_ROUTE}`;

const JSON_ACCEPT = { accept: 'application/json' };
let markers = 0;
/** A unique query marker: `received(app, marker)` then tells whether the upstream saw a request. */
const marker = (label: string) => `${label}${Date.now()}x${++markers}`;

async function readyz(db: Drawbridge): Promise<{ status: number; body: { ready: boolean; checks: Record<string, boolean> } }> {
  const res = await fetch(`${db.adminUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, boolean> } };
}

function connections(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** Sockets held by the forwarder's keep-alive agents: `active` (in use) and `free` (pooled). */
function forwarderSockets(db: Drawbridge): { active: number; free: number } {
  return db.runtime.forwarder.socketCounts();
}

function logsOf(s: Stack, event: string, extra: (l: Record<string, any>) => boolean = () => true): Record<string, any>[] {
  return s.logs.filter((l) => l.event === event && extra(l));
}

/** A browser signed in as `login`, landed on `url` (200). */
async function signedIn(s: Stack, login: string, url: string): Promise<CookieJarClient> {
  const b = s.browser();
  const { response } = await s.signIn(b, url, login);
  assert.equal(response.status, 200, `${login} signed in at ${url}: ${response.status} ${response.url}`);
  return b;
}

/** A GET that must reach the upstream (200) and be seen there. */
async function assertAllowed(s: Stack, b: CookieJarClient, host: string, what: string): Promise<void> {
  const m = marker('ok');
  const r = await b.get(s.url(host, `/check?${m}`), { redirect: 'manual', headers: JSON_ACCEPT });
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
  assert.equal(received(s.app, m).length, 1, `${what}: the upstream saw it`);
}

// ---------------------------------------------------------------------------------------------------
// The identity provider.

test('IdP down at start: sign-in gets 503 and readyz 503; discovery retries with backoff and sign-in works once the IdP is up, without a restart', { timeout: 60_000 }, async () => {
  const s = await startStack({ routes: ROUTES, deferIdp: true });
  try {
    const m = marker('idpdown');
    const b = s.browser();
    const page = await b.get(s.url('app.localhost', `/deep?${m}`));
    assert.equal(page.status, 503, 'the browser ends on a 503 page, not at a dead IdP');
    assert.ok(page.url.startsWith(`${s.publicUrl}/.drawbridge/sign_in?`), page.url);
    assert.equal(page.redirects.length, 3, 'to sign-in through the route host\'s start (which binds the hand-off), no loop');
    assert.match(String(page.headers['retry-after']), /^\d+$/);
    assert.match(page.body, /Sign-in is temporarily unavailable/);
    const api = await s.api().get(`${s.publicUrl}/.drawbridge/sign_in?rd=%2F`, { redirect: 'manual' });
    assert.equal(api.status, 503);
    assert.equal(api.json().error, 'idp_unavailable');
    assert.equal((await s.api().get(s.url('app.localhost', `/?${m}`), { redirect: 'manual' })).status, 401, 'an API client is told to sign in, never let through');
    assert.equal(received(s.app, m).length, 0, 'the upstream was never contacted');
    const ready = await readyz(s.db);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.idp, false);

    // Let discovery fail a few times, then bring the IdP up on the issuer's port.
    await waitFor(() => logsOf(s, 'idp-discovery', (l) => l.result === 'failure').length >= 3, 10_000);
    await s.startIdp();
    await waitFor(async () => (await readyz(s.db)).status === 200, 20_000);
    const failures = logsOf(s, 'idp-discovery', (l) => l.result === 'failure');
    const delays = failures.map((l) => l.retryInMs as number);
    for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! > delays[i - 1]!, `backoff grows: ${delays.join(', ')}`);
    const success = logsOf(s, 'idp-discovery', (l) => l.result === 'success');
    assert.equal(success.length, 1);
    assert.equal(success[0]!.attempts, failures.length + 1);

    const { response } = await s.signIn(b, s.url('app.localhost', `/deep?${m}`), 'alice');
    assert.equal(response.status, 200, 'the same browser signs in now, same Drawbridge process');
    assert.equal(response.url, s.url('app.localhost', `/deep?${m}`));
    assert.equal(received(s.app, m).length, 1);
  } finally {
    await s.close();
  }
});

test('IdP down between the redirect to it and the callback: 503, no session; other signed-in users keep working; sign-in works again once it is back', { timeout: 60_000 }, async () => {
  const s = await startStack({ routes: ROUTES });
  try {
    const alice = await signedIn(s, 'alice', s.url('app.localhost', '/'));
    const bob = s.browser();
    const callback = `${s.publicUrl}/.drawbridge/callback`;
    const atIdp = await signInAtIdp(bob, s.url('open.localhost', '/after'), { login: 'bob', stopAt: callback, headers: { accept: 'text/html' } });
    assert.ok([302, 303].includes(atIdp.response.status), `the IdP sends bob back: ${atIdp.response.status}`);
    assert.ok(atIdp.response.location?.startsWith(`${callback}?`), atIdp.response.location);
    const sessionsBefore = await s.db.store.count();

    await s.stopIdp();
    const back = await bob.get(atIdp.response.location!, { redirect: 'manual' });
    assert.equal(back.status, 503, `the code cannot be exchanged: ${back.status} ${back.body.slice(0, 200)}`);
    assert.match(back.body, /Sign-in is temporarily unavailable/);
    assert.equal(sessionCookie(bob, s.publicUrl), undefined, 'no session cookie');
    assert.equal(await s.db.store.count(), sessionsBefore, 'no session was created');
    const m = marker('nobob');
    assert.equal((await bob.get(s.url('open.localhost', `/?${m}`), { redirect: 'manual' })).status, 302, 'bob is still signed out');
    assert.equal(received(s.app, m).length, 0);
    assert.ok(logsOf(s, 'sign-in', (l) => l.result === 'idp-unavailable').length >= 1, 'the failed exchange is logged');

    await assertAllowed(s, alice, 'app.localhost', 'alice while the IdP is down');

    await s.startIdp();
    const { response } = await s.signIn(bob, s.url('open.localhost', '/after'), 'bob');
    assert.equal(response.status, 200, 'bob signs in once the IdP is back');
    await assertAllowed(s, bob, 'open.localhost', 'bob after the IdP came back');
    await assertAllowed(s, alice, 'app.localhost', 'alice after the IdP came back');
  } finally {
    await s.close();
  }
});

/** Stops the stack's IdP and puts `handler` on its port instead (a load balancer in front of a dead IdP, a hung IdP). */
async function replaceIdp(s: Stack, handler: 'hang' | http.RequestListener): Promise<{ close(): Promise<void> }> {
  const port = s.idp!.port;
  await s.stopIdp();
  const sockets = new Set<net.Socket>();
  const server = handler === 'hang' ? net.createServer(() => {}) : http.createServer(handler);
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

const REFRESH_WINDOW_MS = 3_000; // past 80% of a 2 s access token
const REFRESH_PAUSE_MS = 31_000; // past the refresher's pause after a failed refresh

for (const outage of ['down', 'answering 503', 'answering 429', 'hanging'] as const) {
  test(`IdP ${outage} when a refresh is due: the signed-in users' requests keep working (no 5xx); the refresh happens once the IdP is back`, { timeout: 60_000 }, async () => {
    const clock = movableClock();
    const s = await startStack({ routes: ROUTES, idpOptions: { accessTokenTtl: 2 }, now: clock.now });
    let stand: { close(): Promise<void> } | undefined;
    try {
      const alice = await signedIn(s, 'alice', s.url('app.localhost', '/'));
      const bob = await signedIn(s, 'bob', s.url('open.localhost', '/'));
      const refreshes = (result: string, user = 'alice') => logsOf(s, 'refresh', (l) => l.result === result && l.user === user).length;

      if (outage === 'down') await s.stopIdp();
      else if (outage === 'hanging') stand = await replaceIdp(s, 'hang');
      else if (outage === 'answering 429') {
        // A rate limiter in front of the IdP: an OAuth error body, but not a refusal of the grant.
        stand = await replaceIdp(s, (_req, res) => {
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '5' }).end('{"error":"slow_down","error_description":"too many requests"}');
        });
      } else {
        stand = await replaceIdp(s, (_req, res) => {
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable","error_description":"the IdP is restarting"}');
        });
      }
      clock.advance(REFRESH_WINDOW_MS);
      const t0 = performance.now();
      await assertAllowed(s, alice, 'app.localhost', `alice, first request with the IdP ${outage}`);
      // A hung IdP may hold the first request up to the IdP client's timeout (5 s), not openid-client's default 30 s.
      assert.ok(performance.now() - t0 < 12_000, `answered in ${Math.round(performance.now() - t0)} ms`);
      for (let i = 0; i < 3; i++) {
        await assertAllowed(s, alice, 'app.localhost', `alice, request ${i + 2} with the IdP ${outage}`);
        await assertAllowed(s, bob, 'open.localhost', `bob, request ${i + 1} with the IdP ${outage}`);
      }
      assert.equal(refreshes('refused'), 0, 'an unreachable or failing IdP never ends a session');
      assert.equal(refreshes('idp-unavailable'), 1, 'one attempt, then a pause (no refresh storm against a failing IdP)');
      // Bob's refresh is due too. A hanging IdP held alice's request up to the client's timeout: nobody else's
      // refresh is tried during the pause, so bob is not held up as well. A failure that comes fast pauses only
      // the session that met it: bob tries (once) and is answered at once.
      assert.equal(refreshes('idp-unavailable', 'bob'), outage === 'hanging' ? 0 : 1, 'bob: a hanging IdP is not tried again by every user');

      await stand?.close();
      await s.startIdp();
      clock.advance(REFRESH_PAUSE_MS);
      await assertAllowed(s, alice, 'app.localhost', 'alice after the IdP came back');
      assert.equal(refreshes('success'), 1, 'the refresh happened once the IdP was back');
      await assertAllowed(s, alice, 'app.localhost', 'alice, next request');
      await assertAllowed(s, bob, 'open.localhost', 'bob after the IdP came back');
      assert.equal(refreshes('success'), 1, 'the new tokens are good for their lifetime: no refresh on every request');
      assert.equal(s.logs.filter((l) => l.event === 'request' && l.status >= 500).length, 0, 'no 5xx at all');
    } finally {
      await stand?.close();
      await s.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// The upstream.

/**
 * A TCP upstream that misbehaves: `reset` writes response headers and part of a body, then resets the connection
 * (RST); `cut` does the same but closes it cleanly (FIN) — the answer is just shorter than announced; `hang` reads
 * the request and never answers.
 */
async function faultyUpstream(mode: 'reset' | 'cut' | 'hang'): Promise<{ url: string; accepted: () => number; open: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (mode === 'hang') {
      socket.resume();
      return;
    }
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\nthe first bytes of a long answer');
      setTimeout(() => (mode === 'reset' ? socket.resetAndDestroy() : socket.destroy()), 50);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** One GET on a fresh connection; resolves with how it ended (a complete answer, or the connection closed mid-body). */
function rawGet(port: number, host: string, path: string, cookie: string, timeoutMs = 10_000): Promise<{ status: number; complete: boolean; body: string; error?: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { host, cookie, accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      const done = (error?: string) => resolve({ status: res.statusCode ?? 0, complete: res.complete, body, ms: performance.now() - t0, ...(error ? { error } : {}) });
      res.on('end', () => done());
      res.on('error', (e) => done(e.message));
      res.on('aborted', () => done('aborted'));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

test('upstream refusing, resetting mid-response and hanging: 502, a closed connection, 504 within the route timeout; no crash, no leaked socket', { timeout: 60_000 }, async () => {
  const reset = await faultyUpstream('reset');
  const cut = await faultyUpstream('cut');
  const hang = await faultyUpstream('hang');
  const refusedPort = await reservePort();
  const routes = `${ROUTES}  - name: refused
    from: http://faults.localhost:{{PORT}}/refused
    to: http://127.0.0.1:${refusedPort}
    policy: { allow: [ { authenticated: true } ] }
  - name: reset
    from: http://faults.localhost:{{PORT}}/reset
    to: ${reset.url}
    policy: { allow: [ { authenticated: true } ] }
  - name: cut
    from: http://faults.localhost:{{PORT}}/cut
    to: ${cut.url}
    policy: { allow: [ { authenticated: true } ] }
  - name: hang
    from: http://faults.localhost:{{PORT}}/hang
    to: ${hang.url}
    timeout: 1s
    policy: { allow: [ { authenticated: true } ] }
  - name: fine
    from: http://faults.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
`;
  const s = await startStack({ routes });
  try {
    const alice = await signedIn(s, 'alice', s.url('faults.localhost', '/'));
    const cookie = `drawbridge=${sessionCookie(alice, s.url('faults.localhost'))}`;
    const host = `faults.localhost:${s.port}`;

    // Refused: a 502 page that names neither the address nor the error.
    const refused = await alice.get(s.url('faults.localhost', '/refused/x'), { redirect: 'manual' });
    assert.equal(refused.status, 502);
    assert.ok(!refused.body.includes(String(refusedPort)) && !/ECONNREFUSED/i.test(refused.body), 'no internal detail leaks');
    assert.ok(logsOf(s, 'upstream-error', (l) => l.errorCode === 'DRB_UPSTREAM_UNAVAILABLE').length >= 1);

    // Reset (RST) or closed (FIN) after the headers: the client sees its connection closed mid-body, promptly (not
    // left waiting for the rest until some idle timeout), and the failure is logged.
    for (const route of ['reset', 'cut'] as const) {
      const got = await rawGet(s.port, host, `/${route}/big`, cookie);
      assert.equal(got.status, 200, `${route}: the upstream headers were relayed`);
      assert.equal(got.complete, false, `${route}: the body was cut short`);
      assert.ok(got.error, `${route}: the client connection was closed`);
      // Left alone, the client would wait for the rest until the server's idle timeout (61 s by default).
      assert.ok(got.ms < 5_000, `${route}: closed promptly (${Math.round(got.ms)} ms)`);
      await waitFor(() => logsOf(s, 'request', (l) => l.route === route && l.aborted === true).length === 1, 5_000);
      assert.equal(logsOf(s, 'request', (l) => l.route === route)[0]!.decision, 'allow:upstream-unavailable', `${route}: the request line says what happened`);
      assert.ok(logsOf(s, 'upstream-error', (l) => l.errorCode === 'DRB_UPSTREAM_UNAVAILABLE' && l.error.includes(`route "${route}"`)).length === 1, `${route}: logged as an upstream failure`);
    }

    // Hanging: 504 once the route's 1 s timeout passes; Drawbridge drops its upstream connection.
    const hung = await Promise.all(Array.from({ length: 10 }, () => alice.get(s.url('faults.localhost', '/hang/x'), { redirect: 'manual' })));
    for (const r of hung) assert.equal(r.status, 504);
    const hungMs = await (async () => {
      const t0 = performance.now();
      await alice.get(s.url('faults.localhost', '/hang/y'), { redirect: 'manual' });
      return performance.now() - t0;
    })();
    assert.ok(hungMs >= 950 && hungMs < 5_000, `504 after the route timeout (${Math.round(hungMs)} ms)`);
    assert.ok(logsOf(s, 'upstream-error', (l) => l.errorCode === 'DRB_UPSTREAM_TIMEOUT').length >= 11);
    await waitFor(() => hang.open() === 0, 5_000);

    // WebSocket upgrades to a refusing upstream: a bare 502, the socket closed.
    const ws = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(s.port, '127.0.0.1', () =>
        socket.write(`GET /refused/ws HTTP/1.1\r\nhost: ${host}\r\ncookie: ${cookie}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`),
      );
      let got = '';
      socket.on('data', (d) => (got += d.toString('latin1')));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.setTimeout(5_000, () => socket.destroy(new Error('ws: no answer')));
    });
    assert.match(ws, /^HTTP\/1\.1 502 /);

    // Next requests are fine, and nobody lost a session.
    for (let i = 0; i < 3; i++) await assertAllowed(s, alice, 'faults.localhost', `alice after the upstream faults (${i})`);
    assert.equal(logsOf(s, 'internal-error').length, 0);

    // No leaked socket: the client side drains, the forwarder holds nothing in use, the faulty upstreams see no connection.
    await waitFor(async () => (await connections(s.db.server)) === 0, 5_000);
    await waitFor(() => forwarderSockets(s.db).active === 0, 5_000);
    await waitFor(() => reset.open() === 0 && cut.open() === 0 && hang.open() === 0, 5_000);
    // Pooled keep-alive connections are closed after the agent's free-socket timeout (4 s).
    await waitFor(() => forwarderSockets(s.db).free === 0, 8_000);
  } finally {
    await s.close();
    await Promise.all([reset.close(), cut.close(), hang.close()]);
  }
});

// ---------------------------------------------------------------------------------------------------
// The session store.

const redisStore = (url: string) => `store: { type: redis, url: "${url}" }`;

test('Redis stopped mid-run: session routes 503 (never 200, never a redirect loop), public routes work, readyz 503; Redis back: the same sessions work, no new sign-in', { timeout: 60_000 }, async () => {
  const redis = await startRedis({ persist: true });
  const s = await startStack({ routes: ROUTES, store: redisStore(redis.url) });
  try {
    const alice = await signedIn(s, 'alice', s.url('app.localhost', '/'));
    const bob = await signedIn(s, 'bob', s.url('open.localhost', '/'));
    const signIns = () => logsOf(s, 'sign-in', (l) => l.result === 'success').length;
    assert.equal(signIns(), 2);
    assert.equal((await readyz(s.db)).status, 200);

    await redis.stop();
    const m = marker('redisdown');
    const page = await alice.get(s.url('app.localhost', `/?${m}`), { redirect: 'manual' });
    assert.equal(page.status, 503, 'a browser with a session gets 503, not a redirect to sign in again');
    assert.match(page.body, /Sessions are temporarily unavailable/);
    assert.match(String(page.headers['retry-after']), /^\d+$/);
    const followed = await alice.get(s.url('app.localhost', `/x?${m}`));
    assert.equal(followed.status, 503);
    assert.equal(followed.redirects.length, 1, 'no redirect at all');
    const api = await bob.get(s.url('open.localhost', `/?${m}`), { redirect: 'manual', headers: JSON_ACCEPT });
    assert.equal(api.status, 503);
    assert.equal(api.json().error, 'session_store_unavailable');
    const me = await alice.get(s.url('app.localhost', '/.drawbridge/me'), { redirect: 'manual' });
    assert.equal(me.status, 503, '/.drawbridge/me fails closed too');
    // Without a session: to sign-in (through the route host's start), which cannot store the login attempt — 503, not a loop.
    const anonymous = await s.browser().get(s.url('app.localhost', `/?${m}`));
    assert.equal(anonymous.status, 503);
    assert.ok(anonymous.redirects.length <= 3, anonymous.redirects.join(' → '));
    assert.equal(received(s.app, m).length, 0, 'nothing reached a protected upstream');
    // Public routes need no session.
    const pub = await s.api().get(s.url('public.localhost', `/?${m}`));
    assert.equal(pub.status, 200);
    assert.equal(received(s.app, m).length, 1);
    const ready = await readyz(s.db);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.store, false);
    // The operator sees why: the lost connection is logged (throttled while the client keeps reconnecting).
    await waitFor(async () => logsOf(s, 'session-store-connection').length > 0, 5_000);
    const connectionLines = logsOf(s, 'session-store-connection');
    assert.equal(connectionLines[0]!.level, 'warn');
    assert.ok(connectionLines.length <= 2, `throttled: ${connectionLines.length} lines`);

    await redis.restart();
    await waitFor(async () => (await readyz(s.db)).status === 200, 15_000);
    await waitFor(async () => (await alice.get(s.url('app.localhost', '/'), { redirect: 'manual' })).status === 200, 10_000);
    await assertAllowed(s, alice, 'app.localhost', 'alice, same cookie, after Redis came back');
    await assertAllowed(s, bob, 'open.localhost', 'bob, same cookie, after Redis came back');
    assert.equal(signIns(), 2, 'nobody signed in again');
  } finally {
    await s.close();
    await redis.stop();
  }
});

test('Redis hung (accepts, never answers): session routes 503 within about the command timeout, never 200; once it answers again the same sessions work', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const s = await startStack({ routes: ROUTES, store: redisStore(redis.url) });
  try {
    const alice = await signedIn(s, 'alice', s.url('app.localhost', '/'));
    const bob = await signedIn(s, 'bob', s.url('open.localhost', '/'));
    redis.pause();
    const m = marker('redishung');
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const r = await alice.get(s.url('app.localhost', `/?${m}`), { redirect: 'manual' });
      const ms = performance.now() - t0;
      assert.equal(r.status, 503, `request ${i}: ${r.status}`);
      assert.ok(ms < 5_000, `answered in ${Math.round(ms)} ms (the store's command timeout is 1 s)`);
    }
    assert.equal((await bob.get(s.url('open.localhost', `/?${m}`), { redirect: 'manual', headers: JSON_ACCEPT })).status, 503);
    assert.equal(received(s.app, m).length, 0);
    assert.equal((await s.api().get(s.url('public.localhost', '/'))).status, 200);
    assert.equal((await readyz(s.db)).status, 503);

    redis.resume();
    await waitFor(async () => (await readyz(s.db)).status === 200, 10_000);
    // Late replies to the commands that timed out must not be taken for the answers of later commands.
    for (let i = 0; i < 5; i++) {
      await assertAllowed(s, alice, 'app.localhost', `alice after Redis answered again (${i})`);
      await assertAllowed(s, bob, 'open.localhost', `bob after Redis answered again (${i})`);
    }
  } finally {
    await s.close();
    await redis.stop();
  }
});

test('Redis down when Drawbridge starts: 503 and readyz 503; Redis comes up: Drawbridge connects by itself and sign-in works', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  await redis.stop();
  const s = await startStack({ routes: ROUTES, store: redisStore(redis.url) });
  try {
    const m = marker('redislate');
    const page = await s.browser().get(s.url('app.localhost', `/?${m}`));
    assert.equal(page.status, 503, 'sign-in cannot store its login attempt: 503');
    assert.equal(received(s.app, m).length, 0);
    assert.equal((await readyz(s.db)).body.checks.store, false);
    assert.equal((await s.api().get(s.url('public.localhost', '/'))).status, 200);

    await redis.restart();
    await waitFor(async () => (await readyz(s.db)).status === 200, 15_000);
    const alice = await signedIn(s, 'alice', s.url('app.localhost', '/'));
    await assertAllowed(s, alice, 'app.localhost', 'alice once Redis came up');
  } finally {
    await s.close();
    await redis.stop();
  }
});
