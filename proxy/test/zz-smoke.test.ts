// proxy/test/zz-smoke.test.ts — the shortest end-to-end proof: alice signs in and the app sees her.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './helpers/stack.js';

test('smoke: alice signs in through the dev IdP and the sample app verifies her assertion', { timeout: 60000 }, async () => {
  const s = await startStack();
  try {
    const r = await s.signIn(s.browser(), s.url('app.localhost', '/deep/link?x=1&y=2'), 'alice');
    assert.equal(r.response.status, 200);
    assert.equal(r.response.url, s.url('app.localhost', '/deep/link?x=1&y=2'));
    assert.match(r.response.body, /assertion verified/);
  } finally {
    await s.close();
  }
});
