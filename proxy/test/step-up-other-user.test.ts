// proxy/test/step-up-other-user.test.ts — a step-up completed as ANOTHER user (the IdP returns another `sub` than the
// session's) never switches the session silently (issue 15 item 11c): the browser gets a page naming both users;
// "continue as <new user>" is a POST with a one-time code bound to this browser, "go back" keeps what was there. Run
// against an IdP that ends the first user's session when another signs in (back-channel logout, the dev IdP's default)
// and one that does not. From the attacker's side: no GET, no other browser, no forged form, no second use.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { parseForms, type CookieJarClient } from '../../e2e/support/http-client.js';
import { received, sessionCookie, startStack, type Stack, type StackOptions } from '../../test-support/stack.js';
import { STEP_UP_ROUTES } from '../../test-support/routes.js';

const ROUTES = `routes:
${STEP_UP_ROUTES}`;
const HTML = { accept: 'text/html' };

function suite(name: string, options: StackOptions, aliceSurvives: boolean): void {
  describe(name, () => {
    let s: Stack;
    before(async () => {
      s = await startStack({ routes: ROUTES, ...options });
    }, { timeout: 60_000 });
    after(async () => {
      await s?.close();
    });

    /** Alice, signed in on the app route, opens the MFA route and signs in at the IdP as carol: the page that answers. */
    async function aliceStepsUpAsCarol(marker: string) {
      const b = s.browser();
      assert.equal((await s.signIn(b, s.url('app.localhost', '/'), 'alice')).response.status, 200);
      const aliceCookie = sessionCookie(b, s.publicUrl);
      assert.ok(aliceCookie, 'alice has a session on publicUrl');
      const adminUrl = s.url('admin.localhost', `/console?${marker}`);
      const done = await signInAtIdp(b, adminUrl, { login: 'carol', headers: HTML });
      assert.ok(done.askedPassword, 'prompt=login: the IdP asked who signs in');
      const page = done.response;
      assert.equal(page.status, 409, `the choice page (got ${page.status} at ${page.url})`);
      const form = parseForms(page.body, page.url).find((f) => f.method === 'POST');
      assert.ok(form, 'the continue form');
      return { b, aliceCookie, adminUrl, page, form };
    }

    async function whoAmI(b: CookieJarClient): Promise<string | undefined> {
      const me = await b.get(`${s.publicUrl}/.drawbridge/me`, { headers: { accept: 'application/json' } });
      return me.status === 200 ? (JSON.parse(me.body) as { user: string }).user : undefined;
    }

    test('the page names both users, nothing switches until the POST; "continue" replaces the session and lands on the route', { timeout: 60_000 }, async () => {
      const { b, aliceCookie, adminUrl, page, form } = await aliceStepsUpAsCarol('m=switch');
      assert.equal(new URL(page.url).pathname, '/.drawbridge/callback');
      assert.match(page.body, /You signed in as a different user/);
      assert.match(page.body, /Continue as carol@example\.com/);
      assert.match(page.body, /Go back as alice@example\.com/);
      assert.equal(sessionCookie(b, s.publicUrl), aliceCookie, 'the session cookie is untouched');
      assert.equal(await whoAmI(b), aliceSurvives ? 'alice' : undefined, 'not carol');
      assert.equal(received(s.app, 'm=switch').length, 0, 'the route was not reached as anyone');
      assert.equal(new URL(form.action).href, `${s.publicUrl}/.drawbridge/switch_user`);
      assert.deepEqual(Object.keys(form.fields), ['code'], 'a one-time code, nothing else');
      assert.ok(s.logs.some((l) => l.event === 'step-up' && l.result === 'other-user' && l.user === 'alice' && l.signedInAs === 'carol'));

      const posted = await b.post(form.action, { form: form.fields, headers: HTML });
      assert.equal(posted.status, 200, `continued to the route (got ${posted.status} at ${posted.url})`);
      assert.equal(posted.url, adminUrl, 'back on the exact URL, through the hand-off');
      const seen = received(s.app, 'm=switch');
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers['x-forwarded-user'], 'carol');
      assert.notEqual(sessionCookie(b, s.publicUrl), aliceCookie, 'a new session id');
      assert.equal(await whoAmI(b), 'carol');
      assert.equal((await s.db.store.list({ user: 'alice' })).length, 0, "alice's session is over");

      const replay = await b.post(form.action, { form: form.fields, headers: HTML, redirect: 'manual' });
      assert.equal(replay.status, 400, 'the code is spent');
      assert.equal(await whoAmI(b), 'carol');
    });

    test(`"go back" keeps what was there: ${aliceSurvives ? "alice's session" : 'no session (the IdP ended alice’s)'}, and the route asks alice again`, { timeout: 60_000 }, async () => {
      const { b, aliceCookie, adminUrl, page } = await aliceStepsUpAsCarol('m=back');
      const back = /href="([^"]*)"[^>]*>Go back as alice@example\.com</.exec(page.body);
      assert.ok(back, 'a "go back" link');
      assert.equal(back[1]!.replaceAll('&amp;', '&'), adminUrl);
      const again = await b.get(adminUrl, { headers: HTML, redirect: 'manual' });
      assert.equal(again.status, 302, 'the MFA route asks for a sign-in again');
      assert.match(again.location!, /\/\.drawbridge\/sign_in\?/);
      assert.equal(sessionCookie(b, s.publicUrl), aliceCookie);
      assert.equal(await whoAmI(b), aliceSurvives ? 'alice' : undefined);
      assert.equal(received(s.app, 'm=back').length, 0);
    });

    test('attacker: a GET, a forged form, the stolen code in another browser: never a switch; a stolen code is spent, unused', { timeout: 60_000 }, async () => {
      const { b, aliceCookie, form } = await aliceStepsUpAsCarol('m=attack');
      const code = form.fields.code!;
      const before = await whoAmI(b);

      // A link or an image: GET is no way to choose.
      const get = await b.get(`${s.publicUrl}/.drawbridge/switch_user?code=${code}`, { headers: HTML, redirect: 'manual' });
      assert.equal(get.status, 404);
      // A cross-site form auto-submitted in alice's browser does not know the code.
      for (const fields of [{}, { code: 'A'.repeat(43) }, { code: `${code}x` }] as Record<string, string>[]) {
        const forged = await b.post(form.action, { form: fields, headers: HTML, redirect: 'manual' });
        assert.equal(forged.status, 400, JSON.stringify(fields));
      }
      // The code, stolen, from eve's browser (with eve's own session): refused, and spent.
      const eve = s.browser();
      await s.signIn(eve, `${s.publicUrl}/.drawbridge/me`, 'eve');
      const stolen = await eve.post(form.action, { form: { code }, headers: HTML, redirect: 'manual' });
      assert.equal(stolen.status, 403);
      assert.equal(await whoAmI(eve), 'eve', 'eve is not carol');
      assert.ok(s.logs.filter((l) => l.event === 'step-up' && l.result === 'user-switch-refused').length >= 5, 'each refusal is logged');

      const mine = await b.post(form.action, { form: form.fields, headers: HTML, redirect: 'manual' });
      assert.equal(mine.status, 400, 'fail closed: the code was spent by the stolen attempt');
      assert.equal(sessionCookie(b, s.publicUrl), aliceCookie, "alice's cookie untouched");
      assert.equal(await whoAmI(b), before, 'nobody was switched');
      assert.equal(received(s.app, 'm=attack').length, 0);
    });
  });
}

suite('an IdP that ends the first user’s session when another signs in (back-channel logout)', {}, false);
suite('an IdP that keeps the first user’s session', { client: { backchannelLogoutUri: undefined } }, true);
