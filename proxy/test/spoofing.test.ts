// proxy/test/spoofing.test.ts — a client can never pass identity upstream (SPEC §3 step 3, §6): identity and
// assertion headers in any case, with `_` for `-`, with and without `Expect: 100-continue`, on a public and on a
// protected route, are stripped; X-Forwarded-* from an untrusted peer are replaced, not appended. Raw sockets,
// so that nothing between the test and Drawbridge normalizes what is sent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { RecordedRequest } from '../../e2e/sample-app/sample-app.js';
import { rawHttp, received, sessionCookie, startStack, type Stack, cookieOn } from '../../test-support/stack.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';

const ROUTES = `routes:
${APP_ROUTE}${PUBLIC_ROUTE}  - name: office
    from: http://office.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { authenticated: true }, { ip: [10.0.0.0/8] } ]
`;

// Every value a client sends carries SPOOF, so one search over what the upstream got finds any that leaked.
const SPOOFED_IDENTITY = [
  'X-Forwarded-User: SPOOF-mallory',
  'x-forwarded-user: SPOOF-mallory-lower',
  'X-Forwarded_User: SPOOF-mallory-underscore',
  'X-FORWARDED-EMAIL: SPOOF@evil.example',
  'X-Forwarded-Email: SPOOF-2@evil.example',
  'X_Forwarded_Email: SPOOF-3@evil.example',
  'X-Forwarded-Groups: SPOOF-admins',
  'X-Forwarded-Name: SPOOF Mallory',
  'X-Forwarded-Access-Token: SPOOF-stolen-token',
  'X-Drawbridge-Assertion: SPOOF.eyJ1c2VyIjoibWFsbG9yeSJ9.sig',
  'x-drawbridge-assertion: SPOOF-lower',
  'X_Drawbridge_Assertion: SPOOF-underscore',
  'X-Drawbridge-Groups-Truncated: SPOOF',
  'X-Drawbridge-Anything: SPOOF',
];
const SPOOFED_PROXY = [
  'X-Forwarded-For: 6.6.6.6, SPOOF',
  'X-Forwarded-Host: SPOOF.evil.example',
  'X-Forwarded-Proto: https',
  'X-Forwarded-Port: 6666',
  'Forwarded: for=6.6.6.6;host=SPOOF.evil.example;proto=https',
  'X-Real-IP: 6.6.6.6',
];
const IDENTITY_NAMES = ['x-forwarded-user', 'x-forwarded-email', 'x-forwarded-groups', 'x-forwarded-name', 'x-forwarded-access-token', 'x-drawbridge-assertion'];

/** The upstream's raw header list as [normalized name, value] pairs (`_` read as `-`, as CGI-style apps do). */
function pairs(req: RecordedRequest): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i]!.toLowerCase().replaceAll('_', '-'), req.rawHeaders[i + 1]!]);
  return out;
}

function values(req: RecordedRequest, name: string): string[] {
  return pairs(req)
    .filter(([n]) => n === name)
    .map(([, v]) => v);
}

type Variant = { name: string; method: 'GET' | 'POST'; expect: boolean };
const VARIANTS: Variant[] = [
  { name: 'GET', method: 'GET', expect: false },
  { name: 'POST with a body', method: 'POST', expect: false },
  { name: 'POST with Expect: 100-continue', method: 'POST', expect: true },
];

let s: Stack;
let cookie: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  cookie = sessionCookie(b, s.url('app.localhost'))!;
  assert.ok(cookie);
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

/** Sends the spoofing request on a raw socket; returns Drawbridge's answer and what the upstream received. */
async function spoof(host: string, variant: Variant, extraHeaders: string[] = []) {
  const marker = `spoof${Math.random().toString(36).slice(2)}`;
  const body = variant.method === 'POST' ? `payload=${marker}` : undefined;
  const head = [
    `${variant.method} /echo?${marker} HTTP/1.1`,
    `Host: ${host}:${s.port}`,
    'Accept: application/json',
    ...extraHeaders,
    ...SPOOFED_IDENTITY,
    ...SPOOFED_PROXY,
    ...(body !== undefined ? ['Content-Type: application/x-www-form-urlencoded', `Content-Length: ${Buffer.byteLength(body)}`] : []),
    ...(variant.expect ? ['Expect: 100-continue'] : []),
    'Connection: close',
  ].join('\r\n');
  const res = await rawHttp(s.port, head, { ...(body !== undefined ? { body } : {}), expectContinue: variant.expect });
  const seen = received(s.app, marker);
  return { res, seen, marker, body };
}

