// proxy/test/sessions.test.ts — sessions over real sockets (SPEC §4): no fixation, a new id at every sign-in,
// idle and absolute timeouts on the server (an injected clock moves instead of sleeping), sign-out with CSRF and
// at the IdP, replayed and tampered cookies, cookie attributes, and several sign-ins at once in one browser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { parseForms, type CookieJarClient } from '../../e2e/support/http-client.js';
import { movableClock, received, sessionCookie, signInStart, type Stack, startStack } from '../../test-support/stack.js';

const MINUTE = 60_000;
const clock = movableClock();
let s: Stack;

before(async () => {
  s = await startStack({ now: clock.now, session: 'idleTimeout: 10m\nmaxLifetime: 1h' });
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

const marker = (name: string) => `${name}${Date.now()}${Math.random().toString(36).slice(2, 6)}`;

/** A protected URL with a unique marker, and how many times the upstream received it so far. */
function probe(name: string) {
  const m = marker(name);
  return { url: s.url('app.localhost', `/probe?${m}`), seen: () => received(s.app, m).length };
}

/** An API client carrying exactly this session cookie on app.localhost. */
function apiWith(cookie: string): CookieJarClient {
  const api = s.api();
  api.setCookie(s.url('app.localhost'), `drawbridge=${cookie}; Path=/`);
  return api;
}

/** Asserts the cookie gives no access: a browser is sent to sign-in, an API client gets 401; the upstream sees nothing. */
async function assertSignedOut(cookie: string, what: string): Promise<void> {
  const p = probe('out');
  const browser = s.browser();
  browser.setCookie(s.url('app.localhost'), `drawbridge=${cookie}; Path=/`);
  const page = await browser.get(p.url, { redirect: 'manual' });
  assert.equal(page.status, 302, `${what}: a browser is sent to sign in`);
  assert.equal(page.location, signInStart(p.url), what);
  const api = await apiWith(cookie).get(p.url);
  assert.equal(api.status, 401, `${what}: an API client gets 401`);
  const body = api.json();
  assert.equal(body.error, 'unauthenticated');
  assert.equal(body.signIn, signInStart(p.url));
  assert.match(String(api.headers['www-authenticate']), /^Bearer /);
  assert.equal(p.seen(), 0, `${what}: the upstream was not contacted`);
}

/** Asserts the cookie still gives alice access (and the upstream got the request). */
async function assertSignedIn(cookie: string, what: string): Promise<void> {
  const p = probe('in');
  const res = await apiWith(cookie).get(p.url);
  assert.equal(res.status, 200, `${what}: status ${res.status}`);
  assert.equal(p.seen(), 1, what);
  assert.equal(received(s.app, new URL(p.url).search.slice(1))[0]!.headers['x-forwarded-user'], 'alice');
}

async function signedIn(login = 'alice'): Promise<{ b: CookieJarClient; cookie: string }> {
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), login);
  const cookie = sessionCookie(b, s.url('app.localhost'))!;
  assert.ok(cookie);
  return { b, cookie };
}

test('no fixation: a cookie planted before sign-in is replaced, and gives no access', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const planted = `${'A'.repeat(43)}.${'B'.repeat(43)}`;
  b.setCookie(s.url('app.localhost'), `drawbridge=${planted}; Path=/`);
  b.setCookie(s.publicUrl, `drawbridge=${planted}; Path=/`);
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  const onApp = sessionCookie(b, s.url('app.localhost'));
  const onAuth = sessionCookie(b, s.publicUrl);
  assert.ok(onApp && onAuth);
  assert.notEqual(onApp, planted);
  assert.notEqual(onAuth, planted);
  await assertSignedIn(onApp, 'the new cookie');
  await assertSignedOut(planted, 'the planted cookie');
});

test('every sign-in issues a new session id; the previous one stops working', { timeout: 30_000 }, async () => {
  const { b, cookie: first } = await signedIn();
  await assertSignedIn(first, 'first sign-in');
  // Sign in again in the same browser (a fresh sign-in, password asked again).
  const p = probe('again');
  const again = await signInAtIdp(b, `${signInStart(p.url)}&fresh=1`, { login: 'alice', headers: { accept: 'text/html' } });
  assert.equal(again.askedPassword, true);
  assert.equal(again.response.status, 200);
  assert.equal(again.response.url, p.url);
  const second = sessionCookie(b, s.url('app.localhost'))!;
  assert.ok(second);
  assert.notEqual(second, first, 'a new cookie value');
  assert.notEqual(sessionCookie(b, s.publicUrl), first);
  await assertSignedIn(second, 'second sign-in');
  await assertSignedOut(first, 'the first session');
});

