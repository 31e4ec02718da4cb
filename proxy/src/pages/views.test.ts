// pages/views.test.ts — every end-user page: complete, escaped, within its CSP, free of scripts and external
// assets; then, in headless Chromium, loaded under the enforced CSP and checked with axe-core.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { escapeHtml, html, raw, SafeHtml } from './html.js';
import {
  LOCAL_TIME_SCRIPT_HASH,
  ME_PAGE_CSP,
  PAGE_CSP,
  badRequestPage,
  forbiddenPage,
  layout,
  mePage,
  methodNotAllowedPage,
  notFoundPage,
  pageCsp,
  signInErrorPage,
  idpMisconfiguredPage,
  signOutConfirmPage,
  signedOutPage,
  stepUpFailedPage,
  contextChangedPage,
  unavailablePage,
  upstreamErrorPage,
} from './views.js';

const at = Date.UTC(2025, 5, 2, 8, 30);

/** Every page, with `t` in every text field and (after a harmless prefix) in every URL. */
function allPages(t: string): Record<string, string> {
  const who = { user: t, email: t, name: t };
  const url = `/x?${t}`;
  return {
    forbidden: forbiddenPage({
      user: { ...who, groups: [t, 'staff'] },
      route: t,
      reasons: [{ code: t, text: t, detail: t }],
      requestId: t,
      signOutUrl: url,
      homeUrl: url,
    }),
    'forbidden-anonymous': forbiddenPage({ route: t, reasons: [{ code: t, text: t }], requestId: t, signOutUrl: url }),
    'not-found': notFoundPage({ host: t, path: t, requestId: t }),
    'bad-request': badRequestPage({ reason: t, requestId: t }),
    'method-not-allowed': methodNotAllowedPage({ method: t, requestId: t }),
    'upstream-502': upstreamErrorPage({ status: 502, requestId: t }),
    'upstream-504': upstreamErrorPage({ status: 504, requestId: t }),
    'idp-unavailable': unavailablePage({ what: 'idp', requestId: t, retryAfterSec: 30 }),
    'store-unavailable': unavailablePage({ what: 'store', requestId: t }),
    'idp-misconfigured': idpMisconfiguredPage({ requestId: t }),
    'sign-in-error': signInErrorPage({ message: t, requestId: t, retryUrl: url }),
    'step-up-failed': stepUpFailedPage({ user: who, needs: t, requestId: t, signOutUrl: url, retryUrl: url }),
    'context-changed': contextChangedPage({ user: who, changes: [{ text: t, detail: t }], signInUrl: url, signOutUrl: url, requestId: t, route: t }),
    'step-up-failed-name-only': stepUpFailedPage({ user: t, needs: t, requestId: t, signOutUrl: url }),
    'sign-out': signOutConfirmPage({ user: who, action: url, csrfToken: t, returnTo: url }),
    'signed-out': signedOutPage({ signInUrl: url }),
    me: mePage({
      identity: { ...who, groups: [t], amr: [t, 'pwd'], acr: t, authTime: at / 1000 },
      session: { createdAt: at, lastSeenAt: at, expiresAt: at, idleExpiresAt: at },
      signOutUrl: url,
    }),
  };
}

