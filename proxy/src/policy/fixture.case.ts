// policy/fixture.case.ts — test-only helpers (excluded from the build like every *.case.ts):
// identities and inputs with sensible defaults, and a rule compiled the way the engine compiles it.
import assert from 'node:assert/strict';
import type { Identity, PolicyInput } from './input.js';
import type { Check, Verdict } from './rule.js';
import { compilePolicies } from './evaluate.js';
import { ruleSchema, type PolicyConfig } from './schema.js';

/** 2025-06-02T10:30:00Z, a Monday. */
export const MONDAY_1030_UTC = Date.UTC(2025, 5, 2, 10, 30);

export function identity(over: Partial<Identity> = {}): Identity {
  return { sub: 'u-1', user: 'alice', email: 'alice@example.com', emailVerified: true, groups: ['engineering'], amr: ['pwd'], authTime: MONDAY_1030_UTC / 1000 - 60, claims: {}, ...over };
}

export function input(over: Partial<PolicyInput> = {}, who: Partial<Identity> | null = {}): PolicyInput {
  return { identity: who === null ? undefined : identity(who), method: 'GET', path: '/', ip: '10.1.2.3', now: MONDAY_1030_UTC, ...over };
}

/** Validates one raw rule with the real schema and compiles it with the real engine. */
export function rule(raw: unknown, named: Record<string, PolicyConfig> = {}): Check {
  const parsed = ruleSchema.parse(raw);
  return compilePolicies(named).compile({ allow: [parsed] }).allow[0]!.check;
}

/** The error messages the schema gives for one raw rule (none when it is valid). */
export function ruleErrors(raw: unknown): string[] {
  const r = ruleSchema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

export function codes(v: Verdict): string[] {
  return v.reasons.map((r) => r.code);
}

/** Asserts the verdict's outcome and its first reason code. */
export function expectVerdict(v: Verdict, ok: boolean, code: string): void {
  assert.equal(v.ok, ok, `expected ${ok ? 'pass' : 'fail'}, got ${JSON.stringify(v)}`);
  assert.equal(v.reasons[0]?.code, code, JSON.stringify(v));
}
