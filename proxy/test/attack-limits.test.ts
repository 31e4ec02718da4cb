// proxy/test/attack-limits.test.ts — resource exhaustion (SPEC §7 limits): oversized headers, slowloris on the head,
// a slow body, idle connections, header floods, pathological paths, oversized bodies on Drawbridge's own endpoints,
// and a flood of sign-in attempts. Limits are short here (`limits:` in the stack's YAML) so the server's timeouts
// can be watched closing connections; the one-time store stays bounded and the server keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../src/config/load.js';
import { formatIssue } from '../src/config/locate.js';
import { MemoryStore } from '../src/session/memory-store.js';
import { oneTimeRecords, type AccessGrantRecord, type LoginAttempt } from '../src/session/one-time.js';
import { head, headerValues, marker, sendRaw } from '../../test-support/raw.js';
import { CLIENT_SECRET, mapLimit, SESSION_SECRET, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { DEFAULT_ROUTES } from '../../test-support/routes.js';

const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;
const KEEP_ALIVE_TIMEOUT_MS = 1000;
// Node enforces the first two when it sweeps its connections; Drawbridge sweeps at least every second.
const SWEEP_MS = 1000;
const SIGN_INS_PER_NETWORK = 50;

let s: Stack;
let host: string;

before(async () => {
  s = await startStack({
    routes: DEFAULT_ROUTES,
    // The sign-in flood comes through a trusted hop (X-Forwarded-For) so that its clients' networks can differ.
    extra: `limits: { maxHeaderSize: 16384, headersTimeout: ${HEADERS_TIMEOUT_MS / 1000}s, requestTimeout: ${REQUEST_TIMEOUT_MS / 1000}s, keepAliveTimeout: ${KEEP_ALIVE_TIMEOUT_MS / 1000}s, signInsPerNetwork: ${SIGN_INS_PER_NETWORK} }\ntrustedProxies: [127.0.0.0/8]`,
  });
  host = `Host: public.localhost:${s.port}`;
});

after(async () => {
  await s?.close();
});

/** The upstream requests carrying `m`. */
const upstreamSaw = (m: string) => s.app.requests.filter((r) => r.url.includes(m));

/** Asserts a refusal by node's parser: one `status` answer, the connection closed, logged, no upstream request. */
async function assertRefusedEarly(data: string, m: string, status: number): Promise<void> {
  const logs = s.logs.length;
  const ex = await sendRaw(s.port, data, { timeoutMs: 5000 });
  assert.ok(ex.closed, 'closed');
  assert.deepEqual(
    ex.responses.map((r) => r.status),
    [status],
  );
  assert.equal(upstreamSaw(m).length, 0, 'the upstream was not contacted');
  await waitFor(() => s.logs.slice(logs).some((l) => l.event === 'client-error' && l.status === status), 2000);
}

describe('header size', () => {
  test('one oversized header: 431', { timeout: 15_000 }, async () => {
    const m = marker('big');
    await assertRefusedEarly(head(`GET /${m} HTTP/1.1`, host, `X-Big: ${'a'.repeat(20_000)}`, 'Connection: close'), m, 431);
  });

  test('many headers adding up past the limit: 431', { timeout: 15_000 }, async () => {
    const m = marker('many');
    const lines = Array.from({ length: 400 }, (_, i) => `X-Filler-${i}: ${'b'.repeat(40)}`);
    await assertRefusedEarly(head(`GET /${m} HTTP/1.1`, host, ...lines, 'Connection: close'), m, 431);
  });

  test('an oversized request line or cookie: 431', { timeout: 15_000 }, async () => {
    const m = marker('longurl');
    await assertRefusedEarly(head(`GET /${m}/${'a'.repeat(20_000)} HTTP/1.1`, host, 'Connection: close'), m, 431);
    const c = marker('cookie');
    await assertRefusedEarly(head(`GET /${c} HTTP/1.1`, host, `Cookie: drawbridge=${'c'.repeat(20_000)}`, 'Connection: close'), c, 431);
  });

  test('control: a head just under the limit is served', { timeout: 15_000 }, async () => {
    const m = marker('under');
    const ex = await sendRaw(s.port, head(`GET /echo?${m} HTTP/1.1`, host, 'Accept: application/json', `X-Big: ${'a'.repeat(12_000)}`, 'Connection: close'));
    assert.equal(ex.first.status, 200);
    assert.equal(upstreamSaw(m).length, 1);
  });

  test('a flood of 2,100 tiny headers hides nothing past node’s header count', { timeout: 15_000 }, async () => {
    // Node keeps the first 2,000 header lines and drops the rest: a spoofed header placed last is dropped, one
    // placed first is stripped; either way the upstream gets Drawbridge's values only.
    const m = marker('flood');
    const filler = Array.from({ length: 2100 }, (_, i) => `a${i % 10}: b`);
    const ex = await sendRaw(s.port, head(`GET /echo?${m} HTTP/1.1`, host, 'Accept: application/json', 'X-Forwarded-User: SPOOF-first', ...filler, 'X-Forwarded-User: SPOOF-last', 'X-Drawbridge-Assertion: SPOOF', 'Connection: close'));
    assert.ok(ex.first.status === 200 || ex.first.status === 431, `status ${ex.first.status}`);
    for (const r of upstreamSaw(m)) {
      assert.ok(!r.rawHeaders.some((h) => h.includes('SPOOF')), 'no spoofed header reached the upstream');
      assert.deepEqual(headerValues(r.rawHeaders, 'x-forwarded-user'), []);
    }
  });

  test('a Host past the header count is no Host: refused', { timeout: 15_000 }, async () => {
    const m = marker('latehost');
    const filler = Array.from({ length: 2001 }, () => 'a: b');
    const ex = await sendRaw(s.port, head(`GET /echo?${m} HTTP/1.1`, ...filler, host, 'Connection: close'));
    assert.equal(ex.first.status, 400);
    assert.equal(upstreamSaw(m).length, 0);
  });
});

describe('slow and idle clients are cut off by the configured timeouts', () => {
  test('slowloris: a head trickled one byte at a time is closed after headersTimeout', { timeout: 20_000 }, async () => {
    const m = marker('loris');
    const trickle = Array.from({ length: 60 }, () => 'x');
    const ex = await sendRaw(s.port, [`GET /${m} HTTP/1.1\r\n${host}\r\nX-Slow: `, ...trickle], { gapMs: 250, timeoutMs: 12_000 });
    assert.ok(ex.closed, `the server closed the connection (it was still open after ${Math.round(ex.elapsedMs)} ms)`);
    assert.ok(ex.closedAtMs! >= HEADERS_TIMEOUT_MS - 100, `not before headersTimeout (${Math.round(ex.closedAtMs!)} ms)`);
    assert.ok(ex.closedAtMs! <= HEADERS_TIMEOUT_MS + SWEEP_MS + 1000, `soon after headersTimeout (${Math.round(ex.closedAtMs!)} ms)`);
    assert.deepEqual(
      ex.responses.map((r) => r.status),
      [408],
    );
    assert.equal(upstreamSaw(m).length, 0);
  });

  test('a connection that sends nothing is closed', { timeout: 20_000 }, async () => {
    const ex = await sendRaw(s.port, [], { timeoutMs: 10_000 });
    assert.ok(ex.closed, 'closed');
    assert.ok(ex.closedAtMs! <= Math.max(HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS) + SWEEP_MS + 1500, `closed after ${Math.round(ex.closedAtMs!)} ms`);
  });

  test('a slow body is cut off after requestTimeout, and the server is fine afterwards', { timeout: 20_000 }, async () => {
    const m = marker('slowbody');
    const trickle = Array.from({ length: 40 }, () => 'x');
    const ex = await sendRaw(s.port, [`POST /echo?${m} HTTP/1.1\r\n${host}\r\nAccept: application/json\r\nContent-Length: 1000\r\n\r\n`, ...trickle], { gapMs: 250, timeoutMs: 12_000 });
    assert.ok(ex.closed, `closed (still open after ${Math.round(ex.elapsedMs)} ms)`);
    assert.ok(ex.closedAtMs! <= REQUEST_TIMEOUT_MS + SWEEP_MS + 1000, `closed after ${Math.round(ex.closedAtMs!)} ms`);
    assert.ok(ex.responses.length <= 1 && ex.responses.every((r) => r.status === 408), JSON.stringify(ex.raw.slice(0, 100)));
    const again = await sendRaw(s.port, head('GET /echo HTTP/1.1', host, 'Accept: application/json', 'Connection: close'));
    assert.equal(again.first.status, 200);
    assert.ok(!s.logs.some((l) => l.event === 'internal-error'), 'no internal error');
  });

  test('an idle keep-alive connection is closed after keepAliveTimeout', { timeout: 20_000 }, async () => {
    const ex = await sendRaw(s.port, head('GET /echo HTTP/1.1', host, 'Accept: application/json'), { timeoutMs: 10_000 });
    assert.equal(ex.first.status, 200);
    assert.ok(ex.closed, 'closed by the server');
    const idle = ex.closedAtMs! - ex.firstByteAtMs!;
    assert.ok(idle >= KEEP_ALIVE_TIMEOUT_MS - 100 && idle <= KEEP_ALIVE_TIMEOUT_MS + 2000, `closed after ${Math.round(idle)} ms idle`);
  });
});

describe('pathological input is cheap to refuse or normalize', () => {
  test('very deep and very repetitive paths', { timeout: 20_000 }, async () => {
    const cases: [string, number][] = [
      [`/${'a/'.repeat(5000)}x`, 200],
      [`/${'./'.repeat(5000)}x`, 200],
      [`/${'a/../'.repeat(2500)}x`, 200],
      [`/${'%2e%2e/'.repeat(2000)}x`, 400],
      [`/${'%61'.repeat(5000)}`, 200],
      [`/${'/'.repeat(12_000)}x`, 200],
    ];
    for (const [path, status] of cases) {
      const started = performance.now();
      const ex = await sendRaw(s.port, head(`GET ${path} HTTP/1.1`, host, 'Accept: application/json', 'Connection: close'));
      assert.equal(ex.first.status, status, `${path.slice(0, 30)}…`);
      assert.ok(performance.now() - started < 2000, `${path.slice(0, 30)}… answered in ${Math.round(performance.now() - started)} ms`);
    }
  });

  test('an oversized Host is refused', { timeout: 15_000 }, async () => {
    const ex = await sendRaw(s.port, head('GET / HTTP/1.1', `Host: ${'a.'.repeat(200)}localhost:${s.port}`, 'Connection: close'));
    assert.equal(ex.first.status, 400);
  });

  test('oversized bodies on Drawbridge’s own endpoints are refused without harm', { timeout: 20_000 }, async () => {
    const body = `csrf=${'x'.repeat(1_000_000)}`;
    for (const path of ['/.drawbridge/sign_out', '/.drawbridge/backchannel_logout']) {
      const ex = await sendRaw(
        s.port,
        head(`POST ${path} HTTP/1.1`, `Host: auth.localhost:${s.port}`, 'Accept: application/json', 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`, 'Cookie: drawbridge=x', 'Connection: close') + body,
        { timeoutMs: 10_000 },
      );
      assert.ok(ex.responses.length === 0 || (ex.first.status >= 400 && ex.first.status < 500), `${path}: ${ex.responses[0]?.status}`);
    }
    const again = await sendRaw(s.port, head('GET /.drawbridge/jwks.json HTTP/1.1', `Host: auth.localhost:${s.port}`, 'Connection: close'));
    assert.equal(again.first.status, 200);
  });
});

describe('a flood of sign-in attempts', () => {
  test('2,000 sign-in starts from one client network: its allowance reaches the IdP, the rest get 429 and store nothing; other networks and a real user still sign in', { timeout: 120_000 }, async () => {
    const store = s.db.store as MemoryStore;
    assert.equal(store.kind, 'memory');
    const before = store.oneTimeUsage('login:');
    const heapBefore = process.memoryUsage().heapUsed;
    const start = (client: string, i: number) =>
      sendRaw(s.port, head(`GET /.drawbridge/sign_in?rd=%2Fpage${i} HTTP/1.1`, `Host: auth.localhost:${s.port}`, `X-Forwarded-For: ${client}`, 'Accept: text/html', 'Connection: close'));
    const t0 = performance.now();
    const answers = await mapLimit(Array.from({ length: 2000 }, (_, i) => i), 50, async (i) => (await start('203.0.113.9', i)).first);
    const seconds = (performance.now() - t0) / 1000;
    const started = answers.filter((a) => a.status === 302).length;
    const limited = answers.filter((a) => a.status === 429);
    assert.equal(started + limited.length, 2000, `every start answered with a redirect or a 429: ${JSON.stringify([...new Set(answers.map((a) => a.status))])}`);
    // The allowance at once, then one more every 600 s / 50 = 12 s while the flood lasts.
    assert.ok(started >= SIGN_INS_PER_NETWORK && started <= SIGN_INS_PER_NETWORK + Math.ceil(seconds / 12) + 1, `${started} starts reached the IdP in ${seconds.toFixed(1)} s`);
    for (const a of limited.slice(0, 20)) {
      const retryAfter = Number(a.headers['retry-after']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 12, `Retry-After ${a.headers['retry-after']}`);
      assert.match(a.body, /Too many sign-ins were started from your network/);
      assert.equal(a.headers['set-cookie'], undefined, 'no attempt cookie with a refusal');
    }
    const after = store.oneTimeUsage('login:');
    assert.equal(after.size - before.size, started, 'a login attempt for each start let through, none for a refusal');
    assert.equal(store.oneTimeUsage().size - store.oneTimeUsage('login:').size, 0, 'and nothing of another kind');
    const grown = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    assert.ok(grown < 100, `heap grew ${grown.toFixed(1)} MB`);
    const logged = s.logs.find((l) => l.event === 'sign-in' && l.result === 'limited');
    assert.equal(logged?.network, '203.0.113.9/32', 'the log names the network');
    const metrics = await (await fetch(`${s.db.adminUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`drawbridge_sign_ins_total\\{result="limited"\\} ${limited.length}\\b`));
    // Another address has its own allowance; the addresses of one IPv6 /64 share one, another /64 does not.
    assert.equal((await start('203.0.113.10', 1)).first.status, 302);
    // Sent at once: the /64 gets one start back only every 12 s, so its allowance must be spent well within that.
    const v6 = await mapLimit(Array.from({ length: SIGN_INS_PER_NETWORK }, (_, i) => i), SIGN_INS_PER_NETWORK, async (i) => (await start(`2001:db8::${(i + 1).toString(16)}`, i)).first.status);
    assert.deepEqual([...new Set(v6)], [302], 'each address of the /64 starts a sign-in until the /64 has used its allowance');
    assert.equal((await start('2001:db8::ffff', 0)).first.status, 429, 'the /64 has used its allowance');
    assert.equal((await start('2001:db8:0:1::1', 0)).first.status, 302, 'another /64 has its own');
    // A real user, from another network, signs in through the whole flow.
    const b = s.browser();
    const r = await s.signIn(b, s.url('app.localhost', '/echo'), 'alice');
    assert.equal(r.response.status, 200);
    assert.equal((await s.db.ready()).ready, true);
  });

  test('the one-time store evicts the oldest beyond its bound (so a flood costs memory once, not forever)', async () => {
    const store = new MemoryStore({ maxSessions: 10, maxOneTime: 100 });
    for (let i = 0; i < 2000; i++) assert.equal(await store.putOnce(`login:${i}`, 'x'.repeat(200), 600_000), true);
    assert.deepEqual(store.oneTimeUsage(), { size: 100, max: 100 });
    assert.equal(await store.takeOnce('login:0'), undefined, 'the oldest were evicted');
    assert.equal(await store.takeOnce('login:1999'), 'x'.repeat(200), 'the newest kept');
    await store.close();
  });

  test('a flood of sign-in starts evicts only login attempts: access grants, pending requests, seen logout jtis and hand-offs stay', async () => {
    const store = new MemoryStore({ maxSessions: 10, maxOneTime: 100 });
    const once = oneTimeRecords(store);
    const now = Date.now();
    const grant: AccessGrantRecord = { id: 'g1', route: 'admin', sub: 's', user: 'alice', approver: 'bob', reason: 'incident', requestOf: 'r1', createdAt: now, expiresAt: now + 3_600_000 };
    assert.equal(await once.accessGrants.put('g1', grant), true);
    assert.equal(await once.logoutJtis.put('https://idp\0jti-1', true), true);
    const handoff = once.handoffs.key('handoff-code');
    assert.equal(await store.putOnce(handoff, '{}', 60_000), true);
    const pending: LoginAttempt = { verifier: 'v', nonce: 'n', rd: 'http://app.localhost/', binding: 'b' };
    assert.equal(await once.loginAttempts.put('victim-state', pending), true);
    // The attacker: far more anonymous sign-in starts than the bound.
    for (let i = 0; i < 1000; i++) await once.loginAttempts.put(`flood-${i}`, pending);
    assert.deepEqual(store.oneTimeUsage('login:'), { size: 100, max: 100 });
    assert.deepEqual(await once.accessGrants.peek('g1'), grant, 'the grant survives');
    assert.equal(await once.logoutJtis.put('https://idp\0jti-1', true), false, 'the logout token is still known: a replay is refused');
    assert.equal(await store.peekOnce(handoff), '{}', 'the hand-off code survives');
    assert.deepEqual((await once.accessGrants.list()).map((g) => g.id), ['g1']);
    // Login attempts only ever evict login attempts (a flood can delay sign-ins started before it, nothing else).
    assert.equal(await once.loginAttempts.take('victim-state'), undefined);
    await store.close();
  });
});

test('limits node cannot apply are a configuration error with a line number, not a crash at start', () => {
  const text = (limits: string) => `listen: "127.0.0.1:0"
publicUrl: http://auth.localhost:1
idp: { issuer: http://127.0.0.1:9, clientId: drawbridge, clientSecret: ${CLIENT_SECRET}, allowInsecureHttp: true }
session: { secret: ${SESSION_SECRET} }
limits: ${limits}
routes:
  - { name: app, from: http://app.localhost, to: http://127.0.0.1:9, public: true }
`;
  const bad = loadConfigText(text('{ headersTimeout: 20s, requestTimeout: 3s }'), 'limits.yaml');
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.errors.map(formatIssue).join('\n'), /^limits\.yaml:5:\d+: limits\.headersTimeout is longer than limits\.requestTimeout/m);
  assert.equal(loadConfigText(text('{ headersTimeout: 2s, requestTimeout: 3s }'), 'limits.yaml').ok, true);
});
