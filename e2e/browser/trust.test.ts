// e2e/browser/trust.test.ts — trust across flows in real headless Chromium, from the attacker's side (SPEC §4):
// a hand-off link or ticket an attacker made, opened by a victim through a cross-site page, signs the victim in as
// nobody else and hands the attacker nothing (the victim's browser lacks the binding cookie, and the refused code is
// spent); a session cookie copied to another route host is no session there; and normal use (one password for
// several hosts, several tabs at once) still works. proxy/test/trust-handoff.test.ts covers the same over sockets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Cookie, Page, Request, Response } from 'playwright-core';
import { received } from '../../test-support/stack.js';
import { launchBrowser, newContext, onIdpSignInForm, openAndSignIn, recordNavigations, signInAtIdp, startStack, type Stack } from './support.js';

const TIMEOUT = 60_000;

const ROUTES = `routes:
  - name: app1
    from: http://app1.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: app2
    from: http://app2.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
`;

const REFUSED = /not started in this browser/;

let browser: Browser;
let stack: Stack;
let evil: EvilSite;

before(async () => {
  [browser, stack, evil] = await Promise.all([launchBrowser(), startStack({ routes: ROUTES }), startEvilSite()]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close(), evil?.close()]);
});

/** The attacker's own web site, on another loopback port and host: its page sends the browser on with a script. */
interface EvilSite {
  /** http://evil.localhost:PORT/?to=… — a page whose script does `location.href = to`. */
  lure(to: string): string;
  close(): Promise<void>;
}

async function startEvilSite(): Promise<EvilSite> {
  const server: Server = createServer((req, res) => {
    const to = new URL(req.url ?? '/', 'http://evil.localhost').searchParams.get('to') ?? '/';
    const script = `location.href = ${JSON.stringify(to).replaceAll('<', '\\u003c')};`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html lang="en"><title>You won a prize</title><p>Loading your prize…</p><script>${script}</script></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    lure: (to) => `http://evil.localhost:${port}/?to=${encodeURIComponent(to)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const app2Origin = () => new URL(stack.url('app2.localhost')).origin;
const isHandoffOnApp2 = (u: URL) => u.origin === app2Origin() && u.pathname === '/.drawbridge/handoff';

/**
 * Opens `start` in `page` and holds back the first request of the navigation chain (redirect hops included) whose URL
 * starts with `prefix`: it is failed before it is sent, and its URL returned. Cookies set on the way stay in the
 * browser. (Playwright's page.route never sees redirect hops; Chromium's Fetch domain does.)
 */
async function holdBack(page: Page, start: string, prefix: string): Promise<URL> {
  const cdp = await page.context().newCDPSession(page);
  let caught: string | undefined;
  cdp.on('Fetch.requestPaused', (event) => {
    if (event.request.url.startsWith(prefix)) caught ??= event.request.url;
    void cdp.send('Fetch.failRequest', { requestId: event.requestId, errorReason: 'Aborted' }).catch(() => undefined);
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${prefix}*`, requestStage: 'Request' }] });
  try {
    await page.goto(start).catch((e: Error) => {
      if (caught === undefined) throw e;
    });
  } finally {
    await cdp.send('Fetch.disable');
    await cdp.detach();
  }
  if (caught === undefined) throw new Error(`holdBack: ${start} never reached ${prefix} (ended on ${page.url()})`);
  return new URL(caught);
}

/**
 * The attacker's browser asks app2 for a hand-off of its own session and keeps the link instead of following it;
 * app2's binding cookie for that link (returned by name) stays in the attacker's browser.
 */
async function attackerHandoffLink(attacker: Page, path: string): Promise<{ link: URL; binding: string | undefined }> {
  const before = new Set(bindingCookies(await attacker.context().cookies()).map((c) => c.name));
  const link = await holdBack(attacker, stack.url('app2.localhost', path), `${app2Origin()}/.drawbridge/handoff?`);
  assert.ok(link.searchParams.get('code'), link.href);
  const added = bindingCookies(await attacker.context().cookies()).filter((c) => !before.has(c.name));
  assert.ok(added.length <= 1, added.map((c) => c.name).join(', '));
  return { link, binding: added[0]?.name };
}

/** Drawbridge's hand-off binding cookies on app2. */
function bindingCookies(cookies: Cookie[]): Cookie[] {
  return cookies.filter((c) => c.domain === 'app2.localhost' && c.name.startsWith('drawbridge-handoff-'));
}

/** The session cookie the context holds for `host`, if any. */
async function sessionOn(context: BrowserContext, host: string): Promise<Cookie | undefined> {
  return (await context.cookies()).find((c) => c.name === 'drawbridge' && c.domain === host);
}

