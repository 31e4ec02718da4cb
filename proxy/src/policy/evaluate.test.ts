// policy/evaluate.test.ts — decisions (public, sign-in, deny over allow, default deny, step-up),
// named policies, reference and cycle checks, traces, and a property: tracing never changes a decision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MONDAY_1030_UTC, identity, input } from './fixture.case.js';
import { checkPolicies, compilePolicies, decide, describeRule, type Decision } from './evaluate.js';
import { RFC8176_MFA_AMR } from './rules/mfa.js';
import type { Identity, PolicyInput } from './input.js';
import { policySchema, type PolicyConfig, type RuleConfig } from './schema.js';

function codesOf(d: Decision): string[] {
  return d.reasons.map((r) => r.code);
}

function route(policy: PolicyConfig, named: Record<string, PolicyConfig> = {}) {
  return { policy: compilePolicies(named).compile(policySchema.parse(policy)) };
}

const stale: Partial<Identity> = { amr: ['pwd'], authTime: MONDAY_1030_UTC / 1000 - 3600 };
const wikiAdmin = route({ allow: [{ and: [{ groups: ['wiki-admins'] }, { mfa: true }, { authAge: '15m' }] }] });

test('a public route allows without sign-in or policy', () => {
  const d = decide({ public: true, policy: route({ deny: [{ authenticated: true }] }).policy }, input({}, null));
  assert.equal(d.outcome, 'allow');
  assert.deepEqual(codesOf(d), ['public-route']);
});

test('no signed-in user: sign-in', () => {
  const d = decide(route({ allow: [{ ip: ['0.0.0.0/0'] }] }), input({}, null));
  assert.equal(d.outcome, 'sign-in');
  assert.deepEqual(codesOf(d), ['user-unauthenticated']);
});

test('a matching allow rule allows, naming the rule', () => {
  const d = decide(route({ allow: [{ groups: ['sre'] }, { groups: ['engineering'] }] }), input());
  assert.equal(d.outcome, 'allow');
  assert.deepEqual(d.reasons, [{ code: 'allow-matched', detail: 'allow[1]' }, { code: 'groups-ok', detail: 'engineering' }]);
  assert.equal(d.trace, undefined);
});

test('deny overrides allow', () => {
  const target = route({ allow: [{ groups: ['engineering'] }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] });
  assert.equal(decide(target, input()).outcome, 'allow');
  const d = decide(target, input({ ip: '203.0.113.9' }));
  assert.equal(d.outcome, 'deny');
  assert.deepEqual(codesOf(d), ['deny-matched', 'not-matched', 'ip-outside']);
});

test('default deny: no allow rule matches, the allow list is empty, or there is no policy', () => {
  const d = decide(route({ allow: [{ groups: ['sre'] }, { email: ['bob@example.com'] }] }), input());
  assert.equal(d.outcome, 'deny');
  assert.deepEqual(codesOf(d), ['no-allow-matched', 'groups-unauthorized', 'email-unauthorized']);
  assert.deepEqual(codesOf(decide(route({ allow: [] }), input())), ['no-allow-matched']);
  assert.deepEqual(codesOf(decide(route({ deny: [{ groups: ['sre'] }] }), input())), ['no-allow-matched']);
  assert.equal(decide({}, input()).outcome, 'deny');
});

test('step-up when only mfa / acr / authAge fail; deny when anything else fails too', () => {
  const admin = decide(wikiAdmin, input({}, { ...stale, groups: ['wiki-admins'] }));
  assert.equal(admin.outcome, 'step-up');
  assert.deepEqual(admin.stepUp, { mfa: true, maxAge: 900 });
  assert.deepEqual(codesOf(admin), ['step-up-required', 'and-unauthorized', 'mfa-missing', 'auth-too-old']);
  assert.equal(admin.reasons[0]!.detail, 'allow[0]');

  const fresh = decide(wikiAdmin, input({}, { groups: ['wiki-admins'], amr: ['pwd', 'otp'] }));
  assert.equal(fresh.outcome, 'allow');

  const nonAdmin = decide(wikiAdmin, input({}, { ...stale, groups: ['engineering'] }));
  assert.equal(nonAdmin.outcome, 'deny');
  assert.equal(nonAdmin.stepUp, undefined);
  assert.deepEqual(codesOf(nonAdmin), ['no-allow-matched', 'and-unauthorized', 'groups-unauthorized']);

  const bare = decide(route({ allow: [{ acr: ['gold'] }] }), input());
  assert.equal(bare.outcome, 'step-up');
  assert.deepEqual(bare.stepUp, { acr: ['gold'] });
});

