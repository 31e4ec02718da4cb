// policy/rules/acr.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule } from '../fixture.case.js';

test('acr: a listed acr passes', () => {
  const check = rule({ acr: ['urn:loa:high', 'urn:loa:substantial'] });
  expectVerdict(check(input({}, { acr: 'urn:loa:high' })), true, 'acr-ok');
});

test('acr: another or no acr asks for a step-up with the listed values', () => {
  const check = rule({ acr: ['urn:loa:high'] });
  const v = check(input({}, { acr: 'urn:loa:low' }));
  expectVerdict(v, false, 'acr-unsatisfied');
  assert.deepEqual(v.stepUp, { acr: ['urn:loa:high'] });
  expectVerdict(check(input({}, { acr: undefined })), false, 'acr-unsatisfied');
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});
