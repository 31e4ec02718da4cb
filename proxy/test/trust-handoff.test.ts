// proxy/test/trust-handoff.test.ts — trust across flows, from the attacker's side (SPEC §11): a hand-off code works
// only in the browser that asked for it on the route host (no login CSRF / session swap), only on an origin the
// configuration serves exactly (never another port of a port-less route, never a wildcard host unless the route
// says wildcardHandoff), and a session cookie issued for one route host is no session on any other.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { head, sendRaw, setCookiePairs } from '../../test-support/raw.js';
import { received, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

let s: Stack;
/** Added to the real clock (the hand-off ticket's lifetime is checked against it). */
let skewMs = 0;

before(async () => {
  s = await startStack({
    now: () => Date.now() + skewMs,
    routes: `routes:
  - name: app1
    from: http://app1.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: app2
    from: http://app2.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: wiki
    from: http://wiki.localhost
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: wild
    from: http://*.wild.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: wildok
    from: http://*.ok.localhost:{{PORT}}
    to: {{APP}}
    wildcardHandoff: true
    policy: { allow: [ { authenticated: true } ] }
`,
  });
});

after(async () => {
  await s?.close();
});

/** A browser signed in as `login` (through app1, with the IdP's password form). */
async function signedIn(login: string): Promise<CookieJarClient> {
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('app1.localhost', '/'), login);
  assert.equal(response.status, 200, `${login} signed in`);
  return b;
}

/** The route host's start: the redirect to publicUrl carrying the hand-off ticket (the browser gets the binding cookie). */
async function ticketUrl(b: CookieJarClient, target: string): Promise<URL> {
  const r = await b.get(`${new URL(target).origin}/.drawbridge/sign_in?rd=${encodeURIComponent(target)}`, { redirect: 'manual' });
  assert.equal(r.status, 302, `start on ${target}`);
  const next = new URL(r.location!);
  assert.equal(next.origin, s.publicUrl);
  assert.ok(next.searchParams.get('hb'));
  return next;
}

/** A hand-off code for `target`, minted in browser `b` (its binding cookie stays in `b`). */
async function mint(b: CookieJarClient, target: string): Promise<URL> {
  const r = await b.get((await ticketUrl(b, target)).href, { redirect: 'manual' });
  assert.equal(r.status, 302);
  const code = new URL(r.location!);
  assert.equal(code.pathname, '/.drawbridge/handoff');
  return code;
}

function userOn(b: CookieJarClient, url: string): Promise<string | undefined> {
  return b.get(url).then((r) => {
    if (r.status !== 200) return undefined;
    const m = new URL(url).searchParams.keys().next().value;
    return m ? String(received(s.app, m).at(-1)?.headers['x-forwarded-user']) : 'unknown';
  });
}

test('login CSRF: a hand-off link minted by the attacker signs nobody in the victim\'s browser, and is spent', { timeout: 60_000 }, async () => {
  const attacker = await signedIn('bob');
  const link = await mint(attacker, s.url('app2.localhost', '/inbox'));

  // The victim opens the link (a cross-site page sets location.href): refused, no session cookie, not signed in as bob.
  const victim = s.browser();
  const r = await victim.get(link.href, { redirect: 'manual' });
  assert.equal(r.status, 400);
  assert.match(r.body, /not started in this browser/);
  assert.equal(sessionCookie(victim, s.url('app2.localhost')), undefined);
  assert.ok(s.logs.some((l) => l.event === 'handoff' && l.result === 'failure' && /not started in this browser/.test(String(l.reason))));

  // A victim who is signed in herself stays herself.
  const alice = await signedIn('alice');
  const again = await mint(attacker, s.url('app2.localhost', '/inbox2'));
  assert.equal((await alice.get(again.href, { redirect: 'manual' })).status, 400);
  const marker = `who${Date.now()}`;
  const seen = await alice.get(s.url('app2.localhost', `/x?${marker}=1`));
  assert.equal(seen.status, 200);
  assert.equal(received(s.app, marker).at(-1)?.headers['x-forwarded-user'], 'alice', 'the victim is never bob on app2');

  // The refusal spent both codes: the attacker's own browser cannot use them afterwards.
  assert.equal((await attacker.get(link.href, { redirect: 'manual' })).status, 400);
  assert.equal((await attacker.get(again.href, { redirect: 'manual' })).status, 400);
});

