// policy/combinators.test.ts — and, or, not, and how step-up needs combine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MONDAY_1030_UTC, codes, expectVerdict, input, rule } from './fixture.case.js';
import { leastStepUp, mergeStepUp } from './combinators.js';

const stale = { amr: ['pwd'], authTime: MONDAY_1030_UTC / 1000 - 3600 };

test('and: passes when every rule passes, with every reason', () => {
  const check = rule({ and: [{ groups: ['engineering'] }, { ip: ['10.0.0.0/8'] }] });
  const v = check(input());
  expectVerdict(v, true, 'and-ok');
  assert.deepEqual(codes(v), ['and-ok', 'groups-ok', 'ip-ok']);
  assert.deepEqual(codes(check(input({ ip: '192.0.2.1' }))), ['and-unauthorized', 'ip-outside']);
});

test('and: asks for a step-up only when every failing rule is step-up-fixable, with merged needs', () => {
  const check = rule({ and: [{ groups: ['wiki-admins'] }, { mfa: true }, { authAge: '15m' }] });
  const admin = check(input({}, { ...stale, groups: ['wiki-admins'] }));
  expectVerdict(admin, false, 'and-unauthorized');
  assert.deepEqual(codes(admin), ['and-unauthorized', 'mfa-missing', 'auth-too-old']);
  assert.deepEqual(admin.stepUp, { mfa: true, maxAge: 900 });
  const other = check(input({}, { ...stale, groups: ['sales'] }));
  assert.deepEqual(codes(other), ['and-unauthorized', 'groups-unauthorized']);
  assert.equal(other.stepUp, undefined);
  // The unfixable failure decides even when it comes after a fixable one.
  const late = rule({ and: [{ mfa: true }, { groups: ['wiki-admins'] }] })(input({}, stale));
  assert.equal(late.stepUp, undefined);
});

test('and: acr needs intersect; none in common means no step-up can help', () => {
  const both = rule({ and: [{ acr: ['gold', 'silver'] }, { acr: ['silver', 'bronze'] }, { authAge: '1h' }, { authAge: '10m' }] });
  assert.deepEqual(both(input({}, stale)).stepUp, { acr: ['silver'], maxAge: 600 });
  const disjoint = rule({ and: [{ acr: ['gold'] }, { acr: ['bronze'] }] });
  const v = disjoint(input({}, stale));
  assert.equal(v.ok, false);
  assert.equal(v.stepUp, undefined);
});

test('or: passes when any rule passes; a failure carries the least step-up of its rules', () => {
  const check = rule({ or: [{ groups: ['sre'] }, { user: ['alice'] }] });
  assert.deepEqual(codes(check(input())), ['or-ok', 'user-ok']);
  assert.deepEqual(codes(check(input({}, { user: 'bob' }))), ['or-unauthorized', 'groups-unauthorized', 'user-unauthorized']);
  const fixable = rule({ or: [{ groups: ['sre'] }, { and: [{ mfa: true }, { acr: ['gold'] }] }, { authAge: '5m' }] });
  const v = fixable(input({}, stale));
  expectVerdict(v, false, 'or-unauthorized');
  assert.deepEqual(v.stepUp, { maxAge: 300 });
  assert.equal(rule({ or: [{ groups: ['sre'] }, { user: ['bob'] }] })(input()).stepUp, undefined);
});

test('not: inverts, never asks for a step-up, and fails closed without a user', () => {
  const check = rule({ not: { ip: ['10.0.0.0/8'] } });
  assert.deepEqual(codes(check(input({ ip: '192.0.2.1' }))), ['not-matched', 'ip-outside']);
  assert.deepEqual(codes(check(input())), ['not-unmatched', 'ip-ok']);
  const noMfa = rule({ not: { mfa: true } })(input({}, stale));
  expectVerdict(noMfa, true, 'not-matched');
  const withMfa = rule({ not: { not: { mfa: true } } })(input({}, stale));
  expectVerdict(withMfa, false, 'not-unmatched');
  assert.equal(withMfa.stepUp, undefined);
  const unknown = rule({ not: { groups: ['contractors'] } })(input({}, null));
  expectVerdict(unknown, false, 'user-unauthenticated');
  expectVerdict(rule({ not: { ip: ['10.0.0.0/8'] } })(input({ ip: '192.0.2.1' }, null)), true, 'not-matched');
});

