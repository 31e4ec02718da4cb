// proxy/test/step-up.test.ts — step-up sign-in over real sockets (SPEC §3 step 5, §5): an `mfa`, `acr` or
// `authAge` rule that fails asks for a stronger or fresher sign-in (prompt=login, acr_values, max_age at
// the IdP), the callback verifies what came back, the session gets a new id, and an API client gets an
// RFC 9470 challenge instead of a redirect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { movableClock, received, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';
import { STEP_UP_ROUTES } from '../../test-support/routes.js';

const ROUTES = `routes:
${STEP_UP_ROUTES}  - name: vault
    title: Secrets vault
    from: http://vault.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering] }, { acr: [phishing-resistant] } ]
  - name: recent
    from: http://recent.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering] }, { authAge: 1m } ]
  - name: mixed
    from: http://mixed.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [wiki-admins] }, { mfa: true } ]
        - groups: [engineering]
`;

const HTML = { accept: 'text/html' };
const clock = movableClock();
let s: Stack;

before(async () => {
  s = await startStack({ routes: ROUTES, now: clock.now });
});

after(async () => {
  await s?.close();
});

/** A new browser signed in as `login` on the app route (password only, unless the account always does OTP). */
async function signedIn(login: string): Promise<CookieJarClient> {
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', '/'), login);
  assert.equal(response.status, 200, `${login} signed in on the app route`);
  return b;
}

/**
 * Opens `url` as a browser and follows redirects until the route asks for a step-up; returns that
 * sign-in URL. On the way, the session reaches the route host through the hand-off (cookies are per host).
 */
async function toStepUp(client: CookieJarClient, url: string): Promise<URL> {
  const r = await client.get(url, { headers: HTML, stopAt: (u) => u.pathname === '/.drawbridge/sign_in' && u.searchParams.has('step_up') });
  assert.equal(r.status, 302, `${url} ends in a step-up redirect (got ${r.status} at ${r.url})`);
  assert.equal(r.url, url, 'the route itself asked for the step-up');
  const start = new URL(r.location!);
  // The route host's own sign-in start binds the hand-off to this browser, then sends it on to publicUrl.
  assert.equal(start.origin, new URL(url).origin);
  return hop(client, start.href);
}

/** The one hop `client` makes from `url`, which must be a redirect; returns its target. */
async function hop(client: CookieJarClient, url: string): Promise<URL> {
  const r = await client.get(url, { redirect: 'manual' });
  assert.equal(r.status, 302, `${url} redirects (got ${r.status}: ${r.body.slice(0, 200)})`);
  assert.ok(r.location, 'with a Location');
  const next = new URL(r.location);
  // A route host's sign-in start (it binds the hand-off to this browser, then sends it on to publicUrl with every
  // parameter): counted as part of this hop.
  if (next.pathname === '/.drawbridge/sign_in' && next.origin !== s.publicUrl && next.origin === new URL(url).origin) {
    const onward = await hop(client, next.href);
    assert.equal(`${onward.origin}${onward.pathname}`, `${s.publicUrl}/.drawbridge/sign_in`);
    for (const [k, v] of next.searchParams) assert.equal(onward.searchParams.get(k), v, `${k} passed on`);
    return onward;
  }
  return next;
}

/** Every URL `client` requests from now on (each hop of every redirect chain). */
function recordRequests(client: CookieJarClient): string[] {
  const urls: string[] = [];
  const request = client.request.bind(client);
  client.request = async (method, url, options) => {
    const r = await request(method, url, options);
    urls.push(...r.redirects);
    return r;
  };
  return urls;
}

/** The IdP's authorization endpoint (from its discovery document). */
async function authorizationEndpoint(): Promise<string> {
  const discovery = (await (await fetch(`${s.idp!.issuer}/.well-known/openid-configuration`)).json()) as { authorization_endpoint: string };
  return discovery.authorization_endpoint;
}

