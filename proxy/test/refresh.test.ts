// proxy/test/refresh.test.ts — fresh claims through the IdP's refresh token, over real sockets (SPEC §4, §7):
// with short access tokens, a claim changed at the IdP applies at the first request after the refresh
// point; concurrent requests share one refresh; a refresh the IdP refuses (any 4xx but 408 and 429, JSON or
// not) ends the session; an IdP that cannot be reached, or answers 5xx, 408 or 429, leaves the session working.
import http from 'node:http';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { startRedis } from '../../test-support/redis.js';
import { CLIENT_ID, CLIENT_SECRET, mapLimit, received, startStack, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

// Access (and ID) tokens live 4 s; Drawbridge refreshes at 80% of that, 3.2 s after the sign-in.
const TOKEN_TTL_SEC = 4;
const HTML = { accept: 'text/html' };

let s: Stack;

const ROUTES = `routes:
${APP_ROUTE}  - name: admin
    from: http://admin.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [wiki-admins] }, { mfa: true }, { acr: [mfa] } ]
`;

before(async () => {
  s = await startStack({ routes: ROUTES, idpOptions: { accessTokenTtl: TOKEN_TTL_SEC } });
});

after(async () => {
  await s?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new engineering account at the IdP (tests change claims, so each has its own). */
function account(login: string): string {
  s.idp!.addAccount({ login, claims: { name: login, email: `${login}@example.com`, email_verified: true, groups: ['engineering'] } });
  return login;
}

/** Signs `login` in on the app route; returns the browser and the session record. */
async function signedIn(stack: Stack, login: string): Promise<CookieJarClient> {
  const b = stack.browser();
  const { response } = await stack.signIn(b, stack.url('app.localhost', '/'), login);
  assert.equal(response.status, 200, `${login} signed in`);
  return b;
}

async function record(stack: Stack, login: string) {
  const [r] = await stack.db.store.list({ user: login });
  assert.ok(r, `${login} has a session`);
  return r;
}

/** Waits (real time: the IdP's clock cannot be moved) until the session's refresh point has passed. */
async function untilRefreshDue(stack: Stack, login: string): Promise<void> {
  const r = await record(stack, login);
  const at = r.tokens.refreshAt ?? r.tokens.accessTokenExpiresAt;
  assert.ok(at !== undefined && r.tokens.refreshToken, 'the session holds a refresh token and knows when to use it');
  await sleep(Math.max(0, at - Date.now()) + 100);
}

function refreshLogs(stack: Stack, login: string, from = 0) {
  return stack.logs.slice(from).filter((l) => l.event === 'refresh' && l.user === login);
}

/** Once the refresh is due, the next request finds the refreshed identity refused (`error`): sign-in again, no session left. */
async function assertRefreshEnds(b: CookieJarClient, login: string, error: string): Promise<void> {
  await untilRefreshDue(s, login);
  const mark = s.logs.length;
  const next = await b.get(s.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' });
  assert.equal(next.status, 302, 'sent to sign in again');
  const [refused] = refreshLogs(s, login, mark);
  assert.equal(refused?.result, 'refused');
  assert.equal(refused?.error, error);
  assert.equal((await s.db.store.list({ user: login })).length, 0, 'the session is deleted');
}

test('a group removed at the IdP: allowed before the refresh point, denied (403) at the first request after it', { timeout: 30_000 }, async () => {
  const login = account('rita');
  const b = await signedIn(s, login);
  const url = s.url('app.localhost', '/');
  s.idp!.updateAccount(login, { groups: [] });
  const before = await b.get(url, { headers: HTML, redirect: 'manual' });
  const { tokens } = await record(s, login);
  assert.ok(Date.now() < tokens.refreshAt!, 'this request came before the refresh point');
  assert.equal(before.status, 200, 'until the refresh, the session keeps the claims of the sign-in');
  assert.equal(refreshLogs(s, login).length, 0);

  await untilRefreshDue(s, login);
  const afterRefresh = await b.get(url, { headers: HTML, redirect: 'manual' });
  assert.equal(afterRefresh.status, 403, 'the refreshed claims have no engineering group');
  assert.match(afterRefresh.body, /You don’t have access to this page/);
  const [refresh] = refreshLogs(s, login);
  assert.equal(refresh?.result, 'success');
  assert.equal(refresh?.groupsChanged, true);
  assert.deepEqual((await record(s, login)).identity.groups, []);
  const json = await b.get(url, { headers: { accept: 'application/json' } });
  assert.equal(json.status, 403);
  assert.ok(json.json().reasons.some((r: { code: string }) => r.code === 'groups-unauthorized'));
  // The session itself lives on: it is the policy that says no.
  assert.equal((await b.get(s.url('app.localhost', '/.drawbridge/me'), { headers: { accept: 'application/json' } })).json().user, login);
});

test('a group added at the IdP reaches the upstream headers and a newly signed assertion after the refresh', { timeout: 30_000 }, async () => {
  const login = account('sami');
  const b = await signedIn(s, login);
  s.idp!.updateAccount(login, { groups: ['engineering', 'oncall'], name: 'Sami Renamed' });
  const marker = `fresh${Date.now()}`;
  await b.get(s.url('app.localhost', `/?${marker}=before`), { headers: HTML });
  await untilRefreshDue(s, login);
  await b.get(s.url('app.localhost', `/?${marker}=after`), { headers: HTML });
  const [beforeReq, afterReq] = received(s.app, marker);
  assert.equal(beforeReq!.headers['x-forwarded-groups'], 'engineering');
  assert.equal(afterReq!.headers['x-forwarded-groups'], 'engineering,oncall');
  assert.equal(afterReq!.headers['x-forwarded-name'], 'Sami Renamed');
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
  const verify = async (t: unknown) => (await jwtVerify(String(t), jwks, { issuer: s.publicUrl })).payload;
  assert.deepEqual((await verify(beforeReq!.headers['x-drawbridge-assertion'])).groups, ['engineering']);
  const fresh = await verify(afterReq!.headers['x-drawbridge-assertion']);
  assert.deepEqual(fresh.groups, ['engineering', 'oncall'], 'the cached assertion was not reused');
  assert.equal(fresh.name, 'Sami Renamed');
});

test('concurrent requests while a refresh is due cause exactly one refresh at the IdP', { timeout: 30_000 }, async () => {
  const login = account('tomo');
  const b = await signedIn(s, login);
  await untilRefreshDue(s, login);
  const mark = s.logs.length;
  const marker = `burst${Date.now()}`;
  const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => b.get(s.url('app.localhost', `/?${marker}=${i}`), { headers: HTML, redirect: 'manual' }).then((r) => r.status)));
  assert.deepEqual(statuses, Array(12).fill(200), 'every request is served');
  const refreshes = refreshLogs(s, login, mark);
  assert.equal(refreshes.length, 1, `one refresh, not one per request: ${JSON.stringify(refreshes)}`);
  assert.equal(refreshes[0].result, 'success');
  // And right after, nothing is due: more requests do not refresh again.
  await mapLimit([1, 2, 3], 3, () => b.get(s.url('app.localhost', '/'), { headers: HTML }));
  assert.equal(refreshLogs(s, login, mark).length, 1);
});

test('a refresh the IdP refuses (the refresh token was revoked at the IdP) ends the session: next request → sign-in', { timeout: 30_000 }, async () => {
  const login = account('ugo');
  const b = await signedIn(s, login);
  const session = await record(s, login);
  // Revoke the grant at the IdP's revocation endpoint, as an administrator or another app would.
  const discovery = await (await fetch(`${s.idp!.issuer}/.well-known/openid-configuration`)).json();
  const revoked = await fetch(discovery.revocation_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: session.tokens.refreshToken!, token_type_hint: 'refresh_token' }),
  });
  assert.equal(revoked.status, 200);

  const url = s.url('app.localhost', '/');
  assert.equal((await b.get(url, { headers: HTML, redirect: 'manual' })).status, 200, 'nothing changes before the refresh point');
  await untilRefreshDue(s, login);
  const mark = s.logs.length;
  const next = await b.get(url, { headers: HTML, redirect: 'manual' });
  assert.equal(next.status, 302, 'sent to sign in again');
  assert.ok(next.location?.startsWith(`${new URL(url).origin}/.drawbridge/sign_in?`), next.location);
  const [refused] = refreshLogs(s, login, mark);
  assert.equal(refused?.result, 'refused');
  assert.equal(refused?.level, 'warn');
  assert.equal(refused?.idpStatus, 400, 'the log line says what the IdP answered');
  assert.equal(refused?.idpError, 'invalid_grant');
  assert.equal(await s.db.store.get(session.id), undefined, 'the session is deleted, for every host');
  assert.equal((await s.db.store.list({ user: login })).length, 0);
  // An API client sees the same: unauthenticated.
  const api = await b.get(url, { headers: { accept: 'application/json' }, redirect: 'manual' });
  assert.equal(api.status, 401);
  assert.equal(api.json().error, 'unauthenticated');
});