test('step-up picks the allow rule needing least; a matching deny rule still denies', () => {
  const target = route({
    allow: [
      { and: [{ groups: ['engineering'] }, { mfa: true }, { acr: ['gold'] }] },
      { groups: ['sales'] },
      { and: [{ groups: ['engineering'] }, { authAge: '5m' }] },
    ],
  });
  const d = decide(target, input({}, stale));
  assert.equal(d.outcome, 'step-up');
  assert.deepEqual(d.stepUp, { maxAge: 300 });
  assert.equal(d.reasons[0]!.detail, 'allow[2]');

  const denied = route({ allow: [{ mfa: true }], deny: [{ not: { mfa: true } }] });
  assert.equal(decide(denied, input({}, stale)).outcome, 'deny');
});

test('not at the top of a list', () => {
  const target = route({ allow: [{ not: { groups: ['contractors'] } }] });
  assert.equal(decide(target, input()).outcome, 'allow');
  const d = decide(target, input({}, { groups: ['contractors'] }));
  assert.equal(d.outcome, 'deny');
  assert.deepEqual(codesOf(d), ['no-allow-matched', 'not-unmatched', 'groups-ok']);
});

test('named policies: compiled once, usable as a route policy and through policy: rules', () => {
  const named: Record<string, PolicyConfig> = {
    staff: { allow: [{ domain: ['example.com'] }] },
    'office-net': { allow: [{ ip: ['10.0.0.0/8', '192.168.0.0/16'] }] },
    'staff-in-office': { allow: [{ and: [{ policy: 'staff' }, { policy: 'office-net' }] }] },
  };
  const policies = compilePolicies(named);
  assert.deepEqual([...policies.named.keys()], ['staff', 'office-net', 'staff-in-office']);

  const byName = { policy: policies.named.get('staff-in-office')! };
  const d = decide(byName, input());
  assert.equal(d.outcome, 'allow');
  assert.deepEqual(codesOf(d), ['allow-matched', 'and-ok', 'policy-ok', 'allow-matched', 'domain-ok', 'policy-ok', 'allow-matched', 'ip-ok']);
  assert.equal(d.reasons[3]!.detail, 'policies.staff.allow[0]');
  assert.equal(decide(byName, input({ ip: '203.0.113.1' })).outcome, 'deny');

  const inline = { policy: policies.compile({ allow: [{ groups: ['engineering'] }], deny: [{ not: { policy: 'office-net' } }] }) };
  assert.equal(decide(inline, input()).outcome, 'allow');
  const away = decide(inline, input({ ip: '203.0.113.1' }));
  assert.equal(away.outcome, 'deny');
  assert.deepEqual(codesOf(away), ['deny-matched', 'not-matched', 'policy-unauthorized', 'no-allow-matched', 'ip-outside']);
});

test('structurally identical inline policies compile once and decide alike', () => {
  const policies = compilePolicies({ staff: { allow: [{ domain: ['example.com'] }] } });
  const shape = () => policySchema.parse({ allow: [{ groups: ['sre'] }, { claim: { dept: ['eng', 3], site: 'hq' } }], deny: [{ not: { policy: 'staff' } }] });
  const a = policies.compile(shape());
  assert.equal(policies.compile(shape()), a);
  // Anything that could change a decision or its reasons is a different policy.
  for (const other of [
    { allow: [{ groups: ['sre'] }, { claim: { site: 'hq', dept: ['eng', 3] } }], deny: [{ not: { policy: 'staff' } }] },
    { allow: [{ groups: ['sre'] }, { claim: { dept: ['eng', '3'], site: 'hq' } }], deny: [{ not: { policy: 'staff' } }] },
    { allow: [{ claim: { dept: ['eng', 3], site: 'hq' } }, { groups: ['sre'] }], deny: [{ not: { policy: 'staff' } }] },
    { allow: [{ groups: ['sre'] }, { claim: { dept: ['eng', 3], site: 'hq' } }] },
  ]) {
    assert.notEqual(policies.compile(policySchema.parse(other)), a, JSON.stringify(other));
  }
  // A named policy keeps its own place in its reasons, even with the same rules as an inline one.
  const inline = policies.compile({ allow: [{ domain: ['example.com'] }] });
  assert.notEqual(inline, policies.named.get('staff'));
  assert.equal(decide({ policy: inline }, input()).reasons[0]!.detail, 'allow[0]');
  assert.equal(decide({ policy: policies.named.get('staff') }, input()).reasons[0]!.detail, 'policies.staff.allow[0]');
  const d = decide({ policy: a }, input({}, { groups: ['sre'] }));
  assert.deepEqual(d, decide({ policy: policies.compile(shape()) }, input({}, { groups: ['sre'] })));
});

