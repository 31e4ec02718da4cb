// proxy/test/package.test.ts — the npm package: its name is ours (not the unrelated "drawbridge" on the registry),
// `npm pack` ships what the bin needs at run time and no tests, and the packed tarball, installed into an empty
// project, runs `drawbridge --version`; from this checkout `npx --no drawbridge` runs this checkout's command.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
const LOCK = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { name: string; packages: Record<string, { name?: string }> };
const dir = mkdtempSync(join(tmpdir(), 'drawbridge-package-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the package is named drawbridge-proxy (the lock file too); its command stays drawbridge', () => {
  assert.equal(PACKAGE.name, 'drawbridge-proxy');
  assert.equal(LOCK.name, PACKAGE.name);
  assert.equal(LOCK.packages['']?.name, PACKAGE.name);
  assert.deepEqual(Object.keys(PACKAGE.bin), ['drawbridge']);
  for (const doc of ['README.md', 'docs/getting-started.md', 'docs/operations.md', 'docs/deploy.md', 'docs/policy.md', 'docs/policy-tests.md']) {
    // `npx drawbridge` outside this checkout runs an unrelated package; `npx --no` never downloads one.
    assert.doesNotMatch(readFileSync(join(ROOT, doc), 'utf8'), /npx (?!--no )drawbridge\b/, doc);
  }
});

test('npm pack ships the bin, the sources it runs and the schemas, and no tests; installed from the tarball, drawbridge --version runs', { timeout: 600_000 }, async () => {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  const files = packed!.files.map((f) => f.path);
  for (const needed of ['bin/drawbridge.js', 'proxy/src/main.ts', 'proxy/src/cli/index.ts', 'config/drawbridge.schema.json', 'package.json']) assert.ok(files.includes(needed), needed);
  assert.deepEqual(files.filter((f) => /\.(test|case)\.ts$|^e2e\/|^bench\//.test(f)), [], 'no tests, e2e or bench');

  const project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{ "name": "tarball-check", "private": true }\n');
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, packed!.filename)], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
  const version = await run(join(project, 'node_modules/.bin/drawbridge'), ['--version'], { cwd: project });
  assert.equal(version.stdout, `drawbridge ${PACKAGE.version}\n`);
  const viaNpx = await run('npx', ['--no', 'drawbridge', 'help', 'keygen'], { cwd: project });
  assert.match(viaNpx.stdout, /^Usage: drawbridge keygen\n/);
  // The installed command runs the TypeScript sources through tsx (a dependency): a real command, offline.
  const validate = await run(join(project, 'node_modules/.bin/drawbridge'), ['validate', join(project, 'node_modules', PACKAGE.name, 'config/example.yaml')], { cwd: project });
  assert.match(validate.stdout, /OK \(\d+ routes\)/);
});

test('from this checkout, npx --no drawbridge and npm exec run this checkout\'s command', { timeout: 120_000 }, async () => {
  const npx = await run('npx', ['--no', 'drawbridge', 'help', 'schema'], { cwd: ROOT });
  assert.match(npx.stdout, /^Usage: drawbridge schema/);
  const exec = await run('npm', ['exec', '--no', '--', 'drawbridge', '--version'], { cwd: ROOT });
  assert.equal(exec.stdout, `drawbridge ${PACKAGE.version}\n`);
});
