// proxy/test/backchannel.test.ts — OpenID Connect Back-Channel Logout over real sockets (SPEC §4): the dev IdP's
// real logout tokens end sessions by sid or by sub; a replayed token and every defect the spec names are
// refused with 400 and end nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { SignJwtOptions } from '../../e2e/idp/dev-idp.js';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { startRedis } from '../../test-support/redis.js';
import { startStack, type Stack } from '../../test-support/stack.js';

const HTML = { accept: 'text/html' };
const ROUTES = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`;
let s: Stack;

before(async () => {
  s = await startStack({ routes: ROUTES });
});

after(async () => {
  await s?.close();
});

async function signedIn(login: string): Promise<CookieJarClient> {
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', '/'), login);
  assert.equal(response.status, 200, `${login} signed in`);
  return b;
}

/** 200 when the browser's session still lets it in; 302 (to sign-in) once it has ended. */
async function status(b: CookieJarClient): Promise<number> {
  const r = await b.get(s.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' });
  if (r.status === 302) assert.ok(r.location?.startsWith(`${new URL(s.url('app.localhost')).origin}/.drawbridge/sign_in?`), r.location);
  return r.status;
}

/** POSTs a logout token to Drawbridge's receiver as the IdP would. */
async function post(logoutToken: string) {
  const res = await fetch(`http://127.0.0.1:${s.port}/.drawbridge/backchannel_logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: logoutToken }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** The IdP session id (`sid`) and subject the newest session of `login` was made from. */
async function idpSession(login: string): Promise<{ sid: string; sub: string; id: string }> {
  const [r] = (await s.db.store.list({ user: login })).sort((a, b) => b.createdAt - a.createdAt);
  assert.ok(r?.idpSid, `${login} has a session with the IdP's sid`);
  return { sid: r.idpSid, sub: r.identity.sub, id: r.id };
}

test('the IdP\u2019s logout token by sid ends that session (next request → sign-in); other sessions stay', { timeout: 30_000 }, async () => {
  const alice = await signedIn('alice');
  const bob = await signedIn('bob');
  const mark = s.logs.length;
  const statuses = await s.idp!.backchannelLogout('alice');
  assert.deepEqual(statuses, [200], 'Drawbridge answered the IdP 200');
  assert.equal(await status(alice), 302, 'alice must sign in again');
  assert.equal(await status(bob), 200, 'bob is still signed in');
  const log = s.logs.slice(mark).find((l) => l.event === 'backchannel-logout');
  assert.equal(log?.result, 'success');
  assert.equal(log?.bySid, true);
  assert.equal(log?.sessionsEnded, 1);
});

test('the receiver answers 200 with Cache-Control: no-store', { timeout: 30_000 }, async () => {
  const b = await signedIn('alice');
  const { sid, sub } = await idpSession('alice');
  const r = await post(await s.idp!.signLogoutToken({ sub, sid }));
  assert.equal(r.status, 200);
  assert.match(String(r.headers.get('cache-control')), /no-store/);
  assert.equal(await status(b), 302);
});

test('a logout token by sub only ends every session of that user (two browsers), and nobody else\u2019s', { timeout: 30_000 }, async () => {
  const first = await signedIn('alice');
  const second = await signedIn('alice');
  const bob = await signedIn('bob');
  assert.equal(await status(first), 200);
  assert.equal(await status(second), 200);
  const sessions = await s.db.store.list({ user: 'alice' });
  assert.equal(new Set(sessions.map((r) => r.idpSid)).size, sessions.length, 'two IdP sessions, two sids');
  assert.ok(sessions.length >= 2);
  const bobSessions = (await s.db.store.list({ user: 'bob' })).length;
  const mark = s.logs.length;
  assert.deepEqual(await s.idp!.backchannelLogout('alice', { sid: null }), [200]);
  assert.equal(await status(first), 302);
  assert.equal(await status(second), 302);
  assert.equal((await s.db.store.list({ user: 'alice' })).length, 0);
  assert.equal((await s.db.store.list({ user: 'bob' })).length, bobSessions, 'bob keeps his sessions');
  assert.equal(await status(bob), 200);
  const log = s.logs.slice(mark).find((l) => l.event === 'backchannel-logout');
  assert.equal(log?.bySid, false);
  assert.ok(log?.sessionsEnded >= 2);
});

