// proxy/test/attack-identity.test.ts — identities shaped to confuse the policy or the upstream (SPEC §5 email/domain/
// groups, §6): dave's unverified email, eve's two-`@` email (oauth2-proxy's multi-`@` advisory) and look-alike domains,
// frank's groups given as one string, grace's 2000 groups, and claims carrying CR/LF, commas, non-strings and
// non-ASCII. The policy never reads more into a claim than it says, the upstream gets header-safe values and headers
// small enough to accept, and nothing crashes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { RecordedRequest } from '../../e2e/sample-app/sample-app.js';
import { MAX_ASSERTION_GROUPS_BYTES } from '../src/forward/assertion.js';
import { MAX_GROUPS_HEADER_BYTES } from '../src/forward/identity-headers.js';
import { head, headerPairs, headerValues, marker, sendRaw, type WireResponse } from '../../test-support/raw.js';
import { sessionCookie, startStack, type Stack, cookieOn } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: by-email
    from: http://email.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - email: [dave@example.com, alice@example.com, upper@example.com]
  - name: by-domain
    from: http://domain.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - domain: [example.com]
  - name: by-evil-domain
    from: http://evil.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - domain: [evil.com]
  - name: engineering
    from: http://eng.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
  - name: letters
    from: http://letters.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [e, n, g, admins]
  - name: last-group
    from: http://last.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [g1999]
  - name: any
    from: http://any.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`;

// Extra accounts for the shapes the default ones do not cover.
const ACCOUNTS = [
  { login: 'suffix', claims: { email: 'suffix@evilexample.com', email_verified: true, groups: [] } },
  { login: 'subdomain', claims: { email: 'sub@example.com.evil.com', email_verified: true, groups: [] } },
  { login: 'trailing', claims: { email: 'trail@example.com.', email_verified: true, groups: [] } },
  { login: 'quoted', claims: { email: '"x@evil.com"@example.com', email_verified: true, groups: [] } },
  { login: 'upper', claims: { email: 'Upper@EXAMPLE.COM', email_verified: true, groups: [] } },
  { login: 'unverified-string', claims: { email: 'us@example.com', email_verified: 'false', groups: [] } },
  { login: 'no-verified-claim', claims: { email: 'nv@example.com', groups: [] } },
  { login: 'commas', claims: { email: 'commas@example.com', email_verified: true, groups: 'admins,engineering' } },
  { login: 'array-comma', claims: { email: 'ac@example.com', email_verified: true, groups: ['a,engineering', 'sales'] } },
  { login: 'non-strings', claims: { email: 'ns@example.com', email_verified: true, groups: [1, null, { name: 'engineering' }, ['engineering'], true, '', 'sales'] } },
  {
    login: 'crlf',
    claims: { name: 'Mal\r\nX-Forwarded-User: admin', email: 'crlf@example.com', email_verified: true, groups: ['x\r\nX-Injected: 1', 'sales'], preferred_username: 'crlf\r\nX-Injected: 2' },
  },
  { login: 'unicode', claims: { name: 'Zoë 日本 \u{1F600}', email: 'zoe@example.com', email_verified: true, groups: ['ingénierie', '100%'] } },
  // Beyond the limits of oidc/claims.ts: a name the user may edit at the IdP, an email and a user name too long to carry.
  { login: 'longname', claims: { name: `${'\u{1F600}'.repeat(10_000)}`, email: 'long@example.com', email_verified: true, groups: [] } },
  { login: 'longemail', claims: { email: `${'e'.repeat(400)}@example.com`, email_verified: true, groups: [] } },
  { login: 'longuser', claims: { preferred_username: 'u'.repeat(321), email: 'lu@example.com', email_verified: true, groups: [] } },
  // One group more than oidc/claims.ts takes, the last one a group a deny rule could name: cut, it would be missed.
  // Claims larger than idp.maxClaimsSize (64 KiB by default) through an attribute no mapping names: the session would keep
  // them for its whole life.
  { login: 'bigclaims', claims: { email: 'bc@example.com', email_verified: true, groups: [], nickname: 'n'.repeat(70_000) } },
  { login: 'manygroups', claims: { email: 'mg@example.com', email_verified: true, groups: [...Array.from({ length: 5000 }, (_, i) => `g${i}`), 'blocked'] } },
];

let s: Stack;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const cookies = new Map<string, string>();

before(async () => {
  s = await startStack({ routes: ROUTES, idpOptions: { accounts: ACCOUNTS } });
  jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
});

after(async () => {
  await s?.close();
});

