// signin/step-up.test.ts — a step-up need and a first sign-in's need on the sign-in URL, and back: each is read
// only under its own flag, so a first sign-in is never taken for a step-up (which would skip session reuse and be
// verified at the callback) nor a step-up for a first sign-in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MFA_METHODS } from '../policy/rules/mfa.js';
import { acrValuesFor, parseSignInNeed, parseStepUp, signInNeedQuery, stepUpQuery, unmetStepUp } from './step-up.js';

const q = (extra: string) => new URLSearchParams(`rd=%2F${extra}`);

test('a first sign-in need round-trips under need=1, and is not a step-up', () => {
  const need = { mfa: true, acr: ['gold', 'silver'], maxAge: 900 };
  const query = signInNeedQuery(need);
  assert.equal(query, '&need=1&mfa=1&acr=gold+silver&max_age=900');
  assert.deepEqual(parseSignInNeed(q(query)), need);
  assert.equal(parseStepUp(q(query)), undefined);
  assert.deepEqual(parseSignInNeed(q(signInNeedQuery({ maxAge: 0 }))), { maxAge: 0 });
});

test('a step-up round-trips under step_up=1, and is not a first sign-in need', () => {
  const query = stepUpQuery({ mfa: true });
  assert.equal(query, '&step_up=1&mfa=1');
  assert.deepEqual(parseStepUp(q(query)), { mfa: true });
  assert.equal(parseSignInNeed(q(query)), undefined);
});

test('a need that asks for nothing, or is malformed, is no need', () => {
  assert.equal(parseSignInNeed(q('&need=1')), undefined);
  assert.equal(parseSignInNeed(q('&need=1&mfa=yes&max_age=-5&acr=%00')), undefined);
  assert.equal(parseSignInNeed(q('&mfa=1')), undefined, 'without the flag');
  assert.deepEqual(parseSignInNeed(q('&need=1&max_age=1.5&mfa=1')), { mfa: true });
});

test('acr_values for a need: the route’s acr list first, else the configured MFA values', () => {
  assert.deepEqual(acrValuesFor({ mfa: true }, ['mfa']), ['mfa']);
  assert.deepEqual(acrValuesFor({ mfa: true, acr: ['gold'] }, ['mfa']), ['gold']);
  assert.equal(acrValuesFor({ mfa: true }, []), undefined);
  assert.equal(acrValuesFor({ maxAge: 60 }, ['mfa']), undefined);
});

test('unmetStepUp: an unknown auth_time names the reason; MFA is judged by the configured amr and acr', () => {
  const who = { sub: 's', user: 'u', groups: [], amr: ['pwd', 'webauthn'], acr: 'gold', claims: {} };
  const now = 1_750_000_000;
  assert.deepEqual(unmetStepUp({ maxAge: 900 }, who, now, DEFAULT_MFA_METHODS), ['a fresh sign-in whose time your identity provider reports (it sent no usable auth_time)']);
  assert.deepEqual(unmetStepUp({ maxAge: 900 }, { ...who, authTime: now - 901 }, now, DEFAULT_MFA_METHODS), ['a fresh sign-in']);
  assert.deepEqual(unmetStepUp({ maxAge: 900 }, { ...who, authTime: now - 900 }, now, DEFAULT_MFA_METHODS), []);
  assert.deepEqual(unmetStepUp({ mfa: true }, who, now, DEFAULT_MFA_METHODS), ['a multi-factor sign-in']);
  assert.deepEqual(unmetStepUp({ mfa: true }, who, now, { amr: ['webauthn'], acr: [] }), []);
  assert.deepEqual(unmetStepUp({ mfa: true }, { ...who, amr: [] }, now, { amr: [], acr: ['gold'] }), []);
});