test('carol (password + one-time code) passes an mfa route at her first sign-in', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const marker = `carol${Date.now()}`;
  const url = s.url('admin.localhost', `/?${marker}`);
  // Anonymous: an ordinary sign-in, not a step-up, that already says what the route demands of every sign-in.
  const first = await hop(b, url);
  assert.equal(first.searchParams.get('step_up'), null);
  assert.equal(first.searchParams.get('need'), '1');
  assert.equal(first.searchParams.get('mfa'), '1');
  const { response, askedPassword, askedOtp } = await s.signIn(b, url, 'carol');
  assert.ok(askedPassword && askedOtp, 'carol always gives the one-time code');
  assert.equal(response.status, 200);
  assert.equal(response.url, url);
  const seen = received(s.app, marker);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.headers['x-forwarded-user'], 'carol');
});

test('anonymous alice opens the mfa route: ONE trip to the IdP, which asks for the code at once (acr_values=mfa), then in', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const seen = recordRequests(b);
  const marker = `oneTrip${Date.now()}`;
  const url = s.url('admin.localhost', `/reports?${marker}=1`);
  const logsFrom = s.logs.length;

  // The route host sends the anonymous browser to sign in, with the route's demands (not a step-up: no session yet).
  const signIn = await hop(b, url);
  assert.equal(`${signIn.origin}${signIn.pathname}`, `${s.publicUrl}/.drawbridge/sign_in`);
  assert.equal(signIn.searchParams.get('rd'), url);
  assert.equal(signIn.searchParams.get('step_up'), null);
  assert.equal(signIn.searchParams.get('need'), '1');
  assert.equal(signIn.searchParams.get('mfa'), '1');
  // The very first authorization request already carries the step-up parameters the route would otherwise ask for later.
  const authorize = await hop(b, signIn.href);
  assert.equal(`${authorize.origin}${authorize.pathname}`, await authorizationEndpoint());
  assert.equal(authorize.searchParams.get('acr_values'), 'mfa', 'acr_values from idp.mfaAcrValues');
  assert.equal(authorize.searchParams.get('max_age'), null, 'the route asks for mfa, not for a recent sign-in');
  assert.equal(authorize.searchParams.get('prompt'), null, 'no prompt=login: an IdP session with MFA would do');

  const done = await signInAtIdp(b, authorize, { login: 'alice', headers: HTML });
  assert.ok(done.askedPassword, 'the password, once');
  assert.ok(done.askedOtp, 'and the one-time code in the same sign-in');
  assert.equal(done.response.status, 200, `ends at the upstream (got ${done.response.status} at ${done.response.url})`);
  assert.equal(done.response.url, url, 'back on the exact URL');
  const upstream = received(s.app, marker);
  assert.equal(upstream.length, 1);
  assert.equal(upstream[0]!.headers['x-forwarded-user'], 'alice');

  // One authorization request at the IdP in the whole journey; no step-up was started.
  const endpoint = await authorizationEndpoint();
  const authorizations = seen.filter((u) => u.startsWith(`${endpoint}?`));
  assert.equal(authorizations.length, 1, `one authorization request: ${authorizations.join(' , ')}`);
  assert.equal(seen.filter((u) => u.includes('step_up=1')).length, 0, 'the route never asked for a step-up');
  const decisions = s.logs.slice(logsFrom).filter((l) => l.event === 'request').map((l) => l.decision);
  assert.equal(decisions.filter((d) => d === 'sign-in-started').length, 1);
  assert.equal(decisions.filter((d) => d === 'step-up-started').length, 0);
  const me = (await b.get(s.url('admin.localhost', '/.drawbridge/me'), { headers: { accept: 'application/json' } })).json();
  assert.deepEqual(me.amr, ['pwd', 'otp']);
  assert.equal(me.acr, 'mfa');
});

