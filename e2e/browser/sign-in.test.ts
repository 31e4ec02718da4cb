// e2e/browser/sign-in.test.ts — the end user's journeys in real headless Chromium through the whole
// product (dev IdP, Drawbridge, sample app): sign-in to a deep link, 403, sign-out, several tabs,
// an expired session, WebSockets, step-up and several route hosts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, movableClock, newContext, onIdpSignInForm, openAndSignIn, recordNavigations, signInAtIdp, startStack, type Stack } from './support.js';
import { APP_ROUTE } from '../../test-support/routes.js';

const TIMEOUT = 60_000;

const ROUTES = `routes:
${APP_ROUTE}  - name: app-admin
    from: http://app.localhost:{{PORT}}/admin
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [wiki-admins] }, { mfa: true } ]
  - name: app-secure
    from: http://app.localhost:{{PORT}}/secure
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering] }, { mfa: true } ]
  - name: app1
    from: http://app1.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
  - name: app2
    from: http://app2.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`;

const clock = movableClock();
let browser: Browser;
let stack: Stack;

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ routes: ROUTES, now: clock.now })]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close()]);
});

/** The sample app's verdict on the assertion and the identity it received. */
async function sampleAppSees(page: Page): Promise<{ assertion: string; user: string; email: string; groups: string; path: string }> {
  const text = async (id: string) => (await page.locator(`[id="${id}"]`).textContent())?.trim() ?? '';
  return {
    assertion: await text('assertion-status'),
    user: await text('x-forwarded-user'),
    email: await text('x-forwarded-email'),
    groups: await text('x-forwarded-groups'),
    path: await text('path'),
  };
}

test('alice opens a deep link, signs in at the IdP and lands on that exact URL as herself', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const deepLink = stack.url('app.localhost', '/some/page?x=1');
    const hops = recordNavigations(page);
    await page.goto(deepLink);
    assert.ok(await onIdpSignInForm(page), `expected the IdP's sign-in form, got ${page.url()}`);
    assert.equal(new URL(page.url()).origin, stack.idp!.issuer);
    await signInAtIdp(page, 'alice');
    await page.waitForURL(deepLink);
    assert.equal(page.url(), deepLink);
    const seen = await sampleAppSees(page);
    assert.equal(seen.assertion, 'assertion verified');
    assert.equal(seen.user, 'alice');
    assert.equal(seen.email, 'alice@example.com');
    assert.equal(seen.groups, 'engineering');
    assert.equal(seen.path, '/some/page');
    await assert.doesNotReject(page.getByText('assertion verified', { exact: true }).waitFor());
    // The way back went through the callback on publicUrl and the one-time hand-off to the route host.
    assert.ok(hops.some((u) => u.startsWith(`${stack.publicUrl}/.drawbridge/callback?`)), hops.join('\n'));
    assert.ok(hops.some((u) => u.startsWith(stack.url('app.localhost', '/.drawbridge/handoff?'))), hops.join('\n'));
  } finally {
    await context.close();
  }
});

test('bob gets the 403 page: it names him, says which rule failed in plain words, shows the request id and offers sign-out', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const deepLink = stack.url('app.localhost', '/reports/q3?sort=desc');
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.url() === deepLink) statuses.push(r.status());
    });
    await openAndSignIn(page, deepLink, 'bob');
    assert.deepEqual(statuses, [302, 403], 'sent to sign in, then refused');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'You don’t have access to this page');
    const main = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    assert.match(main, /Bob Example/);
    assert.match(main, /bob · bob@example\.com/);
    assert.match(main, /Groups: sales/);
    assert.match(main, /You are not in any of the groups this route requires\./);
    const requestId = (await page.locator('.rid code').textContent())?.trim() ?? '';
    assert.match(requestId, /^[0-9a-f-]{36}$/);
    const logged = stack.logs.find((l) => l.event === 'request' && l.requestId === requestId);
    assert.ok(logged, `no log line for request id ${requestId}`);
    assert.equal(logged.status, 403);
    assert.equal(logged.user, 'bob');
    assert.ok(logged.reasons.includes('groups-unauthorized'), JSON.stringify(logged.reasons));
    // Offers sign-out: the link leads to the confirmation page, as bob.
    const signOut = page.getByRole('link', { name: 'sign out' });
    assert.equal(await signOut.getAttribute('href'), '/.drawbridge/sign_out');
    await page.getByRole('link', { name: 'Sign in as someone else' }).click();
    await page.waitForURL(stack.url('app.localhost', '/.drawbridge/sign_out'));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign out?');
    assert.match(await page.locator('main').innerText(), /Bob Example/);
  } finally {
    await context.close();
  }
});

