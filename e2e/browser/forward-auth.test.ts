// e2e/browser/forward-auth.test.ts — forward-auth mode end to end (docs/forward-auth.md): Debian's nginx in front
// of the sample legacy app asks Drawbridge `/.drawbridge/auth` with `auth_request`, copies the identity headers and
// the assertion with `auth_request_set`, and sends browsers to sign in with `error_page 401 =302`; Drawbridge's
// own pages (/.drawbridge/*) are proxied to it on the route host. Real Chromium: sign-in to a deep link, the deny
// page, sign-out; and raw requests: identity headers a client sends never reach the app.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { startNginx, nginxPreamble, nginxTempPaths, type RunningNginx } from '../../test-support/nginx.js';
import { requestVia, type PlainResponse } from '../../test-support/net.js';
import { reservePort } from '../../test-support/net.js';
import { launchBrowser, newContext, onIdpSignInForm, openAndSignIn, recordNavigations, signInAtIdp, startStack, type Stack } from './support.js';

const TIMEOUT = 60_000;

let browser: Browser;
let stack: Stack;
let nginx: RunningNginx;
let nginxPort: number;

/**
 * The nginx configuration of docs/forward-auth.md, exactly as the page shows it, with this test's ports and host
 * (plain HTTP on loopback): what the docs tell operators to run is what this test runs.
 */
function forwardAuthNginxConfig(prefix: string, port: number, drawbridge: number, app: number): string {
  const doc = readFileSync(new URL('../../docs/forward-auth.md', import.meta.url), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/forward-auth.md has an nginx block');
  const edits: [string, string][] = [
    ['listen 443 ssl;', `listen 127.0.0.1:${port};`],
    ['server_name legacy.example.com;', 'server_name legacy.localhost;'],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${drawbridge};`],
    ['server 10.0.0.5:8080;', `server 127.0.0.1:${app};`],
  ];
  let server = block;
  for (const [from, to] of edits) {
    assert.ok(server.includes(from), `the nginx block has ${from}`);
    server = server.replace(from, to);
  }
  return `${nginxPreamble(prefix)}
http {
  access_log off;
${nginxTempPaths(prefix)}
${server}
}
`;
}

before(async () => {
  nginxPort = await reservePort();
  const routes = `routes:
  - name: legacy
    from: http://legacy.localhost:${nginxPort}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
`;
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ routes, extra: 'trustedProxies: [127.0.0.1/32]' })]);
  nginx = await startNginx(nginxPort, (prefix) => forwardAuthNginxConfig(prefix, nginxPort, stack.port, Number(new URL(stack.app.url).port)));
});

after(async () => {
  await nginx?.stop();
  await Promise.all([browser?.close(), stack?.close()]);
});

const legacy = (path: string) => `http://legacy.localhost:${nginxPort}${path}`;

async function sampleAppSees(page: Page): Promise<{ assertion: string; user: string; groups: string; path: string }> {
  const text = async (id: string) => (await page.locator(`[id="${id}"]`).textContent())?.trim() ?? '';
  return { assertion: await text('assertion-status'), user: await text('x-forwarded-user'), groups: await text('x-forwarded-groups'), path: await text('path') };
}

/** A request to nginx with exactly these headers (node's client; *.localhost connects to 127.0.0.1). */
function viaNginx(path: string, headers: Record<string, string>): Promise<PlainResponse> {
  return requestVia(nginxPort, `legacy.localhost:${nginxPort}`, path, headers);
}

test('behind nginx auth_request: a deep link sends the browser to sign in and back to it, as alice, with a verified assertion', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const deepLink = legacy('/some/deep/page?x=1');
    const hops = recordNavigations(page);
    await page.goto(deepLink);
    assert.ok(await onIdpSignInForm(page), `expected the IdP's sign-in form, got ${page.url()}\n${nginx.errors()}`);
    // The sign-in started on the route host (through nginx), which binds the hand-off to this browser there.
    assert.ok(hops.some((u) => u.startsWith(legacy('/.drawbridge/sign_in?rd='))), hops.join('\n'));
    await signInAtIdp(page, 'alice');
    await page.waitForURL(deepLink);
    assert.ok(hops.some((u) => u.startsWith(legacy('/.drawbridge/handoff?'))), hops.join('\n'));
    const seen = await sampleAppSees(page);
    assert.deepEqual(seen, { assertion: 'assertion verified', user: 'alice', groups: 'engineering', path: '/some/deep/page' });
    // The cookie is the route host's own (host-only), set through nginx by the hand-off.
    const cookies = (await context.cookies()).filter((c) => c.name === 'drawbridge').map((c) => c.domain).sort();
    assert.deepEqual(cookies, ['auth.localhost', 'legacy.localhost']);
    // Logged like a proxied request, with the original request and the front door.
    const line = stack.logs.find((l) => l.event === 'request' && l.frontDoor === 'forward-auth' && l.path === '/some/deep/page' && l.decision === 'allow');
    assert.ok(line, 'a forward-auth allow line for the deep link');
    assert.equal(line.user, 'alice');
    assert.equal(line.route, 'legacy');
    assert.equal(line.host, `legacy.localhost:${nginxPort}`);
    assert.equal(line.method, 'GET');
  } finally {
    await context.close();
  }
});

test('behind nginx: bob sees the deny page (who he is, the failed rule, sign-out), and sign-out ends the session', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const deepLink = legacy('/reports/q3');
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.url() === deepLink) statuses.push(r.status());
    });
    await openAndSignIn(page, deepLink, 'bob');
    assert.deepEqual(statuses, [302, 403], 'sent to sign in, then refused');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'You don’t have access to this page');
    const main = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    assert.match(main, /bob · bob@example\.com/);
    assert.match(main, /You are not in any of the groups this route requires\./);
    // Sign-out through the page's link, on the route host (nginx proxies /.drawbridge/ to Drawbridge).
    await page.getByRole('link', { name: 'Sign in as someone else' }).click();
    await page.waitForURL(legacy('/.drawbridge/sign_out'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${stack.publicUrl}/.drawbridge/sign_out`);
    // Signed out here and at the IdP: the deep link asks for the password again.
    await page.goto(deepLink);
    assert.ok(await onIdpSignInForm(page), `expected the IdP's sign-in form after sign-out, got ${page.url()}`);
  } finally {
    await context.close();
  }
});

