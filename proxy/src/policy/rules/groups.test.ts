// policy/rules/groups.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVerdict, input, rule } from '../fixture.case.js';

test('groups: any one listed group passes', () => {
  const check = rule({ groups: ['sre', 'engineering'] });
  const v = check(input({}, { groups: ['sales', 'engineering'] }));
  expectVerdict(v, true, 'groups-ok');
  assert.equal(v.reasons[0]!.detail, 'engineering');
  expectVerdict(check(input({}, { groups: ['sales'] })), false, 'groups-unauthorized');
  expectVerdict(check(input({}, { groups: [] })), false, 'groups-unauthorized');
  expectVerdict(check(input({}, { groups: ['Engineering'] })), false, 'groups-unauthorized');
  expectVerdict(check(input({}, null)), false, 'user-unauthenticated');
});