/** What the victim's browser went through when a cross-site page sent it to `to`: the request and answer on app2. */
interface Lured {
  request: Request;
  response: Response;
  hops: string[];
}

/**
 * The victim, in `page`, opens the attacker's page, whose script sends the browser to `to`; resolves once the browser
 * has loaded the page on app2 the chain ends on (redirects do not commit a page), with the answer to the hand-off URL.
 */
async function lure(page: Page, to: string): Promise<Lured> {
  const hops = recordNavigations(page);
  const handoff = page.waitForResponse((r) => r.request().isNavigationRequest() && isHandoffOnApp2(new URL(r.url())));
  const landed = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() && new URL(frame.url()).origin === app2Origin() });
  await page.goto(evil.lure(to), { waitUntil: 'commit' });
  const [response] = await Promise.all([handoff, landed]);
  await page.waitForLoadState();
  return { request: response.request(), response, hops };
}

/** Asserts that the lured browser was shown Drawbridge's refusal, and returns the log line of that refusal. */
async function assertRefused(page: Page, lured: Lured): Promise<Record<string, unknown>> {
  assert.equal(lured.response.status(), 400, `the hand-off was not refused: ${lured.response.status()}, the browser is on ${page.url()}`);
  assert.match((await lured.response.text()).replace(/\s+/g, ' '), REFUSED);
  assert.match((await page.locator('main').innerText()).replace(/\s+/g, ' '), REFUSED);
  // The hand-off came from the attacker's page: a cross-site, top-level navigation.
  assert.equal((await lured.request.allHeaders())['sec-fetch-site'], 'cross-site', 'the lure is a cross-site navigation');
  assert.ok(lured.hops.some((u) => u.startsWith('http://evil.localhost:')), lured.hops.join('\n'));
  return refusalLog(lured.response);
}

/** The hand-off refusal logged for the request that `response` answered. */
async function refusalLog(response: Response): Promise<Record<string, unknown>> {
  const requestId = (await response.allHeaders())['x-request-id'];
  const line = stack.logs.find((l) => l.event === 'handoff' && l.result === 'failure' && l.requestId === requestId);
  assert.ok(line, `no hand-off refusal logged for request ${requestId}`);
  return line;
}

/** The user the sample app was sent for `url` when `page` opened it (its page shows X-Forwarded-User). */
async function userOn(page: Page, url: string): Promise<string> {
  await page.goto(url);
  assert.equal(page.url(), url, `expected to stay on ${url}`);
  return ((await page.locator('[id="x-forwarded-user"]').textContent()) ?? '').trim();
}

/** Asserts that opening `url` in `page` sends the browser to sign in at the IdP, and that the app never saw the request. */
async function assertSentToSignIn(page: Page, url: string): Promise<void> {
  const key = new URL(url).searchParams.keys().next().value;
  assert.ok(key, 'the URL carries a marker parameter');
  await page.goto(url);
  assert.ok(await onIdpSignInForm(page), `expected the IdP's sign-in form, got ${page.url()}`);
  assert.equal(new URL(page.url()).origin, stack.idp!.issuer);
  assert.deepEqual(received(stack.app, key), [], 'the app never received the request');
}

const marker = (what: string) => `${what}${Date.now()}${Math.random().toString(36).slice(2, 8)}`;

test('login CSRF: a hand-off link bob minted for himself, opened through a cross-site page, signs the victim in as nobody', { timeout: TIMEOUT }, async () => {
  const [attackerContext, victimContext] = await Promise.all([newContext(browser), newContext(browser)]);
  try {
    const attacker = await attackerContext.newPage();
    await openAndSignIn(attacker, stack.url('app1.localhost', '/'), 'bob');
    const { link, binding } = await attackerHandoffLink(attacker, '/inbox');

    const victim = await victimContext.newPage();
    const lured = await lure(victim, link.href);
    const logged = await assertRefused(victim, lured);
    assert.equal(victim.url(), link.href, 'the victim stays on the refused link');
    assert.match(String(logged.reason), REFUSED);
    assert.equal(await sessionOn(victimContext, 'app2.localhost'), undefined, 'the victim holds no session cookie for app2');
    await assertSentToSignIn(victim, stack.url('app2.localhost', `/inbox?${marker('victim')}=1`));

    // The refusal spent the code: the attacker's own browser, which holds the binding cookie, cannot use it either.
    assert.ok(binding && bindingCookies(await attackerContext.cookies()).some((c) => c.name === binding), 'the attacker holds the binding cookie for its link');
    const spent = await attacker.goto(link.href);
    assert.equal(spent?.status(), 400);
    assert.match(String((await refusalLog(spent!)).reason), /unknown, expired or replayed code/);
    assert.equal(await sessionOn(attackerContext, 'app2.localhost'), undefined);

    // Control: the same kind of link works in the browser that asked for it (the refusals above are the binding's doing).
    const own = await attackerHandoffLink(attacker, '/own');
    assert.ok(own.binding);
    await attacker.goto(own.link.href);
    assert.equal(attacker.url(), stack.url('app2.localhost', '/own'));
    assert.equal(((await attacker.locator('[id="x-forwarded-user"]').textContent()) ?? '').trim(), 'bob');
    assert.ok(!bindingCookies(await attackerContext.cookies()).some((c) => c.name === own.binding), 'the binding cookie is cleared once used');
  } finally {
    await Promise.all([attackerContext.close(), victimContext.close()]);
  }
});

