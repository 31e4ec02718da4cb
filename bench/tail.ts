// bench/tail.ts — `node --import tsx bench/tail.ts [--rate N] [--rounds 6] [--seconds 4] [--base DIR]`: not part of
// `npm run bench`, a tool for the p99 at a fixed rate. Drawbridge authenticated (memory store), pinned as in the
// bench, open loop at `rate` (bench/load-gen.ts), interleaved rounds; per round the request p50/p99 and, from the
// process under test (bench/tail-probe.mjs), its event-loop delay p50/p99/max and GC pauses over the same window.
// `--base DIR` adds the same row from another checkout (e.g. the previous commit) to the same rounds; `--flags="..."`
// adds this checkout again with these node options (e.g. `--max-semi-space-size=32`); `--all="..."` gives node options
// to every row (e.g. a fixed young generation, `--min-semi-space-size=16 --max-semi-space-size=16`, so that GC counts
// per request compare the bytes each allocates). `--heap` ends with one more window per row under allocation
// sampling: bytes allocated per request, and the functions that allocate most.
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { detectPinning, pinSelf, startChild, type Child } from './child.js';
import { HOSTS } from './drawbridge-proxy.js';
import type { LoadResult } from './load-gen.js';

interface Probe {
  delay: { p50Ms: number; p99Ms: number; maxMs: number; count: number };
  gc: { count: number; totalMs: number; maxMs: number; byKind: Record<string, number> };
  newSpaceMB: number;
}

const { values } = parseArgs({ options: { rate: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '6' }, seconds: { type: 'string', default: '4' }, base: { type: 'string' }, flags: { type: 'string' }, all: { type: 'string', default: '' }, heap: { type: 'boolean', default: false } } });
const rate = Number(values.rate);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const probe = fileURLToPath(new URL('./tail-probe.mjs', import.meta.url));
const nodeArgs = (extra = ''): string[] => [...`${values.all} ${extra}`.split(' ').filter(Boolean), '--import', probe];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const pin = detectPinning();
pinSelf(pin.load);
const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
const url = `http://127.0.0.1:${upstream.ready.port}`;
const generator = await startChild<object>('./load-gen.ts', [], { cpu: pin.load });
type Db = Child<{ port: number; cookie: string }>;
const rows: Array<{ name: string; db: Db }> = [{ name: 'auth', db: await startChild('./drawbridge-proxy.ts', ['--upstream', url, '--store', 'memory'], { cpu: pin.proxy, nodeArgs: nodeArgs() }) }];
if (values.base !== undefined) rows.push({ name: 'auth-base', db: await startChild(pathToFileURL(join(values.base, 'bench/drawbridge-proxy.ts')).href, ['--upstream', url, '--store', 'memory'], { cpu: pin.proxy, nodeArgs: nodeArgs() }) });
if (values.flags !== undefined) rows.push({ name: 'auth+flags', db: await startChild('./drawbridge-proxy.ts', ['--upstream', url, '--store', 'memory'], { cpu: pin.proxy, nodeArgs: nodeArgs(values.flags) }) });
for (const r of rows) r.db.process.send({ type: 'quiet' });
const run = async (db: Db, ms: number, withRate: boolean): Promise<LoadResult> => {
  const spec = { port: db.ready.port, host: HOSTS.auth, path: '/', headers: { cookie: db.ready.cookie }, connections: 32, durationMs: ms, ...(withRate ? { rate } : {}) };
  return (await generator.ask<{ result: LoadResult }>({ type: 'run', spec }, 'result', ms + 60_000)).result;
};
const figures = new Map(rows.map((r) => [r.name, [] as Array<{ result: LoadResult; probe: Probe }>]));
for (const r of rows) await run(r.db, 2000, false);
for (let round = 0; round < rounds; round++) {
  for (const r of round % 2 === 0 ? rows : [...rows].reverse()) {
    await r.db.ask<Probe>({ type: 'probe' }, 'probe', 5000);
    const result = await run(r.db, seconds * 1000, true);
    const p = await r.db.ask<Probe>({ type: 'probe' }, 'probe', 5000);
    const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
    if (bad.length > 0 || result.errors > 0) throw new Error(`${r.name}: ${JSON.stringify(result.statuses)} ${result.errorDetail}`);
    figures.get(r.name)!.push({ result, probe: p });
    process.stdout.write(
      `round ${round + 1} ${r.name.padEnd(9)} ${Math.round(result.rps)} req/s backlog ${result.backlog ?? 0}  p50 ${result.p50Ms.toFixed(3)} p99 ${result.p99Ms.toFixed(3)} ms | loop delay p50 ${p.delay.p50Ms.toFixed(2)} p99 ${p.delay.p99Ms.toFixed(2)} max ${p.delay.maxMs.toFixed(1)} ms | gc ${p.gc.count}× ${p.gc.totalMs.toFixed(0)} ms, max ${p.gc.maxMs.toFixed(2)} ms ${JSON.stringify(p.gc.byKind)}, new space ${p.newSpaceMB} MB\n`,
    );
  }
}
for (const r of rows) {
  const f = figures.get(r.name)!;
  process.stdout.write(
    `${r.name.padEnd(9)} median of ${f.length}: p50 ${median(f.map((x) => x.result.p50Ms)).toFixed(3)} ms, p99 ${median(f.map((x) => x.result.p99Ms)).toFixed(3)} ms; loop delay p99 ${median(f.map((x) => x.probe.delay.p99Ms)).toFixed(2)} ms, max ${median(f.map((x) => x.probe.delay.maxMs)).toFixed(1)} ms; gc ${(median(f.map((x) => x.probe.gc.count / x.result.requests)) * 1e4).toFixed(1)} per 10,000 requests, max ${median(f.map((x) => x.probe.gc.maxMs)).toFixed(2)} ms\n`,
  );
}
if (values.heap) {
  for (const r of rows) {
    await r.db.ask({ type: 'heap-start' }, 'heap-started', 10_000);
    const result = await run(r.db, seconds * 1000, true);
    const heap = await r.db.ask<{ total: number; top: Array<[string, number]> }>({ type: 'heap-stop' }, 'heap', 60_000);
    process.stdout.write(`${r.name}: ${(heap.total / result.requests / 1024).toFixed(1)} KiB allocated per request (${result.requests} requests)\n`);
    for (const [fn, bytes] of heap.top) process.stdout.write(`  ${(bytes / result.requests).toFixed(0).padStart(7)} B/request  ${fn}\n`);
  }
}
for (const r of rows) await r.db.stop();
await generator.stop();
await upstream.stop();
process.exit(0);
