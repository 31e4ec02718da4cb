// cli/test.ts — `drawbridge test FILE TESTS.yaml`: policy unit tests. Each case is a request, an
// identity and the expected decision; prints each failure and "N passed, N failed"; exit 1 on a failure.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loadConfigFile, parseYaml } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { durationSchema } from '../policy/schema-kit.js';
import { REASONS } from '../policy/reasons.js';
import { reasonText } from './explain.js';
import { checkClientIp, DEFAULT_CLIENT_IP, Simulator, type Simulation } from './simulate.js';
import type { Command } from './io.js';

const OUTCOMES = ['allow', 'deny', 'sign-in', 'step-up', 'not-found', 'method-not-allowed', 'bad-request', 'reserved'] as const;

const identitySchema = z.strictObject({
  user: z.string().optional().describe('The user name (the claim idp.claims.user names). With neither user nor email nor claims the request is anonymous.'),
  email: z.string().optional().describe('The email address.'),
  emailVerified: z.boolean().optional().describe('Whether the IdP verified the email (default true); email and domain rules refuse an unverified one.'),
  name: z.string().optional().describe('The display name.'),
  groups: z.array(z.string()).optional().describe('The groups (default none).'),
  claims: z.record(z.string(), z.unknown()).optional().describe('Other ID token claims, for claim rules; values keep their YAML type (level: 3 is a number).'),
  amr: z.array(z.string()).optional().describe('Authentication methods of the sign-in, e.g. [pwd, otp] (mfa rules look here).'),
  acr: z.string().optional().describe('The authentication context class of the sign-in.'),
  authAge: durationSchema.optional().describe('How long ago the user signed in, e.g. 5m (default 0s).'),
});

const caseSchema = z.strictObject({
  name: z.string().min(1).describe('Shown when the test fails.'),
  request: z
    .strictObject({
      url: z.string().min(1).describe('The absolute URL requested, e.g. https://wiki.example.com/page.'),
      method: z.string().optional().describe('The method (default GET).'),
      ip: z
        .string()
        .refine((ip) => checkClientIp(ip) === undefined, 'expected an IPv4 or IPv6 address, or "unknown"')
        .optional()
        .describe(`The client address (default ${DEFAULT_CLIENT_IP}); "unknown" for a client whose address is unknown (ip rules are then undecided).`),
      time: z
        .string()
        .refine((t) => !Number.isNaN(Date.parse(t)), 'expected an ISO-8601 instant')
        .optional()
        .describe('The instant of the request, e.g. 2026-12-05T17:59:59Z (default: when the test runs).'),
    })
    .describe('The request.'),
  identity: identitySchema.optional().describe('Who makes the request. Absent: an anonymous request.'),
  expect: z
    .union([
      z.enum(OUTCOMES),
      z.strictObject({
        decision: z.enum(OUTCOMES).describe('The expected decision.'),
        route: z.string().optional().describe('The name of the route that must match.'),
        reason: z.string().refine((r) => r in REASONS, 'unknown reason code').optional().describe('A reason code that must appear in the decision or the trace.'),
      }),
    ])
    .describe('The expected decision (allow, deny, sign-in, step-up, not-found, method-not-allowed, bad-request, reserved: one of Drawbridge\'s own /.drawbridge/ paths), or { decision, route, reason }.'),
});

/** The policy tests file format (documented in docs/policy-tests.md). */
export const testsFileSchema = z.strictObject({ tests: z.array(caseSchema).min(1).describe('The test cases, run in order.') });

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
    io.stdout.write(`    client ${c.request.ip ?? `${DEFAULT_CLIENT_IP} (the default)`}, ${c.request.time ?? 'now'}\n`);
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
    case 'reserved':
      return 'reserved';
    case 'decided':
      return s.decision.outcome;
  }
}
