// proxy/test/cli-process.test.ts — the `drawbridge` command as an operator's shell runs it (bin/drawbridge.js in a
// child process): --version, help for every command (never running it), and the exit codes scripts rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandNames, runCli } from '../src/cli/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const LIMIT = { timeout: 120_000 };
const dir = mkdtempSync(join(tmpdir(), 'drawbridge-cli-process-'));

/** Runs bin/drawbridge.js with `args`; resolves with its exit code and output (never rejects on a non-zero exit). */
function drawbridge(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/drawbridge.js'), ...args], { cwd: ROOT, env: { ...process.env, DRAWBRIDGE_FROM_SOURCE: '1' } }, (error, out, err) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}

async function inProcess(...argv: string[]): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} });
  return { code, out, err };
}

test('drawbridge --version prints the package version', LIMIT, async () => {
  const r = await drawbridge('--version');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `drawbridge ${PACKAGE.version}\n`);
});

test('keygen --help and help keygen print the help, never a key', LIMIT, async () => {
  for (const args of [['keygen', '--help'], ['help', 'keygen'], ['keygen', '-h']]) {
    const r = await drawbridge(...args);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Usage: drawbridge keygen\n/);
    assert.doesNotMatch(r.out, /BEGIN|PRIVATE KEY/);
  }
});

test('every command has a hand-written help, the same by "help COMMAND" and "COMMAND --help", with its exit codes', LIMIT, async () => {
  const names = commandNames();
  assert.ok(names.length >= 7);
  const usage = (await inProcess('--help')).out;
  for (const name of names) {
    assert.match(usage, new RegExp(`^ {2}${name}\\b`, 'm'), `the command list names ${name}`);
    const viaHelp = await inProcess('help', name);
    const viaFlag = await inProcess(name, '--help');
    assert.equal(viaHelp.code, 0, name);
    assert.equal(viaFlag.code, 0, name);
    assert.equal(viaFlag.out, viaHelp.out, name);
    assert.match(viaHelp.out, new RegExp(`^Usage: drawbridge ${name}\\b`), name);
    assert.match(viaHelp.out, /\nExit codes:\n {2}0 /, `${name} documents its exit codes`);
  }
  // serve --help describes serve instead of starting it (it would otherwise bind and run forever).
  assert.match((await inProcess('serve', '--help')).out, /SIGTERM/);
  const unknown = await inProcess('help', 'frobnicate');
  assert.equal(unknown.code, 2);
});

test('explain exits 0 for allow, 1 for deny, sign-in and step-up, 2 for a usage error or an invalid file', LIMIT, async () => {
  const base = ['explain', 'config/example.yaml'];
  const allow = await drawbridge(...base, '--url', 'https://wiki.example.com/', '--user', 'alice', '--groups', 'engineering', '--ip', '10.1.2.3');
  assert.equal(allow.code, 0, allow.out + allow.err);
  assert.match(allow.out, /decision: allow\n/);
  const deny = await drawbridge(...base, '--url', 'https://wiki.example.com/', '--user', 'bob', '--groups', 'sales', '--ip', '10.1.2.3');
  assert.equal(deny.code, 1);
  assert.match(deny.out, /decision: deny\n/);
  const signIn = await inProcess(...base, '--url', 'https://wiki.example.com/');
  assert.equal(signIn.code, 1);
  assert.match(signIn.out, /decision: sign-in\n/);
  const stepUp = await inProcess(...base, '--url', 'https://wiki.example.com/admin/settings', '--user', 'dave', '--groups', 'wiki-admins', '--auth-age', '2h', '--ip', '10.1.2.3');
  assert.equal(stepUp.code, 1);
  assert.match(stepUp.out, /decision: step-up/);
  const noRoute = await inProcess(...base, '--url', 'https://nowhere.example.org/');
  assert.equal(noRoute.code, 1);
  const usage = await drawbridge('explain', 'config/example.yaml');
  assert.equal(usage.code, 2);
  assert.match(usage.err, /usage: drawbridge explain/);
  const unknownOption = await inProcess(...base, '--url', 'https://wiki.example.com/', '--frobnicate');
  assert.equal(unknownOption.code, 2);
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'publicUrl: [\n');
  assert.equal((await inProcess('explain', broken, '--url', 'https://wiki.example.com/')).code, 2, 'a file that cannot be read never reads as a deny');
});

test('test exits non-zero on any failure, 0 when all pass', LIMIT, async () => {
  const ok = await drawbridge('test', 'config/example.yaml', 'config/example.tests.yaml');
  assert.equal(ok.code, 0, ok.out + ok.err);
  const file = join(dir, 'one-failure.yaml');
  writeFileSync(file, 'tests:\n  - name: anonymous is let in\n    request: { url: https://wiki.example.com/ }\n    expect: allow\n');
  const failed = await drawbridge('test', 'config/example.yaml', file);
  assert.equal(failed.code, 1);
  assert.match(failed.out, /^0 passed, 1 failed$/m);
});
