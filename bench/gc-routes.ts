// bench/gc-routes.ts — `node --import tsx bench/gc-routes.ts [--rounds 4] [--seconds 3] [--base DIR] [--heap]`: not part
// of `npm run bench`, a tool for the routes target's GC share. The routes rows (Drawbridge with 10 and with 10,000
// generated routes, bench/steps/routes-rows.ts's configuration and request list) under wrk, interleaved rounds; per
// round each row's proxy CPU µs per request, and from the process (bench/tail-probe.mjs) its GC: pauses per 10,000
// requests by kind, pause µs per request, old-space size. `--base DIR` adds the same two rows from another checkout;
// `--heap` ends with one window per row under allocation sampling (bytes per request and the functions allocating).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { detectPinning, pinSelf, startChild, type Child } from './child.js';
import { median } from './steps/common.js';
import { cpuSeconds } from './steps/cpu.js';
import { runWrk } from './wrk.js';

interface Probe {
  gc: { count: number; totalMs: number; maxMs: number; byKind: Record<string, number> };
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '4' }, seconds: { type: 'string', default: '3' }, base: { type: 'string' }, heap: { type: 'boolean', default: false }, flags: { type: 'string', default: '' } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const probe = fileURLToPath(new URL('./tail-probe.mjs', import.meta.url));
const nodeArgs = [...values.flags!.split(' ').filter(Boolean), '--import', probe];

const pin = detectPinning();
pinSelf(pin.load);
const dir = mkdtempSync(join(tmpdir(), 'drawbridge-gc-routes-'));
const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
const url = `http://127.0.0.1:${upstream.ready.port}`;
type Row = { name: string; db: Child<{ port: number }>; requestsFile: string };
const rows: Row[] = [];
const trees: Array<readonly [string, string]> = [['this', './drawbridge-proxy.ts']];
if (values.base !== undefined) trees.push(['base', pathToFileURL(join(values.base, 'bench/drawbridge-proxy.ts')).href]);
for (const [tree, script] of trees) {
  for (const n of [10, 10_000]) {
    const requestsFile = join(dir, `${tree}-${n}`);
    const count = Math.max(2, Math.ceil(2000 / n)) * n;
    const db = await startChild<{ port: number }>(script, ['--upstream', url, '--store', 'memory', '--routes', String(n), '--requests', requestsFile, '--request-count', String(count)], { cpu: pin.proxy, nodeArgs, readyTimeoutMs: 180_000 });
    db.process.send({ type: 'quiet' });
    rows.push({ name: `${tree}-${n}`, db, requestsFile });
  }
}
const spec = (row: Row, ms: number) => ({ port: row.db.ready.port, host: 'bench.localhost', path: '/', headers: {}, connections: 32, durationMs: ms, requestsFile: row.requestsFile });
// Warm-up through each whole list, however slow the machine (every route's assertion signed before measuring).
for (const row of rows) {
  let sent = 0;
  const count = row.name.endsWith('-10') ? 2000 : 20_000;
  for (let i = 0; i < 10 && (i === 0 || sent < count); i++) sent += (await runWrk(spec(row, 4000), pin.load)).requests;
}
const figures = new Map(rows.map((r) => [r.name, [] as Array<{ us: number; gcUs: number; per10k: Record<string, number> }>]));
for (let round = 0; round < rounds; round++) {
  for (const row of round % 2 ? [...rows].reverse() : rows) {
    await row.db.ask<Probe>({ type: 'probe' }, 'probe', 5000);
    const cpu0 = cpuSeconds([row.db.process.pid!]);
    const result = await runWrk(spec(row, seconds * 1000), pin.load);
    const cpu1 = cpuSeconds([row.db.process.pid!]);
    const p = await row.db.ask<Probe>({ type: 'probe' }, 'probe', 5000);
    const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
    if (bad.length > 0) throw new Error(`${row.name}: non-2xx answers ${JSON.stringify(result.statuses)}`);
    const per10k = Object.fromEntries(Object.entries(p.gc.byKind).map(([k, v]) => [k, (1e4 * v) / result.requests]));
    const f = { us: (1e6 * (cpu1 - cpu0)) / result.requests, gcUs: (1e3 * p.gc.totalMs) / result.requests, per10k };
    figures.get(row.name)!.push(f);
    process.stdout.write(`round ${round + 1} ${row.name.padEnd(10)} ${f.us.toFixed(1)} µs CPU/req, GC pauses ${f.gcUs.toFixed(2)} µs/req, max ${p.gc.maxMs.toFixed(2)} ms, per 10k req ${JSON.stringify(Object.fromEntries(Object.entries(per10k).map(([k, v]) => [k, Number(v.toFixed(2))])))}\n`);
  }
}
for (const row of rows) {
  const f = figures.get(row.name)!;
  process.stdout.write(`${row.name.padEnd(10)} median: ${median(f.map((x) => x.us)).toFixed(1)} µs CPU/req, GC pauses ${median(f.map((x) => x.gcUs)).toFixed(2)} µs/req\n`);
}
for (const [tree] of trees) {
  const small = figures.get(`${tree}-10`)!;
  const ratios = figures.get(`${tree}-10000`)!.map((x, i) => x.us / small[i]!.us);
  process.stdout.write(`${tree}: 10,000 × 10 by CPU/request ${median(ratios).toFixed(3)} (rounds: ${ratios.map((r) => r.toFixed(3)).join(', ')})\n`);
}
if (values.heap) {
  for (const row of rows) {
    await row.db.ask({ type: 'heap-start' }, 'heap-started', 10_000);
    const result = await runWrk(spec(row, seconds * 1000), pin.load);
    const heap = await row.db.ask<{ total: number; top: Array<[string, number]> }>({ type: 'heap-stop' }, 'heap', 60_000);
    process.stdout.write(`${row.name}: ${(heap.total / result.requests / 1024).toFixed(2)} KiB allocated per request (${result.requests} requests)\n`);
    for (const [fn, bytes] of heap.top.slice(0, 20)) process.stdout.write(`  ${(bytes / result.requests).toFixed(0).padStart(7)} B/request  ${fn}\n`);
  }
}
for (const row of rows) await row.db.stop();
await upstream.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
