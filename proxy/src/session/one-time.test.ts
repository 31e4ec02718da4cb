// session/one-time.test.ts — the typed one-time records: distinct prefixes, the key format the store already holds
// (a rolling upgrade keeps redeeming codes minted before it), taken once, gone after their lifetime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MemoryStore } from './memory-store.js';
import { HANDOFF, LOGIN_ATTEMPT, LOGOUT_JTI, ONE_TIME_KINDS, oneTimeRecords, REPLACED_SESSION } from './one-time.js';

const sha = (s: string) => createHash('sha256').update(s).digest('base64url');

test('one-time kinds: each prefix is its own, none a prefix of another', () => {
  const prefixes = ONE_TIME_KINDS.map((k) => k.prefix);
  for (const a of prefixes) for (const b of prefixes) if (a !== b) assert.ok(!a.startsWith(b), `${a} starts with ${b}`);
  assert.equal(new Set(prefixes).size, prefixes.length);
});

test('one-time keys: secrets (codes, session ids) are stored hashed, in the format of earlier versions', () => {
  const r = oneTimeRecords(new MemoryStore({ maxSessions: 10 }));
  assert.equal(r.loginAttempts.key('st4te'), 'login:st4te');
  assert.equal(r.handoffs.key('c0de'), `handoff:${sha('c0de')}`);
  assert.equal(r.replacedSessions.key('sid'), `replaced:${sha('sid')}`);
  assert.equal(r.logoutJtis.key('iss\0jti'), `jti:${sha('iss\0jti')}`);
  assert.deepEqual([LOGIN_ATTEMPT.ttlMs, HANDOFF.ttlMs, REPLACED_SESSION.ttlMs, LOGOUT_JTI.ttlMs], [600_000, 60_000, 60_000, 600_000]);
});

test('one-time records: written once, taken once, decoded to their type, gone after their lifetime', async () => {
  let now = 1_000_000;
  const r = oneTimeRecords(new MemoryStore({ maxSessions: 10, now: () => now }));
  const record = { sid: 's', origin: 'https://app.example.com', cookieId: 'c', binding: 'b' };
  assert.equal(await r.handoffs.put('code', record), true);
  assert.equal(await r.handoffs.put('code', record), false);
  assert.deepEqual(await r.handoffs.take('code'), record);
  assert.equal(await r.handoffs.take('code'), undefined);
  assert.equal(await r.logoutJtis.put('j', true), true);
  assert.equal(await r.logoutJtis.take('j'), true);
  assert.equal(await r.replacedSessions.put('old', 'new'), true);
  now += REPLACED_SESSION.ttlMs + 1;
  assert.equal(await r.replacedSessions.take('old'), undefined);
});
