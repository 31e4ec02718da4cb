// proxy/test/docs.test.ts — keeps the documentation true to the code: the generated configuration reference and
// JSON Schema are fresh, every policy rule, reason code, error code, metric, log event and assertion claim is
// documented, every configuration shown validates, the Kubernetes example has what SPEC §7 asks, links resolve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../src/cli/index.js';
import { loadConfigText } from '../src/config/load.js';
import { formatIssue } from '../src/config/locate.js';
import { renderReference } from '../src/config/reference.js';
import { ERROR_CODES } from '../src/errors.js';
import { AssertionSigner } from '../src/forward/assertion.js';
import { RULES } from '../src/policy/registry.js';
import { REASONS } from '../src/policy/reasons.js';
import { createMetrics } from '../src/telemetry/metrics.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = ['getting-started', 'configuration', 'policy', 'policy-tests', 'assertion', 'operations', 'security', 'errors', 'deploy', 'forward-auth', 'tls', 'access-requests'].map((d) => `docs/${d}.md`);
const LIMIT = { timeout: 30_000 };

/** Fenced code blocks of a Markdown text with the given info string. */
function blocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'gm'))].map((m) => m[1]!);
}

async function cli(args: string[]): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) }, env: {} });
  return { code, out, err };
}

test('every documentation page exists', LIMIT, () => {
  for (const doc of DOCS) assert.ok(existsSync(join(ROOT, doc)), doc);
});

test('docs/configuration.md is the reference generated from the schema (node --import tsx proxy/src/config/reference.ts > docs/configuration.md)', LIMIT, () => {
  assert.equal(read('docs/configuration.md'), renderReference(), 'stale: regenerate docs/configuration.md');
});

test('config/drawbridge.schema.json is `drawbridge schema` (node --import tsx proxy/src/main.ts schema > config/drawbridge.schema.json)', LIMIT, async () => {
  const { code, out } = await cli(['schema']);
  assert.equal(code, 0);
  assert.equal(read('config/drawbridge.schema.json'), out, 'stale: regenerate config/drawbridge.schema.json');
});

test('config/drawbridge-tests.schema.json is `drawbridge schema --tests`; the example tests name it; docs/policy-tests.md explains every key', LIMIT, async () => {
  const { code, out } = await cli(['schema', '--tests']);
  assert.equal(code, 0);
  assert.equal(read('config/drawbridge-tests.schema.json'), out, 'stale: npm run schema');
  assert.ok(read('config/example.tests.yaml').startsWith('# yaml-language-server: $schema=./drawbridge-tests.schema.json\n'));
  const doc = read('docs/policy-tests.md');
  const keys = new Set<string>();
  const walk = (node: unknown) => {
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (k === 'properties') for (const key of Object.keys(v as object)) keys.add(key);
      walk(v);
    }
  };
  walk(JSON.parse(out));
  assert.ok(keys.size >= 18, [...keys].join());
  for (const key of keys) assert.ok(doc.includes(`| \`${key}\` |`), `docs/policy-tests.md explains ${key}`);
  // Its example is a valid tests file for the example configuration.
  const example = blocks(doc, 'yaml')[0]!;
  const file = join(mkdtempSync(join(tmpdir(), 'drawbridge-docs-')), 'tests.yaml');
  writeFileSync(file, example);
  const run = await cli(['test', 'config/example.yaml', file]);
  assert.equal(run.code, 0, run.out + run.err);
});

test('the reference names every key of the schema, and every rule', LIMIT, async () => {
  const reference = read('docs/configuration.md');
  const schema = JSON.parse((await cli(['schema'])).out) as { properties: Record<string, { properties?: Record<string, unknown> }> };
  for (const [key, prop] of Object.entries(schema.properties)) {
    assert.ok(reference.includes(`| \`${key}\` |`), key);
    for (const sub of Object.keys(prop.properties ?? {})) assert.ok(reference.includes(`| \`${sub}\` |`), `${key}.${sub}`);
  }
  for (const rule of RULES) assert.ok(reference.includes(`| \`${rule.name}\` |`), `rule ${rule.name}`);
});

