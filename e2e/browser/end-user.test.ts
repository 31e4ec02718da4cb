// e2e/browser/end-user.test.ts — what end users read on Drawbridge's pages, in real Chromium through real
// sign-ins (issue 15.11): a route's human `title` on the 403 page (its name only on the support line), and
// /.drawbridge/me's times in the browser's own time zone, under the page's real CSP. Screenshots for the docs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser, newContext, openAndSignIn, screenshot, startStack, watchCsp, type Stack } from './support.js';

const TIMEOUT = 60_000;

let browser: Browser;
let stack: Stack;

before(async () => {
  const routes = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
  - name: finance-reports
    title: Finance reports
    from: http://app.localhost:{{PORT}}/finance
    to: {{APP}}
    policy:
      allow:
        - groups: [finance]
`;
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ routes })]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close()]);
});

test('403 on a titled route: the page names it by its title; the route name is on the support line beside the request ID', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const violations = await watchCsp(page);
    const url = stack.url('app.localhost', '/finance/q3');
    const statuses: number[] = [];
    page.on('response', (r) => void (r.url() === url && statuses.push(r.status())));
    await openAndSignIn(page, url, 'alice');
    assert.equal(statuses.at(-1), 403);
    assert.equal(await page.locator('.lead').innerText(), 'You’re signed in, but this account isn’t allowed to open Finance reports.');
    const support = await page.locator('.rid').innerText();
    assert.match(support, /^Request ID \S+ · Route finance-reports$/);
    // The name appears nowhere else on the page: users read the title.
    assert.equal((await page.locator('main').innerText()).split('finance-reports').length - 1, 1);
    assert.deepEqual(await violations(), []);
    await screenshot(page, '403-title');
  } finally {
    await context.close();
  }
});

test('/.drawbridge/me shows the session and sign-in times in the browser\'s time zone (Asia/Tokyo), the UTC time in their tooltip', { timeout: TIMEOUT }, async () => {
  const timezoneId = 'Asia/Tokyo';
  const context = await newContext(browser, { timezoneId });
  try {
    const page = await context.newPage();
    const violations = await watchCsp(page);
    await openAndSignIn(page, stack.url('app.localhost', '/'), 'alice');
    await page.goto(stack.url('app.localhost', '/.drawbridge/me'));
    assert.equal(await page.locator('#tz').innerText(), `Times are shown in your time zone (${timezoneId}).`);
    const times = await page.locator('main time').evaluateAll((els) => els.map((e) => ({ datetime: e.getAttribute('datetime')!, text: e.textContent!, title: e.getAttribute('title')! })));
    assert.equal(times.length, 5, 'signed in, started, last active, ends if idle, ends at the latest');
    for (const { datetime, text, title } of times) {
      const at = new Date(datetime);
      // Tokyo is UTC+9 all year: the wall-clock time, worked out here independently of the page's script.
      const tokyo = new Date(at.getTime() + 9 * 3_600_000);
      const hhmm = `${String(tokyo.getUTCHours()).padStart(2, '0')}:${String(tokyo.getUTCMinutes()).padStart(2, '0')}`;
      assert.ok(text.includes(hhmm) && text.includes('GMT+9'), `${datetime} shown as "${text}", expected ${hhmm} GMT+9`);
      assert.ok(text.includes(String(tokyo.getUTCDate())), `${text}: the Tokyo date`);
      assert.equal(title, `${datetime.slice(0, 10)} ${datetime.slice(11, 16)} UTC`);
    }
    assert.deepEqual(await violations(), [], 'the script runs by its hash: no CSP violation');
    await screenshot(page, 'me-local-time');
  } finally {
    await context.close();
  }
});
