// proxy/test/production.test.ts — the production entry point (SPEC §7) without a Docker engine: the Dockerfile's
// final stage is replayed in a temporary folder (its COPY lines, its `npm ci --omit=dev`, the build stage's tsc
// output as dist/), then its ENTRYPOINT/CMD serves a configuration and its HEALTHCHECK command asks /healthz.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startSampleApp, type SampleApp } from '../../e2e/sample-app/sample-app.js';
import { SESSION_SECRET, waitFor } from '../../test-support/stack.js';
import { MALLOC_ENV, NODE_FLAGS } from '../../proxy/src/server/node-flags.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const CONFIG_PATH = '/etc/drawbridge/drawbridge.yaml';

interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's instructions per stage (line continuations joined, comments dropped). */
function stages(text: string): Instruction[][] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const out: Instruction[][] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const ins = { op: op.toUpperCase(), args: args.trim() };
    if (ins.op === 'FROM') out.push([]);
    out.at(-1)?.push(ins);
  }
  return out;
}

const STAGES = stages(DOCKERFILE);
const FINAL = STAGES.at(-1) ?? [];
const find = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op);
const execForm = (args: string): string[] => JSON.parse(args) as string[];
/** The final stage's ENV (NAME=VALUE words; no value here has a space). */
const imageEnv = (): Record<string, string> =>
  Object.fromEntries(find(FINAL, 'ENV').flatMap((e) => e.args.split(/\s+/)).filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));

let dir: string;
let app: SampleApp;