test('compilePolicies refuses what checkPolicies reports', () => {
  assert.throws(() => compilePolicies({ a: { allow: [{ policy: 'b' }] }, b: { allow: [{ policy: 'a' }] } }), /refers to itself/);
  assert.throws(() => compilePolicies({}).compile({ allow: [{ policy: 'nope' }] }), /unknown policy "nope"/);
  assert.throws(() => compilePolicies({}).compile({ allow: [{ groups: ['a'], mfa: true } as RuleConfig] }), /not a valid rule/);
});

test('checkPolicies: unknown named policies, with their paths and the known names', () => {
  const named: Record<string, PolicyConfig> = { staff: { allow: [{ policy: 'staf' }] }, admins: { allow: [{ groups: ['admins'] }] } };
  const routes = [
    { policy: 'staff' },
    {},
    { policy: 'nobody' },
    { policy: { allow: [{ policy: 'admins' }], deny: [{ not: { policy: 'blocked' } }, { or: [{ ip: ['10.0.0.0/8'] }, { and: [{ policy: 'gone' }] }] }] } },
  ];
  assert.deepEqual(checkPolicies(named, routes), [
    { path: ['policies', 'staff', 'allow', 0, 'policy'], message: 'unknown policy "staf" (known policies: staff, admins)' },
    { path: ['routes', 2, 'policy'], message: 'unknown policy "nobody" (known policies: staff, admins)' },
    { path: ['routes', 3, 'policy', 'deny', 0, 'not', 'policy'], message: 'unknown policy "blocked" (known policies: staff, admins)' },
    { path: ['routes', 3, 'policy', 'deny', 1, 'or', 1, 'and', 0, 'policy'], message: 'unknown policy "gone" (known policies: staff, admins)' },
  ]);
  assert.match(checkPolicies({}, [{ policy: 'x' }])[0]!.message, /no policies are defined/);
  assert.deepEqual(checkPolicies(named, [{ policy: { allow: [{ policy: 'constructor' }] } }]).length, 2);
});

test('checkPolicies: cycles among named policies, with the path of the reference that closes them', () => {
  const named: Record<string, PolicyConfig> = {
    a: { allow: [{ groups: ['x'] }, { policy: 'b' }] },
    b: { deny: [{ not: { policy: 'c' } }] },
    c: { allow: [{ and: [{ policy: 'a' }] }] },
    self: { allow: [{ or: [{ policy: 'self' }] }] },
    fine: { allow: [{ policy: 'a' }] },
  };
  assert.deepEqual(checkPolicies(named, []), [
    { path: ['policies', 'c', 'allow', 0, 'and', 0, 'policy'], message: 'named policies refer to each other in a cycle: a → b → c → a' },
    { path: ['policies', 'self', 'allow', 0, 'or', 0, 'policy'], message: 'named policies refer to each other in a cycle: self → self' },
  ]);
  assert.deepEqual(checkPolicies({ a: { allow: [{ policy: 'b' }] }, b: {} }, [{ policy: 'a' }]), []);
});

test('trace: every rule of both lists, in order, with its text, verdict and reasons', () => {
  const target = route({
    allow: [{ groups: ['sre'] }, { and: [{ groups: ['engineering'] }, { mfa: true }] }, { email: ['alice@example.com'] }],
    deny: [{ ip: ['192.0.2.0/24'] }],
  });
  const d = decide(target, input(), { trace: true });
  assert.equal(d.outcome, 'allow');
  assert.deepEqual(codesOf(d), ['allow-matched', 'email-ok']);
  assert.deepEqual(
    d.trace!.map((t) => [t.list, t.index, t.rule, t.ok, t.reasons.map((r) => r.code)]),
    [
      ['deny', 0, 'ip: [192.0.2.0/24]', false, ['ip-outside']],
      ['allow', 0, 'groups: [sre]', false, ['groups-unauthorized']],
      ['allow', 1, 'and: [{ groups: [engineering] }, { mfa: true }]', false, ['and-unauthorized', 'mfa-missing']],
      ['allow', 2, 'email: [alice@example.com]', true, ['email-ok']],
    ],
  );
  assert.deepEqual(decide({ public: true }, input(), { trace: true }).trace, []);
  assert.deepEqual(decide(target, input({}, null), { trace: true }).trace, []);
});

test('describeRule writes short flow YAML, quoting what YAML would misread', () => {
  assert.equal(describeRule({ groups: ['engineering', 'sre'] }), 'groups: [engineering, sre]');
  assert.equal(describeRule({ not: { policy: 'office-net' } }), 'not: { policy: office-net }');
  assert.equal(describeRule({ time: { days: ['mon'], from: '08:00', tz: 'Europe/Paris' } }), 'time: { days: [mon], from: "08:00", tz: Europe/Paris }');
  assert.equal(describeRule({ claim: { level: 3, code: '3', on: true, flag: 'true' } }), 'claim: { level: 3, code: "3", "on": true, flag: "true" }');
  assert.equal(describeRule({ ip: ['10.0.0.0/8', '::1'] }), 'ip: [10.0.0.0/8, "::1"]');
  assert.equal(describeRule({ before: '2025-07-01T00:00:00Z' }), 'before: "2025-07-01T00:00:00Z"');
  assert.equal(describeRule({ authAge: '15m' }), 'authAge: 15m');
});

