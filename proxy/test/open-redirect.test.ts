// proxy/test/open-redirect.test.ts — return targets (SPEC §4): every payload of testdata/openredirects.txt, sent
// as `rd` of /.drawbridge/sign_in and /.drawbridge/sign_out, raw in the query and query-encoded, never sends the
// browser anywhere but a configured route origin or publicUrl (or, for sign-out, the IdP's end-session endpoint
// with Drawbridge's own post-logout URL). One hop only; raw sockets so the bytes arrive as written.
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForms } from '../../e2e/support/http-client.js';
import { newSessionId } from '../src/session/cookie.js';
import { mapLimit, rawHttp, sessionCookie, startStack, type RawResponse, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const PAYLOADS = readFileSync(new URL('./testdata/openredirects.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line !== '');

// The README's allowlist as Drawbridge routes (a `from` without a port answers on any port).
const ALLOWLIST: { from: string; public?: boolean; wildcardHandoff?: boolean }[] = [
  { from: 'https://www.whitelisteddomain.tld' },
  { from: 'http://www.whitelisteddomain.tld/legacy', public: true },
  { from: 'https://foo.bar' },
  { from: 'https://*.bar.foo', public: true },
  { from: 'https://port.bar:8080' },
  { from: 'https://*.sub.port.bar:8080' },
  { from: 'https://anyport.bar', public: true },
  { from: 'https://*.sub.anyport.bar' },
  { from: 'https://*.wildcard.sub.port.bar:8080' },
  { from: 'https://*.wildcard.sub.anyport.bar' },
  { from: 'https://*.wildcard.bar', wildcardHandoff: true },
  { from: 'http://*.wildcard.bar/legacy', public: true },
  { from: 'https://*.wildcard.proxy.foo.bar' },
];

const ROUTES = `routes:
${APP_ROUTE}${ALLOWLIST.map(
  (r, i) => `  - name: allow-${i}
    from: ${r.from}
    to: {{APP}}
${r.wildcardHandoff ? '    wildcardHandoff: true\n' : ''}${r.public ? '    public: true' : '    policy:\n      allow:\n        - authenticated: true'}
`,
).join('')}`;

let s: Stack;
let cookie: string;
let endSession: URL;

/** The test's own reading of "a configured route origin or publicUrl", independent of the product's code. */
function allowed(href: string): boolean {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  if (url.href !== href && url.href !== `${href}/`) return false;
  if (url.username !== '' || url.password !== '') return false;
  if (url.origin === s.publicUrl) return true;
  const origins = [`http://app.localhost:${s.port}`, ...ALLOWLIST.map((r) => /^https?:\/\/[^/]+/.exec(r.from)![0])];
  return origins.some((origin) => {
    const m = /^(https?):\/\/(\*\.)?([^:/]+)(?::(\d+))?$/.exec(origin)!;
    const [, scheme, wildcard, host, port] = m;
    if (url.protocol !== `${scheme}:`) return false;
    if (port !== undefined && url.port !== port) return false;
    // A wildcard stands for exactly one label.
    return wildcard ? /^[^.]+$/.test(url.hostname.slice(0, -host!.length - 1)) && url.hostname.endsWith(`.${host}`) : url.hostname === host;
  });
}

/** Checks a Location: allowed, and when it is a hand-off, the target it carries is allowed and on the same origin. */
function assertSafeLocation(res: RawResponse, what: string): void {
  const location = res.headers.location;
  if (location === undefined) return;
  assert.ok(allowed(location), `${what}: Location ${location} is outside the configured origins`);
  const url = new URL(location);
  if (url.pathname === '/.drawbridge/handoff') {
    const rd = url.searchParams.get('rd') ?? '';
    assert.ok(allowed(rd), `${what}: the hand-off carries ${rd}`);
    assert.equal(new URL(rd).origin, url.origin, `${what}: hand-off rd on another origin`);
  }
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x27|#39|quot|lt|gt|amp);/g, (_, e: string) => ({ '#x27': "'", '#39': "'", quot: '"', lt: '<', gt: '>', amp: '&' })[e]!);
}

/** The return link and hidden rd of a sign-out confirm page: absolute and allowed, or a same-origin relative path. */
function assertSafePage(res: RawResponse, what: string): void {
  const base = s.publicUrl;
  const targets: string[] = [];
  for (const form of parseForms(res.body, base)) {
    if (form.fields.rd !== undefined) targets.push(form.fields.rd);
    targets.push(form.action);
  }
  for (const m of res.body.matchAll(/<a\b[^>]*\bhref="([^"]*)"/gi)) targets.push(decodeEntities(m[1]!));
  for (const target of targets) {
    if (target.startsWith('/') && !target.startsWith('//') && !target.includes('\\')) continue;
    assert.ok(allowed(target), `${what}: the page links to ${target}`);
  }
}

const request = (path: string, extra: string[] = []) =>
  rawHttp(s.port, [`GET ${path} HTTP/1.1`, `Host: auth.localhost:${s.port}`, 'Accept: text/html', `Cookie: drawbridge=${cookie}`, ...extra, 'Connection: close'].join('\r\n'));

before(async () => {
  // Every payload starts a sign-in from one address, in each encoding: far beyond limits.signInsPerNetwork, which
  // attack-limits.test.ts covers. Off here: this file is about where the answers point.
  s = await startStack({ routes: ROUTES, extra: 'limits: { signInsPerNetwork: 0 }' });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  cookie = sessionCookie(b, s.publicUrl)!;
  assert.ok(cookie, 'signed in on publicUrl');
  const discovery = await (await fetch(`${s.idp!.issuer}/.well-known/openid-configuration`)).json();
  endSession = new URL(discovery.end_session_endpoint);
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

test('the payload file is there', () => {
  assert.ok(PAYLOADS.length >= 550, `${PAYLOADS.length} payloads`);
});

test('controls: good targets are kept, a foreign one falls back to publicUrl', { timeout: 20_000 }, async () => {
  const cases: [string, (loc: string) => boolean][] = [
    ['/relative/path?q=1', (l) => l === `${s.publicUrl}/relative/path?q=1`],
    // A route host's target: back to that host's own sign-in start first (it binds the hand-off to the browser).
    [`http://app.localhost:${s.port}/x?y=1`, (l) => l === `http://app.localhost:${s.port}/.drawbridge/sign_in?rd=${encodeURIComponent(`http://app.localhost:${s.port}/x?y=1`)}`],
    ['https://www.whitelisteddomain.tld/ok', (l) => l.startsWith('https://www.whitelisteddomain.tld/.drawbridge/sign_in?rd=')],
    ['https://a.wildcard.bar/ok', (l) => l.startsWith('https://a.wildcard.bar/.drawbridge/sign_in?rd=')],
    // A wildcard route without wildcardHandoff, and a port-less route's host on another port: not served exactly.
    ['https://a.sub.anyport.bar/ok', (l) => l === `${s.publicUrl}/`],
    ['https://foo.bar:4443/ok', (l) => l === `${s.publicUrl}/`],
    // A wildcard stands for one label, as in certificates.
    ['https://a.b.wildcard.bar/ok', (l) => l === `${s.publicUrl}/`],
    ['https://evil.example/', (l) => l === `${s.publicUrl}/`],
    ['//evil.example/', (l) => l === `${s.publicUrl}/`],
    ['https://www.whitelisteddomain.tld@evil.example/', (l) => l === `${s.publicUrl}/`],
  ];
  for (const [rd, ok] of cases) {
    const res = await request(`/.drawbridge/sign_in?rd=${encodeURIComponent(rd)}`);
    assert.equal(res.status, 302, rd);
    assert.ok(ok(res.headers.location!), `${rd} → ${res.headers.location}`);
  }
});

for (const encoding of ['raw', 'encoded'] as const) {
  const param = (line: string) => (encoding === 'raw' ? line : encodeURIComponent(line));

  test(`sign_in with a session: every payload, ${encoding}, redirects only to a configured origin`, { timeout: 240_000 }, async () => {
    let redirects = 0;
    await mapLimit(PAYLOADS, 20, async (line) => {
      const res = await request(`/.drawbridge/sign_in?rd=${param(line)}`);
      const what = `sign_in ${encoding} ${JSON.stringify(line)}`;
      assert.ok(res.status === 302 || res.status === 400, `${what}: status ${res.status}`);
      if (res.status === 302) {
        redirects++;
        assert.ok(res.headers.location, `${what}: a redirect without Location`);
      }
      assertSafeLocation(res, what);
    });
    assert.ok(redirects > PAYLOADS.length / 2, `most payloads reach the check (${redirects} redirects)`);
  });

  test(`sign_in without a session: every payload, ${encoding}, goes to the IdP or a configured origin`, { timeout: 240_000 }, async () => {
    let toIdp = 0;
    await mapLimit(PAYLOADS, 20, async (line) => {
      const res = await rawHttp(s.port, [`GET /.drawbridge/sign_in?rd=${param(line)} HTTP/1.1`, `Host: auth.localhost:${s.port}`, 'Accept: text/html', 'Connection: close'].join('\r\n'));
      const what = `anonymous sign_in ${encoding} ${JSON.stringify(line)}`;
      const location = res.headers.location;
      if (location === undefined) return;
      const url = new URL(location);
      if (url.origin === s.idp!.issuer) {
        toIdp++;
        // The return target lives in the login attempt; what the IdP is told to come back to is fixed.
        assert.equal(url.searchParams.get('redirect_uri'), `${s.publicUrl}/.drawbridge/callback`, what);
        return;
      }
      assertSafeLocation(res, what);
    });
    assert.ok(toIdp > PAYLOADS.length / 2, `most payloads start a sign-in (${toIdp})`);
  });

  test(`sign_out GET: every payload, ${encoding}, shows a confirm page linking only to configured origins`, { timeout: 240_000 }, async () => {
    let pages = 0;
    await mapLimit(PAYLOADS, 20, async (line) => {
      const res = await request(`/.drawbridge/sign_out?rd=${param(line)}`);
      const what = `sign_out GET ${encoding} ${JSON.stringify(line)}`;
      assert.ok(res.status === 200 || res.status === 400, `${what}: status ${res.status}`);
      assertSafeLocation(res, what);
      if (res.status === 200) {
        pages++;
        assert.match(res.body, /name="csrf"/, `${what}: the confirm page (the session is still there)`);
        assertSafePage(res, what);
      }
    });
    assert.ok(pages > PAYLOADS.length / 2, `most payloads reach the page (${pages})`);
  });

  test(`sign_out POST: every payload as the form's rd, ${encoding}, ends at the IdP with Drawbridge's own return URL`, { timeout: 240_000 }, async () => {
    // One session per sign-out: copies of alice's real session (same tokens) under new ids.
    const [alice] = await s.db.store.list({ user: 'alice' });
    assert.ok(alice);
    const sessions = s.db.runtime.sessions;
    let ended = 0;
    await mapLimit(PAYLOADS, 20, async (line) => {
      const record = { ...alice, id: newSessionId() };
      await s.db.store.set(record);
      const sealed = sessions.setCookie(record, false, Date.now(), new URL(s.url('auth.localhost')).origin).split(';')[0]!;
      const body = `csrf=${sessions.csrfToken(record.id)}&rd=${param(line)}`;
      const res = await rawHttp(
        s.port,
        [
          'POST /.drawbridge/sign_out HTTP/1.1',
          `Host: auth.localhost:${s.port}`,
          'Accept: text/html',
          `Cookie: ${sealed}`,
          'Content-Type: application/x-www-form-urlencoded',
          `Content-Length: ${Buffer.byteLength(body)}`,
          'Connection: close',
        ].join('\r\n'),
        { body },
      );
      const what = `sign_out POST ${encoding} ${JSON.stringify(line)}`;
      const location = res.headers.location;
      if (location === undefined) {
        assert.notEqual(res.status, 302, what);
        return;
      }
      const url = new URL(location);
      if (url.origin === endSession.origin && url.pathname === endSession.pathname) {
        ended++;
        assert.equal(url.searchParams.get('post_logout_redirect_uri'), `${s.publicUrl}/.drawbridge/sign_out`, what);
        assert.ok(url.searchParams.get('id_token_hint'), `${what}: id_token_hint`);
        return;
      }
      assertSafeLocation(res, what);
    });
    assert.ok(ended > PAYLOADS.length / 2, `most sign-outs reach the IdP (${ended})`);
  });
}