test('a logout token with a sid and no sub ends that session', { timeout: 30_000 }, async () => {
  const b = await signedIn('alice');
  const other = await signedIn('alice');
  const { sid } = await idpSession('alice');
  assert.equal((await post(await s.idp!.signLogoutToken({ sid }))).status, 200);
  assert.equal(await status(other), 302, 'the session made from that IdP session ended');
  assert.equal(await status(b), 200, 'the session from the other IdP session lives on');
});

test('a sid that names a session of another subject ends nothing', { timeout: 30_000 }, async () => {
  const alice = await signedIn('alice');
  const { sid } = await idpSession('alice');
  const r = await post(await s.idp!.signLogoutToken({ sub: 'bob-sub', sid }));
  assert.equal(r.status, 200, 'a valid token for sessions that do not exist is still acknowledged');
  assert.equal(await status(alice), 200, 'sid and sub must both match');
});

test('replaying a logout token is refused (400), even after its session is gone', { timeout: 30_000 }, async () => {
  const b = await signedIn('alice');
  const { sid, sub } = await idpSession('alice');
  const token = await s.idp!.signLogoutToken({ sub, sid });
  assert.equal((await post(token)).status, 200);
  assert.equal(await status(b), 302);
  const again = await post(token);
  assert.equal(again.status, 400);
  assert.match(again.body.error_description, /replay/);
  // A new token for the same session (new jti) is fine.
  assert.equal((await post(await s.idp!.signLogoutToken({ sub, sid }))).status, 200);
});

test('a replayed logout token ends nothing: the user\'s new sessions survive it', { timeout: 30_000 }, async () => {
  await signedIn('alice');
  const { sub } = await idpSession('alice');
  // By subject: every session of the user ends.
  const token = await s.idp!.signLogoutToken({ sub, sid: undefined });
  assert.equal((await post(token)).status, 200);
  assert.equal((await s.db.store.list({ user: 'alice' })).length, 0);
  // She signs in again; the old token, replayed (by an attacker who saw it, or a confused IdP), is refused first.
  const fresh = await signedIn('alice');
  const replay = await post(token);
  assert.equal(replay.status, 400);
  assert.match(replay.body.error_description, /replay/);
  assert.equal(await status(fresh), 200, 'the new session is untouched');
  assert.equal((await s.db.store.list({ user: 'alice' })).length, 1);
});

