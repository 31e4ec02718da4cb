// proxy/test/sign-out.test.ts — the sign-out's return target over real sockets (SPEC §4): `rd` given to
// GET /.drawbridge/sign_out rides in the confirm form, is checked again at the POST, and is where the signed-out
// page's "Sign in again" leads — through the IdP's end-session round trip (in the RP-Initiated Logout `state`, the
// post_logout_redirect_uri staying the registered one) or at once when the IdP has no end-session endpoint. A foreign
// or forged target is ignored: the default applies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForms, type CookieJarClient, type HttpResponse } from '../../e2e/support/http-client.js';
import { newSessionId } from '../src/session/cookie.js';
import { sealReturnState } from '../src/pages/return-state.js';
import { sessionCookie, startStack, type Stack, cookieOn, signInStart } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const ROUTES = `routes:
${APP_ROUTE}  - name: reports
    from: http://reports.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`;

/**
 * The href of the signed-out page's "Sign in again" button, HTML entities decoded. `heading`: "You’re signed out" after
 * a sign-out; a browser that never had a session is told "You’re not signed in" (and offered "Sign in").
 */
function signInAgain(page: HttpResponse, heading = /You’re signed out/): string {
  assert.match(page.body, heading, `the signed-out page (got ${page.status} at ${page.url})`);
  const m = /href="([^"]*)"[^>]*>Sign in(?: again)?</.exec(page.body);
  assert.ok(m, 'a "Sign in again" link');
  return m[1]!.replaceAll('&amp;', '&').replaceAll('&#39;', "'").replaceAll('&quot;', '"');
}

const FOREIGN = ['https://evil.example/steal', '//evil.example/x', 'http://evil.example@app.localhost/', 'javascript:alert(1)', 'https://app.localhost.evil.example/'];

/** A browser holding a new copy of `login`'s session on app.localhost (each sign-out ends one), and its CSRF token. */
async function sessionCopy(s: Stack, login = 'alice'): Promise<{ b: CookieJarClient; csrf: string }> {
  if ((await s.db.store.list({ user: login })).length === 0) await s.signIn(s.browser(), s.url('app.localhost', '/'), login);
  const [record] = await s.db.store.list({ user: login });
  assert.ok(record, `${login} has a session to copy`);
  const copy = { ...record, id: newSessionId() };
  await s.db.store.set(copy);
  const b = s.browser();
  b.setCookie(s.url('app.localhost'), `${s.db.runtime.sessions.setCookie(copy, false, Date.now(), new URL(s.url('app.localhost')).origin).split(';')[0]!}; Path=/`);
  // As a real browser's: every session is made on publicUrl (the callback), which has its own cookie for it.
  b.setCookie(s.publicUrl, `${s.db.runtime.sessions.setCookie(copy, false, Date.now(), s.publicUrl).split(';')[0]!}; Path=/`);
  return { b, csrf: s.db.runtime.sessions.csrfToken(copy.id) };
}

