// proxy/test/handoff.test.ts — one sign-in, several route hosts (SPEC §4): the session made on publicUrl reaches
// each route host through /.drawbridge/handoff, which gives that host its own host-only cookie; the code is
// one-time, short-lived, bound to the origin it was minted for, and its `rd` cannot leave that origin.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CookieJarClient, HttpResponse } from '../../e2e/support/http-client.js';
import { received, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

let s: Stack;
/** TTLs the pages asked the store for, by key kind ('handoff', 'login', ...). */
const ttls: { kind: string; ttlMs: number }[] = [];

before(async () => {
  s = await startStack({
    routes: `routes:
  - name: app1
    from: http://app1.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
  - name: app2
    from: http://app2.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`,
  });
  // Spy on the one-time values the pages store: the hand-off code's lifetime is the store's TTL.
  const store = s.db.store;
  const putOnce = store.putOnce.bind(store);
  store.putOnce = (key, value, ttlMs) => {
    ttls.push({ kind: key.slice(0, key.indexOf(':')), ttlMs });
    return putOnce(key, value, ttlMs);
  };
});

after(async () => {
  await s?.close();
});

/** Follows redirects one hop at a time, keeping every answer (with its Set-Cookie headers). */
async function walk(client: CookieJarClient, url: string, stop?: (next: URL) => boolean): Promise<HttpResponse[]> {
  const hops: HttpResponse[] = [];
  let next = url;
  for (let i = 0; i < 20; i++) {
    const r = await client.get(next, { redirect: 'manual' });
    hops.push(r);
    if (r.status < 300 || r.status >= 400 || !r.location) return hops;
    if (stop?.(new URL(r.location))) return hops;
    next = r.location;
  }
  throw new Error(`walk: more than 20 redirects from ${url}`);
}

function setCookies(r: HttpResponse): string[] {
  const v = r.headers['set-cookie'];
  return Array.isArray(v) ? v : v ? [v] : [];
}

function sessionSetCookie(r: HttpResponse): string {
  const cookie = setCookies(r).find((c) => c.startsWith('drawbridge='));
  assert.ok(cookie, `${r.url} set the session cookie`);
  return cookie;
}

/** A browser signed in once (on app1, with the IdP's password form). */
async function signedInBrowser(): Promise<CookieJarClient> {
  const b = s.browser();
  const { response, askedPassword } = await s.signIn(b, s.url('app1.localhost', '/start'), 'alice');
  assert.equal(askedPassword, true);
  assert.equal(response.status, 200);
  return b;
}

/**
 * Mints a hand-off code for `target` the way a browser gets one: sign_in on the target's host (which binds the
 * hand-off to this browser with a cookie there), then sign_in on publicUrl with the session there.
 */
async function mint(b: CookieJarClient, target: string): Promise<URL> {
  const start = await b.get(`${new URL(target).origin}/.drawbridge/sign_in?rd=${encodeURIComponent(target)}`, { redirect: 'manual' });
  assert.equal(start.status, 302);
  const onward = new URL(start.location!);
  assert.equal(onward.origin, s.publicUrl, 'the route host sends the browser on to publicUrl');
  assert.ok(onward.searchParams.get('hb'), 'with its hand-off ticket');
  const r = await b.get(onward.href, { redirect: 'manual' });
  assert.equal(r.status, 302);
  const handoff = new URL(r.location!);
  assert.equal(handoff.pathname, '/.drawbridge/handoff');
  assert.equal(handoff.origin, new URL(target).origin, 'the code is redeemed on the target host itself');
  return handoff;
}

function withRd(handoff: URL, rd: string): string {
  const u = new URL(handoff);
  u.searchParams.set('rd', rd);
  return u.href;
}

test('signing in once on app1 opens app2 through a hand-off: no IdP form, and each host gets its own host-only cookie', { timeout: 30_000 }, async () => {
  const b = s.browser();
  const first = await s.signIn(b, s.url('app1.localhost', '/one'), 'alice');
  assert.equal(first.askedPassword, true);
  assert.equal(first.response.url, s.url('app1.localhost', '/one'));

  const marker = `handoff${Date.now()}`;
  const target = s.url('app2.localhost', `/two?${marker}=1`);
  const hops = await walk(b, target);
  const urls = hops.map((h) => h.url);
  const last = hops.at(-1)!;
  assert.equal(last.status, 200, `reached app2: ${urls.join(' → ')}`);
  assert.equal(last.url, target);
  assert.ok(!urls.some((u) => u.startsWith(s.idp!.issuer)), `never at the IdP the second time: ${urls.join(' → ')}`);
  assert.deepEqual(
    urls.map((u) => `${new URL(u).host}${new URL(u).pathname}`),
    [
      `app2.localhost:${s.port}/two`,
      `app2.localhost:${s.port}/.drawbridge/sign_in`,
      `auth.localhost:${s.port}/.drawbridge/sign_in`,
      `app2.localhost:${s.port}/.drawbridge/handoff`,
      `app2.localhost:${s.port}/two`,
    ],
  );

  // The hand-off answer sets app2's own cookie: host-only (no Domain), HttpOnly, SameSite=Lax, Path=/.
  const handoff = hops[3]!;
  assert.equal(handoff.status, 302);
  const cookie = sessionSetCookie(handoff);
  assert.doesNotMatch(cookie, /;\s*domain=/i, 'no Domain attribute: the cookie is host-only');
  assert.match(cookie, /;\s*HttpOnly/i);
  assert.match(cookie, /;\s*SameSite=Lax/i);
  assert.match(cookie, /;\s*Path=\//i);
  // No other hop set a session cookie for a parent domain either.
  for (const hop of hops) for (const c of setCookies(hop)) assert.doesNotMatch(c, /;\s*domain=/i, `${hop.url}: ${c}`);

  // Three hosts, three cookies, each kept for its own host only.
  for (const host of ['auth.localhost', 'app1.localhost', 'app2.localhost']) assert.ok(sessionCookie(b, s.url(host)), `${host} holds a session cookie`);
  assert.equal(sessionCookie(b, s.url('app3.localhost')), undefined);

  // app2's upstream saw alice.
  const seen = received(s.app, marker);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.headers['x-forwarded-user'], 'alice');

  // Later requests on app2 need no hand-off at all.
  const again = await b.get(s.url('app2.localhost', '/again'), { redirect: 'manual' });
  assert.equal(again.status, 200);
});

test('a hand-off code works once: replaying the URL gets 400, with another browser too', { timeout: 30_000 }, async () => {
  const b = await signedInBrowser();
  const code = await mint(b, s.url('app2.localhost', '/once'));
  const used = await b.get(code.href, { redirect: 'manual' });
  assert.equal(used.status, 302);
  assert.equal(used.location, s.url('app2.localhost', '/once'));
  sessionSetCookie(used);

  const replay = await b.get(code.href, { redirect: 'manual' });
  assert.equal(replay.status, 400);
  assert.equal(setCookies(replay).find((c) => c.startsWith('drawbridge=')), undefined, 'a replay sets no session cookie');
  assert.match(String(replay.headers['content-type']), /text\/html/);

  const thief = s.api();
  const stolen = await thief.get(code.href, { redirect: 'manual' });
  assert.equal(stolen.status, 400);
  assert.equal(stolen.json().error, 'handoff_invalid');
  assert.equal(sessionCookie(thief, s.url('app2.localhost')), undefined);

  // Malformed and missing codes are refused the same way, before the store is asked.
  for (const bad of ['/.drawbridge/handoff', '/.drawbridge/handoff?code=short', `/.drawbridge/handoff?code=${'x'.repeat(43)}`]) {
    const r = await s.api().get(s.url('app2.localhost', bad), { redirect: 'manual' });
    assert.equal(r.status, 400, bad);
  }
  const refusals = s.logs.filter((l) => l.event === 'handoff' && l.result === 'failure');
  assert.ok(refusals.some((l) => l.reason === 'unknown, expired or replayed code'));
  assert.ok(!JSON.stringify(s.logs).includes(code.searchParams.get('code')!), 'the code itself is never logged');
});

test('a hand-off code lives at most 60 s in the store', { timeout: 30_000 }, async () => {
  const b = await signedInBrowser();
  ttls.length = 0;
  const code = await mint(b, s.url('app2.localhost', '/ttl'));
  const minted = ttls.filter((t) => t.kind === 'handoff');
  assert.equal(minted.length, 1, 'one code stored');
  assert.ok(minted[0]!.ttlMs > 0 && minted[0]!.ttlMs <= 60_000, `TTL ${minted[0]!.ttlMs} ms`);
  const used = await b.get(code.href, { redirect: 'manual' });
  assert.equal(used.status, 302);
});

test('a code minted for app1 is refused on app2 (and is then burnt)', { timeout: 30_000 }, async () => {
  const b = await signedInBrowser();
  const forApp1 = await mint(b, s.url('app1.localhost', '/mine'));
  const onApp2 = new URL(forApp1.pathname + forApp1.search, s.url('app2.localhost'));
  const other = s.browser();
  const r = await other.get(onApp2.href, { redirect: 'manual' });
  assert.equal(r.status, 400);
  assert.equal(sessionCookie(other, s.url('app2.localhost')), undefined, 'app2 gave no cookie for a code meant for app1');
  assert.ok(s.logs.some((l) => l.event === 'handoff' && l.result === 'failure' && String(l.reason).startsWith('code meant for http://app1.localhost')));

  // A code shown to the wrong host is spent: the right host refuses it too.
  const late = await b.get(forApp1.href, { redirect: 'manual' });
  assert.equal(late.status, 400);
});

test('the hand-off `rd` never leaves the host: other origins and odd targets land on its /', { timeout: 30_000 }, async () => {
  const b = await signedInBrowser();
  const home = s.url('app2.localhost', '/');
  const cases: [string, string][] = [
    ['https://evil.example/steal', home],
    [s.url('app1.localhost', '/elsewhere'), home], // a configured route origin, but not this host
    [`${s.publicUrl}/x`, home],
    ['//evil.example/x', home],
    ['javascript:alert(1)', home],
    ['http://app2.localhost@evil.example/', home],
    ['/relative/path?q=1', s.url('app2.localhost', '/relative/path?q=1')],
    [s.url('app2.localhost', '/deep?x=1'), s.url('app2.localhost', '/deep?x=1')],
  ];
  for (const [rd, expected] of cases) {
    const code = await mint(b, s.url('app2.localhost', '/ignored'));
    const r = await b.get(withRd(code, rd), { redirect: 'manual' });
    assert.equal(r.status, 302, rd);
    assert.equal(r.location, expected, `rd=${rd}`);
  }
});