// A property: for any identity, request and policy, tracing evaluates more but decides the same.
const NAMED: Record<string, PolicyConfig> = {
  staff: { allow: [{ domain: ['example.com'] }], deny: [{ groups: ['suspended'] }] },
  net: { allow: [{ ip: ['10.0.0.0/8', 'fd00::/8'] }] },
  strong: { allow: [{ and: [{ policy: 'staff' }, { mfa: true }, { authAge: '10m' }] }, { acr: ['gold'] }] },
  inside: { allow: [{ authenticated: true }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] },
};

const sub = <T>(values: T[]) => fc.subarray(values, { minLength: 1 });
const leaf: fc.Arbitrary<RuleConfig> = fc.oneof(
  fc.constant({ authenticated: true as const }),
  sub(['alice', 'bob', 'carol']).map((user) => ({ user })),
  sub(['alice@example.com', 'BOB@example.org']).map((email) => ({ email })),
  sub(['example.com', 'example.org']).map((domain) => ({ domain })),
  sub(['engineering', 'sales', 'wiki-admins', 'suspended']).map((groups) => ({ groups })),
  fc.oneof(fc.constantFrom<string | number | boolean>('eng', 3, true), sub<string | number | boolean>(['eng', 'ops', 3])).map((v) => ({ claim: { dept: v } })),
  sub(['GET', 'POST', 'DELETE']).map((method) => ({ method })),
  sub(['/', '/admin', '/api/v1']).map((path) => ({ path })),
  sub(['10.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '::ffff:0:0/96']).map((ip) => ({ ip })),
  fc.record({ days: sub(['mon', 'tue', 'sat'] as const), from: fc.constantFrom('08:00', '22:00'), to: fc.constantFrom('18:00', '02:00') }).map((time) => ({ time })),
  fc.constantFrom('2025-06-01T00:00:00Z', '2025-06-03T00:00:00+02:00').map((before) => ({ before })),
  fc.constantFrom('2025-06-01T00:00:00Z', '2025-06-03T00:00:00Z').map((after) => ({ after })),
  fc.constant({ mfa: true as const }),
  sub(['gold', 'silver']).map((acr) => ({ acr })),
  fc.constantFrom('5m', '1h').map((authAge) => ({ authAge })),
  fc.constantFrom('staff', 'net', 'strong', 'inside').map((policy) => ({ policy })),
);
const { tree } = fc.letrec<{ tree: RuleConfig }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { minLength: 1, maxLength: 3 }).map((and) => ({ and })),
    fc.array(tie('tree'), { minLength: 1, maxLength: 3 }).map((or) => ({ or })),
    tie('tree').map((not) => ({ not })),
  ),
}));
const policyArb: fc.Arbitrary<PolicyConfig> = fc.record(
  { allow: fc.array(tree, { maxLength: 4 }), deny: fc.array(tree, { maxLength: 2 }) },
  { requiredKeys: [] },
);
const identityArb: fc.Arbitrary<Identity> = fc
  .record({
    user: fc.constantFrom('alice', 'bob', 'dave'),
    email: fc.option(fc.constantFrom('alice@example.com', 'bob@example.org', 'x@evil.com@example.com'), { nil: undefined }),
    emailVerified: fc.option(fc.boolean(), { nil: undefined }),
    groups: fc.subarray(['engineering', 'sales', 'wiki-admins', 'suspended']),
    amr: fc.subarray(['pwd', 'otp', 'hwk']),
    acr: fc.option(fc.constantFrom('gold', 'silver', 'bronze'), { nil: undefined }),
    authAgeSeconds: fc.option(fc.integer({ min: 0, max: 7200 }), { nil: undefined }),
    dept: fc.option(fc.oneof(fc.constantFrom<unknown>('eng', 'ops', 3, '3', true), fc.constant(['ops', 'sales'])), { nil: undefined }),
  })
  .map(({ authAgeSeconds, dept, ...rest }) =>
    identity({ ...rest, authTime: authAgeSeconds === undefined ? undefined : MONDAY_1030_UTC / 1000 - authAgeSeconds, claims: dept === undefined ? {} : { dept } }),
  );
