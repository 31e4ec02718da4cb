// proxy/test/websocket-lifetime.test.ts — a WebSocket lives no longer than what admitted it (SPEC §11), over real
// sockets: sign-out, back-channel logout and a revocation through the admin listener close it at once; a session
// deleted behind Drawbridge's back (another process, another replica), idle and absolute expiry (the route's own
// too), a `before:` grant running out and a bearer token's `exp` close it at the next sweep (driven here, with the
// injected clock, instead of waited for); a reload that refuses it closes it at once; nothing changed, it stays. The
// client gets a close frame 1008 with the reason, and every close has its `websocket-closed` line. With Redis: a
// `drawbridge sessions revoke` run against the store, and the store going away, close it too (fail closed). And the
// periodic timer really sweeps.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { parseForms, type CookieJarClient } from '../../e2e/support/http-client.js';
import { runCli } from '../src/cli/index.js';
import { startRedis, type TestRedis } from '../../test-support/redis.js';
import { movableClock, sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const MINUTE = 60_000;
/** No periodic sweep during a test: every close below comes from the event under test or the sweep the test runs. */
const NO_TIMER = 3_600_000;
const T = { timeout: 30_000 };

const routes = (before: string) => `routes:
${APP_ROUTE}  - name: short
    from: http://short.localhost:{{PORT}}
    to: {{APP}}
    session: { maxLifetime: 10m }
    policy:
      allow:
        - authenticated: true
  - name: jit
    from: http://jit.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering] }, { before: "${before}" } ]
  - name: api
    from: http://api.localhost:{{PORT}}
    to: {{APP}}
    bearer: true
    policy:
      allow:
        - groups: [engineering]
`;

interface Socket {
  ws: WebSocket;
  /** Resolves with the close code and reason the client got. */
  closed: Promise<{ code: number; reason: string }>;
  echo(text: string): Promise<string>;
}

/** Opens a WebSocket to /ws on `host` through the proxy port with the given headers; rejects when refused. */
function openSocket(s: Stack, host: string, headers: Record<string, string>): Promise<Socket> {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: `${host}:${s.port}`, ...headers } });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        echo: (text) =>
          new Promise((res, rej) => {
            ws.once('message', (data) => res(String(data)));
            ws.send(text, (e) => e && rej(e));
          }),
      }),
    );
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

interface SignedIn {
  b: CookieJarClient;
  /** The session id (64 hex characters). */
  id: string;
  /** Opens a WebSocket on `host` (a route host the browser has been to) with the browser's cookie there. */
  open(host?: string): Promise<Socket>;
}

/** Signs alice in on app.localhost and hands her session to the other hosts given. */
async function signedIn(s: Stack, hosts: string[] = []): Promise<SignedIn> {
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  assert.equal(response.status, 200);
  for (const host of hosts) assert.equal((await b.get(s.url(host, '/'))).status, 200, `alice reaches ${host}`);
  const cookie = sessionCookie(b, s.url('app.localhost'))!;
  const id = s.db.runtime.sessions.readId(`drawbridge=${cookie}`, false, new URL(s.url('app.localhost')).origin);
  assert.ok(id);
  return { b, id, open: (host = 'app.localhost') => openSocket(s, host, { cookie: `drawbridge=${sessionCookie(b, s.url(host))!}` }) };
}

/** The `websocket-closed` lines logged since `mark`. */
const closedLines = (s: Stack, mark: number) => s.logs.slice(mark).filter((l) => l.event === 'websocket-closed');

/** Asserts the socket is still open and relaying. */
async function assertOpen(socket: Socket, what: string): Promise<void> {
  assert.equal(socket.ws.readyState, WebSocket.OPEN, what);
  assert.equal(await socket.echo(what), what);
}