describe('an IdP with an end-session endpoint', () => {
  let s: Stack;
  let endSession: string;
  before(async () => {
    s = await startStack({ routes: ROUTES });
    endSession = ((await (await fetch(`${s.idp!.issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string }).end_session_endpoint;
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  test('rd on another route: confirm form → POST → the IdP → the signed-out page, whose "Sign in again" returns to rd', { timeout: 30_000 }, async () => {
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    const rd = s.url('reports.localhost', '/q/4?range=7d&x=a%20b');

    const confirm = await b.get(s.url('app.localhost', `/.drawbridge/sign_out?rd=${encodeURIComponent(rd)}`));
    assert.equal(confirm.status, 200);
    const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
    assert.ok(form, 'the confirm form');
    assert.equal(form.fields.rd, rd, 'the form carries the return target');

    const posted = await b.post(form.action, { form: form.fields, redirect: 'manual' });
    assert.equal(posted.status, 302);
    const end = new URL(posted.location!);
    assert.equal(`${end.origin}${end.pathname}`, endSession, 'to the IdP end-session endpoint');
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${s.publicUrl}/.drawbridge/sign_out`, 'exactly the registered URI');
    const state = end.searchParams.get('state');
    assert.ok(state, 'the return target rides in `state`');
    assert.ok(!state.includes('reports.localhost'), 'opaque, not the URL in clear');
    assert.equal(sessionCookie(b, s.url('app.localhost')), undefined, 'the cookie is cleared');

    // The IdP ends its session and sends the browser back to publicUrl with the same state.
    const out = await b.get(posted.location!);
    assert.equal(out.status, 200);
    const back = new URL(out.url);
    assert.equal(`${back.origin}${back.pathname}`, `${s.publicUrl}/.drawbridge/sign_out`);
    assert.equal(back.searchParams.get('state'), state);
    const link = signInAgain(out);
    assert.equal(link, signInStart(rd));

    // "Sign in again": the IdP asks for the password (its session ended too), then the browser lands on rd.
    const again = await s.signIn(b, link, 'alice');
    assert.ok(again.askedPassword);
    assert.equal(again.response.status, 200);
    assert.equal(again.response.url, rd);
  });

  test('a relative rd is taken on the host the sign-out was asked on', { timeout: 30_000 }, async () => {
    const { b, csrf } = await sessionCopy(s);
    const posted = await b.post(s.url('app.localhost', '/.drawbridge/sign_out'), { form: { csrf, rd: '/after/sign-out' }, redirect: 'manual' });
    assert.equal(posted.status, 302);
    const out = await b.get(posted.location!);
    assert.equal(signInAgain(out), signInStart(s.url('app.localhost', '/after/sign-out')));
  });

  test('the confirm page checks rd as the POST does: a relative rd on a host that is no route is not offered', { timeout: 30_000 }, async () => {
    const { b } = await sessionCopy(s);
    const cookie = sessionCookie(b, s.url('app.localhost'));
    assert.ok(cookie, 'a session cookie to present on the other host');
    // /.drawbridge/* answers on any Host: a Host no route serves must not turn `rd=/x` into a link to itself.
    // (A session there can only be made by hand: each host's cookie value is bound to that host.)
    b.setCookie(s.url('stray.localhost'), `drawbridge=${cookieOn(s.port, cookie, 'stray.localhost')}; Path=/`);
    const stray = await b.get(s.url('stray.localhost', '/.drawbridge/sign_out?rd=/x'));
    assert.equal(stray.status, 200);
    const form = parseForms(stray.body, stray.url).find((f) => f.method === 'POST');
    assert.ok(form, 'the confirm form');
    assert.equal(form.fields.rd, undefined, 'no return target for a host that is no route');
    assert.ok(!stray.body.includes('stray.localhost'), 'the page never links to the stray host');
    // Control: the same relative rd on a route host is offered.
    const onRoute = await b.get(s.url('app.localhost', '/.drawbridge/sign_out?rd=/x'));
    assert.equal(parseForms(onRoute.body, onRoute.url).find((f) => f.method === 'POST')?.fields.rd, s.url('app.localhost', '/x'));
  });

  test('a foreign rd is ignored: no state goes to the IdP and the link is the default one', { timeout: 60_000 }, async () => {
    const fallback = signInStart(`${s.publicUrl}/`);
    // The control: no rd at all.
    const plain = await sessionCopy(s);
    const none = await plain.b.post(s.url('app.localhost', '/.drawbridge/sign_out'), { form: { csrf: plain.csrf }, redirect: 'manual' });
    assert.equal(new URL(none.location!).searchParams.get('state'), null);
    assert.equal(signInAgain(await plain.b.get(none.location!)), fallback);
    for (const rd of FOREIGN) {
      const { b, csrf } = await sessionCopy(s);
      const posted = await b.post(s.url('app.localhost', '/.drawbridge/sign_out'), { form: { csrf, rd }, redirect: 'manual' });
      assert.equal(posted.status, 302, rd);
      const end = new URL(posted.location!);
      assert.equal(`${end.origin}${end.pathname}`, endSession, `${rd}: the sign-out itself still happens`);
      assert.equal(end.searchParams.get('state'), null, `${rd}: nothing to carry`);
      const out = await b.get(posted.location!);
      const link = signInAgain(out);
      assert.equal(link, fallback, rd);
      assert.ok(!out.body.includes('evil.example'), `${rd}: the page never names the foreign host`);
    }
  });

  test('the state coming back is checked: tampered, sealed with another key or naming a foreign host → the default', { timeout: 30_000 }, async () => {
    const key = s.db.runtime.sessions.keys.signOutReturn;
    const target = s.url('reports.localhost', '/x');
    const signedOut = (state: string) => s.browser().get(`${s.publicUrl}/.drawbridge/sign_out?state=${encodeURIComponent(state)}`);
    const fallback = signInStart(`${s.publicUrl}/`);
    // The control: a state Drawbridge sealed for a route is honoured.
    assert.equal(signInAgain(await signedOut(sealReturnState(target, key)!)), signInStart(target));
    const good = sealReturnState(target, key)!;
    const flipped = `${good.slice(0, -2)}${good.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const [what, state] of [
      ['a tampered MAC', flipped],
      ['a target swapped under the MAC', `${Buffer.from('https://evil.example/').toString('base64url')}.${good.split('.')[1]}`],
      ['another key', sealReturnState(target, Buffer.alloc(32, 7))!],
      ['a foreign target sealed with the right key', sealReturnState('https://evil.example/', key)!],
      ['garbage', 'not-a-state'],
    ] as const) {
      const page = await signedOut(state);
      assert.equal(page.status, 200, what);
      assert.equal(signInAgain(page, /You’re not signed in/), fallback, what);
    }
  });

  test('without a session, GET sign_out?rd= also leads "Sign in again" back to a safe rd, never to a foreign one', { timeout: 30_000 }, async () => {
    const rd = s.url('reports.localhost', '/r');
    const page = await s.browser().get(s.url('app.localhost', `/.drawbridge/sign_out?rd=${encodeURIComponent(rd)}`));
    assert.equal(signInAgain(page, /You’re not signed in/), signInStart(rd));
    for (const foreign of FOREIGN) {
      const other = await s.browser().get(s.url('app.localhost', `/.drawbridge/sign_out?rd=${encodeURIComponent(foreign)}`));
      assert.equal(signInAgain(other, /You’re not signed in/), signInStart(s.url('app.localhost', '/')), foreign);
    }
  });
});

describe('an IdP without an end-session endpoint', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ routes: ROUTES, idpOptions: { endSession: false } });
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  test('the POST answers the signed-out page at once; "Sign in again" carries the checked rd, a foreign one falls back', { timeout: 30_000 }, async () => {
    const discovery = (await (await fetch(`${s.idp!.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(discovery.end_session_endpoint, undefined, 'the IdP names no end-session endpoint');
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    const rd = s.url('reports.localhost', '/dash?id=9');
    const confirm = await b.get(s.url('app.localhost', `/.drawbridge/sign_out?rd=${encodeURIComponent(rd)}`));
    const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
    assert.ok(form);
    const posted = await b.post(form.action, { form: form.fields, redirect: 'manual' });
    assert.equal(posted.status, 200, 'no redirect: nothing to end at the IdP');
    assert.equal(signInAgain(posted), signInStart(rd));
    assert.equal(sessionCookie(b, s.url('app.localhost')), undefined);
    assert.equal((await b.get(s.url('app.localhost', '/.drawbridge/me'), { headers: { accept: 'application/json' } })).status, 401, 'the session ended');

    for (const foreign of FOREIGN) {
      const copy = await sessionCopy(s);
      const res = await copy.b.post(s.url('app.localhost', '/.drawbridge/sign_out'), { form: { csrf: copy.csrf, rd: foreign }, redirect: 'manual' });
      assert.equal(res.status, 200, foreign);
      assert.equal(signInAgain(res), `${s.publicUrl}/.drawbridge/sign_in`, `${foreign}: the default link`);
      assert.ok(!res.body.includes('evil.example'), foreign);
    }
  });
});