test('a refresh the IdP refuses because the account is gone ends the session', { timeout: 30_000 }, async () => {
  const login = account('vera');
  const b = await signedIn(s, login);
  // The account no longer exists under its subject: the IdP answers invalid_grant.
  s.idp!.updateAccount(login, { sub: `${login}-deleted` });
  await untilRefreshDue(s, login);
  const mark = s.logs.length;
  const next = await b.get(s.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' });
  assert.equal(next.status, 302);
  assert.ok(next.location?.includes('/.drawbridge/sign_in?'));
  const [refused] = refreshLogs(s, login, mark);
  assert.equal(refused?.result, 'refused');
  assert.equal(refused?.idpError, 'invalid_grant');
});

test('a refresh whose email grew beyond 320 characters ends the session; a grown name is cut and the session goes on', { timeout: 30_000 }, async () => {
  const login = account('wanda');
  const b = await signedIn(s, login);
  const url = s.url('app.localhost', '/');
  // The name, only shown, is cut (oidc/claims.ts MAX_NAME_CHARS).
  s.idp!.updateAccount(login, { name: 'W'.repeat(1000) });
  await untilRefreshDue(s, login);
  assert.equal((await b.get(url, { headers: HTML, redirect: 'manual' })).status, 200);
  assert.equal((await record(s, login)).identity.name, 'W'.repeat(256));
  // An email that names the user cannot be cut: the refreshed identity is refused and the session ends.
  s.idp!.updateAccount(login, { email: `${'w'.repeat(400)}@example.com` });
  await assertRefreshEnds(b, login, 'the email claim is longer than 320 characters');
});

test('a refresh whose claims grew beyond idp.maxClaimsSize (64 KiB) ends the session: the store never keeps them', { timeout: 30_000 }, async () => {
  const login = account('xenia');
  const b = await signedIn(s, login);
  // An attribute no mapping names, grown at the IdP past the bound.
  s.idp!.updateAccount(login, { nickname: 'x'.repeat(70_000) });
  await assertRefreshEnds(b, login, 'the claims take more than 65536 bytes (idp.maxClaimsSize)');
});

test('a refresh keeps how the user signed in: carol\u2019s multi-factor session still passes an mfa + acr route', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const url = s.url('admin.localhost', '/');
  const { response, askedOtp } = await s.signIn(b, url, 'carol');
  assert.equal(response.status, 200, `${response.url} ${response.body.slice(0, 300)}`);
  assert.ok(askedOtp);
  const signedInAs = (await record(s, 'carol')).identity;
  await untilRefreshDue(s, 'carol');
  const mark = s.logs.length;
  const next = await b.get(url, { headers: HTML, redirect: 'manual' });
  assert.equal(refreshLogs(s, 'carol', mark)[0]?.result, 'success', 'the session was refreshed');
  assert.equal(next.status, 200, `no step-up after a refresh (got ${next.status} ${next.location ?? ''})`);
  const refreshed = (await record(s, 'carol')).identity;
  assert.deepEqual(refreshed.amr, signedInAs.amr);
  assert.equal(refreshed.acr, signedInAs.acr);
  assert.equal(refreshed.authTime, signedInAs.authTime, 'a refresh is not a new sign-in');
});

