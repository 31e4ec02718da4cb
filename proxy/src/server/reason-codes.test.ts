// server/reason-codes.test.ts — the request line's `reasons` (pipeline.ts reasonCodes): each reason's code, a grant
// with its id; a frozen (shared) decision list mapped once, any other list mapped anew.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Reason } from '../policy/rule.js';
import { reasonCodes } from './pipeline.js';

test('reasonCodes: codes in order, a grant with its id; the same array for the same frozen list, never for another', () => {
  const shared = Object.freeze([Object.freeze({ code: 'allow-matched' }), Object.freeze({ code: 'grant', detail: 'g1' })]) as readonly Reason[];
  const first = reasonCodes(shared);
  assert.deepEqual(first, ['allow-matched', 'grant:g1']);
  assert.equal(reasonCodes(shared), first, 'mapped once');
  const other = Object.freeze([Object.freeze({ code: 'groups-ok' })]) as readonly Reason[];
  assert.deepEqual(reasonCodes(other), ['groups-ok']);
  const built: Reason[] = [{ code: 'allow-matched' }];
  const a = reasonCodes(built);
  assert.deepEqual(a, ['allow-matched']);
  built.push({ code: 'grant', detail: 'g2' });
  assert.deepEqual(reasonCodes(built), ['allow-matched', 'grant:g2'], 'a list that may change is mapped every time');
  assert.deepEqual(reasonCodes(shared), ['allow-matched', 'grant:g1']);
});