before(
  async () => {
    dir = mkdtempSync(join(tmpdir(), 'drawbridge-image-'));
    app = await startSampleApp();
    // The build stage: only what its COPY lines bring (with this clone's dev dependencies standing in for its
    // `npm ci`), then `npm run build` (tsc -p tsconfig.build.json → dist/), compiled while the final stage's steps
    // run: its COPY lines from the context (the one from the build stage is that dist/) and its `npm ci`.
    const buildDir = join(dir, 'build');
    const buildStage = STAGES.find((stage) => / AS build$/i.test(stage[0]!.args)) ?? [];
    for (const ins of find(buildStage, 'COPY')) {
      const files = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const dest = files.pop()!;
      for (const f of files) cpSync(join(ROOT, f), dest.endsWith('/') ? join(buildDir, dest, f) : join(buildDir, dest), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
    const build = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')], { cwd: buildDir });
    build.catch(() => {}); // awaited below; a failure must not surface as an unhandled rejection meanwhile
    for (const ins of FINAL) {
      if (ins.op === 'COPY') {
        const parts = ins.args.split(/\s+/);
        const fromBuild = parts[0]?.startsWith('--from=');
        const files = parts.filter((p) => !p.startsWith('--'));
        const dest = files.pop()!;
        if (fromBuild) {
          assert.deepEqual([files, dest], [['/app/dist'], './dist'], 'the final stage takes dist/ from the build stage');
          continue;
        }
        for (const f of files) cpSync(join(ROOT, f), dest.endsWith('/') ? join(dir, dest, f) : join(dir, dest), { recursive: true });
      } else if (ins.op === 'RUN') {
        for (const cmd of ins.args.split('&&').map((c) => c.trim())) {
          if (!cmd.startsWith('npm ci')) continue;
          const args = cmd.split(/\s+/).slice(1);
          await run('npm', [...args, '--prefer-offline'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
        }
      }
    }
    await build;
  },
  { timeout: 600_000 },
);

after(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function get(port: number, host: string, path: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host, accept: 'text/html' }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    req.on('error', reject);
  });
}

test('the Dockerfile: multi-stage, npm ci + build, production dependencies only, non-root, HEALTHCHECK on /healthz, config at /etc/drawbridge', { timeout: 10_000 }, () => {
  assert.ok(STAGES.length >= 2, 'multi-stage');
  const build = STAGES.find((s) => / AS build$/i.test(s[0]!.args))!;
  assert.ok(build, 'a stage named build');
  assert.ok(find(build, 'RUN').some((r) => /^npm ci\b/.test(r.args)), 'build: npm ci');
  assert.ok(find(build, 'RUN').some((r) => /^npm run build\b/.test(r.args)), 'build: npm run build');
  const runs = find(FINAL, 'RUN').map((r) => r.args);
  assert.ok(runs.some((r) => /^npm ci .*--omit=dev/.test(r)), 'final: npm ci --omit=dev');
  assert.ok(!runs.some((r) => /npm (install|i)\b|npm run build/.test(r)), 'final: nothing else installed or built');
  const user = find(FINAL, 'USER').at(-1)?.args;
  assert.ok(user && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (${user})`);
  const health = find(FINAL, 'HEALTHCHECK').at(-1)?.args ?? '';
  assert.match(health, /CMD \["node", "-e"/, 'HEALTHCHECK with node, no curl');
  assert.doesNotMatch(DOCKERFILE, /\bcurl\b|\bwget\b/);
  assert.match(DOCKERFILE, /DRAWBRIDGE_HEALTH_URL=http:\/\/127\.0\.0\.1:9090\/healthz/);
  assert.deepEqual(find(FINAL, 'EXPOSE').flatMap((e) => e.args.split(/\s+/)).sort(), ['8080', '8443', '9090']);
  assert.deepEqual(execForm(find(FINAL, 'ENTRYPOINT').at(-1)!.args), ['node', 'bin/drawbridge.js']);
  // Drawbridge's node flags (server/node-flags.ts: the young generation's cap, docs/deploy.md "Memory").
  assert.equal(imageEnv().NODE_OPTIONS, NODE_FLAGS.join(' '), 'the image runs node with Drawbridge\'s flags');
  // And its malloc settings (glibc reads them when node starts, so only the environment it starts in can give them).
  for (const [name, value] of Object.entries(MALLOC_ENV)) assert.equal(imageEnv()[name], value, `the image sets ${name}`);
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // An operator's own value wins (`${NAME:-default}`), as for the workers (server/node-flags.ts withMallocEnv).
  const mallocEnv = Object.entries(MALLOC_ENV).map(([name, value]) => `${name}=\${${name}:-${value}}`);
  assert.equal(scripts.start, [...mallocEnv, 'node', ...NODE_FLAGS, 'bin/drawbridge.js', 'serve'].join(' '), '`npm start` runs with the same node flags and malloc settings');
  assert.deepEqual(execForm(find(FINAL, 'CMD').at(-1)!.args), ['serve', '--config', CONFIG_PATH]);
  assert.ok(find(FINAL, 'COPY').every((c) => !/proxy\/src|node_modules|\.ts\b/.test(c.args)), 'no sources or host node_modules in the image');
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['node_modules', '.git', 'dist']) assert.ok(ignore.includes(entry), `.dockerignore has ${entry}`);
});

test('the final stage runs from `npm ci --omit=dev` output: serve proxies, redirects to sign-in, and the HEALTHCHECK command passes', { timeout: 120_000 }, async () => {
  // Only production dependencies, only the compiled code: no TypeScript, no dev tools, no sources.
  assert.ok(existsSync(join(dir, 'dist/proxy/src/main.js')));
  assert.ok(!existsSync(join(dir, 'proxy')), 'no sources copied');
  assert.ok(!existsSync(join(dir, 'node_modules/typescript')), 'no dev dependencies');
  assert.ok(!existsSync(join(dir, 'node_modules/oidc-provider')));
  assert.ok(existsSync(join(dir, 'node_modules/express')));

  const [port, adminPort] = [await freePort(), await freePort()];
  const config = join(dir, 'drawbridge.yaml');
  writeFileSync(
    config,
    `listen: "127.0.0.1:${port}"
publicUrl: http://auth.localhost:${port}
admin: { listen: "127.0.0.1:${adminPort}" }
idp:
  issuer: http://127.0.0.1:9
  clientId: drawbridge
  clientSecret: \${CLIENT_SECRET}
  allowInsecureHttp: true
session:
  secret: \${SESSION_SECRET}
routes:
  - name: status
    from: http://status.localhost:${port}
    to: ${app.url}
    public: true
  - name: wiki
    from: http://wiki.localhost:${port}
    to: ${app.url}
    policy:
      allow:
        - authenticated: true
`,
  );
  const env = { ...process.env, NODE_ENV: 'production', NODE_OPTIONS: imageEnv().NODE_OPTIONS, CLIENT_SECRET: 'production-test-client-secret', SESSION_SECRET };
  const entry = [...execForm(find(FINAL, 'ENTRYPOINT').at(-1)!.args), ...execForm(find(FINAL, 'CMD').at(-1)!.args).map((a) => (a === CONFIG_PATH ? config : a))];
  assert.equal(entry[0], 'node');

  const validate = await run(process.execPath, [entry[1]!, 'validate', config], { cwd: dir, env });
  assert.match(validate.stdout, /OK \(2 routes\)/);
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, readFileSync(config, 'utf8').replace('public: true', 'public: yes please'));
  const refused = await run(process.execPath, [entry[1]!, 'validate', broken], { cwd: dir, env }).then(
    () => assert.fail('an invalid file must fail'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `, 'm'));
  assert.match((await run(process.execPath, [entry[1]!, 'keygen'], { cwd: dir, env })).stdout, /BEGIN PRIVATE KEY/);

  const child: ChildProcess = spawn(process.execPath, entry.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(() => output.includes('"event":"start"') || child.exitCode !== null, 30_000, 100);
    assert.ok(output.includes('"event":"start"'), `serve started: ${output}`);

    // The image's HEALTHCHECK command, as Docker would run it.
    const health = execForm(find(FINAL, 'HEALTHCHECK').at(-1)!.args.replace(/^.*?CMD\s+/, ''));
    const ok = await run(process.execPath, health.slice(1), { env: { ...env, DRAWBRIDGE_HEALTH_URL: `http://127.0.0.1:${adminPort}/healthz` } }).then(() => 0, (e: { code: number }) => e.code);
    assert.equal(ok, 0, 'HEALTHCHECK passes against the admin listener');
    const bad = await run(process.execPath, health.slice(1), { env: { ...env, DRAWBRIDGE_HEALTH_URL: `http://127.0.0.1:${port}/healthz` } }).then(() => 0, (e: { code: number }) => e.code);
    assert.equal(bad, 1, 'the proxy listener does not answer /healthz');

    const proxied = await get(port, `status.localhost:${port}`, '/ping');
    assert.equal(proxied.status, 200);
    assert.ok(app.requests.some((r) => r.url === '/ping'), 'the request reached the upstream');
    const protectedPage = await get(port, `wiki.localhost:${port}`, '/page');
    assert.equal(protectedPage.status, 302);
    assert.equal(protectedPage.location, `http://wiki.localhost:${port}/.drawbridge/sign_in?rd=${encodeURIComponent(`http://wiki.localhost:${port}/page`)}`);
    const metrics = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
    assert.match(await metrics.text(), /drawbridge_requests_total\{route="status",decision="allow",status_class="2xx"\} 1/);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    assert.equal(await exited, 0, `stops cleanly on SIGTERM: ${output.slice(-2000)}`);
  }
});
