// proxy/test/route-caches.test.ts — what a route remembers between requests (its assertion and cookie slots, built with
// the snapshot), from the attacker's side (SPEC §4, §6, §11), over real sockets: two users on two routes in every order
// get their own token each time (user, `sid`, `route`, `aud`), a signed-out or revoked session's tokens are never
// served again (nor to its user's next session), a reload that moves or renames a route signs for the route as it now
// is, and a cookie a wildcard route remembers is a session on its own host only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { head, headerValues, marker, sendRaw } from '../../test-support/raw.js';
import { cookieOn, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: one
    from: http://one.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: two
    from: http://two.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: wild
    from: http://*.wild.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
`;

let s: Stack;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let original: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`));
  original = readFileSync(s.configFile, 'utf8');
});

after(async () => {
  await s?.close();
});

/** Signs `login` in (a new session) through one.localhost; its cookie value and a browser holding it. */
async function signIn(login: string) {
  const b = s.browser();
  const r = await s.signIn(b, s.url('one.localhost', '/'), login);
  assert.equal(r.response.status, 200, `${login} signed in`);
  const cookie = sessionCookie(b, s.url('one.localhost'))!;
  assert.ok(cookie);
  return { b, cookie };
}

/** GET on `host` with `cookie` (bound to `cookieHost`, by default that host): the status and the assertion the upstream received, if it was reached. */
async function probe(host: string, cookie: string, cookieHost = host): Promise<{ status: number; token?: string }> {
  const m = marker('ac');
  const ex = await sendRaw(s.port, head(`GET /echo?${m} HTTP/1.1`, `Host: ${host}:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${cookieOn(s.port, cookie, cookieHost)}`, 'Connection: close'));
  const seen = s.app.requests.filter((r) => r.url.includes(m));
  assert.ok(seen.length <= 1);
  if (seen.length === 0) return { status: ex.first.status };
  const tokens = headerValues(seen[0]!.rawHeaders, 'x-drawbridge-assertion');
  assert.equal(tokens.length, 1, `${host}: one assertion`);
  return { status: ex.first.status, token: tokens[0]! };
}

/** The verified claims of a forwarded request's assertion for `host`, checked to be `login`'s on `route`. */
async function claimsOf(token: string, host: string, route: string, login: string): Promise<Record<string, unknown>> {
  // A wildcard route's audience is its origin as configured.
  const audience = route === 'wild' ? `http://*.wild.localhost:${s.port}` : `http://${host}:${s.port}`;
  const { payload } = await jwtVerify(token, jwks, { issuer: s.publicUrl, audience, algorithms: ['ES256'] });
  assert.equal(payload.user, login, `${host}: ${login}'s own assertion`);
  assert.equal(payload.route, route);
  return payload;
}

/** `login`'s assertion on `host`, forwarded (200) and checked. */
async function assertionAs(host: string, route: string, login: string, cookie: string): Promise<{ token: string; sid: unknown }> {
  const r = await probe(host, cookie);
  assert.equal(r.status, 200, `${login} on ${host}`);
  assert.ok(r.token !== undefined, `${login} on ${host}: forwarded`);
  return { token: r.token, sid: (await claimsOf(r.token, host, route, login)).sid };
}