/** The session cookie of `login` (signed in once, through the `any` route). */
async function cookieOf(login: string): Promise<string> {
  let cookie = cookies.get(login);
  if (cookie) return cookie;
  const b = s.browser();
  const r = await s.signIn(b, s.url('any.localhost', '/'), login);
  assert.equal(r.response.status, 200, `${login} signed in: ${r.response.body.slice(0, 200)}`);
  cookie = sessionCookie(b, s.url('any.localhost'))!;
  assert.ok(cookie);
  cookies.set(login, cookie);
  return cookie;
}

interface Probe {
  response: WireResponse;
  upstream?: RecordedRequest;
}

/** GET /echo on `host` as `login`; the answer and what the upstream received. */
async function probe(login: string, host: string): Promise<Probe> {
  const m = marker('id');
  const ex = await sendRaw(s.port, head(`GET /echo?${m} HTTP/1.1`, `Host: ${host}:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${cookieOn(s.port, await cookieOf(login), host)}`, 'Connection: close'));
  const seen = s.app.requests.filter((r) => r.url.includes(m));
  assert.ok(seen.length <= 1);
  return { response: ex.first, ...(seen[0] ? { upstream: seen[0] } : {}) };
}

/** Denied with the given reason code, and the upstream never contacted. */
async function assertDenied(login: string, host: string, reason: string): Promise<void> {
  const { response, upstream } = await probe(login, host);
  assert.equal(response.status, 403, `${login} on ${host}`);
  assert.equal(upstream, undefined, `${login} on ${host}: the upstream was not contacted`);
  const codes = (JSON.parse(response.body).reasons as { code: string }[]).map((r) => r.code);
  assert.ok(codes.includes(reason), `${login} on ${host}: ${codes.join(', ')}`);
}

async function assertAllowed(login: string, host: string): Promise<RecordedRequest> {
  const { response, upstream } = await probe(login, host);
  assert.equal(response.status, 200, `${login} on ${host}: ${response.body.slice(0, 200)}`);
  assert.ok(upstream, `${login} on ${host}: forwarded`);
  return upstream;
}

async function assertionOf(req: RecordedRequest, host: string): Promise<Record<string, unknown>> {
  const tokens = headerValues(req.rawHeaders, 'x-drawbridge-assertion');
  assert.equal(tokens.length, 1);
  const { payload } = await jwtVerify(tokens[0]!, jwks, { issuer: s.publicUrl, audience: `http://${host}:${s.port}`, algorithms: ['ES256'] });
  return payload;
}

describe('email and domain rules', () => {
  test('dave (email_verified: false) passes neither email nor domain rules', { timeout: 30_000 }, async () => {
    await assertDenied('dave', 'email.localhost', 'email-unverified');
    await assertDenied('dave', 'domain.localhost', 'email-unverified');
  });

  test('dave’s unverified email is not passed upstream as identity', { timeout: 30_000 }, async () => {
    // Allowed by his groups; his address is anyone's to claim, so no upstream may key an account on it.
    const req = await assertAllowed('dave', 'eng.localhost');
    assert.deepEqual(headerValues(req.rawHeaders, 'x-forwarded-user'), ['dave']);
    assert.deepEqual(headerValues(req.rawHeaders, 'x-forwarded-email'), []);
    const claims = await assertionOf(req, 'eng.localhost');
    assert.equal(claims.email, undefined);
    // email_verified given as the string "false" counts as false; an absent claim too (idp.assumeEmailVerified unset).
    await assertDenied('unverified-string', 'domain.localhost', 'email-unverified');
    assert.deepEqual(headerValues((await assertAllowed('unverified-string', 'any.localhost')).rawHeaders, 'x-forwarded-email'), []);
    await assertDenied('no-verified-claim', 'domain.localhost', 'email-unverified');
    assert.deepEqual(headerValues((await assertAllowed('no-verified-claim', 'any.localhost')).rawHeaders, 'x-forwarded-email'), []);
  });

  test('eve’s two-@ email matches no domain, neither the last part nor the middle', { timeout: 30_000 }, async () => {
    await assertDenied('eve', 'domain.localhost', 'domain-unauthorized');
    await assertDenied('eve', 'evil.localhost', 'domain-unauthorized');
    await assertDenied('quoted', 'domain.localhost', 'domain-unauthorized');
  });

  test('look-alike domains do not match, case does not matter', { timeout: 30_000 }, async () => {
    await assertDenied('suffix', 'domain.localhost', 'domain-unauthorized');
    await assertDenied('subdomain', 'domain.localhost', 'domain-unauthorized');
    await assertDenied('trailing', 'domain.localhost', 'domain-unauthorized');
    await assertAllowed('upper', 'domain.localhost');
    await assertAllowed('upper', 'email.localhost');
    // Controls.
    await assertAllowed('alice', 'domain.localhost');
    await assertAllowed('alice', 'email.localhost');
  });
});

