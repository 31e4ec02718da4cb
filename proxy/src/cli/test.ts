// cli/test.ts — `drawbridge test FILE TESTS.yaml`: policy unit tests. Each case is a request, an
// identity and the expected decision; prints each failure and "N passed, N failed"; exit 1 on a failure.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loadConfigFile, parseYaml } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { durationSchema } from '../policy/duration.js';
import { REASONS } from '../policy/reasons.js';
import { reasonText } from './explain.js';
import { Simulator, type Simulation } from './simulate.js';
import type { Command } from './io.js';

const OUTCOMES = ['allow', 'deny', 'sign-in', 'step-up', 'not-found', 'method-not-allowed', 'bad-request'] as const;

const identitySchema = z.strictObject({
  user: z.string().optional(),
  email: z.string().optional(),
  emailVerified: z.boolean().optional(),
  name: z.string().optional(),
  groups: z.array(z.string()).optional(),
  claims: z.record(z.string(), z.unknown()).optional(),
  amr: z.array(z.string()).optional(),
  acr: z.string().optional(),
  authAge: durationSchema.optional().describe('How long ago the user signed in.'),
});

const caseSchema = z.strictObject({
  name: z.string().min(1),
  request: z.strictObject({
    url: z.string().min(1),
    method: z.string().optional(),
    ip: z.string().optional(),
    time: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'expected an ISO-8601 instant').optional(),
  }),
  identity: identitySchema.optional().describe('Absent: an anonymous request.'),
  expect: z.union([
    z.enum(OUTCOMES),
    z.strictObject({
      decision: z.enum(OUTCOMES),
      route: z.string().optional(),
      reason: z.string().refine((r) => r in REASONS, 'unknown reason code').optional().describe('A reason code that must appear in the decision or the trace.'),
    }),
  ]),
});

/** The policy tests file format (documented in docs/policy-tests.md). */
export const testsFileSchema = z.strictObject({ tests: z.array(caseSchema).min(1) });

/** The JSON Schema of a tests file, for editors (config/drawbridge-tests.schema.json). */
export function testsJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(testsFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://drawbridge.dev/schema/drawbridge-tests.schema.json', title: 'Drawbridge policy tests' };
}

export const test: Command = async (args, io) => {
  const [configFile, testsFile] = args.filter((a) => !a.startsWith('-'));
  if (!configFile || !testsFile) {
    io.stderr.write('usage: drawbridge test FILE TESTS.yaml\n');
    return 2;
  }
  const loaded = loadConfigFile(configFile, io.env, { missingEnv: 'warn' });
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr.write(`${formatIssue(e)}\n`);
    return 1;
  }
  let text: string;
  try {
    text = readFileSync(testsFile, 'utf8');
  } catch (e) {
    io.stderr.write(`${testsFile}:1:1: cannot read the tests: ${(e as Error).message}\n`);
    return 1;
  }
  const parsed = parseYaml(text, testsFile, testsFileSchema, io.env);
  if (!parsed.ok) {
    for (const e of parsed.errors) io.stderr.write(`${formatIssue(e)}\n`);
    return 1;
  }
  const sim = new Simulator(loaded.config);
  let passed = 0;
  let failed = 0;
  parsed.value.tests.forEach((c, i) => {
    const now = c.request.time !== undefined ? Date.parse(c.request.time) : Date.now();
    const result = sim.run({ url: c.request.url, method: c.request.method, ip: c.request.ip, now, identity: c.identity });
    const expect = typeof c.expect === 'string' ? { decision: c.expect } : c.expect;
    const problems: string[] = [];
    const got = outcomeOf(result);
    if (got !== expect.decision) problems.push(`expected ${expect.decision}, got ${got}`);
    if (expect.route !== undefined) {
      const route = result.kind === 'decided' ? result.route.name : '(none)';
      if (route !== expect.route) problems.push(`expected route ${expect.route}, got ${route}`);
    }
    if (expect.reason !== undefined && result.kind === 'decided') {
      const codes = [...result.decision.reasons, ...(result.decision.trace ?? []).flatMap((t) => t.reasons)].map((r) => r.code);
      if (!codes.includes(expect.reason as never)) problems.push(`expected reason ${expect.reason}, got ${[...new Set(codes)].join(', ') || 'none'}`);
    }
    if (problems.length === 0) {
      passed++;
      return;
    }
    failed++;
    const at = parsed.locator.issue(['tests', i, 'expect'], `FAIL ${c.name}: ${problems.join('; ')}`);
    io.stdout.write(`${formatIssue(at)}\n`);
    if (result.kind === 'decided') for (const r of result.decision.reasons) io.stdout.write(`    ${reasonText(r)}\n`);
  });
  io.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
};

function outcomeOf(s: Simulation): (typeof OUTCOMES)[number] {
  switch (s.kind) {
    case 'bad-request':
      return 'bad-request';
    case 'no-route':
      return 'not-found';
    case 'method-not-allowed':
      return 'method-not-allowed';
    case 'decided':
      return s.decision.outcome;
  }
}
