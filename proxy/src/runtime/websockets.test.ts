// runtime/websockets.test.ts — the registry's re-admission on its own (real store, sessions, compiled routes and
// policy; sockets and forwarder handles stand-ins): every close reason, a close before the handle is attached, one
// log line per sweep for a failing store, and the periodic timer.
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import type { WebSocketHandle } from '../forward/forwarder.js';
import { compileStripper } from '../forward/strip.js';
import type { Identity } from '../policy/input.js';
import { compileConfig } from '../routes/compile.js';
import { deriveKeys } from '../session/keys.js';
import { MemoryStore } from '../session/memory-store.js';
import { Sessions } from '../session/sessions.js';
import type { SessionRecord } from '../session/store.js';
import { createLogger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import type { Snapshot } from './runtime.js';
import { WebSockets, type Admission } from './websockets.js';

const MINUTE = 60_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

function snapshot(routes: string): Snapshot {
  const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789, idleTimeout: 10m, maxLifetime: 1h }
routes:
${routes}`;
  const r = loadConfigText(text, 't.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  const compiled = compileConfig(r.config);
  return { compiled, stripper: compileStripper(compiled.identityHeaderNames), trusted: [], hsts: undefined, routes: [] };
}

const ROUTES = `  - { name: app, from: "https://app.example.com", to: "http://10.0.0.1:80", policy: { allow: [ { groups: [engineering] } ] } }
  - { name: short, from: "https://app.example.com/short", to: "http://10.0.0.1:80", session: { maxLifetime: 5m }, policy: { allow: [ { authenticated: true } ] } }
  - { name: api, from: "https://api.example.com", to: "http://10.0.0.1:80", bearer: true, policy: { allow: [ { groups: [engineering] } ] } }
  - { name: open, from: "https://open.example.com", to: "http://10.0.0.1:80", public: true }
`;

const alice: Identity = { sub: 'alice-sub', user: 'alice', email: 'alice@example.com', emailVerified: true, groups: ['engineering'], amr: ['pwd'], claims: {} };

/** A memory store that can be made to fail like an unreachable Redis. */
class FlakyStore extends MemoryStore {
  down = false;
  override getNow(id: string): SessionRecord | undefined {
    if (this.down) throw new Error('DRB_STORE_UNAVAILABLE no answer');
    return super.getNow(id);
  }
}

function setup(routes = ROUTES, intervalMs?: number) {
  let now = T0;
  let snap = snapshot(routes);
  const store = new FlakyStore({ maxSessions: 100, now: () => now });
  const sessions = new Sessions(store, deriveKeys('a-session-secret-that-is-long-enough-0123456789'), { cookieBase: 'drawbridge', idleTimeoutMs: 10 * MINUTE, maxLifetimeMs: 60 * MINUTE });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ stream: new Writable({ write: (c, _e, cb) => (lines.push(...String(c).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)), cb()) }), batch: false });
  const metrics = createMetrics({ defaults: false });
  const ws = new WebSockets({ snapshot: () => snap, sessions, now: () => now, logger, metrics, ...(intervalMs !== undefined ? { intervalMs } : {}) });
  /** An open WebSocket admitted with `a`, with a stand-in handle recording its close. */
  const open = (a: Partial<Admission> = {}) => {
    const socket = new PassThrough();
    const closes: [number, string][] = [];
    const handle: WebSocketHandle = { close: (code, reason) => closes.push([code, reason]) };
    const entry = ws.add({ socket, requestId: `req-${Math.random()}`, route: 'app', hostname: 'app.example.com', path: '/ws', method: 'GET', ip: '10.1.2.3', identity: alice, ...a });
    entry?.attach(handle);
    return { socket, closes };
  };
  const closedLines = () => lines.filter((l) => l.event === 'websocket-closed');
  return {
    ws,
    store,
    sessions,
    metrics,
    lines,
    open,
    closedLines,
    advance: (ms: number) => (now += ms),
    reload: (routes: string) => (snap = snapshot(routes)),
  };
}

test('a valid session on an admitting route stays open; a session gone from the store is closed as revoked, with its log line and metric', async () => {
  const t = setup();
  const record = await t.sessions.create(alice, {}, undefined, T0);
  const kept = t.open({ sessionId: record.id });
  const other = await t.sessions.create(alice, {}, undefined, T0);
  const revoked = t.open({ sessionId: other.id, requestId: 'req-revoked' });
  await t.ws.sweep();
  assert.deepEqual(kept.closes, []);
  assert.equal(t.ws.size, 2);
  await t.store.delete(other.id);
  await t.ws.sweep();
  assert.deepEqual(revoked.closes, [[1008, 'revoked']]);
  assert.deepEqual(kept.closes, []);
  assert.equal(t.ws.size, 1);
  assert.deepEqual(t.closedLines().map(({ requestId, route, user, reason }) => ({ requestId, route, user, reason })), [{ requestId: 'req-revoked', route: 'app', user: 'alice', reason: 'revoked' }]);
  assert.match(await t.metrics.registry.metrics(), /drawbridge_websockets_closed_total\{route="app",reason="revoked"\} 1/);
  assert.match(await t.metrics.registry.metrics(), /drawbridge_websockets_open 1/);
});

test('the idle timeout, the absolute lifetime and the route’s own lifetime close as expired; the time of the sweep counts', async () => {
  const t = setup();
  const idle = await t.sessions.create(alice, {}, undefined, T0);
  const idleWs = t.open({ sessionId: idle.id });
  const busy = await t.sessions.create(alice, {}, undefined, T0);
  const busyWs = t.open({ sessionId: busy.id });
  const short = t.open({ sessionId: busy.id, path: '/short/ws', route: 'short' });
  t.advance(6 * MINUTE);
  await t.store.touch(busy.id, T0 + 6 * MINUTE);
  await t.ws.sweep();
  assert.deepEqual(short.closes, [[1008, 'expired']], 'the route allows sessions of at most 5 minutes');
  assert.deepEqual(busyWs.closes, []);
  t.advance(5 * MINUTE);
  await t.store.touch(busy.id, T0 + 11 * MINUTE);
  await t.ws.sweep();
  assert.deepEqual(idleWs.closes, [[1008, 'expired']], 'idle for 11 minutes (10 allowed)');
  assert.deepEqual(busyWs.closes, []);
  for (let m = 20; m < 60; m += 8) {
    t.advance(8 * MINUTE);
    await t.store.touch(busy.id, T0 + m * MINUTE);
  }
  await t.ws.sweep();
  assert.deepEqual(busyWs.closes, []);
  t.advance(10 * MINUTE);
  await t.store.touch(busy.id, T0 + 60 * MINUTE);
  await t.ws.sweep();
  assert.deepEqual(busyWs.closes, [[1008, 'expired']], 'the absolute lifetime (1 h) is over, however active');
});

/** A JWT-shaped token with these claims (verified at admission, so only read here). */
const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

test('a bearer WebSocket closes when its token expires (with the 30 s skew admission allowed)', async () => {
  const t = setup();
  const exp = Math.floor(T0 / 1000) + 120;
  const token = jwt({ exp, aud: ['other', 'c'] });
  const api = t.open({ hostname: 'api.example.com', route: 'api', bearer: token });
  t.advance(149_000);
  await t.ws.sweep();
  assert.deepEqual(api.closes, []);
  t.advance(1000);
  await t.ws.sweep();
  assert.deepEqual(api.closes, [[1008, 'expired']]);
  const unreadable = t.open({ hostname: 'api.example.com', route: 'api', bearer: 'not-a-jwt' });
  await t.ws.sweep();
  assert.deepEqual(unreadable.closes, [[1008, 'policy-denied']], 'a token without a readable exp is not kept open');
});

test('a bearer WebSocket closes when a reload stops the route taking its token: bearer off, or its audience no longer accepted', async () => {
  const t = setup();
  const exp = Math.floor(T0 / 1000) + 3600;
  const first = t.open({ hostname: 'api.example.com', route: 'api', bearer: jwt({ exp, aud: 'c' }) });
  t.reload(ROUTES.replace('bearer: true', 'bearer: { audiences: [c, reports] }'));
  await t.ws.sweep();
  assert.deepEqual(first.closes, []);
  t.reload(ROUTES.replace('bearer: true', 'bearer: { audiences: [reports] }'));
  await t.ws.sweep();
  assert.deepEqual(first.closes, [[1008, 'policy-denied']]);
  t.reload(ROUTES);
  const second = t.open({ hostname: 'api.example.com', route: 'api', bearer: jwt({ exp, aud: 'c' }) });
  t.reload(ROUTES.replace('bearer: true, ', ''));
  await t.ws.sweep();
  assert.deepEqual(second.closes, [[1008, 'policy-denied']]);
});

test('a reload: a route gone or without websockets closes as reload, a policy that refuses as policy-denied, the same policy keeps it', async () => {
  const t = setup();
  const record = await t.sessions.create(alice, {}, undefined, T0);
  const app = t.open({ sessionId: record.id });
  const pub = t.open({ hostname: 'open.example.com', route: 'open' });
  t.reload(ROUTES);
  await t.ws.sweep();
  assert.deepEqual(app.closes, []);
  assert.deepEqual(pub.closes, []);
  t.reload(ROUTES.replace('groups: [engineering] } ] } }\n  - { name: short', 'groups: [admins] } ] } }\n  - { name: short').replace('public: true', 'public: true, websockets: false'));
  await t.ws.sweep();
  assert.deepEqual(app.closes, [[1008, 'policy-denied']]);
  assert.deepEqual(pub.closes, [[1008, 'reload']]);
  const pub2 = t.open({ hostname: 'open.example.com', route: 'open' });
  t.reload(ROUTES.replace(/ {2}- \{ name: open.*\n/, ''));
  await t.ws.sweep();
  assert.deepEqual(pub2.closes, [[1008, 'reload']], 'no route serves the host any more');
});

test('an anonymous WebSocket on a route that stops being public is closed: the policy now wants a sign-in', async () => {
  const t = setup();
  const pub = t.open({ hostname: 'open.example.com', route: 'open', identity: undefined });
  t.reload(ROUTES.replace('public: true', 'policy: { allow: [ { authenticated: true } ] }'));
  await t.ws.sweep();
  assert.deepEqual(pub.closes, [[1008, 'policy-denied']]);
});

test('the store unreachable during a sweep: every session WebSocket is closed at once, one session-store line per sweep', async () => {
  const t = setup();
  const a = await t.sessions.create(alice, {}, undefined, T0);
  const b = await t.sessions.create(alice, {}, undefined, T0);
  const first = t.open({ sessionId: a.id });
  const second = t.open({ sessionId: b.id });
  const pub = t.open({ hostname: 'open.example.com', route: 'open' });
  t.store.down = true;
  await t.ws.sweep();
  assert.deepEqual(first.closes, [[1008, 'store-unavailable']]);
  assert.deepEqual(second.closes, [[1008, 'store-unavailable']]);
  assert.deepEqual(pub.closes, [], 'a public route needs no store');
  const storeLines = t.lines.filter((l) => l.event === 'session-store');
  assert.equal(storeLines.length, 1);
  assert.equal(storeLines[0]!.failures, 2);
  assert.deepEqual(
    t.closedLines().map((l) => [l.level, l.reason]),
    [
      ['warn', 'store-unavailable'],
      ['warn', 'store-unavailable'],
    ],
  );
});

test('endSession closes that session’s WebSockets at once and no other; a close before the handle is attached closes the handle on attach', async () => {
  const t = setup();
  const a = await t.sessions.create(alice, {}, undefined, T0);
  const b = await t.sessions.create(alice, {}, undefined, T0);
  const mine = t.open({ sessionId: a.id });
  const alsoMine = t.open({ sessionId: a.id, path: '/other' });
  const theirs = t.open({ sessionId: b.id });
  const pending = t.ws.add({ socket: new PassThrough(), requestId: 'req-pending', route: 'app', hostname: 'app.example.com', path: '/ws', method: 'GET', ip: '10.1.2.3', identity: alice, sessionId: a.id });
  t.ws.endSession(a.id);
  assert.deepEqual(mine.closes, [[1008, 'session-ended']]);
  assert.deepEqual(alsoMine.closes, [[1008, 'session-ended']]);
  assert.deepEqual(theirs.closes, []);
  const late: [number, string][] = [];
  pending!.attach({ close: (code, reason) => late.push([code, reason]) });
  assert.deepEqual(late, [[1008, 'session-ended']]);
  t.ws.endSession(a.id);
  assert.equal(t.closedLines().length, 3, 'each closed once');
});

test('a socket that closes leaves the registry; a socket already gone is not registered', async () => {
  const t = setup();
  const { socket } = t.open();
  assert.equal(t.ws.size, 1);
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  });
  assert.equal(t.ws.size, 0);
  const gone = new PassThrough();
  gone.destroy();
  assert.equal(t.ws.add({ socket: gone, requestId: 'r', route: 'app', hostname: 'app.example.com', path: '/', method: 'GET', ip: '10.1.2.3' }), undefined);
  assert.equal(t.ws.size, 0);
});

test('start() sweeps periodically (unref’d timer); close() stops it and is safe twice', async () => {
  const t = setup(ROUTES, 20);
  const record = await t.sessions.create(alice, {}, undefined, T0);
  const socket = new PassThrough();
  const closed = new Promise<[number, string]>((resolve) => t.ws.add({ socket, requestId: 'r', route: 'app', hostname: 'app.example.com', path: '/ws', method: 'GET', ip: '10.1.2.3', identity: alice, sessionId: record.id })!.attach({ close: (code, reason) => resolve([code, reason]) }));
  t.ws.start();
  await t.store.delete(record.id);
  // The sweep's timer is unref'd (it never keeps a process alive): this one keeps the test's loop running meanwhile.
  const alive = setInterval(() => undefined, 1000);
  try {
    assert.deepEqual(await closed, [1008, 'revoked']);
  } finally {
    clearInterval(alive);
  }
  t.ws.close();
  t.ws.close();
});