test('sign-out from the page ends the Drawbridge session and the IdP session: the next visit asks for the password', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const start = stack.url('app.localhost', '/start');
    await openAndSignIn(page, start, 'alice');
    const before = (await context.cookies()).filter((c) => c.name === 'drawbridge');
    assert.deepEqual(before.map((c) => c.domain).sort(), ['app.localhost', 'auth.localhost']);

    await page.goto(stack.url('app.localhost', '/.drawbridge/sign_out'));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign out?');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${stack.publicUrl}/.drawbridge/sign_out`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'You’re signed out');
    assert.deepEqual(
      (await context.cookies()).filter((c) => c.name === 'drawbridge' && c.domain === 'app.localhost'),
      [],
      'the route host cookie is cleared',
    );

    // The server-side session is gone: the old cookies, replayed in another browser, open nothing.
    const replay = await newContext(browser);
    try {
      await replay.addCookies(before);
      const replayPage = await replay.newPage();
      for (const host of ['app.localhost', 'auth.localhost']) {
        await replayPage.goto(stack.url(host, '/.drawbridge/me'));
        assert.ok(await onIdpSignInForm(replayPage), `${host}: the old cookie still opened ${replayPage.url()}`);
      }
    } finally {
      await replay.close();
    }

    // And the IdP session is gone: coming back asks for the password again.
    await page.goto(start);
    assert.ok(await onIdpSignInForm(page), `expected the IdP's password form, got ${page.url()}`);
    await signInAtIdp(page, 'alice');
    await page.waitForURL(start);
    assert.equal((await sampleAppSees(page)).user, 'alice');
  } finally {
    await context.close();
  }
});

test('two tabs that start signing in at the same time both end signed in on their own deep links', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const [tab1, tab2] = await Promise.all([context.newPage(), context.newPage()]);
    const link1 = stack.url('app.localhost', '/tab/one?n=1');
    const link2 = stack.url('app.localhost', '/tab/two?n=2');
    // Both reach the IdP's form before either signs in: two login attempts in flight in one browser.
    await Promise.all([tab1.goto(link1), tab2.goto(link2)]);
    assert.ok(await onIdpSignInForm(tab1));
    assert.ok(await onIdpSignInForm(tab2));
    await Promise.all([signInAtIdp(tab1, 'alice'), signInAtIdp(tab2, 'alice')]);
    await Promise.all([tab1.waitForURL(link1), tab2.waitForURL(link2)]);
    for (const [tab, path] of [
      [tab1, '/tab/one'],
      [tab2, '/tab/two'],
    ] as const) {
      const seen = await sampleAppSees(tab);
      assert.equal(seen.user, 'alice');
      assert.equal(seen.path, path);
      assert.equal(seen.assertion, 'assertion verified');
    }
  } finally {
    await context.close();
  }
});

test('an expired session sends the user through sign-in and back to the page they were on', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const first = stack.url('app.localhost', '/docs/intro');
    await openAndSignIn(page, first, 'alice');
    const signIns = () => stack.logs.filter((l) => l.event === 'sign-in' && l.result === 'success' && l.user === 'alice').length;
    const before = signIns();
    const current = stack.url('app.localhost', '/docs/chapter-2?section=3');
    await page.goto(current);
    assert.equal((await sampleAppSees(page)).path, '/docs/chapter-2');

    clock.advance(31 * 60_000); // past the default 30m idle timeout, on Drawbridge's clock only
    const hops = recordNavigations(page);
    await page.reload();
    // The IdP still knows her, so it may not ask again; if it does, she signs in.
    if (await onIdpSignInForm(page)) await signInAtIdp(page, 'alice');
    await page.waitForURL(current);
    assert.ok(hops.some((u) => u.startsWith(`${stack.publicUrl}/.drawbridge/sign_in?rd=`)), `not sent through sign-in:\n${hops.join('\n')}`);
    assert.ok(hops.some((u) => u.startsWith(`${stack.publicUrl}/.drawbridge/callback?`)), hops.join('\n'));
    assert.equal(signIns(), before + 1, 'a new sign-in took place');
    const seen = await sampleAppSees(page);
    assert.equal(seen.user, 'alice');
    assert.equal(seen.assertion, 'assertion verified');
  } finally {
    clock.reset();
    await context.close();
  }
});

