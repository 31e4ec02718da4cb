// pages/return-state.test.ts — the sign-out's return target sealed into the end-session `state` and read back:
// only what was sealed with this key comes back; anything else, or anything too long, is nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RETURN_STATE_TARGET, openReturnState, sealReturnState } from './return-state.js';

const key = Buffer.alloc(32, 1);
const other = Buffer.alloc(32, 2);

test('a sealed target opens with the same key, to exactly that target', () => {
  for (const target of ['https://wiki.example.com/', 'https://wiki.example.com/a/b?c=d%20e&f=g#h', 'http://app.localhost:8080/é']) {
    const state = sealReturnState(target, key)!;
    assert.match(state, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'URL-safe, needs no escaping');
    assert.equal(openReturnState(state, key), target);
  }
});

test('a state that was not sealed with this key, or was altered, opens to nothing', () => {
  const state = sealReturnState('https://wiki.example.com/x', key)!;
  const [body, mac] = state.split('.') as [string, string];
  assert.equal(openReturnState(state, other), undefined, 'another key');
  assert.equal(openReturnState(`${body}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`, key), undefined, 'MAC changed');
  assert.equal(openReturnState(`${Buffer.from('https://evil.example/').toString('base64url')}.${mac}`, key), undefined, 'target changed');
  for (const junk of [undefined, null, '', '.', body, `${body}.`, `.${mac}`, `${body}.${mac}.x`, `${body}..${mac}`, 'x'.repeat(20_000)]) {
    assert.equal(openReturnState(junk, key), undefined, String(junk).slice(0, 40));
  }
});

test('targets too long to carry are not sealed', () => {
  const base = 'https://wiki.example.com/';
  assert.ok(sealReturnState(base + 'a'.repeat(MAX_RETURN_STATE_TARGET - base.length), key));
  assert.equal(sealReturnState(base + 'a'.repeat(MAX_RETURN_STATE_TARGET), key), undefined);
  assert.equal(sealReturnState('', key), undefined);
});