test('login CSRF: alice, signed in on app1 and app2, opens bob\'s hand-off link through a cross-site page and is still alice', { timeout: TIMEOUT }, async () => {
  const [attackerContext, victimContext] = await Promise.all([newContext(browser), newContext(browser)]);
  try {
    const attacker = await attackerContext.newPage();
    await openAndSignIn(attacker, stack.url('app1.localhost', '/'), 'bob');

    const victim = await victimContext.newPage();
    await openAndSignIn(victim, stack.url('app1.localhost', '/'), 'alice');
    assert.equal(await userOn(victim, stack.url('app2.localhost', `/mine?${marker('before')}=1`)), 'alice');
    const cookieBefore = await sessionOn(victimContext, 'app2.localhost');
    assert.ok(cookieBefore, 'alice holds a session cookie for app2');

    const { link } = await attackerHandoffLink(attacker, '/inbox');
    const lured = await lure(victim, link.href);
    assert.match(String((await assertRefused(victim, lured)).reason), REFUSED);
    assert.equal((await sessionOn(victimContext, 'app2.localhost'))?.value, cookieBefore.value, 'alice\'s app2 cookie is untouched');
    const later = marker('after');
    assert.equal(await userOn(victim, stack.url('app2.localhost', `/mine?${later}=1`)), 'alice', 'the victim is never bob on app2');
    assert.equal(received(stack.app, later).at(-1)?.headers['x-forwarded-user'], 'alice');
    assert.equal(await userOn(victim, stack.url('app1.localhost', `/mine?${marker('app1')}=1`)), 'alice');
  } finally {
    await Promise.all([attackerContext.close(), victimContext.close()]);
  }
});

test('an attacker\'s ticket sent to signed-in alice: her code goes to her browser, which refuses it, and the attacker cannot redeem it', { timeout: TIMEOUT }, async () => {
  const [attackerContext, victimContext] = await Promise.all([newContext(browser), newContext(browser)]);
  try {
    // The attacker starts a sign-in on app2 and keeps the ticket app2 sends to publicUrl (the binding cookie stays with it).
    const attacker = await attackerContext.newPage();
    const start = `${app2Origin()}/.drawbridge/sign_in?rd=${encodeURIComponent(stack.url('app2.localhost', '/'))}`;
    const ticket = await holdBack(attacker, start, `${stack.publicUrl}/.drawbridge/sign_in?`);
    assert.ok(ticket.searchParams.get('hb'), ticket.href);
    assert.equal(bindingCookies(await attackerContext.cookies()).length, 1);

    const victim = await victimContext.newPage();
    await openAndSignIn(victim, stack.url('app1.localhost', '/'), 'alice');
    const lured = await lure(victim, ticket.href);
    // publicUrl reused alice's session and sent her browser a code, without asking her anything.
    assert.ok(lured.hops.some((u) => u.startsWith(`${stack.publicUrl}/.drawbridge/sign_in?`)), lured.hops.join('\n'));
    assert.ok(!lured.hops.some((u) => u.startsWith(stack.idp!.issuer)), lured.hops.join('\n'));
    const code = new URL(victim.url());
    assert.ok(isHandoffOnApp2(code) && code.searchParams.get('code'), code.href);
    assert.match(String((await assertRefused(victim, lured)).reason), REFUSED, 'her browser lacks the binding cookie');
    assert.equal(await sessionOn(victimContext, 'app2.localhost'), undefined);

    // The attacker learns the code (it was in her address bar) and tries it with the binding cookie it holds: spent.
    assert.equal(bindingCookies(await attackerContext.cookies()).length, 1, 'the attacker still holds its binding cookie');
    const stolen = await attacker.goto(code.href);
    assert.equal(stolen?.status(), 400);
    assert.match((await attacker.locator('main').innerText()).replace(/\s+/g, ' '), REFUSED);
    assert.match(String((await refusalLog(stolen!)).reason), /unknown, expired or replayed code/);
    assert.equal(await sessionOn(attackerContext, 'app2.localhost'), undefined, 'the attacker never holds alice\'s session');
    await assertSentToSignIn(attacker, stack.url('app2.localhost', `/x?${marker('attacker')}=1`));
  } finally {
    await Promise.all([attackerContext.close(), victimContext.close()]);
  }
});