describe('memory store, injected clock', () => {
  const clock = movableClock();
  let s: Stack;
  let original: string;

  before(async () => {
    s = await startStack({ routes: routes(new Date(Date.now() + 10 * MINUTE).toISOString()), session: 'idleTimeout: 30m\nmaxLifetime: 40m', now: clock.now, websocketSweepMs: NO_TIMER });
    original = readFileSync(s.configFile, 'utf8');
  }, { timeout: 60_000 });

  after(async () => {
    await s?.close();
  });

  /** Runs `body` with `move(ms)` to move the clock, then moves it back (later sign-ins meet the real time). */
  async function travelling(body: (move: (ms: number) => void) => Promise<void>): Promise<void> {
    let moved = 0;
    try {
      await body((ms) => {
        clock.advance(ms);
        moved += ms;
      });
    } finally {
      clock.advance(-moved);
    }
  }

  test('nothing changed: sweeps and a reload of the same file keep it open', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    const mark = s.logs.length;
    await s.db.websockets.sweep();
    assert.deepEqual(await s.db.reload(), { ok: true });
    await s.db.websockets.sweep();
    await assertOpen(socket, 'still here');
    assert.deepEqual(closedLines(s, mark), []);
    assert.ok(s.db.websockets.size >= 1);
    socket.ws.close();
  });

  test('sign-out closes the WebSocket at once with 1008 session-ended, and logs it', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    const mark = s.logs.length;
    const confirm = await alice.b.get(s.url('app.localhost', '/.drawbridge/sign_out'));
    const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
    assert.ok(form, 'the confirm form');
    assert.equal((await alice.b.post(form.action, { form: form.fields, redirect: 'manual' })).status, 302);
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'session-ended' });
    const [line] = closedLines(s, mark);
    assert.equal(line?.route, 'app');
    assert.equal(line?.user, 'alice');
    assert.equal(line?.reason, 'session-ended');
    assert.match(String(line?.requestId), /^[0-9a-f-]{36}$/);
    // The upgrade's own line is written when Drawbridge's side of the socket has closed: the same request id.
    await waitFor(() => s.logs.some((l) => l.event === 'request' && l.requestId === line?.requestId && l.websocket === true && l.status === 101), 5000);
  });

  test('a session deleted from the store behind Drawbridge’s back closes at the next sweep, as revoked', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    await s.db.store.delete(alice.id);
    await assertOpen(socket, 'until the sweep');
    await s.db.websockets.sweep();
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'revoked' });
  });

  test('a revocation through the admin listener (`drawbridge sessions revoke` with a memory store) closes at once', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    const res = await fetch(`${s.db.adminUrl}/sessions/revoke?user=alice`, { method: 'POST', headers: { 'x-drawbridge-admin': 'revoke' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'revoked' });
  });

  test('a back-channel logout from the IdP closes it at once, as session-ended; another session’s stays', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    const other = await signedIn(s);
    const kept = await other.open();
    const record = await s.db.store.get(alice.id);
    assert.ok(record?.idpSid);
    const res = await fetch(`http://127.0.0.1:${s.port}/.drawbridge/backchannel_logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: await s.idp!.signLogoutToken({ sub: record.identity.sub, sid: record.idpSid }) }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'session-ended' });
    await s.db.websockets.sweep();
    await assertOpen(kept, 'the other IdP session');
    kept.ws.close();
  });

  test('idle expiry closes it at the next sweep, as expired', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    await travelling(async (move) => {
      move(29 * MINUTE);
      await s.db.websockets.sweep();
      await assertOpen(socket, 'idle 29 of 30 minutes');
      move(2 * MINUTE);
      await s.db.websockets.sweep();
    });
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'expired' });
  });

  test('the route’s own lifetime, then the absolute lifetime close it, however active the session', T, async () => {
    const alice = await signedIn(s, ['short.localhost']);
    const app = await alice.open('app.localhost');
    const short = await alice.open('short.localhost');
    await travelling(async (move) => {
      move(11 * MINUTE);
      await s.db.store.touch(alice.id, clock.now());
      await s.db.websockets.sweep();
      assert.deepEqual(await short.closed, { code: 1008, reason: 'expired' }, 'the short route allows 10 minutes');
      await assertOpen(app, 'same session, another route');
      for (let i = 0; i < 2; i++) {
        move(14 * MINUTE);
        await s.db.store.touch(alice.id, clock.now());
      }
      await s.db.websockets.sweep();
      await assertOpen(app, '39 minutes, active');
      move(2 * MINUTE);
      await s.db.websockets.sweep();
    });
    assert.deepEqual(await app.closed, { code: 1008, reason: 'expired' }, 'the session’s 40 minutes are over');
  });

  test('a `before:` grant that runs out closes it at the next sweep, as policy-denied', T, async () => {
    const alice = await signedIn(s, ['jit.localhost']);
    const socket = await alice.open('jit.localhost');
    await travelling(async (move) => {
      move(11 * MINUTE);
      await s.db.websockets.sweep();
    });
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'policy-denied' });
  });

  test('a bearer WebSocket closes once its token expired (beyond the 30 s skew), as expired', T, async () => {
    const exp = Math.floor(Date.now() / 1000) + 120;
    const token = await s.idp!.signJwt({ iss: s.idp!.issuer, aud: 'drawbridge', sub: 'alice-sub', preferred_username: 'alice', groups: ['engineering'], iat: exp - 120, exp });
    const socket = await openSocket(s, 'api.localhost', { authorization: `Bearer ${token}` });
    await travelling(async (move) => {
      move(exp * 1000 - Date.now() + 20_000);
      await s.db.websockets.sweep();
      await assertOpen(socket, 'within the skew');
      move(15_000);
      await s.db.websockets.sweep();
    });
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'expired' });
  });

  test('a reload that refuses alice closes her WebSocket at once, as policy-denied', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    try {
      writeFileSync(s.configFile, original.replace('- groups: [engineering]\n  - name: short', '- groups: [admins]\n  - name: short'));
      assert.deepEqual(await s.db.reload(), { ok: true });
      assert.deepEqual(await socket.closed, { code: 1008, reason: 'policy-denied' });
    } finally {
      writeFileSync(s.configFile, original);
      assert.deepEqual(await s.db.reload(), { ok: true });
    }
  });

  test('a reload that removes the route or turns its websockets off closes at once, as reload', T, async () => {
    const alice = await signedIn(s, ['jit.localhost']);
    const app = await alice.open('app.localhost');
    const jit = await alice.open('jit.localhost');
    try {
      const changed = original.replace(/ {2}- name: jit\n[\s\S]*?before: "[^"]*" \} \]\n/, '').replace('    to: {{APP}}\n'.replace('{{APP}}', s.app.url), `    to: ${s.app.url}\n    websockets: false\n`);
      assert.notEqual(changed, original);
      writeFileSync(s.configFile, changed);
      assert.deepEqual(await s.db.reload(), { ok: true });
      assert.deepEqual(await jit.closed, { code: 1008, reason: 'reload' }, 'the route is gone');
      assert.deepEqual(await app.closed, { code: 1008, reason: 'reload' }, 'websockets: false');
    } finally {
      writeFileSync(s.configFile, original);
      assert.deepEqual(await s.db.reload(), { ok: true });
    }
  });
});

describe('Redis store', () => {
  let redis: TestRedis;
  let s: Stack;

  before(async () => {
    redis = await startRedis();
    s = await startStack({ routes: routes(new Date(Date.now() + 60 * MINUTE).toISOString()), store: `store: { type: redis, url: "${redis.url}" }`, adminListen: false, websocketSweepMs: NO_TIMER });
  }, { timeout: 60_000 });

  after(async () => {
    await s?.close();
    await redis?.stop();
  });

  test('`drawbridge sessions revoke` run against the store (not this instance) closes it at the next sweep', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    let out = '';
    const code = await runCli(['sessions', 'revoke', '--user', 'alice', '--config', s.configFile], { stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (out += c) }, env: {} });
    assert.equal(code, 0, out);
    await assertOpen(socket, 'until the sweep');
    await s.db.websockets.sweep();
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'revoked' });
  });

  test('the store unreachable during a sweep: closed at once (fail closed), as store-unavailable', T, async () => {
    const alice = await signedIn(s);
    const socket = await alice.open();
    const mark = s.logs.length;
    await s.db.websockets.sweep();
    await assertOpen(socket, 'Redis up');
    await redis.stop();
    await s.db.websockets.sweep();
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'store-unavailable' });
    assert.ok(closedLines(s, mark).some((l) => l.reason === 'store-unavailable' && l.level === 'warn'));
    assert.ok(s.logs.slice(mark).some((l) => l.event === 'session-store' && l.level === 'error'));
  });
});

test('the periodic sweep runs by itself (a short interval here; 30 s by default)', T, async () => {
  const s = await startStack({ routes: routes(new Date(Date.now() + 60 * MINUTE).toISOString()), websocketSweepMs: 50 });
  try {
    const alice = await signedIn(s);
    const socket = await alice.open();
    await s.db.store.delete(alice.id);
    // Nobody calls sweep(): the timer does.
    assert.deepEqual(await socket.closed, { code: 1008, reason: 'revoked' });
  } finally {
    await s.close();
  }
});