const PAGES = allPages('alice');
const styleOf = (page: string): string[] => [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]);
const scriptsOf = (page: string): string[] => [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
/** The page without /me's local-time script (only a script whose hash is the one in ME_PAGE_CSP is removed). */
const withoutLocalTime = (page: string): string =>
  page.replace(/<script>([\s\S]*?)<\/script>/, (all, js: string) => (`sha256-${createHash('sha256').update(js, 'utf8').digest('base64')}` === LOCAL_TIME_SCRIPT_HASH ? '' : all));
/** The CSP each page is served with: /me has its one local-time script, every other page none. */
const cspOf = (name: string): string => (name === 'me' ? ME_PAGE_CSP : PAGE_CSP);

describe('html', () => {
  test('escapes & < > " and \' in every interpolated value', () => {
    assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
    assert.equal(html`<p title="${`"'`}">${'<b>&</b>'}</p>`.toString(), '<p title="&quot;&#39;">&lt;b&gt;&amp;&lt;/b&gt;</p>');
  });

  test('raw() and nested html pass through; arrays are joined; null, undefined and booleans render nothing', () => {
    const items = ['<a>', raw('<b>'), html`<i>${'&'}</i>`];
    assert.equal(html`${items}|${null}${undefined}${false}${true}|${0}`.toString(), '&lt;a&gt;<b><i>&amp;</i>||0');
    assert.ok(html`x` instanceof SafeHtml);
  });
});

describe('pages', () => {
  test('every page is a complete, small document: lang, viewport, noindex, one <h1>, one <main>', () => {
    for (const [name, page] of Object.entries(PAGES)) {
      assert.ok(page.startsWith('<!doctype html>\n<html lang="en">'), name);
      assert.match(page, /<meta name="viewport" content="width=device-width, initial-scale=1">/, name);
      assert.match(page, /<meta name="robots" content="noindex[^"]*">/, name);
      assert.match(page, /<title>[^<]+ · Drawbridge<\/title>/, name);
      assert.equal(page.match(/<h1[ >]/g)?.length, 1, `${name}: one h1`);
      assert.equal(page.match(/<main[ >]/g)?.length, 1, `${name}: one main`);
      assert.match(page, /class="brand"><svg[^>]*aria-hidden="true"[\s\S]*?<\/svg>Drawbridge</, `${name}: wordmark`);
      assert.ok(Buffer.byteLength(page) < 12 * 1024, `${name} is ${Buffer.byteLength(page)} bytes`);
    }
  });

  test('the HTTP status is shown on error pages, and not on 200 pages', () => {
    const expected: Record<string, string | undefined> = {
      forbidden: 'HTTP 403 · Forbidden',
      'not-found': 'HTTP 404 · Not Found',
      'bad-request': 'HTTP 400 · Bad Request',
      'method-not-allowed': 'HTTP 405 · Method Not Allowed',
      'upstream-502': 'HTTP 502 · Bad Gateway',
      'upstream-504': 'HTTP 504 · Gateway Timeout',
      'idp-unavailable': 'HTTP 503 · Service Unavailable',
      'store-unavailable': 'HTTP 503 · Service Unavailable',
      'step-up-failed': 'HTTP 401 · Unauthorized',
      'sign-out': undefined,
      'signed-out': undefined,
      me: undefined,
    };
    for (const [name, status] of Object.entries(expected)) {
      const shown = PAGES[name].match(/<p class="status">([^<]*)<\/p>/)?.[1];
      assert.equal(shown, status, name);
    }
  });

  test('every interpolated value is escaped, in text and in attributes', () => {
    const payload = `"'><script>alert(1)</script>`;
    const escaped = '&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;';
    for (const [name, page] of Object.entries(allPages(payload))) {
      assert.ok(!withoutLocalTime(page).includes('<script'), `${name}: raw <script`);
      assert.ok(!page.includes(payload), `${name}: raw payload`);
      assert.ok(page.includes(escaped), `${name}: escaped payload shown`);
    }
    // Every field, one at a time, so that no single field escapes unnoticed among the others.
    const x = '<script>alert(1)</script>';
    const one = [
      forbiddenPage({ user: { user: x }, route: 'r', reasons: [], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ user: { user: 'u', email: x }, route: 'r', reasons: [], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ user: { user: 'u', name: x }, route: 'r', reasons: [], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ user: { user: 'u', groups: [x] }, route: 'r', reasons: [], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ route: x, reasons: [], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ route: { name: 'r', title: x }, reasons: [], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ route: { name: x, title: 't' }, reasons: [], requestId: 'i', signOutUrl: '/s' }),
      stepUpFailedPage({ user: 'u', needs: 'n', requestId: 'i', signOutUrl: '/s', route: { name: 'r', title: x } }),
      forbiddenPage({ route: 'r', reasons: [{ code: 'c', text: x }], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ route: 'r', reasons: [{ code: 'c', text: 't', detail: x }], requestId: 'i', signOutUrl: '/s' }),
      forbiddenPage({ route: 'r', reasons: [], requestId: x, signOutUrl: '/s' }),
      notFoundPage({ host: x, path: '/', requestId: 'i' }),
      notFoundPage({ host: 'h', path: x, requestId: 'i' }),
      badRequestPage({ reason: x, requestId: 'i' }),
      methodNotAllowedPage({ method: x, requestId: 'i' }),
      signInErrorPage({ message: x, requestId: 'i', retryUrl: '/r' }),
      stepUpFailedPage({ user: x, needs: 'n', requestId: 'i', signOutUrl: '/s' }),
      stepUpFailedPage({ user: 'u', needs: x, requestId: 'i', signOutUrl: '/s' }),
      signOutConfirmPage({ user: { user: 'u' }, action: '/s', csrfToken: x }),
      layout({ title: x, heading: x, lead: x, body: x, requestId: x, tone: 'info' }),
    ];
    for (const [i, page] of one.entries()) {
      assert.ok(!page.includes(x), `case ${i}: raw`);
      assert.ok(page.includes(escapeHtml(x)), `case ${i}: escaped`);
    }
  });

  test('links never carry javascript:, data: or protocol-relative URLs', () => {
    for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,x', '//evil.example', '/\t/evil.example', '/\\evil.example', ' javascript:x']) {
      const page = forbiddenPage({ route: 'r', reasons: [], requestId: 'i', signOutUrl: bad, homeUrl: bad });
      assert.ok(!page.includes(`href="${escapeHtml(bad)}"`), bad);
      assert.match(page, /class="btn primary" href="\/"/, bad);
    }
    const ok = forbiddenPage({ route: 'r', reasons: [], requestId: 'i', signOutUrl: '/.drawbridge/sign_out', homeUrl: 'https://wiki.example.com/' });
    assert.match(ok, /href="\/\.drawbridge\/sign_out"/);
    assert.match(ok, /href="https:\/\/wiki\.example\.com\/"/);
  });

  test('403: who you are, which rule failed in plain words, the request id to copy, a sign-out link', () => {
    const page = forbiddenPage({
      user: { user: 'alice', email: 'alice@example.com', name: 'Alice Liddell', groups: ['engineering'] },
      route: 'wiki-admin',
      reasons: [{ code: 'groups-unauthorized', text: 'You are not in any of the groups this route requires.', detail: 'Allowed groups: wiki-admins.' }],
      requestId: 'req-4f2a',
      signOutUrl: '/.drawbridge/sign_out',
      homeUrl: '/',
    });
    for (const shown of ['alice', 'alice@example.com', 'Alice Liddell', 'engineering', 'wiki-admin', 'You are not in any of the groups this route requires.', 'Allowed groups: wiki-admins.', 'administrator']) {
      assert.ok(page.includes(shown), shown);
    }
    assert.match(page, /<code>req-4f2a<\/code>/);
    assert.match(page, /<a [^>]*href="\/\.drawbridge\/sign_out"[^>]*>Sign in as someone else<\/a>/);
    assert.match(page, /<a [^>]*href="\/"[^>]*>Go to the home page<\/a>/);
  });

  test('a route with a title: the 403 and step-up pages call it by its title; its name is on the support line beside the request ID', () => {
    const route = { name: 'wiki-admin', title: 'Team wiki — admin' };
    const denied = forbiddenPage({ user: { user: 'alice' }, route, reasons: [], requestId: 'req-1', signOutUrl: '/so' });
    assert.match(denied, /isn’t allowed to open <strong>Team wiki — admin<\/strong>\./);
    assert.match(denied, /<p class="rid">Request ID <code>req-1<\/code> · Route <code>wiki-admin<\/code><\/p>/);
    assert.equal(denied.split('wiki-admin').length - 1, 1, 'the name only on the support line');
    const stepUp = stepUpFailedPage({ user: 'alice', needs: 'n', requestId: 'req-2', signOutUrl: '/so', route });
    assert.match(stepUp, /meet what <strong>Team wiki — admin<\/strong> asks for/);
    assert.match(stepUp, /Request ID <code>req-2<\/code> · Route <code>wiki-admin<\/code>/);
    // Without a title (or with the name as title) the name is the words, and no support line repeats it.
    for (const plain of [{ name: 'wiki-admin' }, { name: 'wiki-admin', title: 'wiki-admin' }, 'wiki-admin']) {
      const page = forbiddenPage({ route: plain, reasons: [], requestId: 'r', signOutUrl: '/so' });
      assert.match(page, /<strong>wiki-admin<\/strong>/);
      assert.doesNotMatch(page, /· Route/);
    }
    assert.match(stepUpFailedPage({ user: 'alice', needs: 'n', requestId: 'r', signOutUrl: '/so' }), /meet what this page asks for/);
  });

  test('502/504 name no internal address: they take none, and ignore one passed anyway', () => {
    const leaky = { target: 'http://10.0.0.5:8080', error: 'connect ECONNREFUSED 10.0.0.5:8080', upstream: 'wiki.internal' };
    for (const status of [502, 504] as const) {
      const page = upstreamErrorPage({ status, requestId: 'r1', ...leaky } as Parameters<typeof upstreamErrorPage>[0]);
      for (const secret of ['10.0.0.5', '8080', 'ECONNREFUSED', 'wiki.internal', 'http://', 'https://']) assert.ok(!page.includes(secret), `${status}: ${secret}`);
      assert.match(page, /<code>r1<\/code>/);
      assert.match(page, /try again/i);
    }
    assert.match(PAGES['upstream-502'], /isn’t available/);
    assert.match(PAGES['upstream-504'], /taking too long/);
  });

  test('503 says which part is down and when to retry', () => {
    assert.match(unavailablePage({ what: 'idp', requestId: 'r', retryAfterSec: 30 }), /Sign-in is temporarily unavailable[\s\S]*about 30 seconds/);
    assert.match(unavailablePage({ what: 'store', requestId: 'r', retryAfterSec: 90 }), /Sessions are temporarily unavailable[\s\S]*about 2 minutes/);
    assert.match(unavailablePage({ what: 'store', requestId: 'r' }), /a few minutes/);
  });

  test('a misconfigured IdP: the page says an administrator must fix it, promises no retry, and leaks nothing', () => {
    const page = idpMisconfiguredPage({ requestId: 'r7' });
    assert.match(page, /HTTP 502/);
    assert.match(page, /not set up correctly/);
    assert.match(page, /administrator must fix/);
    assert.match(page, /<code>r7<\/code>/);
    assert.doesNotMatch(page, /try again in|seconds|minutes|Starting again usually fixes it/i);
    assert.doesNotMatch(page, /href=""/, 'no reload button');
  });

  test('sign-out confirm: a POST form with the csrf field, rd when given, a Sign out button and a Cancel link', () => {
    const page = signOutConfirmPage({ user: { user: 'alice', email: 'alice@example.com' }, action: '/.drawbridge/sign_out', csrfToken: 'tok-1', returnTo: '/wiki' });
    assert.match(page, /<form method="post" action="\/\.drawbridge\/sign_out">/);
    assert.match(page, /<input type="hidden" name="csrf" value="tok-1">/);
    assert.match(page, /<input type="hidden" name="rd" value="\/wiki">/);
    assert.match(page, /<button class="btn primary" type="submit">Sign out<\/button>/);
    assert.match(page, /<a class="btn" href="\/wiki">Cancel<\/a>/);
    assert.ok(page.includes('alice@example.com'));
    const bare = signOutConfirmPage({ user: { user: 'alice' }, action: '/.drawbridge/sign_out', csrfToken: 'tok-1' });
    assert.ok(!bare.includes('name="rd"'));
    assert.match(bare, /<a class="btn" href="\/">Cancel<\/a>/);
  });

  test('signed-out and sign-in error pages offer to sign in again', () => {
    assert.match(signedOutPage({ signInUrl: '/.drawbridge/sign_in' }), /href="\/\.drawbridge\/sign_in">Sign in again</);
    const error = signInErrorPage({ message: 'The sign-in link expired.', requestId: 'r9', retryUrl: '/.drawbridge/sign_in?rd=%2F', status: 400 });
    assert.match(error, /The sign-in link expired\./);
    assert.match(error, /href="\/\.drawbridge\/sign_in\?rd=%2F">Sign in again</);
    assert.match(error, /HTTP 400/);
  });

  test('step-up failed: what is needed in plain words, who you are, how to go on', () => {
    const page = stepUpFailedPage({ user: { user: 'carol', email: 'carol@example.com' }, needs: 'A sign-in with a second factor.', requestId: 'r2', signOutUrl: '/so' });
    assert.match(page, /A sign-in with a second factor\./);
    assert.match(page, /carol@example\.com/);
    assert.match(page, /href="\/so"/);
    assert.match(page, /<code>r2<\/code>/);
  });

  test('/me: identity, groups, sign-in methods in words, session times; never a token', () => {
    const identity = {
      user: 'carol',
      email: 'carol@example.com',
      groups: ['wiki-admins'],
      amr: ['pwd', 'otp', 'constructor'],
      acr: 'urn:example:loa:2',
      authTime: at / 1000,
      idToken: 'SECRET-ID-TOKEN',
      accessToken: 'SECRET-ACCESS-TOKEN',
      refreshToken: 'SECRET-REFRESH-TOKEN',
    };
    const session = { createdAt: at, lastSeenAt: at + 60_000, expiresAt: at + 12 * 3_600_000, idleExpiresAt: at + 31 * 60_000, id: 'SECRET-SESSION-ID' };
    const page = mePage({ identity, session, signOutUrl: '/.drawbridge/sign_out' } as Parameters<typeof mePage>[0]);
    assert.ok(!page.includes('SECRET'));
    for (const shown of ['carol', 'carol@example.com', 'wiki-admins', 'password', 'one-time code', 'constructor', 'urn:example:loa:2']) assert.ok(page.includes(shown), shown);
    assert.ok(!withoutLocalTime(page).includes('function'), 'no function source outside the local-time script');
    assert.match(page, /<time datetime="2025-06-02T08:30:00\.000Z">2025-06-02 08:30 UTC<\/time>/);
    assert.match(page, /2025-06-02 20:30 UTC/);
    assert.match(page, /2025-06-02 09:01 UTC/);
    assert.match(page, /href="\/\.drawbridge\/sign_out"/);
  });
});

describe('CSP', () => {
  test('PAGE_CSP is strict and allows exactly the one style block of every page', () => {
    assert.equal(PAGE_CSP, pageCsp());
    const m = PAGE_CSP.match(/^default-src 'none'; style-src '(sha256-[A-Za-z0-9+/]{43}=)'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'$/);
    assert.ok(m, PAGE_CSP);
    for (const [name, page] of Object.entries({ ...PAGES, ...allPages(`"'><script>alert(1)</script>`) })) {
      const styles = styleOf(page);
      assert.equal(styles.length, 1, `${name}: one <style>`);
      assert.equal(`sha256-${createHash('sha256').update(styles[0], 'utf8').digest('base64')}`, m[1], `${name}: hash`);
    }
  });

  test('ME_PAGE_CSP is PAGE_CSP plus exactly the hash of /me\'s one local-time script; no other page has a script', () => {
    assert.equal(ME_PAGE_CSP, PAGE_CSP.replace("default-src 'none'; ", `default-src 'none'; script-src '${LOCAL_TIME_SCRIPT_HASH}'; `));
    assert.equal(pageCsp(['https://idp.example.com/end'], { localTime: true }), pageCsp(['https://idp.example.com/end']).replace("; style-src", `; script-src '${LOCAL_TIME_SCRIPT_HASH}'; style-src`));
    for (const [name, page] of Object.entries({ ...PAGES, ...allPages(`"'><script>alert(1)</script>`) })) {
      const scripts = scriptsOf(page);
      if (name !== 'me') {
        assert.equal(scripts.length, 0, `${name}: no <script>`);
        continue;
      }
      assert.equal(scripts.length, 1, `${name}: one <script>`);
      assert.equal(`sha256-${createHash('sha256').update(scripts[0]!, 'utf8').digest('base64')}`, LOCAL_TIME_SCRIPT_HASH, `${name}: hash`);
    }
  });

  test('no scripts, no style attributes, no external assets', () => {
    for (const [name, full] of Object.entries(PAGES)) {
      // /me's one script is checked by hash above; everything else about it is held to the same rules.
      const page = withoutLocalTime(full);
      assert.ok(!/<script/i.test(page), `${name}: script`);
      assert.ok(!/\son\w+=/i.test(page), `${name}: event handler`);
      assert.ok(!/\sstyle=/i.test(page), `${name}: style attribute`);
      assert.ok(!/\s(?:src|srcset|poster)=/i.test(page), `${name}: src`);
      assert.ok(!/url\(|@import|@font-face/i.test(styleOf(page)[0]), `${name}: CSS fetch`);
      for (const link of page.match(/<link[^>]*>/g) ?? []) assert.match(link, /href="data:/, `${name}: ${link}`);
      assert.ok(!/https?:\/\//i.test(page), `${name}: absolute URL`);
    }
  });

  test('pageCsp() adds the origins of extra form targets (the IdP end-session redirect), once each', () => {
    assert.match(pageCsp(['https://idp.example.com/oidc/session/end?x=1', 'https://idp.example.com', 'http://localhost:9000/']), /; form-action 'self' https:\/\/idp\.example\.com http:\/\/localhost:9000; /);
    for (const bad of ["https://a.example; script-src 'unsafe-inline'", 'javascript:alert(1)', 'idp.example.com', '']) {
      if (bad.startsWith('https://')) {
        // A URL with junk after the host either fails to parse or is reduced to its origin.
        let csp = '';
        try {
          csp = pageCsp([bad]);
        } catch {
          continue;
        }
        assert.ok(!csp.includes('unsafe-inline'), csp);
      } else {
        assert.throws(() => pageCsp([bad]), /form-action/, bad);
      }
    }
  });
});

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
// A string, not a function: tsx's transform would add helpers the page does not have. Text whose
// contrast axe could not measure (a pseudo-element behind it, say) counts as a serious finding too.
const AXE_RUN = `axe.run(document, { resultTypes: ['violations'] }).then((r) => [
  ...r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })),
  ...r.incomplete.filter((v) => v.id === 'color-contrast').map((v) => ({ id: 'color-contrast (not measurable)', impact: 'serious', nodes: v.nodes.map((n) => n.target.join(' ')) })),
])`;

interface Served {
  body: string;
  csp: string;
}

describe('pages in headless Chromium', { skip: existsSync(CHROMIUM_PATH) ? false : `needs ${CHROMIUM_PATH}` }, () => {
  let browser: Browser;
  const servers: http.Server[] = [];
  const routes = new Map<string, Served>();
  const posts: string[] = [];
  let base = '';
  let elsewhere = '';

  async function listen(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    // Another origin (another port): where the sign-out POST redirects, like an IdP's end_session endpoint.
    elsewhere = await listen((req, res) => {
      if (req.url === '/favicon.ico') return void res.writeHead(404).end();
      posts.push(`elsewhere ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ended');
    });
    base = await listen((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          posts.push(`${req.url} ${body}`);
          res.writeHead(303, { location: `${elsewhere}/ended` }).end();
        });
        return;
      }
      const page = routes.get(req.url ?? '');
      if (!page) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': page.csp }).end(page.body);
    });
    for (const [name, body] of Object.entries(PAGES)) routes.set(`/${name}`, { body, csp: cspOf(name) });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) server.close();
  });

  /** Opens a page that records console errors, uncaught errors and every request the documents make. */
  async function watchedPage(bypassCSP = false, initScript?: string): Promise<{ page: Page; problems: string[]; requests: string[] }> {
    const context = await browser.newContext({ bypassCSP });
    if (initScript) await context.addInitScript({ path: initScript });
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(msg.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (req) => requests.push(req.url()));
    return { page, problems, requests };
  }

  test('a style the CSP does not list is refused and reported (so the next test can fail)', async () => {
    routes.set('/tampered', { body: PAGES.forbidden.replace('</head>', '<style>body{color:red}</style></head>'), csp: PAGE_CSP });
    const { page, problems } = await watchedPage();
    try {
      await page.goto(`${base}/tampered`);
      await page.waitForTimeout(50);
      assert.ok(problems.some((p) => /Content Security Policy/i.test(p)), problems.join('\n'));
    } finally {
      await page.context().close();
    }
  });

  test('every page loads under the enforced CSP: no violation, styled, no other request, fits 320 px, tap-sized buttons', async () => {
    const { page, problems, requests } = await watchedPage();
    try {
      for (const name of Object.keys(PAGES)) {
        problems.length = 0;
        requests.length = 0;
        await page.setViewportSize({ width: 1000, height: 700 });
        const response = await page.goto(`${base}/${name}`);
        assert.equal(response?.headers()['content-security-policy'], cspOf(name));
        assert.deepEqual(problems, [], `${name}: console`);
        assert.deepEqual(requests.filter((u) => !u.startsWith('data:')), [`${base}/${name}`], `${name}: requests`);
        // The card's rounded corners exist only if the browser applied the hashed stylesheet.
        assert.equal(await page.locator('main').evaluate((el) => getComputedStyle(el).borderTopLeftRadius), '16px', `${name}: styled`);
        for (const box of await page.locator('.btn').all()) {
          assert.ok(((await box.boundingBox())?.height ?? 0) >= 44, `${name}: button height`);
        }
        await page.setViewportSize({ width: 320, height: 640 });
        const width = await page.evaluate('document.documentElement.scrollWidth');
        assert.ok((width as number) <= 320, `${name}: ${width}px wide at 320px`);
      }
    } finally {
      await page.context().close();
    }
  });

  test('axe-core: no serious or critical violations, in light and dark mode', async () => {
    // Injected into every document as it starts (far cheaper than a script tag per page); the CSP,
    // which would refuse it, is bypassed in this context only.
    const { page } = await watchedPage(true, AXE_PATH);
    const found: string[] = [];
    const run = async (path: string) => (await page.goto(`${base}${path}`), (await page.evaluate(AXE_RUN)) as Array<{ id: string; impact: string; nodes: string[] }>);
    try {
      // The control: pale text on the card is reported, so a clean result below means something.
      routes.set('/low-contrast', { body: PAGES.forbidden.replace('</head>', '<style>.lead{color:#c8c8c8}</style></head>'), csp: PAGE_CSP });
      assert.ok((await run('/low-contrast')).some((v) => v.id === 'color-contrast' && v.impact === 'serious'));
      for (const colorScheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme });
        for (const name of Object.keys(PAGES)) {
          for (const v of await run(`/${name}`)) {
            if (v.impact === 'serious' || v.impact === 'critical') found.push(`${colorScheme} ${name}: ${v.id} (${v.impact}) at ${v.nodes.join(', ')}`);
          }
        }
      }
    } finally {
      await page.context().close();
    }
    assert.deepEqual(found, []);
  });

  test('/me under its CSP shows every time in the browser\'s time zone (Asia/Tokyo, America/New_York); UTC stays in the title', async () => {
    for (const [timezoneId, hhmm, zone] of [['Asia/Tokyo', '17:30', /GMT\+9/], ['America/New_York', '04:30', /EDT|GMT-4/]] as const) {
      const context = await browser.newContext({ timezoneId, locale: 'en-US' });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (msg) => void (msg.type() === 'error' && problems.push(msg.text())));
      try {
        await page.goto(`${base}/me`);
        const times = await page.locator('time').evaluateAll((els) => els.map((e) => ({ text: e.textContent, title: e.getAttribute('title') })));
        assert.equal(times.length, 5);
        for (const t of times) {
          assert.ok(t.text!.includes(hhmm) && zone.test(t.text!), `${timezoneId}: ${t.text}`);
          assert.equal(t.title, '2025-06-02 08:30 UTC');
        }
        assert.equal(await page.locator('#tz').textContent(), `Times are shown in your time zone (${timezoneId}).`);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    }
    // The control: served with PAGE_CSP the script is refused (so the CSP is what lets it run), and the UTC text stays.
    routes.set('/me-no-script', { body: PAGES.me, csp: PAGE_CSP });
    const { page, problems } = await watchedPage();
    try {
      await page.goto(`${base}/me-no-script`);
      await page.waitForFunction(() => true);
      assert.equal(await page.locator('time').first().textContent(), '2025-06-02 08:30 UTC');
      assert.equal(await page.locator('#tz').textContent(), 'Times are in UTC.');
      assert.ok(problems.some((p) => /Content Security Policy/i.test(p)), problems.join('\n'));
    } finally {
      await page.context().close();
    }
  });

  test('sign-out posts under form-action and follows the redirect only to an origin pageCsp() lists', async () => {
    const confirm = signOutConfirmPage({ user: { user: 'alice' }, action: '/post', csrfToken: 'tok-1', returnTo: '/wiki' });
    routes.set('/confirm-allowed', { body: confirm, csp: pageCsp([`${elsewhere}/end_session`]) });
    routes.set('/confirm-blocked', { body: confirm, csp: PAGE_CSP });
    const { page, problems } = await watchedPage();
    try {
      posts.length = 0;
      await page.goto(`${base}/confirm-allowed`);
      await Promise.all([page.waitForURL(`${elsewhere}/ended`), page.click('button[type=submit]')]);
      assert.deepEqual(posts, ['/post csrf=tok-1&rd=%2Fwiki', 'elsewhere /ended']);

      posts.length = 0;
      problems.length = 0;
      await page.goto(`${base}/confirm-blocked`);
      await Promise.all([page.waitForEvent('console', { predicate: (m) => /form-action/.test(m.text()), timeout: 10_000 }), page.click('button[type=submit]')]);
      assert.deepEqual(posts, ['/post csrf=tok-1&rd=%2Fwiki']);
      assert.ok(!page.url().startsWith(elsewhere), page.url());
    } finally {
      await page.context().close();
    }
  });
});