test('an attacker\'s ticket sent to a signed-in victim: the victim\'s code goes to the victim\'s browser, which refuses and burns it', { timeout: 60_000 }, async () => {
  const attacker = s.browser();
  const lure = await ticketUrl(attacker, s.url('app2.localhost', '/'));
  const victim = await signedIn('alice');
  const r = await victim.get(lure.href, { redirect: 'manual' });
  assert.equal(r.status, 302, 'publicUrl mints a code for the victim\'s session, bound to the attacker\'s browser');
  const code = new URL(r.location!);
  assert.equal(code.pathname, '/.drawbridge/handoff');
  assert.equal((await victim.get(code.href, { redirect: 'manual' })).status, 400, 'the victim\'s browser lacks the binding');
  // Even if the attacker learns the code afterwards, it is spent.
  const stolen = await attacker.get(code.href, { redirect: 'manual' });
  assert.equal(stolen.status, 400);
  assert.equal(sessionCookie(attacker, s.url('app2.localhost')), undefined, 'the attacker never holds the victim\'s session');
});

test('tickets: tampered, expired, or made for another host are refused at publicUrl', { timeout: 60_000 }, async () => {
  const b = await signedIn('alice');
  const good = await ticketUrl(b, s.url('app2.localhost', '/'));
  const hb = good.searchParams.get('hb')!;
  const variants: [string, string][] = [
    ['tampered payload', `A${hb.slice(1)}`],
    ['tampered MAC', `${hb.slice(0, -2)}${hb.endsWith('AA') ? 'BB' : 'AA'}`],
    ['no MAC', hb.split('.')[0]!],
  ];
  for (const [what, value] of variants) {
    const u = new URL(good);
    u.searchParams.set('hb', value);
    const r = await b.get(u.href, { redirect: 'manual' });
    assert.equal(r.status, 400, what);
    assert.equal(r.location, undefined, what);
  }
  // A ticket app1 made, offered with a return target on app2.
  const forApp1 = await ticketUrl(b, s.url('app1.localhost', '/'));
  const swapped = new URL(good);
  swapped.searchParams.set('hb', forApp1.searchParams.get('hb')!);
  assert.equal((await b.get(swapped.href, { redirect: 'manual' })).status, 400);
  // Older than its ten minutes (the injected clock).
  skewMs = 11 * 60_000;
  try {
    assert.equal((await b.get(good.href, { redirect: 'manual' })).status, 400, 'expired ticket');
  } finally {
    skewMs = 0;
  }
  // Without a ticket, publicUrl sends the browser to the route host to get one: no code is minted.
  const bare = await b.get(`${s.publicUrl}/.drawbridge/sign_in?rd=${encodeURIComponent(s.url('app2.localhost', '/x'))}`, { redirect: 'manual' });
  assert.equal(bare.status, 302);
  assert.equal(new URL(bare.location!).origin, new URL(s.url('app2.localhost')).origin);
  assert.equal(new URL(bare.location!).pathname, '/.drawbridge/sign_in');
});

test('no code ever travels to a port or host the configuration does not serve exactly', { timeout: 60_000 }, async () => {
  const b = await signedIn('alice');
  const jar = b.cookies(s.publicUrl);
  const cookie = Object.entries(jar).map(([k, v]) => `${k}=${v}`).join('; ');
  const targets = [
    'http://wiki.localhost:39098/', // a port-less route's host on a port Drawbridge does not listen on
    `http://app1.localhost:39098/`, // a ported route's host on another port
    `http://dangling.wild.localhost:${s.port}/`, // a wildcard route without wildcardHandoff
  ];
  for (const target of targets) {
    const r = await sendRaw(s.port, head(`GET /.drawbridge/sign_in?rd=${encodeURIComponent(target)} HTTP/1.1`, `Host: auth.localhost:${s.port}`, 'Accept: text/html', `Cookie: ${cookie}`, 'Connection: close'));
    const location = r.first.headers.location ?? '';
    assert.doesNotMatch(location, /code=/, `${target}: ${location}`);
    assert.ok(!location.startsWith(new URL(target).origin), `${target}: never sent there (${location})`);
    // Asked on that host directly (a client can send any Host): no ticket, no binding cookie.
    const host = new URL(target).host;
    const direct = await sendRaw(s.port, head(`GET /.drawbridge/sign_in?rd=/ HTTP/1.1`, `Host: ${host}`, 'Accept: application/json', 'Connection: close'));
    assert.equal(direct.first.status, 400, `${host}: sign-in start refused`);
    assert.equal(JSON.parse(direct.first.body).error, 'handoff_invalid');
    assert.deepEqual(setCookiePairs(direct.first), []);
  }
  // A forged ticket naming such an origin is refused: tickets are MACed.
  const forged = Buffer.from(JSON.stringify(['http://wiki.localhost:39098', 'AAAAAAAAAAAAAAAA', 'x', Date.now()])).toString('base64url');
  const r = await sendRaw(s.port, head(`GET /.drawbridge/sign_in?rd=${encodeURIComponent('http://wiki.localhost:39098/')}&hb=${forged}.bad HTTP/1.1`, `Host: auth.localhost:${s.port}`, 'Accept: text/html', `Cookie: ${cookie}`, 'Connection: close'));
  assert.doesNotMatch(r.first.headers.location ?? '', /39098/);
});

