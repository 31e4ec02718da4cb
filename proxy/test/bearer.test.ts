// proxy/test/bearer.test.ts — API tokens on `bearer` routes over real sockets (SPEC §6): a JWT signed by the
// IdP is verified against its published JWKS (signature, iss, aud, exp, nbf), its claims feed the route's
// policy, the Authorization header never reaches the upstream; every defect is a 401 JSON that says why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { SignJwtOptions } from '../../e2e/idp/dev-idp.js';
import { received, startStack, type Stack } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: api
    from: http://api.localhost:{{PORT}}
    to: {{APP}}
    bearer: true
    policy:
      allow:
        - groups: [engineering]
  - name: reports
    from: http://reports.localhost:{{PORT}}
    to: {{APP}}
    bearer: { audiences: [reports-api, reports-api-v2] }
    policy:
      allow:
        - and: [ { claim: { department: [finance] } }, { method: [GET] } ]
  - name: admin-api
    from: http://admin-api.localhost:{{PORT}}
    to: {{APP}}
    bearer: true
    policy:
      allow:
        - and: [ { groups: [engineering] }, { mfa: true } ]
`;

let s: Stack;

before(async () => {
  s = await startStack({ routes: ROUTES });
});

after(async () => {
  await s?.close();
});

const nowSec = () => Math.floor(Date.now() / 1000);

/** Alice's claims as an access token would carry them, with `overrides` (undefined removes a claim). */
function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const payload: Record<string, unknown> = {
    iss: s.idp!.issuer,
    aud: 'drawbridge',
    sub: 'alice-sub',
    preferred_username: 'alice',
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Example',
    groups: ['engineering'],
    amr: ['pwd'],
    iat: nowSec(),
    exp: nowSec() + 300,
    ...overrides,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return payload;
}

function token(overrides: Record<string, unknown> = {}, options?: SignJwtOptions): Promise<string> {
  return s.idp!.signJwt(claims(overrides), options);
}

/** Calls `host` with `Authorization: Bearer <jwt>` as an API client (or as a browser with `html`). */
async function call(host: string, jwt: string, options: { path?: string; method?: string; html?: boolean } = {}) {
  const client = options.html ? s.browser() : s.api();
  return client.request(options.method ?? 'GET', s.url(host, options.path ?? '/data'), { headers: { authorization: `Bearer ${jwt}` }, redirect: 'manual' });
}

/** Expects a 401 JSON refusal naming `why`, never a redirect, and no upstream contact. */
async function refused(host: string, jwt: string, why: RegExp, html = false): Promise<void> {
  const marker = `refused${Math.random().toString(36).slice(2)}`;
  const r = await call(host, jwt, { path: `/data?${marker}`, html });
  assert.equal(r.status, 401, `401 (got ${r.status}: ${r.body.slice(0, 200)})`);
  assert.equal(r.location, undefined, 'never a redirect');
  assert.match(String(r.headers['content-type']), /application\/json/);
  const body = r.json();
  assert.equal(body.error, 'invalid_token');
  assert.match(body.error_description, why);
  assert.match(String(r.headers['www-authenticate']), /^Bearer error="invalid_token"/);
  assert.equal(received(s.app, marker).length, 0, 'the upstream never saw it');
}

test('a valid IdP token is allowed; the upstream gets the identity and an assertion, never the Authorization header', { timeout: 30_000 }, async () => {
  const jwt = await token();
  const marker = `ok${Date.now()}`;
  const r = await call('api.localhost', jwt, { path: `/data?${marker}` });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  const seen = received(s.app, marker);
  assert.equal(seen.length, 1);
  const req = seen[0]!;
  assert.equal(req.headers.authorization, undefined, 'Authorization stripped');
  assert.ok(!JSON.stringify(req.rawHeaders).includes(jwt), 'the token is nowhere in what the upstream got');
  assert.ok(!JSON.stringify(req.rawHeaders).includes(jwt.split('.')[1]!), 'not even its payload');
  assert.equal(req.headers['x-forwarded-user'], 'alice');
  assert.equal(req.headers['x-forwarded-email'], 'alice@example.com');
  assert.equal(req.headers['x-forwarded-groups'], 'engineering');
  assert.equal(req.headers['x-forwarded-access-token'], undefined, 'no passAccessToken: no token upstream');
  const assertion = String(req.headers['x-drawbridge-assertion']);
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
  const { payload } = await jwtVerify(assertion, jwks, { issuer: s.publicUrl, audience: `http://api.localhost:${s.port}`, algorithms: ['ES256'] });
  assert.equal(payload.sub, 'alice-sub');
  assert.equal(payload.user, 'alice');
  assert.deepEqual(payload.groups, ['engineering']);
  assert.equal(payload.route, 'api');
  assert.notEqual(assertion, jwt);
  const log = s.logs.findLast((l) => l.event === 'request' && l.route === 'api' && l.status === 200);
  assert.equal(log?.user, 'alice');
  assert.ok(!JSON.stringify(s.logs).includes(jwt), 'the token is never logged');
});