test('behind nginx: identity headers and an assertion a client sends never reach the app; a spoofed original URL is overwritten', { timeout: TIMEOUT }, async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await openAndSignIn(page, legacy('/start'), 'alice');
    const cookie = (await context.cookies(legacy('/'))).filter((c) => c.name === 'drawbridge').map((c) => `${c.name}=${c.value}`).join('; ');
    const spoofed = {
      'x-forwarded-user': 'SPOOF-mallory',
      'x-forwarded-email': 'SPOOF@evil.example',
      'x-forwarded-groups': 'SPOOF-admins',
      'x-forwarded-name': 'SPOOF',
      'x-forwarded-access-token': 'SPOOF',
      'x-drawbridge-assertion': 'SPOOF.eyJ1c2VyIjoibWFsbG9yeSJ9.sig',
      'x-drawbridge-groups-truncated': 'SPOOF',
      // Asking about another URL than the one requested: nginx writes its own.
      'x-original-url': legacy('/public-looking'),
      'x-original-method': 'OPTIONS',
      accept: 'application/json',
    };
    // Anonymous: refused before the app, whatever identity the client claims.
    const anonymous = await viaNginx('/echo', spoofed);
    assert.equal(anonymous.status, 302);
    assert.match(String(anonymous.headers.location), new RegExp(`^${legacy('/.drawbridge/sign_in?rd=').replace(/[.?]/g, '\\$&')}`));
    // Signed in as alice: the app sees alice, never a spoofed value.
    const signedIn = await viaNginx('/echo', { ...spoofed, cookie });
    assert.equal(signedIn.status, 200, signedIn.body);
    const echoed = JSON.parse(signedIn.body) as { headers: Record<string, string> };
    assert.equal(echoed.headers['x-forwarded-user'], 'alice');
    assert.equal(echoed.headers['x-forwarded-groups'], 'engineering');
    assert.doesNotMatch(JSON.stringify(echoed.headers), /SPOOF/);
    assert.ok(echoed.headers['x-drawbridge-assertion']?.split('.').length === 3);
    const line = stack.logs.find((l) => l.event === 'request' && l.frontDoor === 'forward-auth' && l.path === '/echo' && l.user === 'alice');
    assert.ok(line, 'the original path was evaluated, not the spoofed one');
    assert.equal(line.method, 'GET');
    // The endpoint itself is not reachable through nginx: a client cannot read its own assertion from an answer.
    for (const path of ['/.drawbridge/auth', '/.drawbridge/auth/echo', '/.drawbridge/%61uth/echo', '/.drawbridge//auth?x=1']) {
      const asked = await viaNginx(path, { cookie, 'x-original-url': legacy('/echo') });
      assert.ok(asked.status === 404 || asked.status === 400, `${path}: ${asked.status}`);
      assert.equal(asked.headers['x-drawbridge-assertion'], undefined, path);
      assert.equal(asked.headers['x-forwarded-user'], undefined, path);
    }
    // The endpoint itself is not reachable through nginx: a client cannot read its own assertion from an answer.
    for (const path of ['/.drawbridge/auth', '/.drawbridge/auth/echo', '/.drawbridge/%61uth/echo', '/.drawbridge//auth?x=1']) {
      const asked = await viaNginx(path, { cookie, 'x-original-url': legacy('/echo') });
      assert.ok(asked.status === 404 || asked.status === 400, `${path}: ${asked.status}`);
      assert.equal(asked.headers['x-drawbridge-assertion'], undefined, path);
      assert.equal(asked.headers['x-forwarded-user'], undefined, path);
    }
  } finally {
    await context.close();
  }
});
