// proxy/test/attack-headers.test.ts — a client can never set what the upstream reads as identity (SPEC §3 step 3,
// §6; oauth2-proxy CVE-2025-64484 `X-Auth_Request_User`): every identity header name (default and renamed), the
// (renamed) assertion header and `X-Drawbridge-*`, in every case and `_`/`-` spelling, repeated, folded, with
// `Expect: 100-continue`, named in `Connection` to make Drawbridge drop its own values, and in chunked trailers.
// The upstream sees only Drawbridge's values and still receives a verifiable assertion.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { head, headerPairs, headerValues, marker, sendRaw, type Exchange } from '../../test-support/raw.js';
import { cookieOn, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';

/** One request as a recording upstream got it, trailers included (the sample app does not read trailers). */
interface Recorded {
  url: string;
  rawHeaders: string[];
  rawTrailers: string[];
  body: string;
}

const ASSERTION_HEADER = 'X-Identity-Assertion';
const RENAMED = { user: 'X-Auth-Request-User', email: 'X-Auth-Request-Email', groups: 'X-Auth-Request-Groups', name: 'X-Auth-Request-Name' };

// Every name a client might use to pose as someone: the defaults, a route's renamed ones, the access token, the
// configured and the default assertion header, Drawbridge's own namespace.
const NAMES = [
  'X-Forwarded-User',
  'X-Forwarded-Email',
  'X-Forwarded-Groups',
  'X-Forwarded-Name',
  'X-Forwarded-Access-Token',
  ...Object.values(RENAMED),
  ASSERTION_HEADER,
  'X-Drawbridge-Assertion',
  'X-Drawbridge-Groups-Truncated',
  'X-Drawbridge-User',
];

/** The spellings of one name: as is, lower, mixed case, all `_`, one `_`, `_` with odd case. */
function variants(name: string): string[] {
  const parts = name.split('-');
  const mixed = parts.map((p, i) => (i % 2 ? p.toUpperCase() : p.toLowerCase())).join('-');
  return [name, name.toLowerCase(), mixed, parts.join('_'), `${parts.slice(0, -1).join('-')}_${parts.at(-1)}`, parts.map((p) => p.toUpperCase()).join('_')];
}

const SPOOF_LINES = NAMES.flatMap((n) => variants(n).map((v, i) => `${v}: SPOOF-${i}-mallory`));

let s: Stack;
let alice: string;
let recorder: http.Server;
const recorded: Recorded[] = [];
let jwks: ReturnType<typeof createRemoteJWKSet>;

before(async () => {
  recorder = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      recorded.push({ url: req.url ?? '', rawHeaders: [...req.rawHeaders], rawTrailers: [...req.rawTrailers], body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('recorded');
    });
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', () => r()));
  const rec = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
  s = await startStack({
    extra: `assertion: { header: ${ASSERTION_HEADER} }`,
    routes: `routes:
${APP_ROUTE}  - name: renamed
    from: http://renamed.localhost:{{PORT}}
    to: {{APP}}
    identityHeaders: { user: ${RENAMED.user}, email: ${RENAMED.email}, groups: ${RENAMED.groups}, name: ${RENAMED.name} }
    policy:
      allow:
        - groups: [engineering]
${PUBLIC_ROUTE}  - name: readonly
    from: http://readonly.localhost:{{PORT}}
    to: {{APP}}
    methods: [GET, HEAD]
    policy:
      allow:
        - and: [ { authenticated: true }, { method: [GET, HEAD] } ]
  - name: keeps
    from: http://keeps.localhost:{{PORT}}
    to: {{APP}}
    keepRequestHeaders: [x-original-URL]
    policy:
      allow:
        - authenticated: true
  - name: recorder
    from: http://rec.localhost:{{PORT}}
    to: ${rec}
    policy:
      allow:
        - authenticated: true
`,
  });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  alice = sessionCookie(b, s.url('app.localhost'))!;
  // Each route host has its own cookie value for this session (cookieOn gives it, as a hand-off there would).
  assert.ok(alice);
  jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
});

after(async () => {
  await s?.close();
  await new Promise<void>((r) => recorder?.close(() => r()));
});

const ALICE = { user: 'alice', email: 'alice@example.com', groups: 'engineering', name: 'Alice Example' };

/** The identity headers one route passes, by field. */
function namesFor(route: 'app' | 'renamed'): typeof RENAMED {
  return route === 'renamed' ? RENAMED : { user: 'X-Forwarded-User', email: 'X-Forwarded-Email', groups: 'X-Forwarded-Groups', name: 'X-Forwarded-Name' };
}

/** What the upstream got must be Drawbridge's values only, under the route's names, with one verifiable assertion. */
async function assertOnlyDrawbridgeValues(rawHeaders: string[], route: 'app' | 'renamed' | 'public', hostName: string): Promise<void> {
  const leaked = headerPairs(rawHeaders).filter(([, v]) => v.includes('SPOOF'));
  assert.deepEqual(leaked, [], 'no client-set value reached the upstream');
  const drawbridge = headerPairs(rawHeaders)
    .map(([n]) => n)
    .filter((n) => n.startsWith('x-drawbridge-'));
  assert.deepEqual(drawbridge, [], 'no x-drawbridge-* header (the assertion is renamed, groups are not truncated)');
  if (route === 'public') {
    for (const name of [...NAMES, 'X-Forwarded-User']) assert.deepEqual(headerValues(rawHeaders, name), [], `${name} absent on a public route`);
    return;
  }
  const names = namesFor(route);
  for (const field of ['user', 'email', 'groups', 'name'] as const) {
    assert.deepEqual(headerValues(rawHeaders, names[field]), [ALICE[field]], `${names[field]} is Drawbridge's`);
  }
  const other = namesFor(route === 'app' ? 'renamed' : 'app');
  for (const field of ['user', 'email', 'groups', 'name'] as const) assert.deepEqual(headerValues(rawHeaders, other[field]), [], `${other[field]} is absent`);
  assert.deepEqual(headerValues(rawHeaders, 'X-Forwarded-Access-Token'), []);
  const assertions = headerValues(rawHeaders, ASSERTION_HEADER);
  assert.equal(assertions.length, 1, 'exactly one assertion');
  const { payload } = await jwtVerify(assertions[0]!, jwks, { issuer: s.publicUrl, audience: `http://${hostName}:${s.port}`, algorithms: ['ES256'] });
  assert.equal(payload.user, 'alice');
  assert.equal(payload.route, route);
}

interface Sent {
  ex: Exchange;
  upstream: string[][];
}

/** Sends a request with the given extra header lines on `host`; returns the answer and the upstream's raw headers. */
async function send(hostName: string, lines: string[], options: { method?: string; body?: string; expect?: boolean; cookie?: boolean } = {}): Promise<Sent> {
  const m = marker('hdr');
  const method = options.method ?? 'GET';
  const body = options.body;
  const headLines = [
    `${method} /echo?${m} HTTP/1.1`,
    `Host: ${hostName}:${s.port}`,
    'Accept: application/json',
    ...(options.cookie === false ? [] : [`Cookie: drawbridge=${cookieOn(s.port, alice, hostName)}`]),
    ...lines,
    ...(body !== undefined ? ['Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(body)}`] : []),
    ...(options.expect ? ['Expect: 100-continue'] : []),
    'Connection: close',
  ];
  let ex: Exchange;
  if (options.expect) {
    // Head first; the body only after the interim 100 (or a second).
    ex = await sendRaw(s.port, [head(...headLines), body ?? ''], { gapMs: 300 });
  } else {
    ex = await sendRaw(s.port, head(...headLines) + (body ?? ''));
  }
  return { ex, upstream: s.app.requests.filter((r) => r.url.includes(m)).map((r) => r.rawHeaders) };
}

const ROUTES = [
  { route: 'app', host: 'app.localhost' },
  { route: 'renamed', host: 'renamed.localhost' },
  { route: 'public', host: 'public.localhost' },
] as const;

test('the spoofing list covers every name in six spellings', () => {
  assert.equal(SPOOF_LINES.length, NAMES.length * 6);
  assert.ok(SPOOF_LINES.includes('X_Auth_Request_User: SPOOF-3-mallory'));
  assert.ok(SPOOF_LINES.includes('X-Auth-Request_User: SPOOF-4-mallory'), 'the CVE-2025-64484 spelling');
  assert.ok(SPOOF_LINES.includes('x-FORWARDED-user: SPOOF-2-mallory'));
});

describe('every spelling of every identity name is stripped', () => {
  for (const { route, host } of ROUTES) {
    test(`${route}: GET`, { timeout: 20_000 }, async () => {
      const { ex, upstream } = await send(host, SPOOF_LINES);
      assert.equal(ex.first.status, 200, ex.raw.slice(0, 200));
      assert.equal(upstream.length, 1);
      await assertOnlyDrawbridgeValues(upstream[0]!, route, host);
    });

    test(`${route}: each name repeated, and comma-joined`, { timeout: 20_000 }, async () => {
      const repeated = NAMES.flatMap((n) => [`${n}: SPOOF-a`, `${n}: SPOOF-b`, `${n.toLowerCase()}: SPOOF-c, alice`, `${n.replaceAll('-', '_')}: SPOOF-d`]);
      const { ex, upstream } = await send(host, repeated);
      assert.equal(ex.first.status, 200);
      await assertOnlyDrawbridgeValues(upstream[0]!, route, host);
    });

    test(`${route}: POST with Expect: 100-continue`, { timeout: 20_000 }, async () => {
      const { ex, upstream } = await send(host, SPOOF_LINES, { method: 'POST', body: 'payload', expect: true });
      assert.equal(ex.first.status, 200, ex.raw.slice(0, 300));
      assert.deepEqual(ex.first.interim, [100], 'Drawbridge answered 100 Continue');
      assert.equal(JSON.parse(ex.first.body).body, 'payload', 'the body still arrived');
      await assertOnlyDrawbridgeValues(upstream[0]!, route, host);
    });

    test(`${route}: named in Connection, Drawbridge's own headers survive`, { timeout: 20_000 }, async () => {
      const hopByHop = [...NAMES, 'X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'X-Request-Id', 'Cookie', 'Content-Length', 'Host', 'X_Forwarded_User', 'x-custom'];
      const { ex, upstream } = await send(host, [...SPOOF_LINES, 'X-Custom: dropped', `Connection: keep-alive, ${hopByHop.join(', ')}`]);
      assert.equal(ex.first.status, 200);
      const raw = upstream[0]!;
      await assertOnlyDrawbridgeValues(raw, route, host);
      assert.deepEqual(headerValues(raw, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For survives');
      assert.deepEqual(headerValues(raw, 'x-forwarded-host'), [`${host}:${s.port}`]);
      assert.deepEqual(headerValues(raw, 'x-forwarded-proto'), ['http']);
      assert.equal(headerValues(raw, 'x-request-id').length, 1, 'X-Request-Id survives');
      assert.deepEqual(headerValues(raw, 'x-custom'), [], 'a header the client named hop-by-hop is dropped');
      assert.ok(!headerValues(raw, 'connection').some((v) => /x-forwarded|x-auth|x-identity|x-drawbridge|x-request|cookie/i.test(v)), 'the client’s Connection tokens are not forwarded');
    });
  }
});

describe('folded (obs-fold) header lines are refused before they can hide a name', () => {
  const folds = [
    ['continuation of an identity header', 'X-Forwarded-User: alice\r\n mallory'],
    ['identity header hidden in a continuation', 'X-Note: a\r\n X-Forwarded-User: mallory'],
    ['tab continuation', 'X-Auth-Request-User: a\r\n\tmallory'],
    ['continuation of the assertion', `${ASSERTION_HEADER}: a\r\n b.c.d`],
  ];
  for (const [name, lines] of folds) {
    test(name!, { timeout: 15_000 }, async () => {
      const before = s.app.requests.length;
      const { ex, upstream } = await send('app.localhost', [lines!]);
      assert.equal(ex.first.status, 400);
      assert.ok(ex.closed);
      assert.deepEqual(upstream, []);
      assert.equal(s.app.requests.length, before, 'no upstream request at all');
    });
  }
});

test('a session-less request with spoofed identity never reaches the protected upstream', { timeout: 15_000 }, async () => {
  for (const { host } of ROUTES.filter((r) => r.route !== 'public')) {
    const { ex, upstream } = await send(host, SPOOF_LINES, { cookie: false });
    assert.equal(ex.first.status, 401);
    assert.deepEqual(upstream, []);
  }
});

test('identity headers in chunked trailers are not forwarded', { timeout: 20_000 }, async () => {
  // A trailer arrives after the body, past any header check done on the head; an upstream that merges trailers
  // into headers would read it as identity.
  const cookie = cookieOn(s.port, alice, 'rec.localhost');
  const m = marker('trailer');
  const trailers = NAMES.map((n) => `${n}: SPOOF-trailer`).join('\r\n');
  const ex = await sendRaw(
    s.port,
    `POST /t?${m} HTTP/1.1\r\nHost: rec.localhost:${s.port}\r\nCookie: drawbridge=${cookie}\r\nTransfer-Encoding: chunked\r\nTrailer: X-Forwarded-User\r\nConnection: close\r\n\r\n4\r\nbody\r\n0\r\n${trailers}\r\n\r\n`,
  );
  assert.equal(ex.first.status, 200, ex.raw.slice(0, 200));
  const got = recorded.filter((r) => r.url.includes(m));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.body, 'body');
  assert.deepEqual(got[0]!.rawTrailers, [], 'no trailer reached the upstream');
  assert.ok(!got[0]!.rawHeaders.some((h) => h.includes('SPOOF')));
  assert.deepEqual(headerValues(got[0]!.rawHeaders, 'x-forwarded-user'), ['alice']);
});

test('TRACE is refused (405) on routes that do not name it: it would echo the identity headers and the assertion back', { timeout: 20_000 }, async () => {
  // Cross-site tracing: an upstream that implements TRACE answers with the request it received, which after
  // Drawbridge carries the identity headers and the signed assertion (a credential for the application).
  for (const host of ['app.localhost', 'public.localhost', 'readonly.localhost']) {
    const { ex, upstream } = await send(host, [], { method: 'TRACE' });
    assert.equal(ex.first.status, 405, host);
    assert.deepEqual(upstream, [], `${host}: nothing reached the upstream`);
  }
  // Control: GET on the same routes is served.
  assert.equal((await send('app.localhost', [])).ex.first.status, 200);
});

test('method-override headers cannot turn an authorized GET into another method upstream', { timeout: 20_000 }, async () => {
  // `methods:` and the `method` rule authorize the request line's method; frameworks that honour these headers
  // (Express method-override, Symfony, Spring's HiddenHttpMethodFilter-alikes) would run a DELETE instead.
  const overrides = ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'].flatMap((n) => variants(n).map((v) => `${v}: DELETE`));
  const { ex, upstream } = await send('readonly.localhost', overrides);
  assert.equal(ex.first.status, 200);
  const names = headerPairs(upstream[0]!).map(([n]) => n);
  assert.deepEqual(
    names.filter((n) => /method/.test(n)),
    [],
    'no method-override header reached the upstream',
  );
  // Control: the methods the route refuses are refused.
  const del = await send('readonly.localhost', [], { method: 'DELETE' });
  assert.equal(del.ex.first.status, 405);
  assert.deepEqual(del.upstream, []);
});

// Frameworks that take the URL to serve from these (IIS URL Rewrite's X-Original-URL read by Symfony, Zend and PHP
// front controllers; ISAPI_Rewrite's X-Rewrite-URL read by Yii; nginx auth_request's X-Original-URI) would serve
// /admin after Drawbridge authorized /echo.
const URL_OVERRIDES = ['X-Original-URL', 'X-Rewrite-URL', 'X-Original-URI', 'X-Override-URL'];

test('URL-override headers never reach the upstream: it cannot serve another path than the one authorized', { timeout: 20_000 }, async () => {
  const lines = URL_OVERRIDES.flatMap((n) => variants(n).map((v) => `${v}: /admin`));
  for (const host of ['app.localhost', 'public.localhost', 'readonly.localhost']) {
    const { ex, upstream } = await send(host, lines);
    assert.equal(ex.first.status, 200, host);
    assert.equal(upstream.length, 1);
    assert.deepEqual(
      headerPairs(upstream[0]!).filter(([n, v]) => /original|rewrite|override/.test(n) || v === '/admin'),
      [],
      `${host}: no URL-override header reached the upstream`,
    );
  }
});

test('a route keeps the override header it lists in keepRequestHeaders, and only that one', { timeout: 20_000 }, async () => {
  const lines = [...URL_OVERRIDES.map((n) => `${n}: /admin`), 'X_Original_URL: /underscore', 'X-HTTP-Method-Override: DELETE'];
  const { ex, upstream } = await send('keeps.localhost', lines);
  assert.equal(ex.first.status, 200, ex.raw.slice(0, 300));
  const kept = headerPairs(upstream[0]!).filter(([n]) => /original|rewrite|override/.test(n));
  assert.deepEqual(kept, [['x-original-url', '/admin']]);
  // Another route of the same configuration still strips it.
  const other = await send('app.localhost', ['X-Original-URL: /admin']);
  assert.deepEqual(headerValues(other.upstream[0]!, 'x-original-url'), []);
});