const inputArb: fc.Arbitrary<PolicyInput> = fc.record({
  identity: fc.option(identityArb, { nil: undefined, freq: 8 }),
  method: fc.constantFrom('GET', 'POST', 'PUT'),
  path: fc.constantFrom('/', '/admin', '/administrator', '/api/v1/x', '/api'),
  ip: fc.constantFrom('10.1.2.3', '::ffff:192.168.1.1', 'fd00::5', '203.0.113.9', 'garbage'),
  now: fc.integer({ min: Date.UTC(2025, 4, 30), max: Date.UTC(2025, 5, 4) }),
});

test('property: decide gives the same decision with and without a trace', () => {
  const policies = compilePolicies(NAMED);
  fc.assert(
    fc.property(policyArb, inputArb, fc.boolean(), (raw, req, isPublic) => {
      const policy = policies.compile(policySchema.parse(raw));
      const target = { public: isPublic, policy };
      const fast = decide(target, req);
      const { trace, ...traced } = decide(target, req, { trace: true });
      assert.deepStrictEqual(traced, { ...fast });
      assert.ok(trace);
      if (isPublic || !req.identity) return;
      assert.equal(trace.length, (raw.allow?.length ?? 0) + (raw.deny?.length ?? 0));
      // A deny rule that cannot be decided (an unknown address) denies like one that matches.
      const denied = trace.some((t) => t.list === 'deny' && (t.ok || t.unknown));
      const allowed = trace.some((t) => t.list === 'allow' && t.ok);
      assert.equal(fast.outcome === 'deny' || fast.outcome === 'step-up' ? !allowed || denied : allowed && !denied, true);
      if (fast.outcome === 'step-up') assert.ok(fast.stepUp);
    }),
    { numRuns: 2000 },
  );
});

// SPEC §11: an unknown client address (a trusted proxy's unreadable X-Forwarded-For hop) is matched by no `ip` rule,
// in an allow list or a deny list, directly, under `not`, in `and`/`or` or through a named policy.
test('unknown address: an ip allow rule does not allow it, and no ip rule is shown as matching', () => {
  for (const ip of [undefined, 'unknown', '203.0.113.5:4711', '']) {
    const d = decide(route({ allow: [{ ip: ['10.0.0.0/8', '0.0.0.0/0', '::/0'] }] }), input({ ip }));
    assert.equal(d.outcome, 'deny', String(ip));
    assert.deepEqual(codesOf(d), ['no-allow-matched', 'ip-unknown']);
  }
});

test('unknown address: `deny: not: { ip }` still denies it, and `allow: not: { ip }` does not allow it', () => {
  const office = route({ allow: [{ authenticated: true }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] });
  const d = decide(office, input({ ip: undefined }));
  assert.equal(d.outcome, 'deny');
  assert.deepEqual(codesOf(d), ['deny-undecided', 'not-undecided', 'ip-unknown']);
  assert.equal(d.reasons[0]!.detail, 'deny[0]');
  assert.equal(decide(office, input({ ip: '10.1.2.3' })).outcome, 'allow', 'control: a known office address');
  assert.equal(decide(office, input({ ip: '192.0.2.1' })).outcome, 'deny', 'control: a known outside address');

  const notBlocked = route({ allow: [{ not: { ip: ['192.0.2.0/24'] } }] });
  assert.equal(decide(notBlocked, input({ ip: undefined })).outcome, 'deny');
  assert.deepEqual(codesOf(decide(notBlocked, input({ ip: undefined }))), ['no-allow-matched', 'not-undecided', 'ip-unknown']);
  assert.equal(decide(notBlocked, input({ ip: '203.0.113.9' })).outcome, 'allow', 'control');
  // Through a named policy, as docs/policy.md shows it.
  const named = route({ allow: [{ groups: ['engineering'] }], deny: [{ not: { policy: 'net' } }] }, { net: { allow: [{ ip: ['10.0.0.0/8'] }] } });
  assert.equal(decide(named, input({ ip: undefined })).outcome, 'deny');
  assert.deepEqual(codesOf(decide(named, input({ ip: undefined }))).slice(0, 3), ['deny-undecided', 'not-undecided', 'policy-unauthorized']);
  assert.equal(decide(named, input({ ip: '10.1.2.3' })).outcome, 'allow', 'control');
  const notNamed = route({ allow: [{ not: { policy: 'blocked' } }] }, { blocked: { allow: [{ ip: ['192.0.2.0/24'] }] } });
  assert.equal(decide(notNamed, input({ ip: undefined })).outcome, 'deny');
});

