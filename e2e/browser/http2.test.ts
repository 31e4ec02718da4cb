// e2e/browser/http2.test.ts — headless Chromium through Drawbridge's TLS listener over HTTP/2 (tls.http2): a
// protected page after sign-in, Drawbridge's own pages and a WebSocket (HTTP/1.1 on the same listener), each
// navigation checked to have used h2 (`nextHopProtocol`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { certDir, makeCa, makeCert } from '../../test-support/certs.js';
import { launchBrowser, newContext, openAndSignIn, startStack, type Stack } from './support.js';

const TIMEOUT = 60_000;

const ROUTES = `routes:
  - name: app
    from: https://app.localhost:{{PORT}}
    to: {{APP}}
    websockets: true
    policy:
      allow:
        - groups: [engineering]
`;

let browser: Browser;
let stack: Stack;

before(async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const leaf = makeCert(dir, ca, 'edge', ['localhost', '*.localhost']);
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ routes: ROUTES, tls: `{ certFile: ${leaf.certFile}, keyFile: ${leaf.keyFile} }` })]);
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close()]);
});

test('Chromium signs in and loads a protected page over h2; the pages too; a WebSocket still opens (HTTP/1.1)', { timeout: TIMEOUT }, async () => {
  // The test CA is not the system's: certificate errors are ignored for this context only (h2 is still negotiated).
  const context = await newContext(browser, { ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const url = `https://app.localhost:${stack.port}/h2/deep?x=1`;
  await openAndSignIn(page, url, 'alice');
  const protocol = () => page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
  assert.equal(await protocol(), 'h2');
  assert.equal((await page.locator('[id="x-forwarded-user"]').textContent())?.trim(), 'alice');
  const seen = stack.app.requests.find((r) => r.url === '/h2/deep?x=1');
  assert.equal(seen?.headers['x-forwarded-proto'], 'https');
  const line = stack.logs.find((l) => l.event === 'request' && l.path === '/h2/deep' && l.decision === 'allow');
  assert.equal(line?.user, 'alice');

  // Drawbridge's own page (Express) over h2.
  await page.goto(`https://app.localhost:${stack.port}/.drawbridge/me`);
  assert.equal(await protocol(), 'h2');
  assert.match(await page.locator('main').innerText(), /alice/);

  // The sample app's WebSocket page: the socket is opened over HTTP/1.1 on the same listener and admitted.
  await page.goto(`https://app.localhost:${stack.port}/ws-page`);
  assert.equal(await protocol(), 'h2');
  await page.locator('#ws-status', { hasText: 'echo: ping' }).waitFor();
  assert.ok(stack.app.requests.some((r) => r.upgrade === true && r.headers['x-forwarded-user'] === 'alice'), 'the upgrade reached the upstream with the identity');
  await context.close();
});
