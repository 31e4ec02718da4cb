// policy/claim-path.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimAt } from './claim-path.js';

test('claimAt: the exact key first, then a dot path through plain objects', () => {
  const claims = { 'https://example.com/groups': ['a'], realm_access: { roles: ['r'] }, 'x.y': 1, x: { y: 2 }, list: [{ a: 1 }] };
  assert.deepEqual(claimAt(claims, 'https://example.com/groups'), ['a']);
  assert.deepEqual(claimAt(claims, 'realm_access.roles'), ['r']);
  assert.equal(claimAt(claims, 'x.y'), 1, 'exact key wins');
  assert.equal(claimAt(claims, 'realm_access.missing'), undefined);
  assert.equal(claimAt(claims, 'list.0.a'), undefined, 'no array indexes');
  assert.equal(claimAt(claims, 'realm_access.roles.length'), undefined);
  assert.equal(claimAt(claims, 'x.'), undefined);
  assert.equal(claimAt(claims, '.x'), undefined);
  assert.equal(claimAt({ a: {} }, 'a.__proto__'), undefined, 'never an inherited property');
  assert.equal(claimAt({}, 'toString'), undefined);
  assert.equal(claimAt(JSON.parse('{"a":{"__proto__":{"b":1}}}') as Record<string, unknown>, 'a.__proto__.b'), 1, 'an own __proto__ key from JSON is a claim like any other');
});
