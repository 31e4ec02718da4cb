// proxy/test/forward-auth.test.ts — the forward-auth endpoint `/.drawbridge/auth` over real sockets, as a front
// proxy asks it (docs/forward-auth.md): only trusted peers are answered; the original request comes from
// X-Original-URL (nginx) or X-Forwarded-Uri/-Host/-Proto/-Method (Traefik, Caddy), each sent once; the session cookie
// is read for the ORIGINAL origin (a cookie of another route host is no session); 2xx carries the identity headers
// and an assertion for the route's audience, 401 the sign-in location, 403 the reasons.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { rawHttp, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
  - name: other
    from: http://other.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
  - name: public
    from: http://public.localhost:{{PORT}}
    to: {{APP}}
    public: true
`;

let s: Stack;
let trusted: Stack;
let alice: string;
let bob: string;

before(async () => {
  // `s` trusts no proxy (the default); `trusted` trusts loopback, as when nginx runs beside Drawbridge.
  [s, trusted] = await Promise.all([startStack({ routes: ROUTES }), startStack({ routes: ROUTES, extra: 'trustedProxies: [127.0.0.1/32]' })]);
  const a = trusted.browser();
  await trusted.signIn(a, trusted.url('app.localhost', '/'), 'alice');
  alice = sessionCookie(a, trusted.url('app.localhost', '/'))!;
  const b = trusted.browser();
  await trusted.signIn(b, trusted.url('app.localhost', '/'), 'bob');
  bob = sessionCookie(b, trusted.url('app.localhost', '/'))!;
});

after(async () => {
  await Promise.all([s?.close(), trusted?.close()]);
});

function ask(stack: Stack, headers: string[], target = '/.drawbridge/auth', host = 'drawbridge.internal') {
  return rawHttp(stack.port, [`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close', ...headers].join('\r\n'));
}

test('forward-auth from an untrusted peer is refused (403) and nothing it says is evaluated, even with a valid session', async () => {
  const a = s.browser();
  await s.signIn(a, s.url('app.localhost', '/'), 'alice');
  const cookie = sessionCookie(a, s.url('app.localhost', '/'))!;
  const r = await ask(s, [`X-Original-URL: ${s.url('app.localhost', '/x')}`, `Cookie: drawbridge=${cookie}`, 'Accept: application/json']);
  assert.equal(r.status, 403);
  assert.equal(JSON.parse(r.body).error, 'forbidden');
  assert.equal(r.headers['x-forwarded-user'], undefined);
  assert.equal(r.headers['x-drawbridge-assertion'], undefined);
  const line = s.logs.find((l) => l.event === 'request' && l.requestId === r.headers['x-request-id']);
  assert.equal(line?.decision, 'untrusted-peer');
  assert.equal(line?.frontDoor, 'forward-auth');
});

test('forward-auth allow: 200 with the identity headers and an assertion whose audience is the original route origin', async () => {
  const r = await ask(trusted, [`X-Original-URL: ${trusted.url('app.localhost', '/deep?x=1')}`, 'X-Original-Method: POST', `Cookie: drawbridge=${alice}`, 'X-Forwarded-For: 10.9.8.7']);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-forwarded-user'], 'alice');
  assert.equal(r.headers['x-forwarded-email'], 'alice@example.com');
  assert.equal(r.headers['x-forwarded-groups'], 'engineering');
  assert.equal(r.headers['x-forwarded-for'], undefined, 'the front proxy writes its own forwarding headers');
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${trusted.port}/.drawbridge/jwks.json`));
  const { payload } = await jwtVerify(r.headers['x-drawbridge-assertion']!, jwks, { issuer: trusted.publicUrl, audience: `http://app.localhost:${trusted.port}` });
  assert.equal(payload.user, 'alice');
  assert.equal(payload.route, 'app');
  const line = trusted.logs.find((l) => l.event === 'request' && l.requestId === r.headers['x-request-id']);
  assert.deepEqual([line?.frontDoor, line?.method, line?.host, line?.path, line?.route, line?.decision, line?.ip], ['forward-auth', 'POST', `app.localhost:${trusted.port}`, '/deep', 'app', 'allow', '10.9.8.7']);
});