function assertProxyHeadersReplaced(req: RecordedRequest, host: string): void {
  assert.deepEqual(values(req, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For replaced by the socket peer, not appended to');
  assert.deepEqual(values(req, 'x-forwarded-host'), [`${host}:${s.port}`]);
  assert.deepEqual(values(req, 'x-forwarded-proto'), ['http']);
  assert.deepEqual(values(req, 'x-forwarded-port'), []);
  assert.deepEqual(values(req, 'forwarded'), []);
  assert.deepEqual(values(req, 'x-real-ip'), []);
}

function assertNoSpoofLeft(req: RecordedRequest): void {
  const leaked = pairs(req).filter(([, v]) => v.includes('SPOOF') || v.includes('6.6.6.6'));
  assert.deepEqual(leaked, [], 'no client-sent identity or proxy value reaches the upstream');
  assert.deepEqual(
    pairs(req).filter(([n]) => n.startsWith('x-drawbridge-') && n !== 'x-drawbridge-assertion'),
    [],
    'no other x-drawbridge-* header',
  );
}

describe('public route: the upstream gets no identity header at all', () => {
  for (const variant of VARIANTS) {
    test(variant.name, { timeout: 20_000 }, async () => {
      const { res, seen, body } = await spoof('public.localhost', variant);
      assert.equal(res.status, 200, res.raw.slice(0, 300));
      if (variant.expect) assert.deepEqual(res.interim, [100], 'Drawbridge answered 100 Continue');
      assert.equal(seen.length, 1);
      const req = seen[0]!;
      for (const name of IDENTITY_NAMES) assert.deepEqual(values(req, name), [], `${name} absent`);
      assertNoSpoofLeft(req);
      assertProxyHeadersReplaced(req, 'public.localhost');
      if (body !== undefined) assert.equal(JSON.parse(res.body).body, body, 'the body still reached the upstream');
    });
  }
});

describe('protected route, signed in: the upstream gets only Drawbridge’s values', () => {
  for (const variant of VARIANTS) {
    test(variant.name, { timeout: 20_000 }, async () => {
      const { res, seen, body } = await spoof('app.localhost', variant, [`Cookie: drawbridge=${cookie}; theme=dark`]);
      assert.equal(res.status, 200, res.raw.slice(0, 300));
      if (variant.expect) assert.deepEqual(res.interim, [100]);
      assert.equal(seen.length, 1);
      const req = seen[0]!;
      assert.deepEqual(values(req, 'x-forwarded-user'), ['alice']);
      assert.deepEqual(values(req, 'x-forwarded-email'), ['alice@example.com']);
      assert.deepEqual(values(req, 'x-forwarded-groups'), ['engineering']);
      assert.deepEqual(values(req, 'x-forwarded-name'), ['Alice Example']);
      assert.deepEqual(values(req, 'x-forwarded-access-token'), [], 'no access token without passAccessToken');
      const assertions = values(req, 'x-drawbridge-assertion');
      assert.equal(assertions.length, 1, 'exactly one assertion, Drawbridge’s');
      const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
      const { payload } = await jwtVerify(assertions[0]!, jwks, { issuer: s.publicUrl, audience: `http://app.localhost:${s.port}`, algorithms: ['ES256'] });
      assert.equal(payload.user, 'alice');
      assertNoSpoofLeft(req);
      assertProxyHeadersReplaced(req, 'app.localhost');
      assert.deepEqual(values(req, 'cookie'), ['theme=dark'], 'the session cookie is stripped, other cookies pass');
      if (body !== undefined) assert.equal(JSON.parse(res.body).body, body);
    });
  }
});

test('protected route without a session: spoofed identity gets no access and no upstream contact', { timeout: 20_000 }, async () => {
  for (const variant of VARIANTS) {
    const { res, seen } = await spoof('app.localhost', variant);
    assert.equal(res.status, 401, `${variant.name}: ${res.raw.slice(0, 200)}`);
    assert.equal(JSON.parse(res.body).error, 'unauthenticated');
    assert.equal(seen.length, 0, `${variant.name}: the upstream was not contacted`);
  }
});

test('an untrusted X-Forwarded-For cannot satisfy an ip rule', { timeout: 20_000 }, async () => {
  const marker = `office${Date.now()}`;
  const res = await rawHttp(
    s.port,
    [`GET /echo?${marker} HTTP/1.1`, `Host: office.localhost:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${cookieOn(s.port, cookie, 'office.localhost')}`, 'X-Forwarded-For: 10.1.2.3', 'X-Real-IP: 10.1.2.3', 'Forwarded: for=10.1.2.3', 'Connection: close'].join('\r\n'),
  );
  assert.equal(res.status, 403);
  const body = JSON.parse(res.body);
  assert.equal(body.error, 'forbidden');
  assert.ok(JSON.stringify(body.reasons).includes('ip'), JSON.stringify(body.reasons));
  assert.equal(received(s.app, marker).length, 0);
});

test('the session cookie is stripped however it is spelled in the Cookie header', { timeout: 20_000 }, async () => {
  const marker = `ck${Date.now()}`;
  const res = await rawHttp(
    s.port,
    [`GET /echo?${marker} HTTP/1.1`, `Host: public.localhost:${s.port}`, 'Accept: application/json', `Cookie: a=1; drawbridge=${cookie}`, `Cookie: drawbridge=${cookie}; b=2`, 'Connection: close'].join('\r\n'),
  );
  assert.equal(res.status, 200);
  const req = received(s.app, marker)[0]!;
  assert.ok(!JSON.stringify(req.rawHeaders).includes(cookie), 'the session cookie value never reaches the upstream (public route too)');
  assert.ok(JSON.stringify(req.rawHeaders).includes('a=1') && JSON.stringify(req.rawHeaders).includes('b=2'));
});

describe('behind a trusted proxy', () => {
  let t: Stack;
  let trustedCookie: string;
  before(async () => {
    t = await startStack({ routes: ROUTES, extra: 'trustedProxies: [127.0.0.1/32]' });
    const b = t.browser();
    await t.signIn(b, t.url('app.localhost', '/'), 'alice');
    trustedCookie = sessionCookie(b, t.url('app.localhost'))!;
  }, { timeout: 60_000 });
  after(async () => {
    await t?.close();
  });

  test('X-Forwarded-For is extended with the peer, identity headers are still stripped', { timeout: 20_000 }, async () => {
    const marker = `tp${Date.now()}`;
    const res = await rawHttp(
      t.port,
      [
        `GET /echo?${marker} HTTP/1.1`,
        `Host: app.localhost:${t.port}`,
        'Accept: application/json',
        `Cookie: drawbridge=${trustedCookie}`,
        'X-Forwarded-For: 203.0.113.7',
        'X-Forwarded-Proto: http',
        ...SPOOFED_IDENTITY,
        'Connection: close',
      ].join('\r\n'),
    );
    assert.equal(res.status, 200, res.raw.slice(0, 300));
    const req = received(t.app, marker)[0]!;
    assert.deepEqual(values(req, 'x-forwarded-for'), ['203.0.113.7, 127.0.0.1'], 'the trusted chain, then the peer that connected');
    assert.deepEqual(values(req, 'x-forwarded-user'), ['alice']);
    assert.equal(values(req, 'x-drawbridge-assertion').length, 1);
    assert.deepEqual(
      pairs(req).filter(([, v]) => v.includes('SPOOF')),
      [],
    );
  });

  test('the client address from a trusted X-Forwarded-For feeds the ip rule', { timeout: 20_000 }, async () => {
    const marker = `tpo${Date.now()}`;
    const head = (xff: string) =>
      [`GET /echo?${marker} HTTP/1.1`, `Host: office.localhost:${t.port}`, 'Accept: application/json', `Cookie: drawbridge=${cookieOn(t.port, trustedCookie, 'office.localhost')}`, `X-Forwarded-For: ${xff}`, 'Connection: close'].join('\r\n');
    assert.equal((await rawHttp(t.port, head('10.1.2.3'))).status, 200);
    assert.equal((await rawHttp(t.port, head('203.0.113.7'))).status, 403);
    assert.equal(received(t.app, marker).length, 1);
  });
});
