// e2e/browser/cookies.test.ts — what the browser holds and sees from Drawbridge: cookies that are
// HttpOnly, SameSite=Lax and host-only, and no token (nothing JWT-like) in any cookie or own page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Cookie, Response } from 'playwright-core';
import { JWT_LIKE, launchBrowser, newContext, onIdpSignInForm, openAndSignIn, signInAtIdp, startStack, type Stack } from './support.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const TIMEOUT = 60_000;

const ROUTES = `routes:
${APP_ROUTE}  - name: app2
    from: http://app2.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`;

let browser: Browser;
let stack: Stack;

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ routes: ROUTES })]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close()]);
});

/** Every Set-Cookie header the proxy port sent in `context`, with the URL that sent it. */
function recordSetCookies(context: BrowserContext, port: number): { seen: Array<{ url: string; value: string }>; settled: () => Promise<void> } {
  const seen: Array<{ url: string; value: string }> = [];
  const pending: Promise<void>[] = [];
  context.on('response', (response: Response) => {
    if (new URL(response.url()).port !== String(port)) return;
    pending.push(
      response.headersArray().then((headers) => {
        for (const h of headers) if (h.name.toLowerCase() === 'set-cookie') seen.push({ url: response.url(), value: h.value });
      }),
    );
  });
  return { seen, settled: async () => void (await Promise.all(pending)) };
}

function assertDrawbridgeCookie(c: Cookie): void {
  const where = `${c.name} on ${c.domain}`;
  assert.equal(c.httpOnly, true, `${where}: HttpOnly`);
  assert.equal(c.sameSite, 'Lax', `${where}: SameSite=Lax`);
  assert.ok(!c.domain.startsWith('.'), `${where}: host-only, not a domain cookie`);
  assert.equal(c.path, '/', `${where}: Path=/`);
  assert.doesNotMatch(c.value, JWT_LIKE, `${where}: holds something JWT-like`);
}

test('cookies are HttpOnly, SameSite=Lax and host-only, and no token reaches a cookie or a Drawbridge page', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const { seen, settled } = recordSetCookies(context, stack.port);
    const page = await context.newPage();
    /** The HTML of the Drawbridge page now shown holds nothing JWT-like. */
    const noTokenOnPage = async (heading: string) => {
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), heading);
      assert.doesNotMatch(await page.content(), JWT_LIKE, `${page.url()} shows something JWT-like`);
    };
    const deepLink = stack.url('app.localhost', '/a/b?c=d');

    // At the IdP's form: the login attempt's binding cookie is already set on publicUrl.
    await page.goto(deepLink);
    assert.ok(await onIdpSignInForm(page));
    const during = (await context.cookies()).filter((c) => c.domain.endsWith('localhost'));
    assert.ok(
      during.some((c) => c.domain === 'auth.localhost' && c.name.startsWith('drawbridge-login-')),
      JSON.stringify(during.map((c) => `${c.name}@${c.domain}`)),
    );
    during.forEach(assertDrawbridgeCookie);
    await signInAtIdp(page, 'alice');
    await page.waitForURL(deepLink);
    // Scripts on a route host cannot read the session cookie.
    assert.equal(await page.evaluate(() => document.cookie), '');

    // A second route host (through the hand-off), and Drawbridge's own pages on each host.
    await page.goto(stack.url('app2.localhost', '/x'));
    for (const host of ['app.localhost', 'app2.localhost', 'auth.localhost']) {
      await page.goto(stack.url(host, '/.drawbridge/me'));
      await noTokenOnPage('Your session');
    }
    await page.goto(stack.url('nowhere.localhost', '/'));
    await noTokenOnPage('There’s nothing at this address');

    const cookies = await context.cookies();
    const ours = cookies.filter((c) => c.domain.endsWith('localhost'));
    assert.deepEqual(ours.map((c) => `${c.name}@${c.domain}`).sort(), ['drawbridge@app.localhost', 'drawbridge@app2.localhost', 'drawbridge@auth.localhost']);
    ours.forEach(assertDrawbridgeCookie);
    for (const c of cookies) assert.doesNotMatch(c.value, JWT_LIKE, `${c.name} on ${c.domain} holds something JWT-like`);

    await page.goto(stack.url('app.localhost', '/.drawbridge/sign_out'));
    await noTokenOnPage('Sign out?');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${stack.publicUrl}/.drawbridge/sign_out`);
    await noTokenOnPage('You’re signed out');
    await settled();

    // Every Set-Cookie Drawbridge sent on the way: login binding, sessions, hand-offs, clearing.
    assert.ok(seen.length >= 5, `${seen.length} Set-Cookie headers seen`);
    for (const { url, value } of seen) {
      assert.match(value, /;\s*HttpOnly/i, `${url}: ${value}`);
      assert.match(value, /;\s*SameSite=Lax/i, `${url}: ${value}`);
      assert.match(value, /;\s*Path=\/(;|$)/i, `${url}: ${value}`);
      assert.doesNotMatch(value, /;\s*Domain=/i, `${url}: ${value}`);
      assert.doesNotMatch(value, JWT_LIKE, `${url}: ${value}`);
    }
  } finally {
    await context.close();
  }
});

test('the 403 page shows no token either', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await openAndSignIn(page, stack.url('app.localhost', '/private'), 'bob');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'You don’t have access to this page');
    assert.doesNotMatch(await page.content(), JWT_LIKE);
    (await context.cookies()).forEach((c) => assert.doesNotMatch(c.value, JWT_LIKE, `${c.name} on ${c.domain}`));
    (await context.cookies()).filter((c) => c.domain.endsWith('localhost')).forEach(assertDrawbridgeCookie);
  } finally {
    await context.close();
  }
});
