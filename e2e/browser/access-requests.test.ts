// e2e/browser/access-requests.test.ts — just-in-time access in Chromium, through the real pages and forms
// (docs/access-requests.md): bob is refused and asks from the 403 page; carol signs in with her one-time code and
// approves at /.drawbridge/requests; bob gets in and sees the grant on /me; the grant expires on the injected clock
// and bob is refused again. Every page keeps its CSP (no violation).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser, movableClock, newContext, openAndSignIn, signInAtIdp, startStack, watchCsp, type Stack } from './support.js';

const ROUTES = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: wiki-admin
    from: http://wiki.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow: [ { groups: [wiki-admins] } ]
    requests:
      approvers: { allow: [ { and: [ { groups: [wiki-admins] }, { mfa: true }, { authAge: 10m } ] } ] }
      maxDuration: 8h
      defaultDuration: 1h
      reason: required
`;

const TIMEOUT = 120_000;
const clock = movableClock();
let browser: Browser;
let stack: Stack;

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ routes: ROUTES, now: clock.now })]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close()]);
});

test('bob asks from the 403 page, carol approves with MFA, bob gets in, the grant expires, bob is refused again', { timeout: TIMEOUT }, async () => {
  const wiki = stack.url('wiki.localhost', '/');
  const bobContext = await newContext(browser);
  const carolContext = await newContext(browser);
  try {
    const bob = await bobContext.newPage();
    const bobCsp = await watchCsp(bob);
    await bob.goto(wiki);
    await signInAtIdp(bob, 'bob');
    await bob.waitForURL(wiki);
    assert.equal(await bob.getByRole('heading', { level: 1 }).textContent(), 'You don’t have access to this page');
    await bob.getByLabel('Why do you need access?').fill('Fix the broken onboarding page');
    await bob.getByLabel('For how long?').selectOption({ label: '15 minutes' });
    await bob.getByRole('button', { name: 'Request access' }).click();
    assert.equal(await bob.getByRole('heading', { level: 1 }).textContent(), 'Request sent');

    const carol = await carolContext.newPage();
    const carolCsp = await watchCsp(carol);
    const requests = stack.url('app.localhost', '/.drawbridge/requests');
    const { askedOtp } = await openAndSignIn(carol, requests, 'carol');
    assert.equal(askedOtp, true, 'carol signed in with her one-time code');
    assert.equal(await carol.getByRole('heading', { level: 1 }).textContent(), 'Access requests');
    assert.match(await carol.locator('main').innerText(), /Fix the broken onboarding page/);
    await carol.getByRole('button', { name: 'Approve' }).click();
    assert.match(await carol.locator('#message').innerText(), /Approved: bob has access to wiki-admin for 15 minutes/);

    const granted = await bob.goto(wiki);
    assert.equal(granted?.status(), 200, 'bob gets in');
    assert.match(await bob.content(), /bob/);
    await bob.goto(stack.url('wiki.localhost', '/.drawbridge/me'));
    assert.match(await bob.locator('#grants').innerText(), /wiki-admin/);
    assert.match(await bob.locator('#grants').innerText(), /approved by carol/);

    clock.advance(16 * 60_000);
    await stack.db.access.sweep();
    const refused = await bob.goto(wiki);
    assert.equal(refused?.status(), 403, 'bob is refused again once the grant expired');
    assert.equal(await bob.getByRole('heading', { level: 1 }).textContent(), 'You don’t have access to this page');
    assert.ok(stack.logs.some((l) => l.event === 'access-grant' && l.action === 'expired' && l.subject === 'bob'));
    assert.deepEqual(await bobCsp(), [], 'no CSP violation on bob’s pages');
    assert.deepEqual(await carolCsp(), [], 'no CSP violation on carol’s pages');
  } finally {
    await Promise.all([bobContext.close(), carolContext.close()]);
  }
});