test('unknown address: and/or follow three-valued logic, so rules that do not need the address still decide', () => {
  // Another allow rule that holds lets the engineer in: only the ip rule is undecided.
  assert.equal(decide(route({ allow: [{ ip: ['10.0.0.0/8'] }, { groups: ['engineering'] }] }), input({ ip: undefined })).outcome, 'allow');
  assert.equal(decide(route({ allow: [{ or: [{ ip: ['10.0.0.0/8'] }, { groups: ['engineering'] }] }] }), input({ ip: undefined })).outcome, 'allow');
  // `and` with a plain failure is false whatever the address: its `not` holds.
  const notSalesOffice = route({ allow: [{ not: { and: [{ ip: ['10.0.0.0/8'] }, { groups: ['sales'] }] } }] });
  assert.equal(decide(notSalesOffice, input({ ip: undefined })).outcome, 'allow');
  assert.equal(decide(notSalesOffice, input({ ip: undefined }, { groups: ['sales'] })).outcome, 'deny', 'a salesperson: undecided');
  // A step-up is offered only when it alone would let the user in.
  const either = decide(route({ allow: [{ or: [{ ip: ['10.0.0.0/8'] }, { mfa: true }] }] }), input({ ip: undefined }, stale));
  assert.equal(either.outcome, 'step-up');
  assert.deepEqual(either.stepUp, { mfa: true });
  const both = decide(route({ allow: [{ and: [{ ip: ['10.0.0.0/8'] }, { mfa: true }] }] }), input({ ip: undefined }, stale));
  assert.equal(both.outcome, 'deny', 'MFA would not make the address known');
  // A deny rule that cannot be decided wins over an allow, and over a step-up.
  assert.equal(decide(route({ allow: [{ mfa: true }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] }), input({ ip: undefined }, stale)).outcome, 'deny');
  // A deny rule that matches outright is named rather than the undecided one before it.
  const d = decide(route({ allow: [{ authenticated: true }], deny: [{ not: { ip: ['10.0.0.0/8'] } }, { groups: ['engineering'] }] }), input({ ip: undefined }));
  assert.deepEqual(codesOf(d), ['deny-matched', 'groups-ok']);
});

test('unknown address: a trace marks the undecided rules', () => {
  const d = decide(route({ allow: [{ ip: ['10.0.0.0/8'] }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] }), input({ ip: undefined }), { trace: true });
  assert.deepEqual(
    d.trace!.map((t) => [t.list, t.ok, t.unknown ?? false]),
    [
      ['deny', false, true],
      ['allow', false, true],
    ],
  );
});

// What a route demands of every sign-in it lets in (signInNeed): asked for at the first sign-in of an anonymous
// request, so an MFA route is one trip to the IdP, not a password sign-in followed by a step-up.
test('signInNeed: a route that needs MFA, acr or a recent sign-in of everybody says so to an anonymous request', () => {
  const need = (policy: PolicyConfig, named: Record<string, PolicyConfig> = {}) => route(policy, named).policy.signInNeed;
  assert.deepEqual(need({ allow: [{ mfa: true }] }), { mfa: true });
  assert.deepEqual(need({ allow: [{ acr: ['gold'] }] }), { acr: ['gold'] });
  assert.deepEqual(need({ allow: [{ and: [{ groups: ['wiki-admins'] }, { mfa: true }, { authAge: '15m' }] }] }), { mfa: true, maxAge: 900 });
  // and: everything every part demands; acr values both accept, the shorter age.
  assert.deepEqual(need({ allow: [{ and: [{ acr: ['gold', 'silver'] }, { acr: ['silver', 'bronze'] }, { authAge: '1h' }, { authAge: '5m' }] }] }), { acr: ['silver'], maxAge: 300 });
  // No acr can satisfy both: the rule never passes; the impossible acr demand is left out, the rest stays.
  assert.deepEqual(need({ allow: [{ and: [{ acr: ['gold'] }, { acr: ['silver'] }, { mfa: true }] }] }), { mfa: true });
  // or / several allow rules: only what every alternative demands.
  assert.deepEqual(need({ allow: [{ and: [{ mfa: true }, { authAge: '5m' }] }, { and: [{ mfa: true }, { authAge: '1h' }, { groups: ['sre'] }] }] }), { mfa: true, maxAge: 3600 });
  assert.deepEqual(need({ allow: [{ or: [{ acr: ['gold'] }, { and: [{ acr: ['silver'] }, { mfa: true }] }] }] }), { acr: ['gold', 'silver'] });
  // Named policies count as their own allow rules.
  assert.deepEqual(need({ allow: [{ policy: 'strong' }] }, { strong: { allow: [{ and: [{ mfa: true }, { groups: ['x'] }] }] } }), { mfa: true });
});

