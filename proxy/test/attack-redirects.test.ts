// proxy/test/attack-redirects.test.ts — open redirects through the hand-off and a whole raw-socket sign-in (SPEC §4
// return targets; oauth2-proxy's `#`/`%23` and multi-`@` advisories). Every payload of testdata/openredirects.txt is
// sent, raw and query-encoded, as the `rd` of /.drawbridge/handoff with a valid, fresh one-time code: the browser is
// only ever sent to the hand-off's own origin. A sample of them also goes through a complete sign-in — sign_in, the
// IdP, the callback — on raw sockets: the callback only sends the browser to a configured origin.
// (open-redirect.test.ts covers sign_in with a session and sign_out.)
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { followSignIn, head, sendRaw, type WireResponse } from '../../test-support/raw.js';
import { mapLimit, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const PAYLOADS = readFileSync(new URL('./testdata/openredirects.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line !== '');

const ROUTES = `routes:
${APP_ROUTE}  - name: app2
    from: http://app2.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
  - name: whitelisted
    from: https://www.whitelisteddomain.tld
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`;

let s: Stack;
let cookie: string;
let appOrigin: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  appOrigin = `http://app.localhost:${s.port}`;
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  cookie = sessionCookie(b, s.publicUrl)!;
  assert.ok(cookie, 'a session on publicUrl');
});

after(async () => {
  await s?.close();
});

/** The configured origins a browser may be sent to (the test's own list, not the product's code). */
function configuredOrigins(): string[] {
  return [s.publicUrl, appOrigin, `http://app2.localhost:${s.port}`, 'https://www.whitelisteddomain.tld'];
}

/** True when `href` is an absolute http(s) URL, without userinfo, serialized as parsed, on one of `origins`. */
function within(href: string, origins: string[]): boolean {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  if (url.href !== href) return false;
  if (url.username !== '' || url.password !== '') return false;
  return origins.includes(url.origin);
}

/**
 * A valid, fresh hand-off code for the app origin, minted by a session-reusing sign-in on publicUrl after the app
 * host bound it to this "browser" (its binding cookie, returned as `cookie`).
 */
async function mintCode(): Promise<{ code: string; cookie: string }> {
  const jar = new Map<string, string[]>([[`auth.localhost:${s.port}`, [`drawbridge=${cookie}`]]]);
  const res = await followSignIn(s.port, `${appOrigin}/.drawbridge/sign_in?rd=${encodeURIComponent(`${appOrigin}/`)}`, jar);
  assert.equal(res.status, 302);
  const location = new URL(res.headers.location!);
  assert.equal(location.origin, appOrigin);
  assert.equal(location.pathname, '/.drawbridge/handoff');
  return { code: location.searchParams.get('code')!, cookie: (jar.get(`app.localhost:${s.port}`) ?? []).join('; ') };
}

/** GET /.drawbridge/handoff on the app origin with a fresh code and `rdParam` written into the query as given. */
async function handoff(rdParam: string, minted?: { code: string; cookie: string }): Promise<WireResponse> {
  const c = minted ?? (await mintCode());
  const ex = await sendRaw(s.port, head(`GET /.drawbridge/handoff?code=${c.code}&rd=${rdParam} HTTP/1.1`, `Host: app.localhost:${s.port}`, 'Accept: text/html', `Cookie: ${c.cookie}`, 'Connection: close'));
  return ex.first;
}

/** A hand-off answer: a refusal, or a redirect to the app origin only, with the session cookie (the code was good). */
function assertSafeHandoff(res: WireResponse, what: string): boolean {
  if (res.status !== 302) {
    assert.equal(res.status, 400, `${what}: status ${res.status}`);
    assert.equal(res.headers.location, undefined, what);
    return false;
  }
  const location = res.headers.location;
  assert.ok(location, `${what}: a redirect without Location`);
  assert.ok(within(location, [appOrigin]), `${what}: Location ${location} is not on the hand-off's own origin`);
  assert.match(res.headers['set-cookie'] ?? '', /^drawbridge=[^;]+/m, `${what}: the fresh code was accepted`);
  return true;
}

test('the payload file is there', () => {
  assert.ok(PAYLOADS.length >= 550, `${PAYLOADS.length} payloads`);
});

describe('hand-off rd', () => {
  test('controls: same-origin targets are kept, anything else falls back to the hand-off origin', { timeout: 30_000 }, async () => {
    const cases: [string, string][] = [
      [encodeURIComponent(`${appOrigin}/x?y=1`), `${appOrigin}/x?y=1`],
      ['/relative/path', `${appOrigin}/relative/path`],
      [encodeURIComponent(`http://app2.localhost:${s.port}/`), `${appOrigin}/`],
      [encodeURIComponent(`${s.publicUrl}/`), `${appOrigin}/`],
      [encodeURIComponent('https://www.whitelisteddomain.tld/'), `${appOrigin}/`],
      [encodeURIComponent('https://evil.example/'), `${appOrigin}/`],
      [encodeURIComponent(`${appOrigin}@evil.example/`), `${appOrigin}/`],
      [encodeURIComponent(`//evil.example/`), `${appOrigin}/`],
      [encodeURIComponent(`${appOrigin}/#@evil.example`), `${appOrigin}/#@evil.example`],
      [encodeURIComponent(`${appOrigin}%23@evil.example/`), `${appOrigin}/`],
      [encodeURIComponent(`http://evil.example%23@app.localhost:${s.port}/`), `${appOrigin}/`],
    ];
    for (const [rd, expected] of cases) {
      const res = await handoff(rd);
      assert.equal(res.status, 302, rd);
      assert.equal(res.headers.location, expected, rd);
      assertSafeHandoff(res, rd);
    }
  });

  for (const encoding of ['raw', 'encoded'] as const) {
    test(`every payload, ${encoding}, with a fresh code, lands on the hand-off's origin`, { timeout: 180_000 }, async () => {
      let redirects = 0;
      await mapLimit(PAYLOADS, 16, async (line) => {
        const res = await handoff(encoding === 'raw' ? line : encodeURIComponent(line));
        if (assertSafeHandoff(res, `handoff ${encoding} ${JSON.stringify(line)}`)) redirects++;
      });
      assert.ok(redirects > PAYLOADS.length / 2, `most payloads reach the check (${redirects} redirects)`);
    });
  }

  test('a code is good once, whatever rd says', { timeout: 15_000 }, async () => {
    const code = await mintCode();
    assert.equal((await handoff('/', code)).status, 302);
    const again = await handoff(encodeURIComponent('https://evil.example/'), code);
    assert.equal(again.status, 400);
    assert.equal(again.headers.location, undefined);
  });
});

describe('a whole sign-in on raw sockets', () => {
  // The payloads most likely to slip through a parser that disagrees with the browser's, and a few controls.
  const SAMPLE = [
    ...PAYLOADS.filter((p) => /whitelisteddomain|%23|#|@.*@|\\|%5c|%09|\/\/\/|javascript/i.test(p)).filter((_, i) => i % 9 === 0),
    `http://app.localhost:PORT/after?x=1`,
    `http://app.localhost:PORT@evil.example/`,
    `http://app.localhost:PORT#@evil.example/`,
    `http://app.localhost:PORT%23@evil.example/`,
    `http://evil.example#@app.localhost:PORT/`,
    '/\\evil.example',
    '/%2F%2Fevil.example',
  ];

  test(`sign_in → IdP → callback sends the browser only to configured origins (${SAMPLE.length} targets)`, { timeout: 180_000 }, async () => {
    const callback = `${s.publicUrl}/.drawbridge/callback`;
    for (const raw of SAMPLE) {
      const rd = raw.replaceAll('PORT', String(s.port));
      const what = JSON.stringify(rd);
      // A target on a route host first passes through that host, which binds the hand-off to this "browser".
      const jar = new Map<string, string[]>();
      const start = { first: await followSignIn(s.port, `${s.publicUrl}/.drawbridge/sign_in?rd=${encodeURIComponent(rd)}`, jar) };
      assert.equal(start.first.status, 302, what);
      const toIdp = new URL(start.first.headers.location!);
      assert.equal(toIdp.origin, s.idp!.issuer, `${what}: a new sign-in goes to the IdP`);
      assert.equal(toIdp.searchParams.get('redirect_uri'), callback, `${what}: and comes back to the fixed callback`);
      const binding = /^([^=;]+-login-[^=;]+=[^;]+)/m.exec(start.first.headers['set-cookie'] ?? '')?.[1];
      assert.ok(binding, `${what}: the login binding cookie`);

      const idp = s.browser();
      const atIdp = await signInAtIdp(idp, toIdp, { login: 'alice', stopAt: callback });
      const back = atIdp.response.location!;
      assert.ok(back.startsWith(callback), `${what}: the IdP returns to the callback`);

      const cb = new URL(back);
      const done = await sendRaw(s.port, head(`GET ${cb.pathname}${cb.search} HTTP/1.1`, `Host: auth.localhost:${s.port}`, 'Accept: text/html', `Cookie: ${binding}`, 'Connection: close'));
      assert.equal(done.first.status, 302, `${what}: signed in`);
      const location = done.first.headers.location!;
      assert.ok(within(location, configuredOrigins()), `${what}: the callback sends the browser to ${location}`);
      const url = new URL(location);
      if (url.pathname === '/.drawbridge/handoff') {
        const target = url.searchParams.get('rd') ?? '';
        assert.ok(within(target, [url.origin]), `${what}: the hand-off carries ${target}`);
        // Redeemed in the same "browser" (with the binding cookie of its host), it signs that host in.
        const redeem = await sendRaw(s.port, head(`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Accept: text/html', `Cookie: ${(jar.get(url.host) ?? []).join('; ')}`, 'Connection: close'));
        assert.equal(redeem.first.status, 302, `${what}: the hand-off is redeemed`);
        assert.match(redeem.first.headers['set-cookie'] ?? '', /^drawbridge=[^;]+/m, `${what}: with a session cookie`);
      }
    }
  });
});