test('normal use: one sign-in on app1 opens app2 without another password, and leaves no binding cookie behind', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await openAndSignIn(page, stack.url('app1.localhost', '/one'), 'alice');
    const hops = recordNavigations(page);
    const second = stack.url('app2.localhost', `/two?${marker('second')}=1`);
    assert.equal(await userOn(page, second), 'alice');
    assert.ok(!hops.some((u) => u.startsWith(stack.idp!.issuer)), `went back to the IdP:\n${hops.join('\n')}`);
    assert.ok(hops.some((u) => u.startsWith(`${app2Origin()}/.drawbridge/sign_in?`)), `the hand-off did not start on app2:\n${hops.join('\n')}`);
    assert.ok(hops.some((u) => isHandoffOnApp2(new URL(u))), hops.join('\n'));
    const ours = (await context.cookies()).filter((c) => c.domain.endsWith('localhost')).map((c) => `${c.name}@${c.domain}`);
    assert.deepEqual(ours.sort(), ['drawbridge@app1.localhost', 'drawbridge@app2.localhost', 'drawbridge@auth.localhost']);
  } finally {
    await context.close();
  }
});

test('normal use: two tabs signing in to app1 and app2 at the same time both end signed in on their own pages', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const [tab1, tab2] = await Promise.all([context.newPage(), context.newPage()]);
    const link1 = stack.url('app1.localhost', `/tab/one?${marker('one')}=1`);
    const link2 = stack.url('app2.localhost', `/tab/two?${marker('two')}=2`);
    // Both reach the IdP's form before either signs in: two sign-ins, with two hand-off bindings, in flight at once.
    await Promise.all([tab1.goto(link1), tab2.goto(link2)]);
    assert.ok(await onIdpSignInForm(tab1), tab1.url());
    assert.ok(await onIdpSignInForm(tab2), tab2.url());
    await Promise.all([signInAtIdp(tab1, 'alice'), signInAtIdp(tab2, 'alice')]);
    await Promise.all([tab1.waitForURL(link1), tab2.waitForURL(link2)]);
    for (const tab of [tab1, tab2]) {
      assert.equal(((await tab.locator('[id="x-forwarded-user"]').textContent()) ?? '').trim(), 'alice', tab.url());
      assert.equal(((await tab.locator('[id="assertion-status"]').textContent()) ?? '').trim(), 'assertion verified', tab.url());
    }
    assert.ok(await sessionOn(context, 'app1.localhost'));
    assert.ok(await sessionOn(context, 'app2.localhost'));
  } finally {
    await context.close();
  }
});

test('a session cookie is bound to its host: alice\'s app1 (or publicUrl) cookie copied into another browser for app2 is no session', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await openAndSignIn(page, stack.url('app1.localhost', '/'), 'alice');
    const app1 = await sessionOn(context, 'app1.localhost');
    const auth = await sessionOn(context, 'auth.localhost');
    assert.ok(app1 && auth);

    for (const source of [app1, auth]) {
      const copy = await newContext(browser);
      try {
        await copy.addCookies([{ name: source.name, value: source.value, domain: 'app2.localhost', path: '/', httpOnly: true, sameSite: 'Lax', secure: false }]);
        assert.equal((await sessionOn(copy, 'app2.localhost'))?.value, source.value);
        await assertSentToSignIn(await copy.newPage(), stack.url('app2.localhost', `/stolen?${marker(`from-${source.domain.split('.')[0]}`)}=1`));
      } finally {
        await copy.close();
      }
    }

    // Control: the same cookie copied for its own host is alice there (the refusal above is the host binding's doing).
    const own = await newContext(browser);
    try {
      await own.addCookies([{ name: app1.name, value: app1.value, domain: 'app1.localhost', path: '/', httpOnly: true, sameSite: 'Lax', secure: false }]);
      assert.equal(await userOn(await own.newPage(), stack.url('app1.localhost', `/copied?${marker('own')}=1`)), 'alice');
    } finally {
      await own.close();
    }
  } finally {
    await context.close();
  }
});