test('two users on two routes, in every order: each request carries its own user’s token for its own route; sign-out and revocation end them', { timeout: 90_000 }, async () => {
  const alice = await signIn('alice');
  const bob = await signIn('bob');
  const users = { alice, bob } as const;
  const routes = [['one.localhost', 'one'], ['two.localhost', 'two']] as const;
  const first = new Map<string, { token: string; sid: unknown }>();
  for (const order of [['alice', 'bob'], ['bob', 'alice'], ['alice', 'bob']] as const) {
    for (const [host, route] of order[0] === 'bob' ? [...routes].reverse() : routes) {
      for (const login of order) {
        const got = await assertionAs(host, route, login, users[login].cookie);
        const key = `${login}@${route}`;
        const seen = first.get(key);
        if (seen === undefined) first.set(key, got);
        else assert.equal(got.token, seen.token, `${key}: the cached token, read back for its own session and route`);
      }
    }
  }
  assert.equal(new Set([...first.values()].map((x) => x.token)).size, 4);
  assert.notEqual(first.get('alice@one')!.sid, first.get('bob@one')!.sid);
  assert.equal(first.get('alice@one')!.sid, first.get('alice@two')!.sid);

  // Alice signs out (the real POST): her cookie is no session on either route; nothing reaches the upstream.
  const [record] = await s.db.store.list({ user: 'alice' });
  assert.ok(record);
  const posted = await alice.b.post(s.url('one.localhost', '/.drawbridge/sign_out'), { form: { csrf: s.db.runtime.sessions.csrfToken(record.id), rd: '/' }, redirect: 'manual' });
  assert.equal(posted.status, 302, 'on to the IdP’s end-session endpoint');
  assert.equal((await s.db.store.list({ user: 'alice' })).length, 0, 'her session is gone');
  for (const [host] of routes) assert.deepEqual(await probe(host, alice.cookie), { status: 401 }, `${host}: the signed-out session is refused, not forwarded`);
  // Her next session gets new tokens (a new sid), never the old session's.
  const again = await signIn('alice');
  for (const [host, route] of routes) {
    const got = await assertionAs(host, route, 'alice', again.cookie);
    assert.notEqual(got.token, first.get(`alice@${route}`)!.token);
    assert.notEqual(got.sid, first.get(`alice@${route}`)!.sid);
  }
  // Bob is revoked (sessions revoke): refused too; alice's new session is untouched.
  assert.equal(await s.db.store.deleteWhere({ user: 'bob' }), 1);
  for (const [host, route] of routes) {
    assert.deepEqual(await probe(host, bob.cookie), { status: 401 }, `${host}: the revoked session is refused, not forwarded`);
    await assertionAs(host, route, 'alice', again.cookie);
  }
});

test('a reload that moves a route to another host or renames it: the assertion names the route as it now is', { timeout: 90_000 }, async () => {
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
  const { cookie } = await signIn('carol');
  const before = { one: await assertionAs('one.localhost', 'one', 'carol', cookie), two: await assertionAs('two.localhost', 'two', 'carol', cookie) };

  // `two` moves to deux.localhost; `one` is renamed `uno` on the same host.
  writeFileSync(s.configFile, original.replace('from: http://two.localhost:', 'from: http://deux.localhost:').replace('- name: one\n', '- name: uno\n'));
  assert.deepEqual(await s.db.reload(), { ok: true });
  assert.deepEqual(await probe('two.localhost', cookie), { status: 404 }, 'the old host has no route');
  const moved = await assertionAs('deux.localhost', 'two', 'carol', cookie);
  assert.notEqual(moved.token, before.two.token);
  assert.equal(moved.sid, before.two.sid, 'the same session');
  const renamed = await assertionAs('one.localhost', 'uno', 'carol', cookie);
  assert.notEqual(renamed.token, before.one.token);

  // Back as it was: the routes' tokens are signed for them again, with their old names and hosts.
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
  await assertionAs('one.localhost', 'one', 'carol', cookie);
  await assertionAs('two.localhost', 'two', 'carol', cookie);
});

test('a wildcard route remembers a verified cookie for its own host only: replayed on a sibling host it is no session; users alternating get their own', { timeout: 90_000 }, async () => {
  const alice = await signIn('alice');
  const bob = await signIn('bob');
  const [a, b] = ['a.wild.localhost', 'b.wild.localhost'];
  await assertionAs(a, 'wild', 'alice', alice.cookie);
  // Alice's value for host a, now the route's remembered cookie, sent to host b of the same route.
  assert.deepEqual(await probe(b, alice.cookie, a), { status: 401 }, 'a cookie of a sibling host is no session, and nothing is forwarded');
  await assertionAs(b, 'wild', 'alice', alice.cookie);
  assert.deepEqual(await probe(a, alice.cookie, b), { status: 401 });
  for (let i = 0; i < 3; i++) {
    await assertionAs(a, 'wild', 'bob', bob.cookie);
    await assertionAs(a, 'wild', 'alice', alice.cookie);
    await assertionAs(b, 'wild', 'alice', alice.cookie);
    await assertionAs(b, 'wild', 'bob', bob.cookie);
  }
  // A forged value (the remembered one with its last character changed) is no session.
  const value = cookieOn(s.port, alice.cookie, a);
  const forged = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
  const m = marker('forged');
  const ex = await sendRaw(s.port, head(`GET /echo?${m} HTTP/1.1`, `Host: ${a}:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${forged}`, 'Connection: close'));
  assert.equal(ex.first.status, 401);
  assert.equal(s.app.requests.filter((r) => r.url.includes(m)).length, 0);
});