test('three-valued logic for an unknown client address: not keeps it undecided; and/or decide when they can', () => {
  const unknown = input({ ip: undefined });
  const not = rule({ not: { ip: ['10.0.0.0/8'] } })(unknown);
  expectVerdict(not, false, 'not-undecided');
  assert.equal(not.unknown, true);
  assert.deepEqual(codes(not), ['not-undecided', 'ip-unknown']);
  assert.equal(rule({ not: { not: { ip: ['10.0.0.0/8'] } } })(unknown).unknown, true);
  // and: a plain failure decides (false); else undecided.
  const andFalse = rule({ and: [{ ip: ['10.0.0.0/8'] }, { groups: ['sales'] }] })(unknown);
  assert.deepEqual([andFalse.ok, andFalse.unknown], [false, undefined]);
  const andFalseFirst = rule({ and: [{ groups: ['sales'] }, { ip: ['10.0.0.0/8'] }] })(unknown);
  assert.deepEqual([andFalseFirst.ok, andFalseFirst.unknown], [false, undefined]);
  const andUnknown = rule({ and: [{ ip: ['10.0.0.0/8'] }, { groups: ['engineering'] }] })(unknown);
  assert.deepEqual([andUnknown.ok, andUnknown.unknown], [false, true]);
  // and with a step-up-fixable failure: false now, and a step-up would not make the address known.
  const andMfa = rule({ and: [{ ip: ['10.0.0.0/8'] }, { mfa: true }] })(input({ ip: undefined }, stale));
  assert.deepEqual([andMfa.ok, andMfa.unknown, andMfa.stepUp], [false, undefined, undefined]);
  // or: a pass decides (true); else undecided, and a step-up that makes another alternative pass is offered.
  expectVerdict(rule({ or: [{ ip: ['10.0.0.0/8'] }, { groups: ['engineering'] }] })(unknown), true, 'or-ok');
  const orUnknown = rule({ or: [{ ip: ['10.0.0.0/8'] }, { groups: ['sales'] }] })(unknown);
  assert.deepEqual([orUnknown.ok, orUnknown.unknown], [false, true]);
  const orMfa = rule({ or: [{ ip: ['10.0.0.0/8'] }, { mfa: true }] })(input({ ip: undefined }, stale));
  assert.deepEqual([orMfa.ok, orMfa.unknown, orMfa.stepUp], [false, true, { mfa: true }]);
  // not of an `and` that is false whatever the address holds.
  expectVerdict(rule({ not: { and: [{ ip: ['10.0.0.0/8'] }, { groups: ['sales'] }] } })(unknown), true, 'not-matched');
});

test('mergeStepUp and leastStepUp', () => {
  assert.deepEqual(mergeStepUp({ mfa: true }, { maxAge: 60 }), { mfa: true, maxAge: 60 });
  assert.deepEqual(mergeStepUp({ acr: ['a'] }, { mfa: true }), { mfa: true, acr: ['a'] });
  assert.equal(mergeStepUp({ acr: ['a'] }, { acr: ['b'] }), undefined);
  assert.deepEqual(leastStepUp({ mfa: true, maxAge: 60 }, { maxAge: 60 }), { maxAge: 60 });
  assert.deepEqual(leastStepUp({ maxAge: 60 }, { maxAge: 600 }), { maxAge: 600 });
  const first = { mfa: true };
  assert.equal(leastStepUp(first, { acr: ['x'] }), first);
  assert.equal(leastStepUp(undefined, first), first);
  assert.equal(leastStepUp(undefined, undefined), undefined);
});

test('not: the negation of a verdict its rule built once is made once (frozen, the same object each time)', () => {
  const check = rule({ not: { ip: ['10.0.0.0/8'] } });
  // 10.x passes ip with its frozen `ip-ok` verdict: not fails, with one shared verdict.
  const first = check(input());
  const second = check(input());
  assert.equal(first, second);
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.reasons));
  assert.deepEqual(codes(first), ['not-unmatched', 'ip-ok']);
  assert.equal(first.ok, false);
  // A verdict made per request (ip-outside names the address) is negated afresh, with its own detail.
  const outside = check(input({ ip: '192.0.2.1' }));
  assert.deepEqual(outside.reasons.map((r) => r.detail), [undefined, '192.0.2.1']);
  assert.notEqual(check(input({ ip: '192.0.2.2' })), outside);
  assert.equal(check(input({ ip: '192.0.2.2' })).reasons[1]!.detail, '192.0.2.2');
});