test('signInNeed: nothing is asked up front when some way in needs no MFA, acr or recent sign-in', () => {
  const need = (policy: PolicyConfig, named: Record<string, PolicyConfig> = {}) => route(policy, named).policy.signInNeed;
  // `any` of an MFA rule and something else: an engineer gets in with a password; asking everybody for MFA is wrong.
  assert.equal(need({ allow: [{ and: [{ groups: ['wiki-admins'] }, { mfa: true }] }, { groups: ['engineering'] }] }), undefined);
  assert.equal(need({ allow: [{ or: [{ mfa: true }, { ip: ['10.0.0.0/8'] }] }] }), undefined);
  assert.equal(need({ allow: [{ mfa: true }, { acr: ['gold'] }] }), undefined, 'MFA or gold: neither is needed by both');
  assert.equal(need({ allow: [{ authAge: '5m' }, { groups: ['sre'] }] }), undefined);
  // `not` never demands anything, and deny rules only take access away.
  assert.equal(need({ allow: [{ not: { not: { mfa: true } } }] }), undefined);
  assert.equal(need({ allow: [{ authenticated: true }], deny: [{ not: { mfa: true } }] }), undefined);
  assert.equal(need({ allow: [{ policy: 'loose' }] }, { loose: { allow: [{ mfa: true }, { user: ['alice'] }] } }), undefined);
  assert.equal(need({ allow: [] }), undefined);
  assert.equal(need({ allow: [{ groups: ['engineering'] }] }), undefined);
});

test('signInNeed reaches the anonymous decision only: sign-in carries it, a signed-in user gets allow / step-up as before', () => {
  const anonymous = decide(wikiAdmin, input({}, null));
  assert.equal(anonymous.outcome, 'sign-in');
  assert.deepEqual(codesOf(anonymous), ['user-unauthenticated']);
  assert.deepEqual(anonymous.signInNeed, { mfa: true, maxAge: 900 });
  assert.equal(anonymous.stepUp, undefined, 'not a step-up: there is no session to step up from');
  assert.deepEqual(decide(wikiAdmin, input({}, null), { trace: true }).signInNeed, { mfa: true, maxAge: 900 });
  assert.ok(Object.isFrozen(anonymous) && Object.isFrozen(anonymous.signInNeed), 'shared by every anonymous request: read-only');
  const stepUp = decide(wikiAdmin, input({}, { ...stale, groups: ['wiki-admins'] }));
  assert.equal(stepUp.outcome, 'step-up');
  assert.equal(stepUp.signInNeed, undefined);
  assert.equal(decide(route({ allow: [{ groups: ['engineering'] }] }), input({}, null)).signInNeed, undefined);
  assert.equal(decide({}, input({}, null)).signInNeed, undefined, 'no policy: a plain sign-in');
  assert.equal(decide({ public: true, policy: wikiAdmin.policy }, input({}, null)).outcome, 'allow');
});

/** The test's own reading of "this sign-in brings that need" (the rules' definitions, SPEC §5). */
function meets(need: { mfa?: boolean; acr?: readonly string[]; maxAge?: number }, who: Identity, now: number): boolean {
  if (need.mfa && !who.amr.some((a) => RFC8176_MFA_AMR.includes(a))) return false;
  if (need.acr && (who.acr === undefined || !need.acr.includes(who.acr))) return false;
  if (need.maxAge !== undefined && (who.authTime === undefined || now - who.authTime * 1000 > need.maxAge * 1000)) return false;
  return true;
}

// Policies whose allow rules lean on mfa / acr / authAge (mixed with anything else), so that many have a need.
const stepLeaf: fc.Arbitrary<RuleConfig> = fc.oneof(
  fc.constant({ mfa: true as const }),
  sub(['gold', 'silver']).map((acr) => ({ acr })),
  fc.constantFrom('5m', '1h').map((authAge) => ({ authAge })),
  fc.constant({ policy: 'strong' }),
);
const demanding: fc.Arbitrary<RuleConfig> = fc.oneof(
  stepLeaf,
  fc.tuple(stepLeaf, tree).map(([a, b]) => ({ and: [a, b] })),
  fc.array(fc.oneof(stepLeaf, tree), { minLength: 1, maxLength: 3 }).map((and) => ({ and })),
  fc.array(fc.oneof({ weight: 3, arbitrary: stepLeaf }, { weight: 1, arbitrary: tree }), { minLength: 1, maxLength: 3 }).map((or) => ({ or })),
);
const demandingPolicyArb: fc.Arbitrary<PolicyConfig> = fc.record(
  { allow: fc.array(fc.oneof({ weight: 4, arbitrary: demanding }, { weight: 1, arbitrary: tree }), { minLength: 1, maxLength: 3 }), deny: fc.array(tree, { maxLength: 1 }) },
  { requiredKeys: ['allow'] },
);

