// proxy/test/sign-in.test.ts — the whole sign-in over real sockets (SPEC §4, §6): a deep link on a route host,
// the dev IdP, the way back to the exact URL, and what the upstream receives (identity headers, a verifiable
// assertion, the client's other cookies, never the session cookie); /.drawbridge/me as JSON and HTML.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { received, sessionCookie, signInStart, type Stack, startStack } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

let s: Stack;

before(async () => {
  s = await startStack({
    routes: `routes:
${APP_ROUTE}  - name: other
    from: http://other.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`,
  });
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

test('alice opens a deep link, signs in at the IdP and lands on the exact URL; the upstream gets her identity and a verifiable assertion', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const marker = `m${Date.now()}`;
  const deep = s.url('app.localhost', `/deep/link?x=1&y=two%20words&z=%2Fq&${marker}=`);
  // A cookie of the application's own: it must still reach the upstream.
  b.setCookie(s.url('app.localhost'), 'theme=dark; Path=/');

  // First hop: the route host sends the browser to sign-in on publicUrl, remembering the exact URL.
  const first = await b.get(deep, { redirect: 'manual' });
  assert.equal(first.status, 302);
  assert.equal(first.location, signInStart(deep));

  const { response, askedPassword } = await s.signIn(b, deep, 'alice');
  assert.equal(askedPassword, true);
  assert.equal(response.status, 200);
  assert.equal(response.url, deep, 'back to the exact URL, path and query');
  // The way back from the IdP's password form: the callback on publicUrl, the hand-off, the deep link.
  assert.ok(response.redirects[0]!.startsWith(`${s.idp!.issuer}/`));
  assert.ok(response.redirects.some((u) => u.startsWith(`${s.publicUrl}/.drawbridge/callback?`)));
  assert.ok(response.redirects.some((u) => u.startsWith(`${s.url('app.localhost', '/.drawbridge/handoff?')}`)));

  // The unauthenticated first attempt never reached the upstream: exactly one request, the signed-in one.
  const seen = received(s.app, marker);
  assert.equal(seen.length, 1, 'the upstream saw the deep link once, after sign-in');
  const req = seen[0]!;
  assert.equal(req.url, `/deep/link?x=1&y=two%20words&z=%2Fq&${marker}=`);
  assert.equal(req.headers['x-forwarded-user'], 'alice');
  assert.equal(req.headers['x-forwarded-email'], 'alice@example.com');
  assert.equal(req.headers['x-forwarded-groups'], 'engineering');
  assert.equal(req.headers['x-forwarded-name'], 'Alice Example');
  assert.equal(req.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(req.headers['x-forwarded-proto'], 'http');
  assert.equal(req.headers['x-forwarded-host'], `app.localhost:${s.port}`);
  assert.match(String(req.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.equal(req.headers['x-forwarded-access-token'], undefined, 'no IdP token without passAccessToken');

  // The session cookie never reaches the upstream; the application's own cookie does.
  const cookie = sessionCookie(b, deep);
  assert.ok(cookie, 'the route host holds a session cookie');
  assert.equal(req.headers.cookie, 'theme=dark');
  assert.ok(!JSON.stringify(req.rawHeaders).includes(cookie), 'the session cookie value is nowhere in what the upstream got');

  // The assertion verifies with the published keys, and says exactly what SPEC §6 lists.
  const token = String(req.headers['x-drawbridge-assertion']);
  const header = decodeProtectedHeader(token);
  assert.equal(header.alg, 'ES256');
  assert.ok(typeof header.kid === 'string' && header.kid.length > 0, 'the assertion names its key');
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
  const { payload } = await jwtVerify(token, jwks, { issuer: s.publicUrl, audience: s.url('app.localhost', '').replace(/\/$/, ''), algorithms: ['ES256'] });
  assert.equal(payload.iss, s.publicUrl);
  assert.equal(payload.aud, `http://app.localhost:${s.port}`);
  assert.equal(payload.sub, 'alice-sub');
  assert.equal(payload.user, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  assert.deepEqual(payload.groups, ['engineering']);
  assert.equal(payload.name, 'Alice Example');
  assert.deepEqual(payload.amr, ['pwd']);
  assert.ok('acr' in payload, 'acr claim present');
  assert.equal(typeof payload.auth_time, 'number');
  assert.equal(payload.route, 'app');
  assert.equal(typeof payload.iat, 'number');
  assert.equal(typeof payload.exp, 'number');
  assert.ok(payload.exp! - payload.iat! <= 120, `exp - iat = ${payload.exp! - payload.iat!} s must be <= the 2m ttl`);
  assert.ok(payload.exp! > payload.iat!);
  assert.ok(Math.abs(payload.iat! - Date.now() / 1000) < 60, 'iat is now');
  // sid is a handle of the session, never the session id (nor the cookie).
  const sessions = await s.db.store.list({ user: 'alice' });
  assert.ok(sessions.length >= 1);
  const sid = String(payload.sid);
  assert.ok(sid.length >= 16, 'sid present');
  for (const record of sessions) {
    assert.notEqual(sid, record.id);
    assert.ok(!record.id.includes(sid) && !sid.includes(record.id), 'sid does not carry the session id');
    assert.ok(!token.includes(record.id), 'the session id is not in the assertion');
    assert.ok(!Buffer.from(record.id, 'hex').toString('base64url').startsWith(sid), 'sid is not the cookie-encoded id');
  }
  assert.ok(!cookie.includes(sid), 'sid is not part of the cookie');
  // The sample app's own reference verifier agrees.
  assert.match(response.body, /assertion verified/);
});

test('/.drawbridge/me shows the identity as JSON and as a page, never a token, and is never forwarded', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const marker = `me${Date.now()}`;
  await s.signIn(b, s.url('app.localhost', `/?${marker}`), 'alice');
  const me = s.url('app.localhost', '/.drawbridge/me');
  const secrets = (await s.db.store.list()).flatMap((r) => [r.id, r.tokens.idToken, r.tokens.accessToken, r.tokens.refreshToken]).filter((v): v is string => typeof v === 'string' && v.length > 0);
  assert.ok(secrets.length >= 4, 'the store holds the tokens to compare against');
  const cookie = sessionCookie(b, me)!;
  const before = s.app.requests.length;

  const json = await b.get(me, { headers: { accept: 'application/json' } });
  assert.equal(json.status, 200);
  assert.match(String(json.headers['content-type']), /application\/json/);
  const body = json.json();
  assert.equal(body.user, 'alice');
  assert.equal(body.sub, 'alice-sub');
  assert.equal(body.email, 'alice@example.com');
  assert.equal(body.name, 'Alice Example');
  assert.deepEqual(body.groups, ['engineering']);
  assert.deepEqual(body.amr, ['pwd']);
  assert.ok(body.session && typeof body.session.expiresAt === 'string', 'session times are shown');
  assert.ok(!/token/i.test(JSON.stringify(Object.keys(body))), 'no token field');
  for (const secret of [...secrets, cookie]) assert.ok(!json.body.includes(secret), 'no token, session id or cookie in /me JSON');

  const page = await b.get(me);
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  for (const text of ['alice', 'alice@example.com', 'Alice Example', 'engineering', '/.drawbridge/sign_out']) assert.ok(page.body.includes(text), `the me page shows ${text}`);
  for (const secret of [...secrets, cookie]) assert.ok(!page.body.includes(secret), 'no token, session id or cookie on the me page');
  assert.match(String(page.headers['content-security-policy']), /default-src/);

  // Without a session: JSON 401 for an API client, a redirect to sign-in for a browser.
  const anon = await s.api().get(me);
  assert.equal(anon.status, 401);
  assert.equal(anon.json().error, 'unauthenticated');
  assert.ok(String(anon.json().signIn).startsWith(`${new URL(s.url('app.localhost')).origin}/.drawbridge/sign_in?rd=`));
  assert.match(String(anon.headers['www-authenticate']), /^Bearer /, 'a 401 always says how to authenticate (SPEC §3 step 5)');
  const anonBrowser = await s.browser().get(me, { redirect: 'manual' });
  assert.equal(anonBrowser.status, 302);
  assert.ok(anonBrowser.location!.startsWith(`${new URL(s.url('app.localhost')).origin}/.drawbridge/sign_in?rd=`));

  assert.equal(s.app.requests.length, before, 'reserved paths are never forwarded');
  assert.equal(s.app.requests.filter((r) => r.url.includes('/.drawbridge')).length, 0);
});

test('a second route host gets its own cookie through a one-time hand-off, without a second password', { timeout: 30_000 }, async () => {
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/first'), 'alice');
  const marker = `h${Date.now()}`;
  const target = s.url('other.localhost', `/second?${marker}`);
  // Stop just before the hand-off so its code can be replayed afterwards.
  const toHandoff = await b.get(target, { stopAt: s.url('other.localhost', '/.drawbridge/handoff') });
  assert.equal(toHandoff.status, 302);
  const handoff = toHandoff.location!;
  assert.ok(toHandoff.redirects.every((u) => !u.startsWith(s.idp!.issuer)), 'the IdP is not visited again');
  const landed = await b.get(handoff);
  assert.equal(landed.status, 200);
  assert.equal(landed.url, target);
  assert.equal(received(s.app, marker).length, 1);
  assert.equal(received(s.app, marker)[0]!.headers['x-forwarded-user'], 'alice');
  const cookieOther = sessionCookie(b, target);
  assert.ok(cookieOther, 'other.localhost has its own host-only cookie');
  assert.ok(b.storedCookies(target).every((c) => c.host === 'other.localhost'));

  // The code is one-time: replayed (by another browser or the same one) it gives nothing.
  const thief = s.browser();
  const replay = await thief.get(handoff, { redirect: 'manual' });
  assert.equal(replay.status, 400);
  assert.equal(sessionCookie(thief, target), undefined);
  assert.equal(received(s.app, marker).length, 1);
});

test('a code meant for one route host is refused on another', { timeout: 30_000 }, async () => {
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  const toHandoff = await b.get(s.url('other.localhost', '/x'), { stopAt: s.url('other.localhost', '/.drawbridge/handoff') });
  const handoff = new URL(toHandoff.location!);
  const elsewhere = s.browser();
  const moved = await elsewhere.get(s.url('app.localhost', `/.drawbridge/handoff${handoff.search}`), { redirect: 'manual' });
  assert.equal(moved.status, 400);
  assert.equal(sessionCookie(elsewhere, s.url('app.localhost')), undefined);
});

test('the callback works once, in the browser that started the sign-in', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const cb = `${s.publicUrl}/.drawbridge/callback`;
  const marker = `cb${Date.now()}`;
  const { response } = await signInAtIdp(b, s.url('app.localhost', `/replay?${marker}`), { login: 'alice', stopAt: cb, headers: { accept: 'text/html' } });
  const callback = response.location!;
  assert.ok(callback.startsWith(`${cb}?`) && new URL(callback).searchParams.get('code'));
  // Another browser (without the login-attempt cookie) presenting alice's callback gets no session.
  const other = s.browser();
  const stolen = await other.get(callback, { redirect: 'manual' });
  assert.equal(stolen.status, 400);
  assert.equal(sessionCookie(other, s.publicUrl), undefined);
  assert.equal(received(s.app, marker).length, 0);

  // A fresh attempt in the right browser succeeds; replaying its callback afterwards is refused.
  const cb2 = await signInAtIdp(b, s.url('app.localhost', `/replay?${marker}`), { login: 'alice', stopAt: cb, headers: { accept: 'text/html' } });
  const callback2 = cb2.response.location!;
  const done = await b.get(callback2);
  assert.equal(done.status, 200);
  assert.equal(received(s.app, marker).length, 1);
  const cookie = sessionCookie(b, s.publicUrl);
  assert.ok(cookie);
  const replay = await b.get(callback2, { redirect: 'manual' });
  assert.equal(replay.status, 400);
  assert.equal(sessionCookie(b, s.publicUrl), cookie, 'a refused replay does not touch the session');
  assert.equal(received(s.app, marker).length, 1);
});
