// bench/ab-routes.ts — `node --import tsx bench/ab-routes.ts --base DIR [rounds] [seconds]`: not part of `npm run bench`,
// an A/B of the routes target for work on it. Drawbridge with 10 and with 10,000 generated routes (the routes rows'
// configuration and request list, bench/steps/routes-rows.ts), from this checkout and from another one (`--base`, e.g.
// a git worktree or `git archive` of the previous commit), all four in the same interleaved rounds with wrk; prints
// each row's proxy CPU µs per request and each checkout's 10,000-over-10 ratio, as medians of per-round figures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { detectPinning, pinSelf, startChild } from './child.js';
import { median } from './steps/common.js';
import { cpuSeconds } from './steps/cpu.js';
import { runWrk } from './wrk.js';

const args = process.argv.slice(2);
const baseAt = args.indexOf('--base');
const baseDir = baseAt >= 0 ? args.splice(baseAt, 2)[1] : undefined;
if (baseDir === undefined) throw new Error('--base DIR: the other checkout');
const rounds = Number(args[0] ?? 6);
const seconds = Number(args[1] ?? 3);


const pin = detectPinning();
pinSelf(pin.load);
const dir = mkdtempSync(join(tmpdir(), 'drawbridge-ab-routes-'));
const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
const url = `http://127.0.0.1:${upstream.ready.port}`;
type Row = { name: string; port: number; pid: number; requestsFile: string; count: number; stop: () => Promise<unknown> };
const rows: Row[] = [];
for (const [tree, script] of [
  ['this', './drawbridge-proxy.ts'],
  ['base', pathToFileURL(join(baseDir, 'bench/drawbridge-proxy.ts')).href],
] as const) {
  for (const n of [10, 10_000]) {
    const requestsFile = join(dir, `${tree}-${n}`);
    // The routes rows' list: every route visited equally often, each line with its host's cookie.
    const count = Math.max(2, Math.ceil(2000 / n)) * n;
    const c = await startChild<{ port: number }>(script, ['--upstream', url, '--store', 'memory', '--routes', String(n), '--requests', requestsFile, '--request-count', String(count)], { cpu: pin.proxy, readyTimeoutMs: 180_000 });
    c.process.send({ type: 'quiet' });
    rows.push({ name: `${tree}-${n}`, port: c.ready.port, pid: c.process.pid!, requestsFile, count, stop: () => c.stop() });
  }
}
const spec = (row: Row, ms: number) => ({ port: row.port, host: 'bench.localhost', path: '/', headers: {}, connections: 32, durationMs: ms, requestsFile: row.requestsFile });
const us = new Map(rows.map((r) => [r.name, [] as number[]]));
// Warm-up through each whole list (every route's assertion signed before measuring), however slow the machine: one
// 4-second pass is ~12,000 requests on a busy one, short of the 10,000-route list's 20,000, and the signatures left
// over then fell into the first rounds.
for (const row of rows) {
  let sent = 0;
  for (let i = 0; i < 10 && (i === 0 || sent < row.count); i++) sent += (await runWrk(spec(row, 4000), pin.load)).requests;
}
for (let round = 0; round < rounds; round++) {
  for (const row of round % 2 ? [...rows].reverse() : rows) {
    const cpu0 = cpuSeconds([row.pid]);
    const result = await runWrk(spec(row, seconds * 1000), pin.load);
    const cpu1 = cpuSeconds([row.pid]);
    const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
    if (bad.length > 0) throw new Error(`${row.name}: non-2xx answers ${JSON.stringify(result.statuses)}`);
    us.get(row.name)!.push((1e6 * (cpu1 - cpu0)) / result.requests);
  }
}
for (const row of rows) console.log(`${row.name.padEnd(11)} ${median(us.get(row.name)!).toFixed(1).padStart(6)} µs CPU/request`);
for (const tree of ['this', 'base']) {
  const small = us.get(`${tree}-10`)!;
  const ratios = us.get(`${tree}-10000`)!.map((x, i) => x / small[i]!);
  console.log(`${tree}: 10,000 routes × 10 routes by CPU/request ${median(ratios).toFixed(3)} (rounds: ${ratios.map((r) => r.toFixed(3)).join(', ')})`);
}
const large = us.get('this-10000')!;
console.log(`10,000 routes, this × base by CPU/request: ${median(large.map((x, i) => x / us.get('base-10000')![i]!)).toFixed(3)}`);
for (const row of rows) await row.stop();
await upstream.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
