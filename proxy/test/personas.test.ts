// proxy/test/personas.test.ts — the dev IdP in the claim-shape personas of real providers (issue 13), each over
// real sockets: sign in, the identity headers and assertion upstream, refresh, sign-out. No ID token on refresh
// (userinfo supplies the claims); groups only at userinfo; nested roles (`realm_access.roles`); groups as one
// comma-joined string; no `email_verified`; `auth_time: 0`; custom `amr` values and no `acr`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { findLoginForm, findOtpForm } from '../../e2e/idp/sign-in.js';
import type { ClaimShapeOptions } from '../../e2e/idp/dev-idp.js';
import { parseForms, type CookieJarClient, type HttpResponse } from '../../e2e/support/http-client.js';
import { movableClock, received, startStack, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const ROUTES = `routes:
${APP_ROUTE}  - name: staff
    from: http://staff.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [staff]
  - name: corp
    from: http://corp.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - domain: [example.com]
  - name: recent
    from: http://recent.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { authenticated: true }, { authAge: 5m } ]
  - name: admin
    from: http://admin.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { authenticated: true }, { mfa: true } ]
`;

const HTML = { accept: 'text/html' };
const JSON_ACCEPT = { accept: 'application/json' };
const LIMIT = { timeout: 60_000 };
const stacks: Stack[] = [];

after(async () => {
  await Promise.all(stacks.map((s) => s.close()));
});

/** A stack whose dev IdP has this claim shape, with `idp` lines added to Drawbridge's `idp:` block. */
async function persona(claimShape: ClaimShapeOptions, idp = '', clock = movableClock()): Promise<Stack & { clock: ReturnType<typeof movableClock> }> {
  const s = await startStack({ routes: ROUTES, idp, idpOptions: { claimShape }, now: clock.now });
  stacks.push(s);
  return Object.assign(s, { clock });
}

/** Signs `login` in (password only) through `url`, filling every password form the IdP shows; returns the last page and how many. */
async function signInThrough(s: Stack, b: CookieJarClient, url: string, login: string): Promise<{ response: HttpResponse; passwordForms: number }> {
  let response = await b.get(url, { headers: HTML });
  let passwordForms = 0;
  for (let form = findLoginForm(response); form && passwordForms < 5; form = findLoginForm(response)) {
    passwordForms++;
    response = await b.post(form.action, { headers: HTML, form: { login, password: login } });
  }
  assert.equal(findOtpForm(response), undefined, 'no one-time code asked in these personas');
  return { response, passwordForms };
}

/** A GET through Drawbridge to the sample app; returns what the app received (identity headers, assertion claims). */
async function upstream(s: Stack, b: CookieJarClient, host: string): Promise<{ status: number; headers: Record<string, string | undefined>; assertion?: Record<string, unknown> }> {
  const marker = `p${Math.random().toString(36).slice(2)}`;
  // Followed: a route host the session has not reached yet gets it through the hand-off.
  const r = await b.get(s.url(host, `/?${marker}`), { headers: HTML });
  const [seen] = received(s.app, marker);
  if (!seen) return { status: r.status, headers: {} };
  const token = seen.headers['x-drawbridge-assertion'];
  return { status: r.status, headers: seen.headers as Record<string, string | undefined>, ...(typeof token === 'string' ? { assertion: decodeJwt(token) } : {}) };
}

async function sessionOf(s: Stack, login: string) {
  const [record] = await s.db.store.list({ user: login });
  assert.ok(record, `${login} has a session`);
  return record;
}

/** Moves the stack's clock past the session's refresh point (the IdP's tokens do not care about Drawbridge's clock). */
async function passRefreshPoint(s: Stack & { clock: ReturnType<typeof movableClock> }, login: string): Promise<void> {
  const { tokens } = await sessionOf(s, login);
  assert.ok(tokens.refreshToken && tokens.refreshAt !== undefined, 'the session can refresh');
  s.clock.advance(tokens.refreshAt - s.clock.now() + 1_000);
}

function logsOf(s: Stack, event: string, from = 0) {
  return s.logs.slice(from).filter((l) => l.event === event);
}

/** Signs out through the confirm form and the IdP's end-session endpoint; asserts the session is gone. */
async function signOut(s: Stack, b: CookieJarClient, host: string, login: string): Promise<void> {
  const confirm = await b.get(s.url(host, '/.drawbridge/sign_out'), { headers: HTML });
  const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
  assert.ok(form, 'the sign-out form');
  const done = await b.post(form.action, { form: form.fields, headers: HTML });
  assert.match(done.body, /You’re signed out/);
  assert.equal((await s.db.store.list({ user: login })).length, 0, 'the session is gone');
  assert.equal((await b.get(s.url(host, '/'), { headers: HTML, redirect: 'manual' })).status, 302, 'next request: sign in');
}

test('persona: no ID token on refresh — the userinfo endpoint supplies the claims, a group removed at the IdP is gone', LIMIT, async () => {
  const s = await persona({ noIdTokenOnRefresh: true });
  s.idp!.addAccount({ login: 'nora', claims: { name: 'Nora', email: 'nora@example.com', email_verified: true, groups: ['engineering', 'staff'] } });
  const b = s.browser();
  assert.equal((await s.signIn(b, s.url('app.localhost', '/'), 'nora')).response.status, 200);
  const before = await sessionOf(s, 'nora');
  assert.equal((await upstream(s, b, 'app.localhost')).headers['x-forwarded-groups'], 'engineering,staff');

  s.idp!.updateAccount('nora', { groups: ['staff'], name: 'Nora Renamed' });
  await passRefreshPoint(s, 'nora');
  const mark = s.logs.length;
  assert.equal((await upstream(s, b, 'app.localhost')).status, 403, 'engineering was removed at the IdP: gone after the refresh');
  const [refresh] = logsOf(s, 'refresh', mark);
  assert.equal(refresh?.result, 'success');
  assert.equal(refresh?.claimsFrom, 'userinfo', 'the refresh answer carried no ID token: the claims are userinfo\u2019s');
  assert.equal(refresh?.groupsChanged, true);
  const after = await sessionOf(s, 'nora');
  assert.equal(after.tokens.idToken, before.tokens.idToken, 'no new ID token: the sign-in\u2019s is kept (for id_token_hint)');
  assert.notEqual(after.tokens.accessToken, before.tokens.accessToken, 'a new access token');
  assert.deepEqual(after.identity.groups, ['staff']);
  assert.equal(after.identity.authTime, before.identity.authTime, 'how the user signed in is the sign-in\u2019s');
  assert.deepEqual(after.identity.amr, before.identity.amr);
  const staff = await upstream(s, b, 'staff.localhost');
  assert.equal(staff.status, 200);
  assert.equal(staff.headers['x-forwarded-name'], 'Nora Renamed');
  assert.deepEqual(staff.assertion?.groups, ['staff']);
  assert.equal(staff.assertion?.auth_time, before.identity.authTime);
  await signOut(s, b, 'staff.localhost', 'nora');
});

test('persona: userinfo naming another subject than the ID token — a sign-in is refused, a refreshed session ends', LIMIT, async () => {
  const s = await persona({ noIdTokenOnRefresh: true }, 'userinfo: always');
  s.idp!.addAccount({ login: 'otto', claims: { email: 'otto@example.com', email_verified: true, groups: ['engineering'] } });
  const b = s.browser();
  assert.equal((await s.signIn(b, s.url('app.localhost', '/'), 'otto')).response.status, 200);
  // From now on the IdP's userinfo answers (real ones, over the socket) name someone else, as a confused or
  // compromised IdP might.
  const oidc = s.db.runtime.oidc;
  const userinfo = oidc.userinfo.bind(oidc);
  oidc.userinfo = async (token) => ({ ...(await userinfo(token)), sub: 'someone-else' });
  try {
    await passRefreshPoint(s, 'otto');
    const mark = s.logs.length;
    const r = await b.get(s.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' });
    assert.equal(r.status, 302, 'the session ended: sent to sign in');
    const [refused] = logsOf(s, 'refresh', mark);
    assert.equal(refused?.result, 'refused');
    assert.match(refused?.error, /another subject/);
    assert.equal((await s.db.store.list({ user: 'otto' })).length, 0);

    const { response } = await s.signIn(s.browser(), s.url('app.localhost', '/'), 'otto');
    assert.equal(response.status, 403, 'a sign-in whose userinfo names another subject is refused');
    assert.match(response.body, /did not confirm who you are/);
    assert.equal((await s.db.store.list({ user: 'otto' })).length, 0, 'no session');
  } finally {
    oidc.userinfo = userinfo;
  }
});

test('persona: groups only at the userinfo endpoint — fetched at sign-in and refresh (auto); never fetched: no groups, logged once', LIMIT, async () => {
  const s = await persona({ userinfoOnlyClaims: ['groups'] });
  s.idp!.addAccount({ login: 'uma', claims: { email: 'uma@example.com', email_verified: true, groups: ['engineering'] } });
  const b = s.browser();
  assert.equal((await s.signIn(b, s.url('app.localhost', '/'), 'uma')).response.status, 200, 'groups from userinfo let uma in');
  const session = await sessionOf(s, 'uma');
  assert.equal(decodeJwt(session.tokens.idToken!).groups, undefined, 'the ID token itself has no groups');
  assert.equal((await upstream(s, b, 'app.localhost')).headers['x-forwarded-groups'], 'engineering');
  assert.equal(logsOf(s, 'claims-missing').length, 0, 'nothing missing once userinfo answered');
  s.idp!.updateAccount('uma', { groups: [] });
  await passRefreshPoint(s, 'uma');
  assert.equal((await upstream(s, b, 'app.localhost')).status, 403, 'the refreshed ID token lacks groups: userinfo again, which has none now');
  await signOut(s, b, 'app.localhost', 'uma');

  // `userinfo: never`: the ID token alone, which has no groups — refused, and the missing claim logged once, names only.
  const never = await persona({ userinfoOnlyClaims: ['groups'] }, 'userinfo: never');
  never.idp!.addAccount({ login: 'uma', claims: { email: 'uma@example.com', email_verified: true, groups: ['engineering'], department: 'secret-dept' } });
  for (let i = 0; i < 2; i++) {
    const browser = never.browser();
    const { response } = await never.signIn(browser, never.url('app.localhost', '/'), 'uma');
    assert.equal(response.status, 403);
  }
  const missing = logsOf(never, 'claims-missing');
  assert.equal(missing.length, 1, 'once per user, not once per sign-in');
  assert.deepEqual(missing[0]!.missing, ['groups']);
  assert.ok(missing[0]!.received.includes('department') && missing[0]!.received.includes('sub'), JSON.stringify(missing[0]));
  assert.ok(!JSON.stringify(missing[0]).includes('secret-dept') && !JSON.stringify(missing[0]).includes('uma@example.com'), 'claim names only, never values');
  assert.equal(missing[0]!.level, 'warn');
});

test('persona: nested roles (idp.claims.groups: realm_access.roles) reach the policy, the headers and the assertion', LIMIT, async () => {
  const s = await persona({ releaseClaims: ['realm_access'] }, 'claims: { user: preferred_username, groups: realm_access.roles }');
  s.idp!.addAccount({ login: 'kim', claims: { email: 'kim@example.com', email_verified: true, realm_access: { roles: ['engineering', 'staff'] } } });
  const b = s.browser();
  assert.equal((await s.signIn(b, s.url('app.localhost', '/'), 'kim')).response.status, 200);
  const staff = await upstream(s, b, 'staff.localhost');
  assert.equal(staff.status, 200);
  assert.equal(staff.headers['x-forwarded-groups'], 'engineering,staff');
  assert.deepEqual(staff.assertion?.groups, ['engineering', 'staff']);
  s.idp!.updateAccount('kim', { realm_access: { roles: ['engineering'] } });
  await passRefreshPoint(s, 'kim');
  assert.equal((await upstream(s, b, 'staff.localhost')).status, 403, 'a role removed at the IdP is gone after the refresh');
  assert.equal((await upstream(s, b, 'app.localhost')).status, 200);
  await signOut(s, b, 'app.localhost', 'kim');
});

test('persona: groups as one comma-joined string, split with idp.claims.groupsDelimiter', LIMIT, async () => {
  const s = await persona({}, 'claims: { user: preferred_username, groups: groups, groupsDelimiter: "," }');
  s.idp!.addAccount({ login: 'cody', claims: { email: 'cody@example.com', email_verified: true, groups: 'engineering, staff' } });
  const b = s.browser();
  assert.equal((await s.signIn(b, s.url('staff.localhost', '/'), 'cody')).response.status, 200, 'staff is a group of its own');
  const app = await upstream(s, b, 'app.localhost');
  assert.equal(app.status, 200);
  assert.deepEqual(app.assertion?.groups, ['engineering', 'staff']);
  assert.equal(app.headers['x-forwarded-groups'], 'engineering,staff');
  await signOut(s, b, 'staff.localhost', 'cody');
});

test('persona: no email_verified — unverified (no domain match, no email upstream) unless idp.assumeEmailVerified', LIMIT, async () => {
  const s = await persona({});
  s.idp!.addAccount({ login: 'nev', claims: { email: 'nev@example.com', groups: ['engineering'] } });
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('corp.localhost', '/'), 'nev');
  assert.equal(response.status, 403, 'domain: [example.com] does not admit an address nobody verified');
  const json = await b.get(s.url('corp.localhost', '/'), { headers: JSON_ACCEPT });
  assert.ok(json.json().reasons.some((r: { code: string }) => r.code === 'email-unverified'), json.body);
  const app = await upstream(s, b, 'app.localhost');
  assert.equal(app.status, 200);
  assert.equal(app.headers['x-forwarded-email'], undefined, 'an unverified address is not identity');
  assert.equal(app.assertion?.email, undefined);
  assert.equal((await sessionOf(s, 'nev')).identity.emailVerified, false);

  const assumed = await persona({}, 'assumeEmailVerified: true');
  assumed.idp!.addAccount({ login: 'nev', claims: { email: 'nev@example.com', groups: ['engineering'] } });
  const a = assumed.browser();
  assert.equal((await assumed.signIn(a, assumed.url('corp.localhost', '/'), 'nev')).response.status, 200, 'the operator vouches for the IdP');
  const corp = await upstream(assumed, a, 'corp.localhost');
  assert.equal(corp.headers['x-forwarded-email'], 'nev@example.com');
  assert.equal(corp.assertion?.email, 'nev@example.com');
  // An explicit false is never overridden.
  const d = assumed.browser();
  assert.equal((await assumed.signIn(d, assumed.url('corp.localhost', '/'), 'dave')).response.status, 403, 'dave: email_verified false');
  await signOut(assumed, a, 'corp.localhost', 'nev');
});

test('persona: auth_time 0 — unknown, never 1970; an authAge route steps up once, then names the reason (no loop)', LIMIT, async () => {
  const s = await persona({ authTime: 0 });
  const b = s.browser();
  assert.equal((await s.signIn(b, s.url('app.localhost', '/'), 'alice')).response.status, 200, 'a route without authAge: signed in');
  const me = await b.get(s.url('app.localhost', '/.drawbridge/me'), { headers: JSON_ACCEPT });
  assert.equal(me.json().authTime, null);
  const page = await b.get(s.url('app.localhost', '/.drawbridge/me'), { headers: HTML });
  assert.equal(page.status, 200);
  assert.doesNotMatch(page.body, /1970/);
  assert.match(page.body, /Signed in<\/dt><dd><span class="muted">unknown/);
  const app = await upstream(s, b, 'app.localhost');
  assert.equal(app.status, 200);
  assert.ok(app.assertion && !('auth_time' in app.assertion), 'the assertion carries no auth_time');

  // The authAge route: one step-up (max_age, prompt=login: the password form again), then the "stronger sign-in" page.
  const mark = s.logs.length;
  const { response, passwordForms } = await signInThrough(s, b, s.url('recent.localhost', '/'), 'alice');
  assert.equal(passwordForms, 1, 'asked once');
  assert.equal(response.status, 401);
  assert.match(response.body, /This page needs a stronger sign-in/);
  assert.match(response.body, /auth_time/, 'the page names the reason');
  const [failed] = logsOf(s, 'step-up', mark);
  assert.equal(failed?.result, 'failure');

  // A new browser straight to the route: the first sign-in (max_age asked, not refused), one step-up, the same page.
  const fresh = s.browser();
  const first = await signInThrough(s, fresh, s.url('recent.localhost', '/'), 'bob');
  assert.equal(first.passwordForms, 2, 'the sign-in and one step-up, never more');
  assert.equal(first.response.status, 401);
  assert.match(first.response.body, /auth_time/);
  assert.equal(logsOf(s, 'sign-in', mark).filter((l) => l.result === 'failure').length, 0, 'no "please start again" failure');
});

test('persona: custom amr values mapped by idp.mfa.amr, and no acr — an mfa route admits a WebAuthn sign-in; without the mapping it says what is missing', LIMIT, async () => {
  const shape: ClaimShapeOptions = { passwordAmr: ['pwd', 'webauthn'], ignoreAcrValues: true };
  const s = await persona(shape, 'mfa: { amr: [webauthn, otp] }');
  const b = s.browser();
  const marker = `amr${Date.now()}`;
  const { response, passwordForms } = await signInThrough(s, b, s.url('admin.localhost', `/?${marker}`), 'alice');
  assert.equal(response.status, 200, 'amr webauthn counts as multi-factor');
  assert.equal(passwordForms, 1);
  const [seen] = received(s.app, marker);
  const assertion = decodeJwt(String(seen!.headers['x-drawbridge-assertion']));
  assert.deepEqual(assertion.amr, ['pwd', 'webauthn']);
  assert.equal(assertion.acr, undefined, 'the IdP sent no acr');
  await passRefreshPoint(s, 'alice');
  const mark = s.logs.length;
  assert.equal((await upstream(s, b, 'admin.localhost')).status, 200, 'still multi-factor after a refresh');
  assert.equal(logsOf(s, 'refresh', mark)[0]?.result, 'success');
  await signOut(s, b, 'admin.localhost', 'alice');

  // The same IdP without the mapping: webauthn is no RFC 8176 value; one step-up, then the page names what is missing.
  const plain = await persona(shape);
  const p = plain.browser();
  const denied = await signInThrough(plain, p, plain.url('admin.localhost', '/'), 'alice');
  assert.equal(denied.passwordForms, 2, 'the sign-in and one step-up');
  assert.equal(denied.response.status, 401);
  assert.match(denied.response.body, /a multi-factor sign-in/);
});
