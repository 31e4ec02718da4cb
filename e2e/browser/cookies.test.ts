// e2e/browser/cookies.test.ts — what the browser holds and sees from Drawbridge: cookies that are
// HttpOnly, SameSite=Lax and host-only, and no token (nothing JWT-like) in any cookie or own page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Cookie, Response } from 'playwright-core';
import { JWT_LIKE, launchBrowser, newContext, onIdpSignInForm, openAndSignIn, signInAtIdp, startStack, type Stack } from './support.js';

const TIMEOUT = 60_000;

const ROUTES = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
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
`;

let browser: Browser;
let stack: Stack;

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ routes: ROUTES })]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close()]);
});

/** Drawbridge's own answers (every host on the proxy port), with their Set-Cookie headers and HTML. */
interface Seen {
  url: string;
  status: number;
  setCookies: string[];
  ownPage?: string;
}

/** Records every response from the proxy port; the sample app's pages (no CSP of ours) are not "own pages". */
function recordDrawbridge(context: BrowserContext, port: number): { seen: Seen[]; settled: () => Promise<void> } {
  const seen: Seen[] = [];
  const pending: Promise<void>[] = [];
  context.on('response', (response: Response) => {
    if (new URL(response.url()).port !== String(port)) return;
    pending.push(
      (async () => {
        const headers = await response.headersArray();
        const entry: Seen = { url: response.url(), status: response.status(), setCookies: headers.filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value) };
        const csp = headers.find((h) => h.name.toLowerCase() === 'content-security-policy')?.value ?? '';
        const type = headers.find((h) => h.name.toLowerCase() === 'content-type')?.value ?? '';
        if (csp.startsWith("default-src 'none'") && type.startsWith('text/html')) entry.ownPage = await response.text();
        seen.push(entry);
      })(),
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
    const { seen, settled } = recordDrawbridge(context, stack.port);
    const page = await context.newPage();
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

    // Another route host, Drawbridge's own pages, and a 403 for bob in the same browser later on.
    await page.goto(stack.url('app2.localhost', '/x'));
    await page.goto(stack.url('app.localhost', '/.drawbridge/me'));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your session');
    await page.goto(stack.url('app2.localhost', '/.drawbridge/me'));
    await page.goto(stack.url('app.localhost', '/.drawbridge/sign_out'));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign out?');
    // Scripts on a route host cannot read the session cookie.
    await page.goto(stack.url('app.localhost', '/a/b'));
    assert.equal(await page.evaluate(() => document.cookie), '');

    const cookies = await context.cookies();
    const ours = cookies.filter((c) => c.domain.endsWith('localhost'));
    assert.deepEqual(ours.map((c) => `${c.name}@${c.domain}`).sort(), ['drawbridge@app.localhost', 'drawbridge@app2.localhost', 'drawbridge@auth.localhost']);
    ours.forEach(assertDrawbridgeCookie);
    for (const c of cookies) assert.doesNotMatch(c.value, JWT_LIKE, `${c.name} on ${c.domain} holds something JWT-like`);

    await page.goto(stack.url('app.localhost', '/.drawbridge/sign_out'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${stack.publicUrl}/.drawbridge/sign_out`);
    await settled();

    // Every Set-Cookie Drawbridge sent on the way (login binding, sessions, hand-offs, clearing).
    const setCookies = seen.flatMap((s) => s.setCookies.map((v) => ({ url: s.url, v })));
    assert.ok(setCookies.length >= 5, `${setCookies.length} Set-Cookie headers seen`);
    for (const { url, v } of setCookies) {
      assert.match(v, /;\s*HttpOnly/i, `${url}: ${v}`);
      assert.match(v, /;\s*SameSite=Lax/i, `${url}: ${v}`);
      assert.match(v, /;\s*Path=\/(;|$)/i, `${url}: ${v}`);
      assert.doesNotMatch(v, /;\s*Domain=/i, `${url}: ${v}`);
      assert.doesNotMatch(v, JWT_LIKE, `${url}: ${v}`);
    }
    const pages = seen.filter((s) => s.ownPage !== undefined);
    const paths = pages.map((s) => `${s.status} ${new URL(s.url).host}${new URL(s.url).pathname}`);
    assert.ok(pages.length >= 4, paths.join('\n'));
    for (const s of pages) assert.doesNotMatch(s.ownPage!, JWT_LIKE, `${s.url} shows something JWT-like`);
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