test('property: everybody a policy lets in signed in the way its signInNeed says (asking it up front never over-asks)', () => {
  const policies = compilePolicies(NAMED);
  let withNeed = 0;
  let allowed = 0;
  fc.assert(
    fc.property(fc.oneof({ weight: 1, arbitrary: policyArb }, { weight: 4, arbitrary: demandingPolicyArb }), inputArb, (raw, req) => {
      const policy = policies.compile(policySchema.parse(raw));
      const need = policy.signInNeed;
      if (!need || !req.identity) return;
      withNeed++;
      if (decide({ policy }, req).outcome !== 'allow') return;
      allowed++;
      assert.ok(meets(need, req.identity, req.now), `allowed without ${JSON.stringify(need)}: ${JSON.stringify(req.identity)}`);
    }),
    { numRuns: 5000 },
  );
  assert.ok(withNeed > 500 && allowed > 100, `the property saw policies with a need (${withNeed}) that let somebody in (${allowed})`);
});

test('property: an unknown client address is let in only where every known address would be (fail closed)', () => {
  const policies = compilePolicies(NAMED);
  const known = ['10.1.2.3', '::ffff:192.168.1.1', 'fd00::5', '203.0.113.9', '192.0.2.1'];
  fc.assert(
    fc.property(policyArb, inputArb, fc.constantFrom(undefined, 'unknown', ''), (raw, req, unknownIp) => {
      const target = { policy: policies.compile(policySchema.parse(raw)) };
      const d = decide(target, { ...req, ip: unknownIp });
      assert.ok(!d.reasons.some((r) => r.code === 'ip-ok'), 'no ip rule matched');
      if (d.outcome !== 'allow') return;
      for (const ip of known) assert.equal(decide(target, { ...req, ip }).outcome, 'allow', `admitted unknown, but not ${ip}`);
    }),
    { numRuns: 3000 },
  );
});

test('an access grant allows what the allow rules refused (deny, step-up), named as grant:<id>; anonymous stays sign-in', () => {
  const grant = { id: 'g-1' };
  const denied = decide(route({ allow: [{ groups: ['sre'] }] }), input({ grant }));
  assert.equal(denied.outcome, 'allow');
  assert.deepEqual(denied.reasons, [{ code: 'grant', detail: 'g-1' }]);
  assert.equal(decide(wikiAdmin, input({ grant }, { groups: ['wiki-admins'], ...stale })).outcome, 'allow', 'a step-up too');
  assert.equal(decide(route({ allow: [{ groups: ['sre'] }] }), input({ grant }, null)).outcome, 'sign-in');
  const traced = decide(route({ allow: [{ groups: ['sre'] }] }), input({ grant }), { trace: true });
  assert.equal(traced.outcome, 'allow');
  assert.equal(traced.trace?.length, 1, 'the trace still shows every rule');
});

test('an access grant never beats a deny rule, an undecidable deny rule, nor changes a named policy a rule refers to', () => {
  const grant = { id: 'g-1' };
  const d = decide(route({ allow: [{ groups: ['sre'] }], deny: [{ path: ['/locked'] }] }), input({ grant, path: '/locked/x' }));
  assert.equal(d.outcome, 'deny');
  assert.equal(codesOf(d)[0], 'deny-matched');
  const unknownIp = decide(route({ allow: [{ groups: ['sre'] }], deny: [{ not: { ip: ['10.0.0.0/8'] } }] }), input({ grant, ip: undefined }));
  assert.equal(unknownIp.outcome, 'deny');
  // `deny: not: policy: office` must stay a deny for a user outside the office, grant or not.
  const named = { office: { allow: [{ ip: ['192.168.0.0/16'] }] } };
  const viaNamed = decide(route({ allow: [{ groups: ['sre'] }], deny: [{ not: { policy: 'office' } }] }, named), input({ grant }));
  assert.equal(viaNamed.outcome, 'deny');
});

test('decide: an allow by a rule whose verdict is built once is one frozen decision, the same as a traced one', () => {
  const r = route({ allow: [{ groups: ['sales'] }, { groups: ['engineering'] }] });
  const other = route({ allow: [{ groups: ['engineering'] }] });
  const a = decide(r, input());
  assert.equal(decide(r, input()), a);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.reasons));
  assert.deepEqual(codesOf(a), ['allow-matched', 'groups-ok']);
  assert.equal(a.reasons[0]!.detail, 'allow[1]');
  const traced = decide(r, input(), { trace: true });
  assert.deepEqual({ outcome: traced.outcome, reasons: traced.reasons }, { outcome: a.outcome, reasons: a.reasons });
  // Another route's rule returning an equal verdict gets its own decision (its own `allow[0]`).
  const b = decide(other, input());
  assert.equal(b.reasons[0]!.detail, 'allow[0]');
  assert.equal(decide(r, input()).reasons[0]!.detail, 'allow[1]');
});
