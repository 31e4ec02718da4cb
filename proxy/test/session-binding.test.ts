// proxy/test/session-binding.test.ts — session binding and risk over real sockets (docs/device-trust.md): behind a
// trusted proxy (loopback here, so X-Forwarded-For sets the client address), a session cookie replayed from another
// network prefix on a `context: { sameNetwork }` route gets the step-up page saying what changed, never the upstream;
// the user, re-authenticating from there, gets a session bound to the new network, and the old cookie is dead.
// Another browser family on an `onChange: deny` route is refused with a page that says so; the change is logged with
// network prefixes only; a burst of refusals trips a `risk` rule whose page lists the signal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { received, SESSION_COOKIE, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: bank
    title: Payments
    from: http://bank.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering] }, { context: { sameNetwork: /24 } } ]
  - name: locked
    from: http://locked.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering] }, { context: { sameAgent: true, onChange: deny } } ]
  - name: sales
    from: http://sales.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [sales]
  - name: risky
    from: http://risky.localhost:{{PORT}}
    to: {{APP}}
    policy:
      deny:
        - risk: { threshold: 3, weights: { denialBurst: 3 }, burst: { denials: 3, within: 10m } }
      allow:
        - groups: [engineering]
`;

const HTML = 'text/html,application/xhtml+xml';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
let s: Stack;

before(async () => {
  // Loopback is the trusted proxy: each client says where it is with X-Forwarded-For.
  s = await startStack({ routes: ROUTES, extra: 'trustedProxies: [127.0.0.1/32]\n' });
});

after(async () => {
  await s?.close();
});

/** A browser at `ip` (as the trusted proxy reports it) with this User-Agent; its headers object can be changed later. */
function browserAt(ip: string, userAgent = FIREFOX): { client: CookieJarClient; headers: Record<string, string> } {
  const headers = { accept: HTML, 'x-forwarded-for': ip, 'user-agent': userAgent };
  return { client: s.browser({ headers }), headers };
}

/** Alice, signed in at `url` from `ip`. */
async function aliceAt(url: string, ip: string, userAgent = FIREFOX): Promise<{ client: CookieJarClient; headers: Record<string, string> }> {
  const b = browserAt(ip, userAgent);
  const { response } = await signInAtIdp(b.client, url, { login: 'alice', headers: b.headers });
  assert.equal(response.status, 200, `alice signed in at ${url} (got ${response.status} at ${response.url})`);
  return b;
}

/** A client elsewhere holding a copy of `from`'s session cookie for `url`'s host. */
function replay(from: CookieJarClient, url: string, ip: string, userAgent = FIREFOX): CookieJarClient {
  const cookie = sessionCookie(from, url);
  assert.ok(cookie, 'the victim has a session cookie on the route host');
  const thief = browserAt(ip, userAgent).client;
  thief.setCookie(url, `${SESSION_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Lax`);
  return thief;
}

function unescapeHtml(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

test('a cookie replayed from another network prefix on a sameNetwork route: the step-up page says what changed; the upstream is never reached', { timeout: 60_000 }, async () => {
  const url = s.url('bank.localhost', '/');
  const alice = await aliceAt(url, '203.0.113.7');
  // The same /24 is the same network.
  const marker = `nearby${Date.now()}`;
  const nearby = replay(alice.client, url, '203.0.113.99');
  assert.equal((await nearby.get(s.url('bank.localhost', `/?${marker}`), { redirect: 'manual' })).status, 200);
  assert.equal(received(s.app, marker).length, 1);

  const logsFrom = s.logs.length;
  const stolen = `stolen${Date.now()}`;
  const thief = replay(alice.client, url, '198.51.100.9');
  const page = await thief.get(s.url('bank.localhost', `/?${stolen}`), { redirect: 'manual' });
  assert.equal(page.status, 401, 'a step-up, not the page');
  assert.match(page.body, /This session was started on another network\./);
  assert.match(page.body, /Payments/, 'the page names the route by its title');
  assert.ok(!page.body.includes('203.0.113'), 'the page never tells the cookie holder where the session started');
  assert.match(page.headers['www-authenticate'] ?? '', /insufficient_user_authentication/);
  const api = await thief.get(s.url('bank.localhost', `/?${stolen}`), { redirect: 'manual', headers: { accept: 'application/json' } });
  assert.equal(api.status, 401);
  const signIn = new URL(api.json().signIn as string);
  assert.equal(signIn.searchParams.get('step_up'), '1');
  assert.equal(signIn.searchParams.get('max_age'), '300', 'a fresh sign-in is asked for');
  assert.equal(received(s.app, stolen).length, 0, 'the upstream never saw the replayed cookie');

  const changed = s.logs.slice(logsFrom).filter((l) => l.event === 'session-context-changed');
  assert.equal(changed.length, 1, 'the change is logged once');
  assert.equal(changed[0]!.oldNetwork, '203.0.113.0/24');
  assert.equal(changed[0]!.newNetwork, '198.51.100.0/24');
  assert.equal(changed[0]!.user, 'alice');
  assert.ok(!JSON.stringify(changed[0]).includes('203.0.113.7') && !JSON.stringify(changed[0]).includes('198.51.100.9'), 'prefixes, never full addresses');
  const request = s.logs.slice(logsFrom).find((l) => l.event === 'request' && String(l.path ?? '').includes('') && l.decision === 'step-up');
  assert.ok(request, 'the request line records the step-up');
});

test('the user moves to another network: step-up, a fresh sign-in of the same user, then the session is bound to the new network', { timeout: 60_000 }, async () => {
  const url = s.url('bank.localhost', '/');
  const alice = await aliceAt(url, '203.0.113.7');
  const before = sessionCookie(alice.client, url);
  const left = replay(alice.client, url, '203.0.113.7');

  alice.headers['x-forwarded-for'] = '198.51.100.44';
  const page = await alice.client.get(url, { redirect: 'manual' });
  assert.equal(page.status, 401);
  const button = /href="([^"]*\/\.drawbridge\/sign_in[^"]*)"/.exec(page.body);
  assert.ok(button, 'the page offers to sign in again');
  const signInUrl = new URL(unescapeHtml(button[1]!), url).href;
  const marker = `rebound${Date.now()}`;
  const done = await signInAtIdp(alice.client, signInUrl.replace(encodeURIComponent(url), encodeURIComponent(`${url}?${marker}`)), { login: 'alice', headers: alice.headers });
  assert.ok(done.askedPassword, 'a real re-authentication (prompt=login), not the IdP session');
  assert.equal(done.response.status, 200, `back on the route (got ${done.response.status} at ${done.response.url})`);
  assert.equal(received(s.app, marker).length, 1);
  const after = sessionCookie(alice.client, url);
  assert.ok(after && after !== before, 'a new session');

  // Bound to the new network now: it works from there, and asks again from the old one.
  assert.equal((await alice.client.get(url, { redirect: 'manual' })).status, 200);
  const back = replay(alice.client, url, '203.0.113.7');
  assert.equal((await back.get(url, { redirect: 'manual' })).status, 401);
  // The session before the re-authentication is gone: its cookie is no session anywhere.
  const old = await left.get(url, { redirect: 'manual' });
  assert.equal(old.status, 302);
  assert.match(old.headers.location ?? '', /\/\.drawbridge\/sign_in\?rd=/);
  assert.doesNotMatch(old.headers.location ?? '', /step_up/);
});

test('another browser family on an onChange: deny route is refused with a page that says the session was started in another browser', { timeout: 60_000 }, async () => {
  const url = s.url('locked.localhost', '/');
  const alice = await aliceAt(url, '192.0.2.10');
  const marker = `agent${Date.now()}`;
  const other = replay(alice.client, url, '192.0.2.10', CHROME);
  const r = await other.get(`${url}?${marker}`, { redirect: 'manual' });
  assert.equal(r.status, 403);
  assert.match(r.body, /This session was started in another browser\./);
  assert.match(r.body, /now chrome\/windows/);
  assert.equal(received(s.app, marker).length, 0);
  // A browser update is no change: the family is the same.
  const updated = replay(alice.client, url, '192.0.2.10', FIREFOX.replace(/133\.0/g, '134.0'));
  assert.equal((await updated.get(url, { redirect: 'manual' })).status, 200);
});

test('a burst of refusals trips the risk rule; the 403 page and the JSON name the signal', { timeout: 60_000 }, async () => {
  const url = s.url('risky.localhost', '/');
  const alice = await aliceAt(url, '192.0.2.20');
  const b = await aliceAt(url, '192.0.2.20');
  assert.equal((await b.client.get(url, { redirect: 'manual' })).status, 200);
  // Three refusals of b's session on a route alice may not use (sales), then back to the risky route.
  const sales = s.url('sales.localhost', '/');
  await b.client.get(sales);
  for (let i = 0; i < 2; i++) assert.equal((await b.client.get(sales, { redirect: 'manual' })).status, 403);
  // The refusals are written to the store in the background: wait for their effect, not for a timer.
  let r = await b.client.get(url, { redirect: 'manual' });
  for (let i = 0; i < 200 && r.status === 200; i++) r = await b.client.get(url, { redirect: 'manual' });
  assert.equal(r.status, 403, 'the session is refused once the burst is recorded');
  assert.match(r.body, /Many requests of this session were refused in a short time\./);
  assert.match(r.body, /refusals within 10m, weight 3/);
  const json = await b.client.get(url, { redirect: 'manual', headers: { accept: 'application/json' } });
  assert.deepEqual((json.json().reasons as Array<{ code: string }>).map((x) => x.code), ['deny-matched', 'risk-ok', 'risk-denial-burst']);
  // Alice's other session had no refusals: unaffected.
  assert.equal((await alice.client.get(url, { redirect: 'manual' })).status, 200);
});
