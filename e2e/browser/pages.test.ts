// e2e/browser/pages.test.ts — Drawbridge's own pages as a browser meets them in real flows (403, 404,
// sign-out, signed out, /me, 502, 503): no CSP violation under their real policy, no serious or critical
// axe-core finding (light and dark), and the screenshots of docs/images/flow-*.png.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { closedPort, launchBrowser, newContext, onIdpSignInForm, openAndSignIn, runAxe, screenshot, seriousFindings, signInAtIdp, startStack, watchCsp, type Stack } from './support.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const TIMEOUT = 60_000;

let browser: Browser;
let stack: Stack;
let idpDown: Stack;
let downPort: number;

before(async () => {
  downPort = await closedPort();
  const routes = `routes:
${APP_ROUTE}  - name: app-down
    from: http://app.localhost:{{PORT}}/down
    to: http://127.0.0.1:${downPort}
    policy:
      allow:
        - groups: [engineering]
`;
  [browser, stack, idpDown] = await Promise.all([launchBrowser(), startStack({ routes }), startStack({ noIdp: true })]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close(), idpDown?.close()]);
});

/** A page opened in a normal context (the page's real CSP applies), watched for CSP violations. */
async function cspPage(): Promise<{ context: BrowserContext; page: Page; violations: () => Promise<string[]>; statuses: Map<string, number> }> {
  const context = await newContext(browser);
  const page = await context.newPage();
  const violations = await watchCsp(page);
  const statuses = new Map<string, number>();
  page.on('response', (r) => {
    if (r.request().isNavigationRequest()) statuses.set(r.url(), r.status());
  });
  return { context, page, violations, statuses };
}

/**
 * The checks every page gets: its status and heading, no CSP violation, a screenshot (when named), and
 * axe-core in a CSP-bypassing context that opens the same URL with the same cookies (light, and dark for contrast).
 */
async function checkPage(
  t: TestContext,
  opened: Awaited<ReturnType<typeof cspPage>>,
  expected: { status: number; heading: string; shot?: string },
): Promise<void> {
  const { context, page, violations, statuses } = opened;
  const url = page.url();
  assert.equal(statuses.get(url), expected.status, `status of ${url}`);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), expected.heading);
  assert.match(await page.title(), / · Drawbridge$/);
  // The page's own stylesheet applied (its hash is in the CSP): the card is laid out, not unstyled.
  assert.equal(await page.locator('main').evaluate((el) => getComputedStyle(el).borderRadius), '16px');
  assert.deepEqual(await violations(), [], `CSP violations on ${url}`);
  if (expected.shot) await screenshot(page, expected.shot);

  const axeContext = await newContext(browser, { bypassCSP: true });
  try {
    await axeContext.addCookies(await context.cookies());
    const axePage = await axeContext.newPage();
    const response = await axePage.goto(url);
    assert.equal(response?.status(), expected.status, `status of ${url} when re-opened for axe`);
    assert.equal(await axePage.getByRole('heading', { level: 1 }).textContent(), expected.heading);
    // Every rule in the light theme; the dark theme only changes colours, so only contrast is re-checked.
    for (const [colorScheme, rules] of [
      ['light', undefined],
      ['dark', ['color-contrast']],
    ] as const) {
      await axePage.emulateMedia({ colorScheme });
      const findings = await runAxe(axePage, rules ? [...rules] : undefined);
      for (const f of findings) t.diagnostic(`axe ${colorScheme} ${f.impact}: ${f.id} (${f.help}) at ${f.targets.join(', ')}`);
      assert.deepEqual(seriousFindings(findings), [], `serious or critical axe findings on ${url} (${colorScheme})`);
    }
  } finally {
    await axeContext.close();
  }
}

test('403 as bob', { timeout: TIMEOUT }, async (t) => {
  const opened = await cspPage();
  try {
    await openAndSignIn(opened.page, stack.url('app.localhost', '/reports/q3'), 'bob');
    await checkPage(t, opened, { status: 403, heading: 'You don’t have access to this page', shot: '403' });
  } finally {
    await opened.context.close();
  }
});

test('404 for an address no route serves', { timeout: TIMEOUT }, async (t) => {
  const opened = await cspPage();
  try {
    await opened.page.goto(stack.url('wikki.localhost', '/handbook/onboarding'));
    await checkPage(t, opened, { status: 404, heading: 'There’s nothing at this address', shot: '404' });
  } finally {
    await opened.context.close();
  }
});

test('the IdP sign-in form, the sample app as alice, and /.drawbridge/me', { timeout: TIMEOUT }, async (t) => {
  const opened = await cspPage();
  try {
    const { page } = opened;
    const home = stack.url('app.localhost', '/projects/roadmap?view=board');
    await page.goto(home);
    assert.ok(await onIdpSignInForm(page));
    await screenshot(page, 'idp-sign-in');
    await signInAtIdp(page, 'alice');
    await page.waitForURL(home);
    await page.getByText('assertion verified', { exact: true }).waitFor();
    await screenshot(page, 'app');

    await page.goto(stack.url('app.localhost', '/.drawbridge/me'));
    const main = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    assert.match(main, /Alice Example/);
    assert.match(main, /alice@example\.com/);
    assert.match(main, /engineering/);
    await checkPage(t, opened, { status: 200, heading: 'Your session', shot: 'me' });
  } finally {
    await opened.context.close();
  }
});

test('the sign-out confirmation, then the signed-out page after the IdP', { timeout: TIMEOUT }, async (t) => {
  const opened = await cspPage();
  try {
    const { page } = opened;
    await openAndSignIn(page, stack.url('app.localhost', '/'), 'alice');
    await page.goto(stack.url('app.localhost', '/.drawbridge/sign_out'));
    await checkPage(t, opened, { status: 200, heading: 'Sign out?', shot: 'sign-out' });
    // The form's POST is redirected to the IdP and back to publicUrl: all of it under form-action.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${stack.publicUrl}/.drawbridge/sign_out`);
    await checkPage(t, opened, { status: 200, heading: 'You’re signed out', shot: 'signed-out' });
  } finally {
    await opened.context.close();
  }
});

test('502 when the application is down, without its address', { timeout: TIMEOUT }, async (t) => {
  const opened = await cspPage();
  try {
    const down = stack.url('app.localhost', '/down/status');
    await openAndSignIn(opened.page, down, 'alice');
    assert.doesNotMatch(await opened.page.content(), new RegExp(`127\\.0\\.0\\.1|:${downPort}\\b`));
    await checkPage(t, opened, { status: 502, heading: 'The application isn’t available', shot: '502' });
  } finally {
    await opened.context.close();
  }
});

test('503 when the IdP is down and a sign-in is needed', { timeout: TIMEOUT }, async (t) => {
  const opened = await cspPage();
  try {
    await opened.page.goto(idpDown.url('app.localhost', '/reports'));
    // Through the route host's sign-in start (it binds the hand-off to this browser) to publicUrl's, which answers 503.
    const at = new URL(opened.page.url());
    assert.equal(`${at.origin}${at.pathname}`, `${idpDown.publicUrl}/.drawbridge/sign_in`);
    assert.equal(at.searchParams.get('rd'), idpDown.url('app.localhost', '/reports'));
    assert.ok(at.searchParams.get('hb'), 'with the route host\'s hand-off ticket');
    await checkPage(t, opened, { status: 503, heading: 'Sign-in is temporarily unavailable', shot: '503' });
  } finally {
    await opened.context.close();
  }
});