test('anonymous on an authAge route: the first authorization request carries max_age', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const url = s.url('recent.localhost', `/?fresh${Date.now()}`);
  const signIn = await hop(b, url);
  assert.equal(signIn.searchParams.get('need'), '1');
  assert.equal(signIn.searchParams.get('max_age'), '60');
  const authorize = await hop(b, signIn.href);
  assert.equal(authorize.searchParams.get('max_age'), '60');
  assert.equal(authorize.searchParams.get('acr_values'), null);
  const done = await signInAtIdp(b, authorize, { login: 'alice', headers: HTML });
  assert.equal(done.response.status, 200);
  assert.equal(done.response.url, url);
});

test('a route where some users get in without MFA asks nobody for it up front', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const url = s.url('mixed.localhost', `/?mixed${Date.now()}`);
  const signIn = await hop(b, url);
  assert.equal(signIn.searchParams.get('need'), null);
  assert.equal(signIn.searchParams.get('mfa'), null);
  const authorize = await hop(b, signIn.href);
  assert.equal(authorize.searchParams.get('acr_values'), null);
  const done = await signInAtIdp(b, authorize, { login: 'alice', headers: HTML });
  assert.ok(!done.askedOtp, 'alice (engineering) gets in with her password');
  assert.equal(done.response.status, 200);
  assert.equal(done.response.url, url);
});

test('a first sign-in the IdP cannot fully satisfy is not refused at the callback: the route then asks for the step-up', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const url = s.url('vault.localhost', `/?vaultFirst${Date.now()}`);
  const signIn = await hop(b, url);
  assert.equal(signIn.searchParams.get('acr'), 'phishing-resistant');
  const authorize = await hop(b, signIn.href);
  assert.equal(authorize.searchParams.get('acr_values'), 'phishing-resistant');
  // The dev IdP signs alice in with a password (acr pwd): a session is made, and the route asks for the step-up.
  const done = await signInAtIdp(b, authorize, { login: 'alice', stopAt: `${s.publicUrl}/.drawbridge/sign_in?`, headers: HTML });
  assert.equal(done.response.status, 302);
  const stepUp = new URL(done.response.location!);
  assert.equal(stepUp.searchParams.get('step_up'), '1');
  assert.equal(stepUp.searchParams.get('acr'), 'phishing-resistant');
  assert.ok(sessionCookie(b, s.publicUrl), 'the sign-in made a session');
});

