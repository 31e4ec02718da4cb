// bench/bench.test.ts — `npm run bench -- --quick` runs to the end and writes a well-formed
// bench/out/results.json (every row present, or skipped/invalid with a reason; finite numbers; the Apache +
// mod_auth_openidc rows measured; no row invalid: a `drawbridge serve` that fails to start or sign in with
// `workers: auto` makes the `drawbridge-auth-workers` row invalid and fails this test). It never asserts on the figures themselves: a shared CI machine cannot
// promise any.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './child.js';
import { ROW_NAMES, TARGET_NAMES, validateResults, type Results } from './report.js';

const OUT = join(ROOT, 'bench/out');

test('npm run bench -- --quick writes well-formed results to bench/out/', { timeout: 470_000 }, async () => {
  for (const f of ['results.json', 'performance.md', 'bench.svg']) rmSync(join(OUT, f), { force: true });
  const checkedIn = join(ROOT, 'bench/results.json');
  const before = existsSync(checkedIn) ? readFileSync(checkedIn, 'utf8') : undefined;

  const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], { cwd: ROOT, timeout: 450_000, maxBuffer: 16 << 20 }, (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
    child.stdin?.end();
  });
  assert.equal(run.code, 0, `the bench failed:\n${run.stderr.slice(-4000)}`);

  const results = JSON.parse(readFileSync(join(OUT, 'results.json'), 'utf8')) as Results;
  assert.deepEqual(validateResults(results), []);
  assert.deepEqual(results.rows.map((r) => r.name).sort(), [...ROW_NAMES].sort());
  assert.deepEqual(results.targets.map((t) => t.name).sort(), [...TARGET_NAMES].sort());
  for (const r of results.rows) {
    if (r.rps === null) assert.ok((r.skipped ?? r.invalid ?? '').length > 0, `${r.name}: no figure and no reason`);
    else for (const v of [r.rps, r.p50Ms, r.p99Ms]) assert.ok(Number.isFinite(v), `${r.name}: ${v} is not finite`);
  }
  // `invalid` means the bench measured the wrong thing (a row's check request was not answered 2xx by the upstream
  // as the expected user): a bench bug, never noise. The routes rows once ran on 401s (a cookie for another host).
  for (const r of results.rows) assert.equal(r.invalid, undefined, `${r.name}: ${r.invalid}`);
  // The real peer always runs (bench/apache.ts): Apache not starting, or its sign-in failing, fails the bench itself.
  for (const name of ['apache-mod-auth-openidc', 'apache-mod-auth-openidc-unpinned'] as const) {
    const row = results.rows.find((r) => r.name === name)!;
    assert.ok(row.rps !== null && row.rps > 0, `${name}: ${row.skipped ?? row.invalid ?? 'no figure'}`);
  }
  for (const t of results.targets) assert.doesNotMatch(t.skipped ?? '', /answered|sanity|expected/, `${t.name}: ${t.skipped}`);
  const md = readFileSync(join(OUT, 'performance.md'), 'utf8');
  assert.match(md, /!\[[^\]]*\]\(bench\.svg\)/);
  // Drawbridge ran as deployed: compiled (bench/build.ts), not from its source through tsx.
  assert.match(md, /\| Drawbridge ran \| the compiled build/);
  assert.match(readFileSync(join(OUT, 'bench.svg'), 'utf8'), /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  // --quick never touches the checked-in figures.
  assert.equal(existsSync(checkedIn) ? readFileSync(checkedIn, 'utf8') : undefined, before);
});

test('validateResults rejects a figure on a skipped row and a missing row', () => {
  const machine = { cpus: 2, model: 'x', node: 'v20', os: 'Linux', pinned: { none: 'test' }, date: new Date(0).toISOString() };
  const rows = ROW_NAMES.map((name) => ({ name, rps: 1, p50Ms: 1, p99Ms: 1, ratioToBare: 1 }));
  const targets = TARGET_NAMES.map((name) => ({ name, target: 't', measured: 1, met: true }));
  assert.deepEqual(validateResults({ machine, rows, targets }), []);
  assert.notDeepEqual(validateResults({ machine, rows: rows.slice(1), targets }), []);
  assert.notDeepEqual(validateResults({ machine, rows: [{ ...rows[0], skipped: 'no nginx' }, ...rows.slice(1)], targets }), []);
  assert.notDeepEqual(validateResults({ machine, rows: [{ ...rows[0], rps: Number.NaN }, ...rows.slice(1)], targets }), []);
  assert.notDeepEqual(validateResults({ machine, rows, targets, extra: 1 }), []);
});
