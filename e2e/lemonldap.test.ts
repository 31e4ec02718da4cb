// e2e/lemonldap.test.ts — Drawbridge against a second, independent OpenID Connect implementation: Debian's
// LemonLDAP::NG 2.16 (e2e/lemonldap/), in real headless Chromium: sign-in through its login form, identity and
// assertion at the sample app, refresh, RP-initiated sign-out, and sign-out at the LL::NG portal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newContext, STEP_MS } from './browser/support.js';
import { startLemonLdap, type LemonLdap } from './lemonldap/lemonldap.js';
import { startStack, waitFor, type Stack } from '../test-support/stack.js';

const TIMEOUT = 90_000;
/** LL::NG's access (and ID) token lifetime: Drawbridge refreshes at 80% of it, so a refresh comes due in 4 s. */
const TOKEN_TTL_S = 5;
/** Long enough for a due refresh on a loaded 2-core machine, far below the test's own timeout. */
const REFRESH_DEADLINE_MS = 30_000;

const ROUTES = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [timelords]
`;

let browser: Browser;
let stack: Stack;
let llng: LemonLdap | undefined;

before(async () => {
  browser = await launchBrowser();
  stack = await startStack({
    routes: ROUTES,
    // LL::NG releases the groups claim for the `groups` scope (oidcRPMetaDataOptionsExtraClaims, see setup).
    idp: 'scopes: [openid, profile, email, groups]',
    externalIdp: async (uris) => {
      llng = await startLemonLdap({ redirectUri: uris.redirectUri, postLogoutRedirectUri: uris.postLogoutRedirectUri, accessTokenTtl: TOKEN_TTL_S });
      return { issuer: llng.issuer, clientId: llng.clientId, clientSecret: llng.clientSecret, close: llng.stop };
    },
  });
});

after(async () => {
  await Promise.all([browser?.close(), stack?.close(), llng?.stop()]);
});

/** The LL::NG side of a failure, for assertion messages. */
function llngLogs(): string {
  return `\n--- LemonLDAP::NG logs (tail) ---\n${(llng?.logs() ?? '').slice(-3000)}`;
}

/** Whether `page` shows LL::NG's login form (the portal, on the issuer's origin). */
async function onLlngLoginForm(page: Page): Promise<boolean> {
  return new URL(page.url()).origin === llng!.issuer && (await page.locator('#userfield').count()) > 0 && (await page.locator('#passwordfield').count()) > 0;
}

/** Fills LL::NG's real login form (Demo backend: password = login) and resolves once the browser has left it. */
async function signInAtLlng(page: Page, login: string): Promise<void> {
  assert.ok(await onLlngLoginForm(page), `expected LemonLDAP::NG's login form, got ${page.url()}${llngLogs()}`);
  await page.locator('#userfield').fill(login);
  await page.locator('#passwordfield').fill(login);
  await Promise.all([page.waitForURL((url) => url.origin !== llng!.issuer, { timeout: STEP_MS }), page.locator('form.login button[type="submit"]').click()]).catch(async (e: Error) => {
    throw new Error(`signInAtLlng(${login}): still at ${page.url()}: ${(await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 300)}\n${e.message}${llngLogs()}`);
  });
  await page.waitForLoadState();
}

/** Opens `url`, signs in at LL::NG as `login` and waits to be back on `url`. */
async function openAndSignIn(page: Page, url: string, login: string): Promise<void> {
  await page.goto(url);
  await signInAtLlng(page, login);
  await page.waitForURL(url);
}

/** What the sample app shows about the request it received. */
async function sampleAppSees(page: Page): Promise<{ assertion: string; user: string; email: string; groups: string; name: string; claims: Record<string, unknown> }> {
  if ((await page.locator('#assertion-status').count()) === 0) {
    throw new Error(`not the sample app at ${page.url()}: ${(await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 500)}${llngLogs()}`);
  }
  const text = async (id: string) => (await page.locator(`[id="${id}"]`).textContent())?.trim() ?? '';
  const claims = (await page.locator('#assertion-claims').count()) > 0 ? (JSON.parse(await text('assertion-claims')) as Record<string, unknown>) : {};
  return { assertion: await text('assertion-status'), user: await text('x-forwarded-user'), email: await text('x-forwarded-email'), groups: await text('x-forwarded-groups'), name: await text('x-forwarded-name'), claims };
}

