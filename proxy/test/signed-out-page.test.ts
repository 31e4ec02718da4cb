// proxy/test/signed-out-page.test.ts — the signed-out page tells the truth (issue 15 item 11d): someone who was never
// signed in is told so, not that their session ended; after a real sign-out (on a route host or on publicUrl, through
// the IdP's end-session round trip with no return target) the page says the session ended.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForms, type CookieJarClient } from '../../e2e/support/http-client.js';
import { sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const NOT_SIGNED_IN = /You’re not signed in/;
const SIGNED_OUT = /You’re signed out/;

describe('the signed-out page', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  /** Signs out through the confirm form on `host`, follows the IdP's end-session back; the final page. */
  async function signOutVia(b: CookieJarClient, origin: string) {
    const confirm = await b.get(`${origin}/.drawbridge/sign_out`);
    assert.equal(confirm.status, 200);
    const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
    assert.ok(form, `the confirm form (got ${confirm.body.slice(0, 200)})`);
    const posted = await b.post(form.action, { form: form.fields, redirect: 'manual' });
    assert.equal(posted.status, 302);
    return b.get(posted.location!);
  }

  test('never signed in: GET and POST on a route host and on publicUrl say "not signed in", never that a session ended', { timeout: 30_000 }, async () => {
    for (const url of [s.url('app.localhost', '/.drawbridge/sign_out'), `${s.publicUrl}/.drawbridge/sign_out`]) {
      const page = await s.browser().get(url);
      assert.equal(page.status, 200);
      assert.match(page.body, NOT_SIGNED_IN, url);
      assert.doesNotMatch(page.body, /session has ended|signed out/i, url);
      const posted = await s.browser().post(url, { form: { csrf: 'x' } });
      assert.equal(posted.status, 200);
      assert.match(posted.body, NOT_SIGNED_IN, `POST ${url}`);
    }
  });

  test('signed out on a route host, back from the IdP on publicUrl with no return target: "signed out"', { timeout: 30_000 }, async () => {
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    const out = await signOutVia(b, new URL(s.url('app.localhost')).origin);
    assert.equal(new URL(out.url).origin, s.publicUrl, 'back on publicUrl');
    assert.equal(new URL(out.url).searchParams.get('state'), null, 'no return target rode along');
    assert.match(out.body, SIGNED_OUT);
    assert.match(out.body, /Your session has ended/);
  });

  test('signed out on publicUrl itself: "signed out" (the marker cookie), and still so when reloaded', { timeout: 30_000 }, async () => {
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    const out = await signOutVia(b, s.publicUrl);
    assert.equal(`${new URL(out.url).origin}${new URL(out.url).pathname}`, `${s.publicUrl}/.drawbridge/sign_out`);
    assert.match(out.body, SIGNED_OUT);
    assert.match((await b.get(out.url)).body, SIGNED_OUT, 'reloaded');
  });

  test('a reload of the signed-out page after a sign-out on a route host still says "signed out"', { timeout: 30_000 }, async () => {
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    const out = await signOutVia(b, new URL(s.url('app.localhost')).origin);
    assert.match(out.body, SIGNED_OUT);
    assert.equal(sessionCookie(b, s.publicUrl), undefined, "the ended session's cookie is cleared");
    assert.match((await b.get(out.url)).body, SIGNED_OUT, 'reloaded');
  });
});