/**
 * Holds the IdP's refresh answer until the session was ended meanwhile (no sleep: the answer waits for `end`),
 * then checks that the refresh did not write it back.
 */
async function endedDuringRefresh(stack: Stack, login: string, end: () => Promise<void>): Promise<void> {
  const b = await signedIn(stack, login);
  await untilRefreshDue(stack, login);
  const oidc = stack.db.runtime.oidc;
  const refresh = oidc.refresh.bind(oidc);
  let atIdp: () => void = () => {};
  const reached = new Promise<void>((r) => (atIdp = r));
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  oidc.refresh = async (token) => {
    const tokens = await refresh(token);
    atIdp();
    await released;
    return tokens;
  };
  try {
    const pending = b.get(stack.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' });
    await reached;
    await end();
    assert.equal((await stack.db.store.list({ user: login })).length, 0, 'ended');
    release();
    const first = await pending;
    assert.equal(first.status, 302, 'the request that refreshed is not let through either');
  } finally {
    release();
    oidc.refresh = refresh;
  }
  assert.equal((await stack.db.store.list({ user: login })).length, 0, 'the refresh did not bring the session back');
  assert.equal((await b.get(stack.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' })).status, 302, 'next request → sign-in');
}

test('a session ended (back-channel logout) while its refresh is at the IdP stays ended', { timeout: 30_000 }, async () => {
  const login = account('wren');
  await endedDuringRefresh(s, login, async () => {
    assert.deepEqual(await s.idp!.backchannelLogout(login), [200]);
  });
});

test('with the Redis store too: a session revoked while its refresh is at the IdP is never written back', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const stack = await startStack({ routes: ROUTES, idpOptions: { accessTokenTtl: TOKEN_TTL_SEC }, store: `store: { type: redis, url: "${redis.url}" }` });
  try {
    stack.idp!.addAccount({ login: 'rhea', claims: { name: 'rhea', email: 'rhea@example.com', email_verified: true, groups: ['engineering'] } });
    await endedDuringRefresh(stack, 'rhea', async () => {
      assert.equal(await stack.db.store.deleteWhere({ user: 'rhea' }), 1, 'revoked (as `drawbridge sessions revoke` does)');
    });
  } finally {
    await stack.close();
    await redis.stop();
  }
});

test('a refresh never upgrades email_verified: false stays false, a token without the claim keeps the old value', { timeout: 30_000 }, async () => {
  s.idp!.addAccount({ login: 'vera', claims: { name: 'vera', email: 'vera@example.com', email_verified: false, groups: ['engineering'] } });
  const b = await signedIn(s, 'vera');
  assert.equal((await record(s, 'vera')).identity.emailVerified, false);
  // At the IdP the claim disappears (a provider that stops sending it), then claims to be verified.
  for (const claims of [{ email_verified: undefined }, { email_verified: true }]) {
    s.idp!.updateAccount('vera', claims);
    await untilRefreshDue(s, 'vera');
    const before = refreshLogs(s, 'vera').length;
    assert.equal((await b.get(s.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' })).status, 200);
    assert.ok(refreshLogs(s, 'vera').length > before, 'refreshed');
    assert.equal((await record(s, 'vera')).identity.emailVerified, false, JSON.stringify(claims));
  }
});

test('the IdP down during a refresh: the session keeps working (and is not hammered with retries)', { timeout: 40_000 }, async () => {
  const own = await startStack({ idpOptions: { accessTokenTtl: TOKEN_TTL_SEC } });
  try {
    const b = await signedIn(own, 'alice');
    const marker = `down${Date.now()}`;
    await own.stopIdp();
    await untilRefreshDue(own, 'alice');
    const mark = own.logs.length;
    const r = await b.get(own.url('app.localhost', `/?${marker}=1`), { headers: HTML, redirect: 'manual' });
    assert.equal(r.status, 200, 'an existing session outlives an IdP outage');
    const [failed] = refreshLogs(own, 'alice', mark);
    assert.equal(failed?.result, 'idp-unavailable');
    assert.equal(received(own.app, marker)[0]?.headers['x-forwarded-user'], 'alice');
    // The next requests within the retry pause do not call the IdP again.
    for (let i = 0; i < 3; i++) assert.equal((await b.get(own.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' })).status, 200);
    assert.equal(refreshLogs(own, 'alice', mark).length, 1);
    assert.ok((await record(own, 'alice')).tokens.refreshToken, 'the session kept its refresh token');
  } finally {
    await own.close();
  }
});

test('whatever answers for the token endpoint at a refresh: a 4xx refusal ends the session, 5xx/408/429 keep it', { timeout: 60_000 }, async () => {
  const own = await startStack({ idpOptions: { accessTokenTtl: TOKEN_TTL_SEC } });
  const discovery = (await (await fetch(`${own.idp!.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
  const tokenPath = new URL(discovery.token_endpoint).pathname;
  interface Answer {
    status: number;
    headers?: Record<string, string>;
    body?: string;
  }
  const cases: { login: string; answer: Answer; ended: boolean; idpError?: string; level: string }[] = [
    { login: 'rf-client', answer: { status: 401, headers: { 'www-authenticate': 'Basic error="invalid_client", error_description="client authentication failed"' } }, ended: true, idpError: 'invalid_client', level: 'error' },
    { login: 'rf-plain400', answer: { status: 400, headers: { 'content-type': 'text/plain' }, body: 'Bad Request' }, ended: true, level: 'warn' },
    { login: 'rf-plain429', answer: { status: 429, headers: { 'content-type': 'text/plain' }, body: 'Too Many Requests' }, ended: false, level: 'warn' },
    { login: 'rf-503', answer: { status: 503, headers: { 'content-type': 'text/html' }, body: '<h1>Service Unavailable</h1>' }, ended: false, level: 'warn' },
    { login: 'rf-408', answer: { status: 408, headers: { 'content-type': 'text/plain' }, body: 'Request Timeout' }, ended: false, level: 'warn' },
  ];
  let front: http.Server | undefined;
  try {
    // Everyone signs in at the real IdP first, then all refreshes come due together (one wait).
    const browsers = new Map<string, CookieJarClient>();
    for (const c of cases) {
      own.idp!.addAccount({ login: c.login, claims: { name: c.login, email: `${c.login}@example.com`, email_verified: true, groups: ['engineering'] } });
      browsers.set(c.login, await signedIn(own, c.login));
    }
    for (const c of cases) await untilRefreshDue(own, c.login);

    // A real HTTP server takes the IdP's address, as a gateway in front of the IdP would: the token endpoint gets the
    // case's answer, anything else 502.
    const port = own.idp!.port;
    await own.stopIdp();
    let current: Answer = { status: 502 };
    const seen: string[] = [];
    front = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      if (req.method === 'POST' && req.url === tokenPath) res.writeHead(current.status, current.headers ?? {}).end(current.body ?? '');
      else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    });
    await new Promise<void>((r) => front!.listen(port, '127.0.0.1', () => r()));

    for (const c of cases) {
      const what = `${c.answer.status} ${JSON.stringify(c.answer.headers ?? {})}`;
      const b = browsers.get(c.login)!;
      const session = await record(own, c.login);
      current = c.answer;
      seen.length = 0;
      const mark = own.logs.length;
      const marker = `tok${c.answer.status}x${Date.now()}`;
      const res = await b.get(own.url('app.localhost', `/?${marker}=1`), { headers: HTML, redirect: 'manual' });
      assert.deepEqual(seen, [`POST ${tokenPath}`], `${what}: the refresh went to the token endpoint, once`);
      assert.equal(res.status, c.ended ? 302 : 200, `${what}: ${c.ended ? 'sent to sign in again' : 'still served'} (got ${res.status} ${res.location ?? ''})`);
      const [line, ...more] = refreshLogs(own, c.login, mark);
      assert.equal(more.length, 0, `${what}: one refresh log line`);
      assert.equal(line?.idpStatus, c.answer.status, `${what}: the log line carries the IdP's status`);
      assert.equal(line?.level, c.level, what);
      if (c.ended) {
        assert.ok(res.location?.startsWith(`${new URL(own.url('app.localhost')).origin}/.drawbridge/sign_in?`), res.location);
        assert.equal(received(own.app, marker).length, 0, `${what}: the upstream was not contacted`);
        assert.equal(line?.result, 'refused', what);
        if (c.idpError) assert.equal(line?.idpError, c.idpError, `${what}: the IdP's error is logged`);
        assert.equal(await own.db.store.get(session.id), undefined, `${what}: the session is deleted`);
        const api = await b.get(own.url('app.localhost', '/'), { headers: { accept: 'application/json' }, redirect: 'manual' });
        assert.equal(api.status, 401, what);
        assert.equal(seen.length, 1, `${what}: no session, no further refresh`);
      } else {
        assert.equal(received(own.app, marker)[0]?.headers['x-forwarded-user'], c.login);
        assert.equal(line?.result, 'idp-unavailable', what);
        const kept = await own.db.store.get(session.id);
        assert.ok(kept?.tokens.refreshToken, `${what}: the session is kept, with its refresh token`);
        // Within the retry pause the IdP is not asked again.
        assert.equal((await b.get(own.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' })).status, 200, what);
        assert.equal(seen.length, 1, `${what}: retried later, not on every request`);
      }
    }
  } finally {
    if (front) {
      const f = front;
      await new Promise<void>((r) => {
        f.close(() => r());
        f.closeAllConnections();
      });
    }
    await own.close();
  }
});