/**
 * The status of a same-origin request that `page` (on a route host) sends with its cookies, as a link would:
 * 302 for any redirect (it is not followed).
 */
async function statusFrom(page: Page, path: string): Promise<number> {
  return page.evaluate(async (p) => {
    const res = await fetch(p, { redirect: 'manual', cache: 'no-store', headers: { accept: 'text/html' } });
    return res.type === 'opaqueredirect' ? 302 : res.status;
  }, path);
}

async function withContext(fn: (context: BrowserContext, page: Page) => Promise<void>): Promise<void> {
  const context = await newContext(browser);
  try {
    await fn(context, await context.newPage());
  } finally {
    await context.close();
  }
}

test('dwho signs in through LemonLDAP::NG’s login form; the sample app gets his identity, groups and a verified assertion', { timeout: TIMEOUT }, async () => {
  await withContext(async (_context, page) => {
    const deepLink = stack.url('app.localhost', '/reports/q3?sort=desc');
    await page.goto(deepLink);
    assert.ok(await onLlngLoginForm(page), `expected LemonLDAP::NG's login form, got ${page.url()}${llngLogs()}`);
    const authorize = new URL(page.url());
    assert.equal(authorize.searchParams.get('client_id'), llng!.clientId, 'the portal shows the form for Drawbridge’s authorization request');
    await signInAtLlng(page, 'dwho');
    await page.waitForURL(deepLink);

    const seen = await sampleAppSees(page);
    assert.equal(seen.assertion, 'assertion verified');
    assert.equal(seen.user, 'dwho');
    assert.equal(seen.email, 'dwho@badwolf.org');
    assert.equal(seen.name, 'Doctor Who');
    // LL::NG builds groups from a hash: their order varies between its processes.
    assert.deepEqual(seen.groups.split(',').sort(), ['timelords', 'users']);
    assert.equal(seen.claims.iss, stack.publicUrl);
    assert.equal(seen.claims.sub, 'dwho', 'LL::NG’s sub is the whatToTrace attribute (uid)');
    assert.equal(seen.claims.acr, 'loa-1', 'the Demo backend’s authentication level');
    const authTime = seen.claims.auth_time as number;
    assert.ok(typeof authTime === 'number' && Math.abs(authTime - Date.now() / 1000) < 120, `auth_time ${authTime} is the sign-in's time`);

    // email_verified comes from the emailVerified macro the setup maps (LL::NG sends none by default).
    const me = await page.evaluate(async () => (await fetch('/.drawbridge/me', { headers: { accept: 'application/json' } })).json());
    assert.equal(me.emailVerified, true, JSON.stringify(me));

    const signIn = stack.logs.find((l) => l.event === 'sign-in' && l.user === 'dwho');
    assert.ok(signIn, `no sign-in log line for dwho: ${JSON.stringify(stack.logs.filter((l) => l.event !== 'request').slice(-5))}`);
  });
});

test('rtyler (earthlings, users) gets the 403 page: the groups claim from LemonLDAP::NG decides', { timeout: TIMEOUT }, async () => {
  await withContext(async (_context, page) => {
    const url = stack.url('app.localhost', '/');
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.url() === url) statuses.push(r.status());
    });
    await openAndSignIn(page, url, 'rtyler');
    assert.deepEqual(statuses, [302, 403]);
    const main = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    assert.match(main, /Rose Tyler/);
    assert.match(main, /rtyler · rtyler@badwolf\.org/);
    assert.match(main, /Groups: (earthlings, users|users, earthlings)/);
    assert.match(main, /You are not in any of the groups this route requires\./);
  });
});

test('refresh: once LemonLDAP::NG’s access token is due, the next request refreshes it and the session goes on', { timeout: TIMEOUT }, async () => {
  await withContext(async (_context, page) => {
    await openAndSignIn(page, stack.url('app.localhost', '/before-refresh'), 'dwho');
    const signedInAt = stack.logs.length;
    const refreshed = () => stack.logs.slice(signedInAt).find((l) => l.event === 'refresh' && l.user === 'dwho');
    // Requests every 250 ms until one finds the token due and refreshes it; each of them must be served as dwho.
    let n = 0;
    await waitFor(async () => {
      const status = await statusFrom(page, `/during-refresh?n=${n++}`);
      assert.equal(status, 200, `request ${n} while waiting for the refresh`);
      return refreshed() !== undefined;
    }, REFRESH_DEADLINE_MS, 250).catch((e: Error) => {
      throw new Error(`${e.message}: no refresh${llngLogs()}`);
    });
    const event = refreshed()!;
    assert.equal(event.result, 'success', `refresh: ${JSON.stringify(event)}${llngLogs()}`);

    await page.goto(stack.url('app.localhost', '/after-refresh'));
    const seen = await sampleAppSees(page);
    assert.equal(seen.user, 'dwho');
    assert.deepEqual(seen.groups.split(',').sort(), ['timelords', 'users']);
    assert.equal(seen.assertion, 'assertion verified');
  });
});

