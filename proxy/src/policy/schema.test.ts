// policy/schema.test.ts — the rule and policy schemas: one key per rule, unknown keys named,
// the registry and the schema in step, and a JSON Schema that generates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { RULES } from './registry.js';
import { policySchema, ruleSchema, ruleShape } from './schema.js';

test('the schema has one property per registered rule, in registry order', () => {
  assert.deepEqual(Object.keys(ruleShape), RULES.map((r) => r.name));
});

test('a rule has exactly one key', () => {
  assert.ok(ruleSchema.safeParse({ groups: ['a'] }).success);
  for (const bad of [{}, { groups: ['a'], mfa: true }]) {
    const r = ruleSchema.safeParse(bad);
    assert.equal(r.success, false);
    assert.equal(r.error!.issues.length, 1);
    assert.equal(r.error!.issues[0]!.message, 'a rule has exactly one key (use and: [...] to combine)');
  }
});

test('an unknown rule name is an error that names it, at its path', () => {
  const r = policySchema.safeParse({ allow: [{ and: [{ groups: ['a'] }, { gruops: ['b'] }] }] });
  assert.equal(r.success, false);
  assert.equal(r.error!.issues.length, 1);
  const issue = r.error!.issues[0]!;
  assert.deepEqual(issue.path, ['allow', 0, 'and', 1]);
  assert.match(issue.message, /unknown rule "gruops" \(did you mean "groups"\?\)/);
  assert.match(ruleSchema.safeParse({ wheel: true }).error!.issues[0]!.message, /unknown rule "wheel" \(known rules: authenticated, user, /);
});

test('policy keys are checked too', () => {
  const r = policySchema.safeParse({ alow: [] });
  assert.equal(r.success, false);
  assert.match(r.error!.issues[0]!.message, /alow/);
  assert.ok(policySchema.safeParse({}).success);
});

test('the policies of SPEC §2 parse', () => {
  const policies = [
    { allow: [{ domain: ['example.com'] }] },
    { allow: [{ ip: ['10.0.0.0/8', '192.168.0.0/16'] }] },
    { allow: [{ groups: ['engineering'] }, { email: ['alice@example.com'] }], deny: [{ not: { policy: 'office-net' } }] },
    { allow: [{ and: [{ groups: ['wiki-admins'] }, { mfa: true }, { authAge: '15m' }] }] },
    {
      allow: [
        { claim: { department: ['eng'], level: 3 } },
        { or: [{ method: ['GET'] }, { path: ['/public'] }] },
        { time: { days: ['mon'], from: '08:00', to: '18:00', tz: 'Europe/Paris' } },
        { and: [{ after: '2025-06-01T08:00:00Z' }, { before: '2025-06-08T08:00:00Z' }, { acr: ['high'] }, { user: ['bob'] }, { authenticated: true }] },
      ],
    },
  ];
  for (const p of policies) assert.deepEqual(policySchema.parse(p), p);
});

test('the JSON Schema generates, with the recursion in $defs and the rules documented', () => {
  const schema = z.toJSONSchema(policySchema) as unknown as {
    properties: { allow: { items: { $ref: string } } };
    $defs: Record<string, { properties: Record<string, { description?: string }>; minProperties: number; maxProperties: number; additionalProperties: boolean }>;
  };
  const ref = schema.properties.allow.items.$ref;
  assert.match(ref, /^#\/\$defs\//);
  const rule = schema.$defs[ref.slice('#/$defs/'.length)]!;
  assert.deepEqual(Object.keys(rule.properties), RULES.map((r) => r.name));
  for (const def of RULES) assert.ok(rule.properties[def.name]!.description?.startsWith(def.description), def.name);
  assert.equal(rule.minProperties, 1);
  assert.equal(rule.maxProperties, 1);
  assert.equal(rule.additionalProperties, false);
  assert.doesNotThrow(() => JSON.stringify(schema));
});