test('defective logout tokens are each refused with 400 and end nothing', { timeout: 60_000 }, async () => {
  const b = await signedIn('alice');
  const { sid, sub, id } = await idpSession('alice');
  const nowSec = Math.floor(Date.now() / 1000);
  const rsa = s.idp!.jwks.keys.find((k) => k.alg === 'RS256')!;
  const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const cases: Array<[string, Record<string, unknown>, SignJwtOptions?, RegExp?]> = [
    ['bad signature (a foreign key under the IdP\u2019s kid)', { sub, sid }, { kid: rsa.kid!, key: foreign }, /signature/],
    ['unsigned (alg none)', { sub, sid }, { alg: 'none' }],
    ['wrong iss', { sub, sid, iss: 'http://evil.example' }, undefined, /iss/],
    ['wrong aud', { sub, sid, aud: 'another-client' }, undefined, /aud/],
    ['iat too old', { sub, sid, iat: nowSec - 3600, exp: nowSec + 120 }, undefined, /too old/],
    ['iat in the future', { sub, sid, iat: nowSec + 3600, exp: nowSec + 7200 }, undefined, /future|iat/],
    ['expired', { sub, sid, iat: nowSec - 200, exp: nowSec - 100 }, undefined, /exp/],
    ['no events', { sub, sid, events: undefined }, undefined, /event/],
    ['events without the back-channel logout event', { sub, sid, events: { 'http://schemas.openid.net/event/other': {} } }, undefined, /event/],
    ['the event is not an object', { sub, sid, events: { 'http://schemas.openid.net/event/backchannel-logout': 'yes' } }, undefined, /event/],
    ['with a nonce', { sub, sid, nonce: 'n-0S6_WzA2Mj' }, undefined, /nonce/],
    ['no jti', { sub, sid, jti: undefined }, undefined, /jti/],
    ['no iat', { sub, sid, iat: undefined }, undefined, /iat/],
    ['neither sub nor sid', {}, undefined, /neither sub nor sid/],
    ['wrong typ (at+jwt)', { sub, sid }, { typ: 'at+jwt' }, /typ/],
    ['wrong typ (secevent+jwt)', { sub, sid }, { typ: 'secevent+jwt' }, /typ/],
    ['draft style (typ JWT, no exp) but iat too old', { sub, sid, exp: undefined, iat: nowSec - 400 }, { typ: 'JWT' }, /too old/],
    ['draft style (typ JWT, no exp) but iat in the future', { sub, sid, exp: undefined, iat: nowSec + 3600 }, { typ: 'JWT' }, /future|iat/],
    ['draft style (no exp) without iat', { sub, sid, exp: undefined, iat: undefined }, { typ: 'JWT' }, /iat/],
    ['draft style (typ JWT, no exp) with a nonce', { sub, sid, exp: undefined, nonce: 'n' }, { typ: 'JWT' }, /nonce/],
  ];
  for (const [what, claims, options, why] of cases) {
    const r = await post(await s.idp!.signLogoutToken(claims, options));
    assert.equal(r.status, 400, `${what}: 400 (got ${r.status})`);
    assert.equal(r.body?.error, 'invalid_request', what);
    if (why) assert.match(r.body.error_description, why, what);
  }
  for (const garbage of ['', 'garbage', 'a.b.c']) assert.equal((await post(garbage)).status, 400, `garbage ${JSON.stringify(garbage)}`);
  const noToken = await fetch(`http://127.0.0.1:${s.port}/.drawbridge/backchannel_logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'other=1' });
  assert.equal(noToken.status, 400);

  assert.ok(await s.db.store.get(id), 'the session is still there');
  assert.equal(await status(b), 200, 'alice is still signed in after all of them');
});

test('draft-style logout tokens (typ JWT or none, no exp) end the session while iat is fresh; a replay does nothing', { timeout: 30_000 }, async () => {
  const nowSec = Math.floor(Date.now() / 1000);
  for (const [what, claims, options] of [
    ['typ JWT, no exp', {}, { typ: 'JWT' }],
    ['no typ, no exp', {}, { typ: '' }],
    ['typ JWT, with exp', { exp: nowSec + 120 }, { typ: 'JWT' }],
    ['typ logout+jwt, no exp, iat four minutes old', { iat: nowSec - 240 }, {}],
  ] as Array<[string, Record<string, unknown>, SignJwtOptions]>) {
    const b = await signedIn('alice');
    const { sid, sub } = await idpSession('alice');
    const token = await s.idp!.signLogoutToken({ sub, sid, exp: undefined, ...claims }, options);
    assert.equal((await post(token)).status, 200, what);
    assert.equal(await status(b), 302, `${what}: the session ended`);
    const fresh = await signedIn('alice');
    const replay = await post(token);
    assert.equal(replay.status, 400, `${what}: a replay is refused`);
    assert.match(replay.body.error_description, /replay/);
    assert.equal(await status(fresh), 200, `${what}: the replay ended nothing`);
  }
});

test('with a redis store: by sid ends that one session, by sub the rest', { timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const r = await startStack({ routes: ROUTES, store: `store: { type: redis, url: "${redis.url}" }` });
  try {
    const open = async (b: CookieJarClient) => (await b.get(r.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' })).status;
    const browsers: CookieJarClient[] = [];
    for (let i = 0; i < 3; i++) {
      const b = r.browser();
      assert.equal((await r.signIn(b, r.url('app.localhost', '/'), 'alice')).response.status, 200);
      browsers.push(b);
    }
    const bob = r.browser();
    assert.equal((await r.signIn(bob, r.url('app.localhost', '/'), 'bob')).response.status, 200);
    // The IdP names the latest sign-in's sid: the third browser.
    assert.deepEqual(await r.idp!.backchannelLogout('alice'), [200]);
    assert.deepEqual(await Promise.all(browsers.map(open)), [200, 200, 302]);
    assert.deepEqual(await r.idp!.backchannelLogout('alice', { sid: null }), [200]);
    assert.deepEqual(await Promise.all(browsers.map(open)), [302, 302, 302]);
    assert.equal(await open(bob), 200, 'bob is untouched');
    assert.equal((await r.db.store.list({ user: 'alice' })).length, 0);
  } finally {
    await r.close();
    await redis.stop();
  }
});