test('the token\u2019s claims feed the policy: a group the route does not allow is a 403 JSON', { timeout: 30_000 }, async () => {
  const marker = `sales${Date.now()}`;
  const r = await call('api.localhost', await token({ sub: 'bob-sub', preferred_username: 'bob', groups: ['sales'] }), { path: `/data?${marker}` });
  assert.equal(r.status, 403);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const body = r.json();
  assert.equal(body.error, 'forbidden');
  assert.equal(body.route, 'api');
  assert.ok(body.reasons.some((x: { code: string }) => x.code === 'groups-unauthorized'), JSON.stringify(body.reasons));
  assert.equal(received(s.app, marker).length, 0);
  // Other claims take part too: `claim`, and `method` of the request.
  const finance = await token({ aud: 'reports-api', department: 'finance' });
  assert.equal((await call('reports.localhost', finance)).status, 200);
  assert.equal((await call('reports.localhost', finance, { method: 'DELETE' })).status, 403);
  assert.equal((await call('reports.localhost', await token({ aud: 'reports-api', department: 'sales' }))).status, 403);
});

test('a token that lacks what a step-up route needs gets 401 insufficient_user_authentication, not a redirect', { timeout: 30_000 }, async () => {
  const pwd = await call('admin-api.localhost', await token(), { html: true });
  assert.equal(pwd.status, 401);
  assert.equal(pwd.location, undefined);
  assert.match(String(pwd.headers['www-authenticate']), /error="insufficient_user_authentication"/);
  assert.match(String(pwd.headers['www-authenticate']), /acr_values="mfa"/);
  assert.equal((await call('admin-api.localhost', await token({ amr: ['pwd', 'otp'] }))).status, 200);
});

test('audiences: a route accepts the audiences it lists, and only those', { timeout: 30_000 }, async () => {
  assert.equal((await call('reports.localhost', await token({ aud: 'reports-api-v2', department: 'finance' }))).status, 200);
  assert.equal((await call('reports.localhost', await token({ aud: ['other', 'reports-api'], department: 'finance' }))).status, 200, 'one of several audiences');
  await refused('reports.localhost', await token({ department: 'finance' }), /wrong audience/);
  await refused('api.localhost', await token({ aud: 'reports-api' }), /wrong audience/);
});

test('refused with 401 JSON saying why: wrong aud, wrong iss, expired, nbf ahead, missing exp', { timeout: 30_000 }, async () => {
  await refused('api.localhost', await token({ aud: 'someone-else' }), /wrong audience/);
  await refused('api.localhost', await token({ aud: undefined }), /audience|aud/);
  await refused('api.localhost', await token({ iss: 'http://evil.example' }), /wrong issuer/);
  await refused('api.localhost', await token({ iss: `${s.idp!.issuer}/` }), /wrong issuer/);
  await refused('api.localhost', await token({ iat: nowSec() - 600, exp: nowSec() - 120 }), /expired/);
  await refused('api.localhost', await token({ nbf: nowSec() + 300 }), /not yet valid/);
  await refused('api.localhost', await token({ exp: undefined }), /exp/);
  // A browser-looking client gets the same JSON: an API token never turns into a sign-in redirect.
  await refused('api.localhost', await token({ iat: nowSec() - 600, exp: nowSec() - 120 }), /expired/, true);
});