test('docs/policy.md explains every rule of the registry with its description and example, and every reason code', LIMIT, () => {
  const policy = read('docs/policy.md');
  const headings = [...policy.matchAll(/^### `([A-Za-z]+)`$/gm)].map((m) => m[1]);
  assert.deepEqual(headings, RULES.map((r) => r.name), 'one section per rule, in registry order');
  for (const rule of RULES) {
    const section = policy.slice(policy.indexOf(`### \`${rule.name}\``)).split(/^### /m)[1]!;
    assert.ok(section.includes(rule.description), `${rule.name}: its registry description`);
    const example = rule.example.replace(/\s+/g, ' ');
    assert.ok(section.replace(/\s+/g, ' ').includes(example), `${rule.name}: its registry example ${rule.example}`);
  }
  for (const code of Object.keys(REASONS)) assert.ok(policy.includes(`| \`${code}\` |`), `reason code ${code}`);
});

test('docs/errors.md documents every DRB_* code with its status, its JSON `error` and its meaning from the catalog, and no other', LIMIT, () => {
  const errors = read('docs/errors.md');
  const rows = new Map([...errors.matchAll(/^\| `(DRB_[A-Z_]+)` \| (\d{3}) \| `([a-z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1]!, `${m[2]} ${m[3]} ${m[4]!.trim()}`]));
  for (const [code, spec] of Object.entries(ERROR_CODES)) assert.equal(rows.get(code), `${spec.status} ${spec.slug} ${spec.meaning}`, `${code}: the row says what the catalog says`);
  assert.equal(rows.size, Object.keys(ERROR_CODES).length, 'one row per code');
  for (const path of [...DOCS, 'README.md']) {
    for (const [code] of read(path).matchAll(/\bDRB_[A-Z_]+\b/g)) assert.ok(code in ERROR_CODES, `${path} names ${code}, which the catalog lacks`);
  }
});

test('docs/assertion.md lists every claim Drawbridge signs, and shows the Express verifier and the other languages\' verifiers as they are in examples/', LIMIT, async () => {
  const doc = read('docs/assertion.md');
  const signer = await AssertionSigner.create({ issuer: 'https://auth.example.com', ttlMs: 120_000 });
  const token = signer.sign({
    sessionKey: 's1',
    route: { name: 'wiki', origin: 'https://wiki.example.com' },
    sidHash: 'hash',
    identity: { sub: 's', user: 'u', email: 'e@example.com', emailVerified: true, groups: ['g'], name: 'N', amr: ['pwd'], acr: 'a', authTime: 1, claims: {} },
  });
  const claims = Object.keys(decodeJwt(token));
  assert.ok(claims.length >= 14);
  for (const claim of claims) assert.ok(doc.includes(`| \`${claim}\` |`), `claim ${claim}`);
  const [ts] = blocks(doc, 'ts');
  assert.ok(ts, 'an Express snippet');
  assert.ok(ts.split('\n').length <= 16, 'about ten lines');
  for (const part of ['createRemoteJWKSet', 'jwtVerify', "algorithms: ['ES256']", 'issuer:', 'audience:', '/.drawbridge/jwks.json']) assert.ok(ts.includes(part), part);
  // The sample app's verifier, which the snippet condenses, checks the same things.
  const reference = read('e2e/sample-app/verify-assertion.ts');
  for (const part of ['createRemoteJWKSet', 'jwtVerify', "algorithms: ['ES256']"]) assert.ok(reference.includes(part), part);
  // The other languages' verifiers are shown as they are in examples/verify-assertion/ (e2e/assertion-verifiers.test.ts
  // runs them): each `<!-- path -->` is followed by a block equal to that file.
  const shown = [...doc.matchAll(/^<!-- (examples\/verify-assertion\/\S+) -->\n```[a-z]+\n([\s\S]*?)^```$/gm)];
  assert.deepEqual(
    shown.map((m) => m[1]),
    ['python/drawbridge_assertion.py', 'php/DrawbridgeAssertion.php', 'go/drawbridge/drawbridge.go', 'java/DrawbridgeAssertion.java', 'csharp/DrawbridgeAssertion.cs'].map((f) => `examples/verify-assertion/${f}`),
  );
  for (const [, path, code] of shown) assert.equal(code, read(path!), `docs/assertion.md shows ${path} as it is: copy the file into its block`);
});

test('docs/operations.md documents every metric, every request log field and every log event', LIMIT, async () => {
  const ops = read('docs/operations.md');
  const metrics = createMetrics({ defaults: false });
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  assert.ok(names.length >= 7);
  for (const name of names) assert.ok(ops.includes(`| \`${name}\` |`), `metric ${name}`);
  // SPEC §8: the fields of a request line; the example line has them all.
  const fields = ['time', 'level', 'event', 'requestId', 'route', 'method', 'host', 'path', 'status', 'durationMs', 'upstreamMs', 'ip', 'user', 'email', 'decision', 'reasons'];
  const example = JSON.parse(blocks(ops, 'json')[0]!) as Record<string, unknown>;
  for (const field of fields) {
    assert.ok(field in example, `example line has ${field}`);
    assert.ok(new RegExp(`^\\| \`${field}\`|, \`${field}\` \\|`, 'm').test(ops), `field ${field} explained`);
  }
  // Every event the code logs, found in the sources.
  const events = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/event: '([a-z-]+)'/g)) events.add(m[1]!);
    }
  };
  walk(join(ROOT, 'proxy/src'));
  assert.ok(events.size >= 15);
  for (const event of events) assert.ok(ops.includes(`| \`${event}\` |`) || example.event === event, `log event ${event}`);
});