test('sign-out from Drawbridge goes through LemonLDAP::NG’s end_session endpoint and ends both sessions', { timeout: TIMEOUT }, async () => {
  await withContext(async (_context, page) => {
    const start = stack.url('app.localhost', '/start');
    await openAndSignIn(page, start, 'dwho');

    const hops: string[] = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest() && r.frame() === page.mainFrame()) hops.push(r.url());
    });
    await page.goto(stack.url('app.localhost', '/.drawbridge/sign_out'));
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign out?');
    await Promise.all([page.waitForURL((url) => url.origin === llng!.issuer), page.getByRole('button', { name: 'Sign out' }).click()]);
    const endSession = new URL(page.url());
    assert.equal(endSession.pathname, '/oauth2/logout', `the end_session_endpoint: ${page.url()}`);
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${stack.publicUrl}/.drawbridge/sign_out`);
    assert.ok(endSession.searchParams.get('id_token_hint'), 'id_token_hint is sent');

    // LL::NG asks "Do you want to logout?" (oidcRPMetaDataOptionsLogoutBypassConfirm is off): accept.
    await page.locator('form#form button.positive').click();
    await page.waitForURL(`${stack.publicUrl}/.drawbridge/sign_out`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'You’re signed out');
    assert.ok(hops.some((u) => u.startsWith(`${llng!.issuer}/oauth2/logout`)), hops.join('\n'));

    // The LL::NG session is gone: the portal asks for the password again, and so does the next visit to the app.
    await page.goto(`${llng!.issuer}/`);
    assert.ok(await onLlngLoginForm(page), `LemonLDAP::NG still has a session: ${page.url()}`);
    await page.goto(start);
    assert.ok(await onLlngLoginForm(page), `expected LemonLDAP::NG's login form after sign-out, got ${page.url()}`);
    await signInAtLlng(page, 'dwho');
    await page.waitForURL(start);
    assert.equal((await sampleAppSees(page)).user, 'dwho');
  });
});

test('signing out at the LemonLDAP::NG portal ends the Drawbridge session at the next refresh (LL::NG 2.16 sends no back-channel logout)', { timeout: TIMEOUT }, async () => {
  await withContext(async (context, page) => {
    const url = stack.url('app.localhost', '/portal-logout');
    await openAndSignIn(page, url, 'dwho');
    const signedInAt = stack.logs.length;

    // The user signs out at the portal itself (in another tab), not through Drawbridge.
    const portal = await context.newPage();
    await portal.goto(`${llng!.issuer}/?logout=1`);
    await portal.goto(`${llng!.issuer}/`);
    assert.ok(await onLlngLoginForm(portal), `the portal session did not end: ${portal.url()}`);

    // Drawbridge's session lasts until its refresh comes due; then LL::NG refuses the refresh token and it ends.
    let n = 0;
    let last = 0;
    await waitFor(async () => {
      last = await statusFrom(page, `/portal-logout?n=${n++}`);
      return last !== 200;
    }, REFRESH_DEADLINE_MS, 250).catch((e: Error) => {
      throw new Error(`${e.message}: the Drawbridge session outlived the LemonLDAP::NG session${llngLogs()}`);
    });
    assert.equal(last, 302, 'sent to sign in again');
    // (A refresh may have succeeded before the portal sign-out, under load: the refusal is the one that counts.)
    const refreshes = stack.logs.slice(signedInAt).filter((l) => l.event === 'refresh' && l.user === 'dwho');
    assert.ok(refreshes.some((l) => l.result === 'refused'), JSON.stringify(refreshes));

    await page.goto(url);
    assert.ok(await onLlngLoginForm(page), `expected LemonLDAP::NG's login form, got ${page.url()}`);
  });
});