test('alice is sent to step-up: prompt=login and acr_values=mfa at the IdP, the OTP form, then in — with a new session id, same user', { timeout: 30_000 }, async () => {
  const b = await signedIn('alice');
  const appUrl = s.url('app.localhost', '/');
  const oldAppCookie = sessionCookie(b, appUrl);
  const oldAuthCookie = sessionCookie(b, s.publicUrl);
  assert.ok(oldAppCookie && oldAuthCookie);
  const [before] = await s.db.store.list({ user: 'alice' }).then((l) => l.filter((r) => r.identity.amr.join() === 'pwd'));
  assert.ok(before, 'alice has a password-only session');

  const marker = `stepup${Date.now()}`;
  const adminUrl = s.url('admin.localhost', `/reports?${marker}=1`);
  // 1. The route host: 302 to the sign-in endpoint on publicUrl, saying it is a step-up and what for.
  const signIn = await toStepUp(b, adminUrl);
  assert.equal(signIn.origin, s.publicUrl);
  assert.equal(signIn.pathname, '/.drawbridge/sign_in');
  assert.equal(signIn.searchParams.get('rd'), adminUrl);
  assert.equal(signIn.searchParams.get('step_up'), '1');
  assert.equal(signIn.searchParams.get('mfa'), '1');
  // 2. The sign-in endpoint does NOT reuse the session: it goes to the IdP and asks for a new, multi-factor sign-in.
  const authorize = await hop(b, signIn.href);
  assert.equal(authorize.origin, s.idp!.issuer);
  assert.equal(authorize.searchParams.get('prompt'), 'login');
  assert.equal(authorize.searchParams.get('acr_values'), 'mfa');
  assert.equal(authorize.searchParams.get('max_age'), null, 'no max_age: the route asks for mfa, not for a recent sign-in');
  assert.equal(authorize.searchParams.get('client_id'), 'drawbridge');
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(received(s.app, marker).length, 0, 'the upstream never saw the refused request');

  // 3. The IdP asks again (prompt=login, although its own session is alive), password then one-time code.
  const done = await signInAtIdp(b, authorize, { login: 'alice', headers: HTML });
  assert.ok(done.askedPassword, 'prompt=login: the IdP asked for the password again');
  assert.ok(done.askedOtp, 'acr_values=mfa: the IdP asked for the one-time code');
  assert.equal(done.response.status, 200);
  assert.equal(done.response.url, adminUrl, 'back on the exact URL');
  const seen = received(s.app, marker);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.headers['x-forwarded-user'], 'alice');

  // 4. A new session id (no fixation, SPEC §4): the old one is gone, so the app host's old cookie no longer works.
  const newAuthCookie = sessionCookie(b, s.publicUrl);
  assert.ok(newAuthCookie && newAuthCookie !== oldAuthCookie, 'publicUrl got a new session cookie');
  assert.notEqual(sessionCookie(b, adminUrl), oldAppCookie);
  assert.equal(await s.db.store.get(before.id), undefined, 'the pre-step-up session is deleted');
  const stale = s.browser();
  stale.setCookie(appUrl, `drawbridge=${oldAppCookie}; Path=/`);
  const refused = await hop(stale, appUrl);
  assert.equal(refused.pathname, '/.drawbridge/sign_in', 'the old cookie no longer signs anybody in');

  // 5. The same user, now with a multi-factor sign-in.
  const me = await b.get(s.url('admin.localhost', '/.drawbridge/me'), { headers: { accept: 'application/json' } });
  assert.equal(me.status, 200);
  const body = me.json();
  assert.equal(body.user, 'alice');
  assert.equal(body.sub, 'alice-sub');
  assert.deepEqual(body.amr, ['pwd', 'otp']);
  assert.equal(body.acr, 'mfa');
  const step = s.logs.find((l) => l.event === 'step-up' && l.result === 'success' && l.user === 'alice');
  assert.ok(step, 'the step-up is logged');
  // And the other route host, whose cookie named the old session, signs in again silently into the new one.
  const back = await b.get(appUrl, { headers: HTML });
  assert.equal(back.status, 200);
  assert.equal(back.url, appUrl);
  // Each host holds its own cookie value (bound to that host) for the one stepped-up session.
  const idOf = (value: string | undefined) => Buffer.from(String(value).split('.')[0]!, 'base64url').toString('hex');
  assert.notEqual(sessionCookie(b, appUrl), sessionCookie(b, adminUrl));
  assert.equal(idOf(sessionCookie(b, appUrl)), idOf(sessionCookie(b, adminUrl)), 'the app host now shares the stepped-up session');
});

