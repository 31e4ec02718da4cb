// proxy/test/expect-continue.test.ts — `Expect: 100-continue`: the 100 is sent only to requests Drawbridge
// lets through, so a refused client is answered before it uploads its body.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { head, sendRaw } from '../../test-support/raw.js';
import { startStack, type Stack } from '../../test-support/stack.js';

let s: Stack;
before(async () => {
  s = await startStack();
}, { timeout: 60_000 });
after(() => s.close());

test('no session: 401 at once, no 100 Continue, the upstream never contacted', { timeout: 30_000 }, async () => {
  s.app.requests.length = 0;
  const x = await sendRaw(s.port, head('POST /upload HTTP/1.1', `Host: app.localhost:${s.port}`, 'Content-Length: 5', 'Expect: 100-continue', 'Connection: close'), { timeoutMs: 5000 });
  assert.equal(x.first.status, 401);
  assert.deepEqual(x.first.interim, []);
  assert.equal(s.app.requests.length, 0);
});

test('a public route: 100 Continue, then the body reaches the upstream', { timeout: 30_000 }, async () => {
  s.app.requests.length = 0;
  const x = await sendRaw(
    s.port,
    [head('POST /echo HTTP/1.1', `Host: public.localhost:${s.port}`, 'Content-Length: 5', 'Expect: 100-continue', 'Connection: close'), 'hello'],
    { timeoutMs: 5000, gapMs: 300 },
  );
  assert.equal(x.first.status, 200);
  assert.deepEqual(x.first.interim, [100]);
  assert.equal(JSON.parse(x.first.body).body, 'hello');
});