test('refused: a token whose user, email or sub is beyond Drawbridge\u2019s limits; a long name is cut, not refused', { timeout: 30_000 }, async () => {
  await refused('api.localhost', await token({ preferred_username: 'u'.repeat(321) }), /preferred_username claim is longer than 320 characters/);
  await refused('api.localhost', await token({ email: `${'e'.repeat(309)}@example.com` }), /email claim is longer than 320 characters/);
  await refused('api.localhost', await token({ sub: 's'.repeat(256), preferred_username: 'alice' }), /sub claim is longer than 255 characters/);
  const log = s.logs.findLast((l) => l.event === 'bearer' && l.result === 'invalid');
  assert.match(String(log?.reason), /longer than/);
  // The name only labels the user: cut to 256 characters in the header and the assertion.
  const marker = `longname${Date.now()}`;
  const r = await call('api.localhost', await token({ name: 'N'.repeat(5_000) }), { path: `/data?${marker}` });
  assert.equal(r.status, 200, r.body.slice(0, 200));
  const req = received(s.app, marker)[0]!;
  assert.equal(req.headers['x-forwarded-name'], 'N'.repeat(256));
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
  const { payload } = await jwtVerify(String(req.headers['x-drawbridge-assertion']), jwks, { issuer: s.publicUrl, audience: `http://api.localhost:${s.port}`, algorithms: ['ES256'] });
  assert.equal(payload.name, 'N'.repeat(256));
});

test('refused: alg none, HS256 keyed with the IdP\u2019s public key, unknown kid, a foreign key under a known kid, garbage', { timeout: 30_000 }, async () => {
  const rsa = s.idp!.jwks.keys.find((k) => k.alg === 'RS256')!;
  await refused('api.localhost', await token({}, { alg: 'none' }), /algorithm not allowed|malformed/);
  await refused('api.localhost', await token({}, { alg: 'none', kid: rsa.kid! }), /algorithm not allowed|malformed/);
  // Algorithm confusion: the public key (which anyone can fetch) used as an HMAC secret.
  const publicPem = createPublicKey({ key: rsa as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  await refused('api.localhost', await token({}, { alg: 'HS256', kid: rsa.kid!, key: new TextEncoder().encode(String(publicPem)) }), /algorithm not allowed/);
  await refused('api.localhost', await token({}, { kid: 'no-such-key' }), /unknown signing key/);
  // No kid at all is not a defect: the one published key of that algorithm is used, and it verifies.
  assert.equal((await call('api.localhost', await token({}, { kid: null }))).status, 200);
  await refused('api.localhost', await token({}, { kid: null, key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, alg: 'RS256' }), /bad signature|unknown signing key/);
  const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await refused('api.localhost', await token({}, { kid: rsa.kid!, key: foreign }), /bad signature/);
  const foreignEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const ec = s.idp!.jwks.keys.find((k) => k.alg === 'ES256')!;
  await refused('api.localhost', await token({}, { alg: 'ES256', kid: ec.kid!, key: foreignEc }), /bad signature/);
  // The RS256 key's kid on an ES256 token: the key does not fit the algorithm.
  await refused('api.localhost', await token({}, { alg: 'ES256', kid: rsa.kid!, key: foreignEc }), /./);
  // A valid token with its payload swapped for another's.
  const [h, , sig] = (await token()).split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify(claims({ groups: ['engineering', 'admins'] }))).toString('base64url')}.${sig}`;
  await refused('api.localhost', forged, /bad signature/);
  for (const garbage of ['garbage', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9..', '....', 'x'.repeat(12_000)]) {
    await refused('api.localhost', garbage, /malformed|invalid|too large|bad signature/);
  }
});

test('a token within the 30 s clock skew is accepted (just expired, nbf just ahead, iat just ahead)', { timeout: 30_000 }, async () => {
  assert.equal((await call('api.localhost', await token({ iat: nowSec() - 300, exp: nowSec() - 10 }))).status, 200, 'expired 10 s ago');
  assert.equal((await call('api.localhost', await token({ nbf: nowSec() + 10 }))).status, 200, 'valid in 10 s');
  assert.equal((await call('api.localhost', await token({ iat: nowSec() + 10 }))).status, 200, 'issued 10 s ahead');
  await refused('api.localhost', await token({ iat: nowSec() - 300, exp: nowSec() - 60 }), /expired/);
  await refused('api.localhost', await token({ nbf: nowSec() + 60 }), /not yet valid/);
});

test('no token on a bearer route: an API client is told to authenticate; a session cookie still works', { timeout: 30_000 }, async () => {
  const r = await s.api().get(s.url('api.localhost', '/data'), { redirect: 'manual' });
  assert.equal(r.status, 401);
  assert.equal(r.json().error, 'unauthenticated');
  // Another scheme is not a bearer token: it is left alone and nobody is signed in by it.
  const basic = await s.api().get(s.url('api.localhost', '/data'), { headers: { authorization: 'Basic YWxpY2U6YWxpY2U=' }, redirect: 'manual' });
  assert.equal(basic.status, 401);
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('api.localhost', '/data'), 'alice');
  assert.equal(response.status, 200, 'a signed-in browser uses the bearer route with its session');
});