test('idle timeout: activity keeps the session, 10 minutes without a request end it', { timeout: 30_000 }, async () => {
  const { b, cookie } = await signedIn();
  clock.advance(6 * MINUTE);
  await assertSignedIn(cookie, 'after 6 idle minutes');
  clock.advance(6 * MINUTE);
  await assertSignedIn(cookie, '12 minutes in, 6 since the last request');
  clock.advance(10 * MINUTE + 1000);
  await assertSignedOut(cookie, 'after 10 idle minutes');
  // The browser that holds it goes to sign-in on its next request, and its me page says so.
  const p = probe('idle');
  const res = await b.get(p.url, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.ok(res.location!.startsWith(`${new URL(p.url).origin}/.drawbridge/sign_in?rd=`), res.location);
  assert.equal((await s.api().get(s.url('app.localhost', '/.drawbridge/me'), { headers: { cookie: `drawbridge=${cookie}` } })).status, 401);
});

test('absolute timeout: even an active session ends after maxLifetime (1h)', { timeout: 30_000 }, async () => {
  const { cookie } = await signedIn();
  for (let minutes = 9; minutes <= 54; minutes += 9) {
    clock.advance(9 * MINUTE);
    await assertSignedIn(cookie, `active, ${minutes} minutes old`);
  }
  clock.advance(5 * MINUTE);
  await assertSignedIn(cookie, 'active, 59 minutes old');
  clock.advance(MINUTE + 1000);
  await assertSignedOut(cookie, 'active but 60 minutes old');
});

test('sign-out: confirm page with a CSRF token, POST ends the session on every host and at the IdP', { timeout: 30_000 }, async () => {
  const { b, cookie } = await signedIn();
  const idTokens = new Set((await s.db.store.list({ user: 'alice' })).map((r) => r.tokens.idToken));

  const confirm = await b.get(s.url('app.localhost', '/.drawbridge/sign_out'));
  assert.equal(confirm.status, 200);
  const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
  assert.ok(form, 'a POST form');
  assert.equal(form.action, s.url('app.localhost', '/.drawbridge/sign_out'));
  assert.match(form.fields.csrf ?? '', /^[A-Za-z0-9_-]{43}$/);
  const before = s.app.requests.length;

  const posted = await b.post(form.action, { form: form.fields, redirect: 'manual' });
  assert.equal(posted.status, 302);
  const end = new URL(posted.location!);
  const discovery = await (await fetch(`${s.idp!.issuer}/.well-known/openid-configuration`)).json();
  assert.equal(`${end.origin}${end.pathname}`, discovery.end_session_endpoint, 'to the IdP end_session endpoint');
  assert.ok(idTokens.has(end.searchParams.get('id_token_hint') ?? ''), 'with the session’s ID token as id_token_hint');
  assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${s.publicUrl}/.drawbridge/sign_out`);
  assert.match(String(posted.headers['set-cookie']), /^drawbridge=;.*Max-Age=0/, 'the cookie is cleared');
  assert.equal(sessionCookie(b, s.url('app.localhost')), undefined);

  // Follow the IdP's logout back to Drawbridge's signed-out page.
  const out = await b.get(posted.location!);
  assert.equal(out.status, 200);
  assert.equal(new URL(out.url).origin, s.publicUrl);
  assert.equal(s.app.requests.length, before, 'sign-out never reaches the upstream');

  // The old cookie is dead on the route host and on publicUrl (same session, deleted once).
  await assertSignedOut(cookie, 'replayed after sign-out');
  const onAuth = s.api();
  onAuth.setCookie(s.publicUrl, `drawbridge=${cookie}; Path=/`);
  assert.equal((await onAuth.get(`${s.publicUrl}/.drawbridge/me`)).status, 401);

  // The IdP session ended too: the next sign-in asks for the password again.
  const again = await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  assert.equal(again.askedPassword, true);
  assert.equal(again.response.status, 200);
});

test('sign-out POST without or with a wrong CSRF token is refused and the session stays', { timeout: 30_000 }, async () => {
  const { b, cookie } = await signedIn();
  const { cookie: bobCookie, b: bob } = await signedIn('bob');
  const bobForm = parseForms((await bob.get(s.url('app.localhost', '/.drawbridge/sign_out'))).body).find((f) => f.method === 'POST')!;
  const target = s.url('app.localhost', '/.drawbridge/sign_out');
  for (const [what, form] of [
    ['no token', {}],
    ['an empty token', { csrf: '' }],
    ['a made-up token', { csrf: 'x'.repeat(43) }],
    ['another session’s token', { csrf: bobForm.fields.csrf! }],
  ] as const) {
    const res = await b.post(target, { form, redirect: 'manual' });
    assert.equal(res.status, 403, what);
    assert.equal(res.headers['set-cookie'], undefined, `${what}: the cookie is kept`);
    assert.equal(sessionCookie(b, target), cookie);
    await assertSignedIn(cookie, `after a sign-out with ${what}`);
  }
  assert.ok(bobCookie);
});

test('a tampered cookie is treated as no session', { timeout: 30_000 }, async () => {
  const { cookie } = await signedIn();
  const flip = (v: string, i: number) => `${v.slice(0, i)}${v[i] === 'A' ? 'B' : 'A'}${v.slice(i + 1)}`;
  const dot = cookie.indexOf('.');
  for (const [what, tampered] of [
    ['id changed', flip(cookie, 5)],
    ['MAC changed', flip(cookie, dot + 5)],
    ['MAC dropped', cookie.slice(0, dot)],
    ['id only, hex', Buffer.from(cookie.slice(0, dot), 'base64url').toString('hex')],
    ['extra characters', `${cookie}A`],
  ] as const) {
    await assertSignedOut(tampered, what);
  }
  await assertSignedIn(cookie, 'the untouched cookie');
});

test('cookie attributes: HttpOnly, SameSite=Lax, Path=/, host-only, lifetime within maxLifetime', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const cb = `${s.publicUrl}/.drawbridge/callback`;
  const { response } = await signInAtIdp(b, s.url('app.localhost', '/'), { login: 'alice', stopAt: cb, headers: { accept: 'text/html' } });
  const callback = await b.get(response.location!, { redirect: 'manual' });
  const handoff = await b.get(callback.location!, { redirect: 'manual' });
  assert.ok(callback.location!.startsWith(s.url('app.localhost', '/.drawbridge/handoff?')));
  for (const [where, res] of [
    ['publicUrl (callback)', callback],
    ['route host (hand-off)', handoff],
  ] as const) {
    const header = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('drawbridge='));
    assert.ok(header, `${where}: sets the session cookie`);
    const attrs = header.split(';').slice(1).map((a) => a.trim().toLowerCase());
    assert.ok(attrs.includes('httponly'), `${where}: HttpOnly`);
    assert.ok(attrs.includes('samesite=lax'), `${where}: SameSite=Lax`);
    assert.ok(attrs.includes('path=/'), `${where}: Path=/`);
    assert.ok(!attrs.some((a) => a.startsWith('domain')), `${where}: no Domain`);
    assert.ok(!attrs.includes('secure'), `${where}: not Secure over plain HTTP (the test listener)`);
    const maxAge = Number(attrs.find((a) => a.startsWith('max-age='))?.slice(8));
    assert.ok(maxAge > 0 && maxAge <= 3600, `${where}: Max-Age ${maxAge} within maxLifetime`);
    const value = header.slice('drawbridge='.length, header.indexOf(';'));
    assert.match(value, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/, 'a random id and a MAC, nothing else');
  }
  // The login-attempt cookie is cleared by the callback.
  const login = ([] as string[]).concat(callback.headers['set-cookie'] ?? []).find((c) => c.startsWith('drawbridge-login-'));
  assert.match(login ?? '', /Max-Age=0/);
});

test('two sign-ins started in one browser both complete', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const cb = `${s.publicUrl}/.drawbridge/callback`;
  const one = probe('tab1');
  const two = probe('tab2');
  // Two tabs open protected pages: two login attempts, each with its own binding cookie.
  const start1 = await b.get(one.url, { stopAt: s.idp!.issuer });
  const start2 = await b.get(two.url, { stopAt: s.idp!.issuer });
  assert.ok(start1.location!.startsWith(s.idp!.issuer) && start2.location!.startsWith(s.idp!.issuer));
  assert.notEqual(new URL(start1.location!).searchParams.get('state'), new URL(start2.location!).searchParams.get('state'));
  assert.equal(b.storedCookies(s.publicUrl).filter((c) => c.name.startsWith('drawbridge-login-')).length, 2);
  // Both reach the IdP's answer before either callback is used.
  const at1 = await signInAtIdp(b, start1.location!, { login: 'alice', stopAt: cb });
  const at2 = await signInAtIdp(b, start2.location!, { login: 'alice', stopAt: cb });
  assert.equal(at2.askedPassword, false, 'the IdP session is reused by the second tab');
  const done1 = await b.get(at1.response.location!);
  const done2 = await b.get(at2.response.location!);
  assert.equal(done1.status, 200);
  assert.equal(done1.url, one.url);
  assert.equal(done2.status, 200);
  assert.equal(done2.url, two.url);
  assert.equal(one.seen(), 1);
  assert.equal(two.seen(), 1);
  await assertSignedIn(sessionCookie(b, s.url('app.localhost'))!, 'after both');
});

test('API clients and non-GET requests are never redirected: 401 JSON with WWW-Authenticate', { timeout: 30_000 }, async () => {
  const p = probe('api');
  for (const [what, client, method, headers] of [
    ['API GET', s.api(), 'GET', {}],
    ['browser POST', s.browser(), 'POST', {}],
    ['browser XHR', s.browser(), 'GET', { 'x-requested-with': 'XMLHttpRequest' }],
  ] as const) {
    const res = await client.request(method, p.url, { redirect: 'manual', headers: { ...headers } });
    assert.equal(res.status, 401, what);
    assert.equal(res.json().error, 'unauthenticated', what);
    assert.ok(String(res.json().signIn).includes('/.drawbridge/sign_in?rd='), what);
    assert.ok(res.headers['www-authenticate'], `${what}: WWW-Authenticate`);
  }
  assert.equal(p.seen(), 0);
});