test('the sample app’s WebSocket page echoes through Drawbridge after sign-in', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const wsPage = stack.url('app.localhost', '/ws-page');
    await openAndSignIn(page, wsPage, 'alice');
    await page.getByText('echo: ping', { exact: true }).waitFor();
    assert.equal(await page.locator('#ws-status').textContent(), 'echo: ping');
    const upgrade = stack.app.requests.find((r) => r.upgrade && r.url === '/ws' && r.headers['x-forwarded-user'] === 'alice');
    assert.ok(upgrade, 'the upgrade reached the app with alice’s identity');
  } finally {
    await context.close();
  }
});

test('step-up: carol reaches the MFA route with her one-time code', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const admin = stack.url('app.localhost', '/admin/settings');
    const result = await openAndSignIn(page, admin, 'carol');
    assert.equal(result.askedOtp, true);
    const seen = await sampleAppSees(page);
    assert.equal(seen.user, 'carol');
    assert.equal(seen.path, '/admin/settings');
    assert.equal(seen.assertion, 'assertion verified');
    const claims = JSON.parse((await page.locator('#assertion-claims').textContent()) ?? '{}');
    assert.equal(claims.route, 'app-admin');
    assert.ok(claims.amr.includes('otp'), JSON.stringify(claims.amr));
  } finally {
    await context.close();
  }
});

test('step-up: alice, signed in with a password, is sent to the one-time-code form on an MFA route and gets in', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await openAndSignIn(page, stack.url('app.localhost', '/'), 'alice');
    const secure = stack.url('app.localhost', '/secure/vault?id=7');
    await page.goto(secure);
    assert.equal(new URL(page.url()).origin, stack.idp!.issuer, `expected the IdP, got ${page.url()}`);
    // prompt=login may show the password form first; the one-time code form must follow.
    if (await onIdpSignInForm(page)) {
      const { askedOtp } = await signInAtIdp(page, 'alice');
      assert.equal(askedOtp, true, 'the IdP asked for the one-time code');
    } else {
      await page.getByLabel('One-time code').fill('123456');
      await page.getByRole('button', { name: 'Verify' }).click();
    }
    await page.waitForURL(secure);
    const seen = await sampleAppSees(page);
    assert.equal(seen.user, 'alice');
    assert.equal(seen.path, '/secure/vault');
    assert.equal(seen.assertion, 'assertion verified');
    const claims = JSON.parse((await page.locator('#assertion-claims').textContent()) ?? '{}');
    assert.ok(claims.amr.includes('otp'), JSON.stringify(claims.amr));
  } finally {
    await context.close();
  }
});

test('several hosts: signing in on app1.localhost makes app2.localhost work without another password', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await openAndSignIn(page, stack.url('app1.localhost', '/one'), 'alice');
    const hops = recordNavigations(page);
    const second = stack.url('app2.localhost', '/two?y=2');
    await page.goto(second);
    assert.equal(page.url(), second);
    assert.ok(!hops.some((u) => u.startsWith(stack.idp!.issuer)), `went back to the IdP:\n${hops.join('\n')}`);
    assert.ok(hops.some((u) => u.startsWith(stack.url('app2.localhost', '/.drawbridge/handoff?'))), hops.join('\n'));
    const seen = await sampleAppSees(page);
    assert.equal(seen.user, 'alice');
    assert.equal(seen.assertion, 'assertion verified');
    const hosts = (await context.cookies()).filter((c) => c.name === 'drawbridge').map((c) => c.domain);
    assert.deepEqual(hosts.sort(), ['app1.localhost', 'app2.localhost', 'auth.localhost']);
  } finally {
    await context.close();
  }
});