test('a step-up the IdP cannot satisfy (acr phishing-resistant) ends on a clear 401 page, not a redirect loop', { timeout: 30_000 }, async () => {
  const b = await signedIn('alice');
  const marker = `vault${Date.now()}`;
  const vaultUrl = s.url('vault.localhost', `/?${marker}`);
  const signIn = await toStepUp(b, vaultUrl);
  assert.equal(signIn.searchParams.get('step_up'), '1');
  assert.equal(signIn.searchParams.get('acr'), 'phishing-resistant');
  const authorize = await hop(b, signIn.href);
  assert.equal(authorize.searchParams.get('prompt'), 'login');
  assert.equal(authorize.searchParams.get('acr_values'), 'phishing-resistant');

  const start = s.logs.length;
  const { response } = await signInAtIdp(b, authorize, { login: 'alice', headers: HTML });
  assert.equal(response.status, 401, `ends on a 401 page (got ${response.status} at ${response.url})`);
  assert.ok(response.url.startsWith(`${s.publicUrl}/.drawbridge/callback?`), 'at the callback, where the returned sign-in was checked');
  assert.match(String(response.headers['content-type']), /text\/html/);
  assert.match(response.body, /This page needs a stronger sign-in/);
  assert.match(response.body, /phishing-resistant/);
  assert.match(response.body, /alice/);
  // The route is named by its title (found from the return target); its name is on the support line.
  assert.match(response.body, /meet what <strong>Secrets vault<\/strong> asks for/);
  assert.match(response.body, /· Route <code>vault<\/code><\/p>/);
  // The redirects after the password form: IdP resume → callback, and there it stops.
  assert.ok(response.redirects.length <= 4, `a short chain, not a loop: ${response.redirects.join(' → ')}`);
  assert.equal(response.redirects.filter((u) => u.includes('/.drawbridge/callback')).length, 1);
  assert.equal(received(s.app, marker).length, 0, 'the upstream was never reached');
  const failed = s.logs.slice(start).find((l) => l.event === 'step-up' && l.result === 'failure');
  assert.ok(failed, 'the failed step-up is logged');
  assert.ok(failed.missing.some((m: string) => m.includes('phishing-resistant')));

  // Opening the route again starts ONE new step-up (the IdP shows its password form), it does not bounce forever
  // (route → its sign-in start → publicUrl's → the IdP → its form).
  const again = await b.get(vaultUrl, { headers: HTML });
  assert.equal(again.status, 200);
  assert.ok(again.url.startsWith(`${s.idp!.issuer}/interaction/`), `stops at the IdP's form: ${again.url}`);
  assert.ok(again.redirects.length <= 5, `again a short chain: ${again.redirects.join(' → ')}`);
  // The failed step-up did not end the session it started from.
  const app = await b.get(s.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' });
  assert.equal(app.status, 200);
});

test('an API client gets 401 with an RFC 9470 challenge (acr_values, max_age), never a redirect', { timeout: 30_000 }, async () => {
  const b = await signedIn('alice');
  const json = { accept: 'application/json' };
  // The session reaches each route host first (cookies are per host), as it would in a browser.
  await toStepUp(b, s.url('admin.localhost', '/'));
  await toStepUp(b, s.url('vault.localhost', '/'));
  assert.equal((await b.get(s.url('recent.localhost', '/'), { headers: HTML })).status, 200, 'a fresh sign-in passes authAge');

  const mfa = await b.get(s.url('admin.localhost', '/api/x'), { headers: json, redirect: 'manual' });
  assert.equal(mfa.status, 401);
  assert.equal(mfa.location, undefined);
  const mfaChallenge = String(mfa.headers['www-authenticate']);
  assert.match(mfaChallenge, /^Bearer /);
  assert.match(mfaChallenge, /error="insufficient_user_authentication"/);
  assert.match(mfaChallenge, /acr_values="mfa"/, `the configured MFA acr values are named: ${mfaChallenge}`);
  assert.doesNotMatch(mfaChallenge, /max_age/);
  const mfaBody = mfa.json();
  assert.equal(mfaBody.error, 'insufficient_user_authentication');
  assert.match(mfaBody.signIn, /step_up=1/);

  const vault = await b.get(s.url('vault.localhost', '/api/x'), { headers: json, redirect: 'manual' });
  assert.equal(vault.status, 401);
  assert.match(String(vault.headers['www-authenticate']), /error="insufficient_user_authentication"/);
  assert.match(String(vault.headers['www-authenticate']), /acr_values="phishing-resistant"/);

  // XHR from a page is an API client too, even when it accepts HTML.
  const xhr = await b.get(s.url('admin.localhost', '/api/x'), { headers: { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }, redirect: 'manual' });
  assert.equal(xhr.status, 401);
  assert.match(String(xhr.headers['www-authenticate']), /insufficient_user_authentication/);

  // A recent sign-in is needed: after two minutes, max_age=60.
  clock.advance(120_000);
  try {
    const recent = await b.get(s.url('recent.localhost', '/api/x'), { headers: json, redirect: 'manual' });
    assert.equal(recent.status, 401);
    const challenge = String(recent.headers['www-authenticate']);
    assert.match(challenge, /error="insufficient_user_authentication"/);
    assert.match(challenge, /max_age=60\b/);
  } finally {
    clock.advance(-120_000);
  }
});

test('authAge: 1m — two minutes later the route asks for a fresh sign-in, with max_age sent to the IdP', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const marker = `recent${Date.now()}`;
  const url = s.url('recent.localhost', `/?${marker}`);
  const first = await s.signIn(b, url, 'alice');
  assert.equal(first.response.status, 200, 'a sign-in a moment ago is recent enough');
  const ok = await b.get(url, { headers: HTML, redirect: 'manual' });
  assert.equal(ok.status, 200);
  const [session] = await s.db.store.list({ user: 'alice' }).then((l) => l.sort((x, y) => y.createdAt - x.createdAt));
  const authTime = session!.identity.authTime!;

  clock.advance(120_000);
  let rewound = false;
  try {
    const signIn = await hop(b, url);
    assert.equal(signIn.pathname, '/.drawbridge/sign_in');
    assert.equal(signIn.searchParams.get('step_up'), '1');
    assert.equal(signIn.searchParams.get('max_age'), '60');
    const authorize = await hop(b, signIn.href);
    assert.equal(authorize.origin, s.idp!.issuer);
    assert.equal(authorize.searchParams.get('max_age'), '60');
    assert.equal(authorize.searchParams.get('prompt'), 'login');
    assert.equal(received(s.app, marker).length, 2, 'only the two requests made while the sign-in was fresh reached the upstream');

    // The IdP's clock cannot be moved: put ours back so the sign-in it is about to make counts as "now".
    clock.advance(-120_000);
    rewound = true;
    // Make the IdP's new auth_time differ from the first one (it has one-second resolution).
    await new Promise((r) => setTimeout(r, 1100));
    const done = await signInAtIdp(b, authorize, { login: 'alice', headers: HTML });
    assert.ok(done.askedPassword, 'the IdP made alice authenticate again');
    assert.equal(done.response.status, 200);
    assert.equal(done.response.url, url);
    const me = (await b.get(s.url('recent.localhost', '/.drawbridge/me'), { headers: { accept: 'application/json' } })).json();
    assert.equal(me.user, 'alice');
    assert.ok(me.authTime > authTime, `a newer auth_time (${me.authTime} > ${authTime})`);
  } finally {
    if (!rewound) clock.advance(-120_000);
  }
});

test('an IdP whose clock runs 70 s behind cannot satisfy authAge: 1m — the step-up ends on the clear page, not back at the IdP form', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const url = s.url('recent.localhost', '/skew');
  assert.equal((await s.signIn(b, url, 'alice')).response.status, 200);
  // Our clock 70 s ahead is the IdP's 70 s behind: every auth_time it issues is 70 s old when it arrives.
  clock.advance(70_000);
  try {
    const { response, askedPassword } = await s.signIn(b, url, 'alice');
    assert.ok(askedPassword);
    assert.equal(response.status, 401, `a clear answer after the password, not another trip to the IdP (ended at ${response.url})`);
    assert.ok(response.url.startsWith(`${s.publicUrl}/.drawbridge/callback?`));
    assert.match(response.body, /This page needs a stronger sign-in/);
    assert.match(response.body, /a fresh sign-in/);
    assert.ok(response.redirects.length <= 4, response.redirects.join(' → '));
  } finally {
    clock.advance(-70_000);
  }
});