test('a port-less route is served on Drawbridge\'s own port, and a wildcard route with wildcardHandoff gets hand-offs', { timeout: 60_000 }, async () => {
  for (const host of ['wiki.localhost', 'team.ok.localhost']) {
    const b = await signedIn('alice');
    const marker = `m${Date.now()}`;
    const r = await b.get(s.url(host, `/page?${marker}=1`));
    assert.equal(r.status, 200, `${host}: ${r.url}`);
    assert.equal(received(s.app, marker).at(-1)?.headers['x-forwarded-user'], 'alice', host);
  }
});

test('a session cookie is bound to its host: replayed on another route host, publicUrl or another port, it is no session', { timeout: 60_000 }, async () => {
  const b = await signedIn('alice');
  const hosts = ['app1.localhost', 'auth.localhost'];
  assert.equal(await userOn(b, s.url('app2.localhost', `/?h${Date.now()}=1`)), 'alice', 'app2 through a hand-off');
  hosts.push('app2.localhost');
  const values = Object.fromEntries(hosts.map((h) => [h, sessionCookie(b, s.url(h))!]));
  assert.equal(new Set(Object.values(values)).size, 3, 'three hosts, three different cookie values');

  for (const from of hosts) {
    for (const to of ['app1.localhost', 'app2.localhost']) {
      const marker = `replay${Date.now()}${Math.random().toString(36).slice(2)}`;
      const r = await sendRaw(s.port, head(`GET /r?${marker}=1 HTTP/1.1`, `Host: ${to}:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${values[from]}`, 'Connection: close'));
      if (from === to) {
        assert.equal(r.first.status, 200, `${from}'s cookie on its own host`);
      } else {
        assert.equal(r.first.status, 401, `${from}'s cookie replayed on ${to}`);
        assert.equal(received(s.app, marker).length, 0);
      }
    }
    if (from !== 'auth.localhost') {
      const me = await sendRaw(s.port, head('GET /.drawbridge/me HTTP/1.1', `Host: auth.localhost:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${values[from]}`, 'Connection: close'));
      assert.equal(me.first.status, 401, `${from}'s cookie on publicUrl`);
    }
  }
  // The port is part of the binding: wiki's cookie (own port) sent to the same host on the default port.
  assert.equal(await userOn(b, s.url('wiki.localhost', `/?w${Date.now()}=1`)), 'alice');
  const wiki = sessionCookie(b, s.url('wiki.localhost'))!;
  const other = await sendRaw(s.port, head('GET / HTTP/1.1', 'Host: wiki.localhost', 'Accept: application/json', `Cookie: drawbridge=${wiki}`, 'Connection: close'));
  assert.equal(other.first.status, 401);

  // The API client's sign-in link starts on the route host itself (which binds the hand-off to the browser that opens it).
  const api = await sendRaw(s.port, head('GET /x HTTP/1.1', `Host: app2.localhost:${s.port}`, 'Accept: application/json', 'Connection: close'));
  assert.equal(api.first.status, 401);
  assert.ok(String(JSON.parse(api.first.body).signIn).startsWith(`http://app2.localhost:${s.port}/.drawbridge/sign_in?rd=`));

  // Signing out on one host ends the session on every host at once.
  const page = await b.get(s.url('app2.localhost', '/.drawbridge/sign_out'));
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(csrf);
  const out = await b.post(s.url('app2.localhost', '/.drawbridge/sign_out'), { form: { csrf }, redirect: 'manual' });
  assert.ok(out.status === 302 || out.status === 200, `sign-out: ${out.status}`);
  for (const h of hosts) {
    const r = await sendRaw(s.port, head('GET / HTTP/1.1', `Host: ${h}:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${values[h]}`, 'Connection: close'));
    if (h === 'auth.localhost') continue; // publicUrl serves no route
    assert.equal(r.first.status, 401, `${h} after sign-out`);
  }
});