test('every configuration in the docs and the README validates', LIMIT, () => {
  let checked = 0;
  for (const path of [...DOCS, 'README.md']) {
    for (const block of blocks(read(path), 'yaml')) {
      if (!/^publicUrl:/m.test(block)) continue;
      const result = loadConfigText(block, path, {}, { missingEnv: 'warn' });
      assert.ok(result.ok, `${path}:\n${result.ok ? '' : result.errors.map(formatIssue).join('\n')}`);
      checked++;
    }
  }
  assert.ok(checked >= 2, `${checked} configurations checked`);
});

test('docs/deploy.md: a Kubernetes example with two replicas, Redis, a ConfigMap, a Secret, probes on the admin port the Service does not expose', LIMIT, () => {
  const deploy = read('docs/deploy.md');
  const manifests = blocks(deploy, 'yaml')
    .flatMap((b) => parseAllDocuments(b).map((d) => d.toJS() as Record<string, any>))
    .filter((m) => m?.kind);
  const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
  const deployment = byKind('Deployment').find((d) => d.metadata.name === 'drawbridge')!;
  assert.ok(deployment, 'a Deployment');
  assert.equal(deployment.spec.replicas, 2);
  const container = deployment.spec.template.spec.containers[0];
  const ports = new Map<string, number>(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
  const probePort = (probe: { httpGet: { path: string; port: string | number } }) => (typeof probe.httpGet.port === 'string' ? ports.get(probe.httpGet.port) : probe.httpGet.port);
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(container.readinessProbe.httpGet.path, '/readyz?idp=optional', 'readiness leaves the IdP out: an IdP outage must not take every replica out of service');
  assert.equal(probePort(container.livenessProbe), 9090);
  assert.equal(probePort(container.readinessProbe), 9090);
  assert.ok(deployment.spec.template.spec.securityContext.runAsNonRoot);

  const configMap = byKind('ConfigMap').find((c) => c.data?.['drawbridge.yaml'])!;
  assert.ok(configMap, 'the YAML in a ConfigMap');
  const loaded = loadConfigText(configMap.data['drawbridge.yaml'], 'configmap', {}, { missingEnv: 'warn' });
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatIssue).join('\n'));
  assert.equal(loaded.config.admin.listen, ':9090', 'the admin listener is where the probes look');
  assert.equal(loaded.config.session.store.type, 'redis');
  assert.ok(loaded.config.assertion.keyFile, 'one signing key shared by the replicas');

  const secret = byKind('Secret')[0]!;
  assert.ok(secret, 'a Secret');
  for (const ref of configMap.data['drawbridge.yaml'].matchAll(/\$\{([A-Z_]+)\}/g)) assert.ok(ref[1] in secret.stringData, `the Secret has ${ref[1]}`);
  assert.deepEqual(container.envFrom, [{ secretRef: { name: secret.metadata.name } }]);

  const service = byKind('Service').find((s) => s.spec.selector.app === 'drawbridge')!;
  assert.ok(service, 'a Service for Drawbridge');
  for (const port of service.spec.ports) {
    assert.notEqual(port.targetPort, 'admin');
    assert.notEqual(port.targetPort, 9090);
    assert.notEqual(port.port, 9090);
  }
  assert.ok(byKind('Deployment').some((d) => /redis/.test(d.spec.template.spec.containers[0].image)), 'a Redis');
  assert.ok(byKind('Service').some((s) => s.spec.ports.some((p: { port: number }) => p.port === 6379)), 'reachable as a Service');
});

test('README: the set-up commands come first; images exist; links resolve; every command is summarized', LIMIT, async () => {
  const readme = read('README.md');
  const first = readme.split('\n').filter((l) => l.trim() !== '').slice(0, 2).map((l) => l.trim());
  assert.ok(first[0]!.startsWith('npm ci && npm run demo'), first[0]);
  assert.ok(first[1]!.startsWith('npm ci && npm test'), first[1]);
  const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
  assert.ok(images.length >= 4, 'screenshots');
  for (const image of images) assert.ok(existsSync(join(ROOT, image)), image);

  const help = (await cli(['--help'])).out;
  const commands = [...help.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!);
  assert.ok(commands.length >= 7);
  for (const command of commands) assert.ok(readme.includes(`drawbridge ${command}`), `README summarizes ${command}`);
  for (const script of ['demo', 'test', 'bench', 'build']) assert.ok(readme.includes(`npm run ${script}`) || readme.includes(`npm ${script}`), script);

  // Relative links in the README and the docs point at files that exist (docs/performance.md is the bench's output).
  for (const path of ['README.md', ...DOCS]) {
    for (const [, target] of read(path).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target!) || target!.endsWith('performance.md')) continue;
      assert.ok(existsSync(resolve(dirname(join(ROOT, path)), target!)), `${path} links to ${target}`);
    }
  }
});
