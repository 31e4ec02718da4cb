import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './helpers/stack.js';

test('smoke', { timeout: 60000 }, async () => {
  const s = await startStack();
  try {
    const b = s.browser();
    const r = await s.signIn(b, s.url('app.localhost', '/deep/link?x=1&y=2'), 'alice');
    console.log(r.response.status, r.response.url, r.response.body.slice(0, 3000));
    console.log(s.logs.slice(-5));
  } finally { await s.close(); }
});