describe('groups', () => {
  test('frank’s groups given as the string "engineering" are one group, never split', { timeout: 30_000 }, async () => {
    const req = await assertAllowed('frank', 'eng.localhost');
    assert.deepEqual(headerValues(req.rawHeaders, 'x-forwarded-groups'), ['engineering']);
    assert.deepEqual((await assertionOf(req, 'eng.localhost')).groups, ['engineering']);
    await assertDenied('frank', 'letters.localhost', 'groups-unauthorized');
    const me = await sendRaw(s.port, head('GET /.drawbridge/me HTTP/1.1', `Host: any.localhost:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${await cookieOf('frank')}`, 'Connection: close'));
    assert.deepEqual(JSON.parse(me.first.body).groups, ['engineering']);
  });

  test('a comma inside one group never makes two', { timeout: 30_000 }, async () => {
    await assertDenied('commas', 'eng.localhost', 'groups-unauthorized');
    await assertDenied('commas', 'letters.localhost', 'groups-unauthorized');
    const one = await assertAllowed('commas', 'any.localhost');
    assert.deepEqual(headerValues(one.rawHeaders, 'x-forwarded-groups'), ['admins%2Cengineering'], 'the comma is encoded, not a separator');
    await assertDenied('array-comma', 'eng.localhost', 'groups-unauthorized');
    const two = await assertAllowed('array-comma', 'any.localhost');
    assert.deepEqual(headerValues(two.rawHeaders, 'x-forwarded-groups'), ['a%2Cengineering,sales']);
  });

  test('non-string group values are dropped, never stringified into a match', { timeout: 30_000 }, async () => {
    await assertDenied('non-strings', 'eng.localhost', 'groups-unauthorized');
    const req = await assertAllowed('non-strings', 'any.localhost');
    assert.deepEqual(headerValues(req.rawHeaders, 'x-forwarded-groups'), ['sales']);
  });

  test('grace’s 2000 groups: the policy sees them all; the upstream gets capped, flagged headers it accepts', { timeout: 30_000 }, async () => {
    const req = await assertAllowed('grace', 'last.localhost');
    const headerBytes = headerPairs(req.rawHeaders).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    assert.ok(headerBytes < 14_000, `the upstream request's headers stay well under node's 16 KiB (${headerBytes} bytes)`);
    const [groups] = headerValues(req.rawHeaders, 'x-forwarded-groups');
    assert.ok(groups && groups.length <= MAX_GROUPS_HEADER_BYTES, `groups header ${groups?.length} bytes`);
    assert.ok(groups.startsWith('g0,g1,g2,'));
    assert.ok(!groups.split(',').includes('g1999'), 'the header holds the first groups only');
    assert.deepEqual(headerValues(req.rawHeaders, 'x-drawbridge-groups-truncated'), ['1']);
    const token = headerValues(req.rawHeaders, 'x-drawbridge-assertion')[0]!;
    assert.ok(token.length < 4096, `the assertion stays a sane size (${token.length} bytes)`);
    const claims = await assertionOf(req, 'last.localhost');
    assert.equal(claims.groups_truncated, true);
    assert.ok(JSON.stringify(claims.groups).length <= MAX_ASSERTION_GROUPS_BYTES);
    assert.deepEqual((claims.groups as string[]).slice(0, 3), ['g0', 'g1', 'g2']);
    // Other users' assertions are not flagged.
    assert.equal(decodeJwt(headerValues((await assertAllowed('alice', 'any.localhost')).rawHeaders, 'x-drawbridge-assertion')[0]!).groups_truncated, undefined);
  });

  test('grace’s pages (me, the 403 page) do not crash', { timeout: 30_000 }, async () => {
    const cookie = await cookieOf('grace');
    const me = await sendRaw(s.port, head('GET /.drawbridge/me HTTP/1.1', `Host: any.localhost:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${cookie}`, 'Connection: close'));
    assert.equal(me.first.status, 200);
    assert.equal(JSON.parse(me.first.body).groups.length, 2000);
    const page = await sendRaw(s.port, head('GET / HTTP/1.1', `Host: eng.localhost:${s.port}`, 'Accept: text/html', `Cookie: drawbridge=${cookieOn(s.port, cookie, 'eng.localhost')}`, 'Connection: close'));
    assert.equal(page.first.status, 403);
    assert.match(page.first.headers['content-type'] ?? '', /text\/html/);
  });
});