test('forward-auth reads the cookie for the ORIGINAL origin: a route host cookie asked about another route host is no session', async () => {
  const r = await ask(trusted, [`X-Original-URL: ${trusted.url('other.localhost', '/')}`, `Cookie: drawbridge=${alice}`, 'Accept: application/json']);
  assert.equal(r.status, 401);
  assert.equal(r.headers['x-forwarded-user'], undefined);
});

test('forward-auth sign-in: 401 with Location and JSON pointing at the sign-in start on the route host; ?redirect=1 gives browsers the 302', async () => {
  const original = trusted.url('app.localhost', '/deep/link?q=1');
  const expected = `${trusted.url('app.localhost', '/.drawbridge/sign_in')}?rd=${encodeURIComponent(original)}`;
  const api = await ask(trusted, [`X-Original-URL: ${original}`, 'Accept: application/json']);
  assert.equal(api.status, 401);
  assert.equal(api.headers.location, expected);
  assert.equal(JSON.parse(api.body).signIn, expected);
  assert.match(api.headers['www-authenticate']!, /^Bearer realm=/);
  const browser = await ask(trusted, ['X-Forwarded-Uri: /deep/link?q=1', `X-Forwarded-Host: app.localhost:${trusted.port}`, 'X-Forwarded-Proto: http', 'X-Forwarded-Method: GET', 'Accept: text/html'], '/.drawbridge/auth?redirect=1');
  assert.equal(browser.status, 302);
  assert.equal(browser.headers.location, expected);
  // Envoy's form asks with a header (its path carries the original request).
  const envoy = await ask(trusted, ['X-Drawbridge-Auth-Redirect: 1', 'Accept: text/html'], '/.drawbridge/auth/deep/link?q=1', `app.localhost:${trusted.port}`);
  assert.equal(envoy.status, 302);
  assert.equal(envoy.headers.location, expected);
  // An API client gets the 401 even with ?redirect=1.
  const xhr = await ask(trusted, ['X-Forwarded-Uri: /deep/link?q=1', `X-Forwarded-Host: app.localhost:${trusted.port}`, 'Accept: text/html', 'X-Requested-With: XMLHttpRequest'], '/.drawbridge/auth?redirect=1');
  assert.equal(xhr.status, 401);
});

test('forward-auth deny: 403 with the reasons (JSON) or the deny page (browsers)', async () => {
  const json = await ask(trusted, [`X-Original-URL: ${trusted.url('app.localhost', '/')}`, `Cookie: drawbridge=${bob}`, 'Accept: application/json']);
  assert.equal(json.status, 403);
  assert.ok(JSON.parse(json.body).reasons.some((r: { code: string }) => r.code === 'groups-unauthorized'));
  const page = await ask(trusted, [`X-Original-URL: ${trusted.url('app.localhost', '/')}`, `Cookie: drawbridge=${bob}`, 'Accept: text/html']);
  assert.equal(page.status, 403);
  assert.match(page.headers['content-type']!, /text\/html/);
  assert.match(page.body, /You don’t have access to this page/);
});

test('forward-auth public route: 200 without identity; no route: 404; an original header sent twice or none at all: 400', async () => {
  const pub = await ask(trusted, [`X-Original-URL: ${trusted.url('public.localhost', '/')}`, `Cookie: drawbridge=${alice}`]);
  assert.equal(pub.status, 200);
  assert.equal(pub.headers['x-forwarded-user'], undefined);
  assert.equal((await ask(trusted, [`X-Original-URL: ${trusted.url('nowhere.localhost', '/')}`])).status, 404);
  const twice = await ask(trusted, [`X-Original-URL: ${trusted.url('public.localhost', '/')}`, `X-Original-URL: ${trusted.url('app.localhost', '/')}`]);
  assert.equal(twice.status, 400);
  assert.equal((await ask(trusted, ['X-Forwarded-Method: GET'])).status, 400);
  assert.equal((await ask(trusted, [`X-Original-URL: ${trusted.url('app.localhost', '/')}`, 'X-Original-Method: G E T'])).status, 400);
  assert.equal((await ask(trusted, [`X-Original-URL: ${trusted.url('app.localhost', '/a%2Fb')}`])).status, 400);
});