describe('claims that are not header-safe', () => {
  test('CR/LF in the user, name and groups never become headers of their own', { timeout: 30_000 }, async () => {
    const req = await assertAllowed('crlf', 'any.localhost');
    const names = headerPairs(req.rawHeaders).map(([n]) => n);
    assert.ok(!names.includes('x-injected'), 'no injected header');
    assert.deepEqual(headerValues(req.rawHeaders, 'x-forwarded-user'), ['crlf%0D%0AX-Injected: 2']);
    assert.deepEqual(headerValues(req.rawHeaders, 'x-forwarded-name'), ['Mal%0D%0AX-Forwarded-User: admin']);
    assert.deepEqual(headerValues(req.rawHeaders, 'x-forwarded-groups'), ['x%0D%0AX-Injected: 1,sales']);
    const claims = await assertionOf(req, 'any.localhost');
    assert.equal(claims.user, 'crlf\r\nX-Injected: 2', 'the assertion carries the exact value');
  });

  test('a 20,000-character name is cut to 256 characters (whole code points) in the header, the assertion and /me', { timeout: 30_000 }, async () => {
    const req = await assertAllowed('longname', 'any.localhost');
    const cut = '\u{1F600}'.repeat(128);
    const [name] = headerValues(req.rawHeaders, 'x-forwarded-name');
    assert.equal(decodeURIComponent(name!), cut);
    assert.equal((await assertionOf(req, 'any.localhost')).name, cut);
    const me = await sendRaw(s.port, head('GET /.drawbridge/me HTTP/1.1', `Host: any.localhost:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${await cookieOf('longname')}`, 'Connection: close'));
    assert.equal(JSON.parse(Buffer.from(me.first.body, 'latin1').toString('utf8')).name, cut);
  });

  test('a user or email longer than 320 characters: the sign-in is refused naming the claim, and no session is made', { timeout: 30_000 }, async () => {
    for (const [login, claim] of [['longemail', 'email'], ['longuser', 'preferred_username']] as const) {
      const b = s.browser();
      const r = await s.signIn(b, s.url('any.localhost', '/'), login);
      assert.equal(r.response.status, 502, `${login}: ${r.response.body.slice(0, 200)}`);
      assert.match(r.response.body, new RegExp(`value of ${claim} longer than 320 characters`));
      assert.equal(sessionCookie(b, s.url('any.localhost')), undefined, `${login}: no session cookie`);
      const log = s.logs.findLast((l) => l.event === 'sign-in' && l.result === 'failure');
      assert.equal(log?.detail, `the ${claim} claim is longer than 320 characters`);
    }
  });

  test('more than 5,000 groups: the sign-in is refused naming the claim, never cut (a deny rule must see every group)', { timeout: 30_000 }, async () => {
    const b = s.browser();
    const r = await s.signIn(b, s.url('any.localhost', '/'), 'manygroups');
    assert.equal(r.response.status, 502, r.response.body.slice(0, 200));
    assert.match(r.response.body, /more than 5000 groups in groups/);
    assert.equal(sessionCookie(b, s.url('any.localhost')), undefined, 'no session cookie');
    const log = s.logs.findLast((l) => l.event === 'sign-in' && l.result === 'failure');
    assert.equal(log?.detail, 'the groups claim holds more than 5000 groups');
  });

  test('claims larger than idp.maxClaimsSize: the sign-in is refused naming the limit, nothing is stored', { timeout: 30_000 }, async () => {
    const before = (await s.db.store.list({})).length;
    const b = s.browser();
    const r = await s.signIn(b, s.url('any.localhost', '/'), 'bigclaims');
    assert.equal(r.response.status, 502, r.response.body.slice(0, 200));
    assert.match(r.response.body, /claims larger than 65536 bytes/);
    assert.equal(sessionCookie(b, s.url('any.localhost')), undefined, 'no session cookie');
    assert.equal((await s.db.store.list({})).length, before, 'no session stored');
    const log = s.logs.findLast((l) => l.event === 'sign-in' && l.result === 'failure');
    assert.equal(log?.detail, 'the claims take more than 65536 bytes (idp.maxClaimsSize)');
  });

  test('non-ASCII and % are percent-encoded (UTF-8), reversibly', { timeout: 30_000 }, async () => {
    const req = await assertAllowed('unicode', 'any.localhost');
    const [name] = headerValues(req.rawHeaders, 'x-forwarded-name');
    assert.equal(decodeURIComponent(name!), 'Zoë 日本 \u{1F600}');
    assert.ok(/^[\x20-\x7e]+$/.test(name!), 'ASCII on the wire');
    const [groups] = headerValues(req.rawHeaders, 'x-forwarded-groups');
    assert.deepEqual(groups!.split(',').map(decodeURIComponent), ['ingénierie', '100%']);
  });
});
