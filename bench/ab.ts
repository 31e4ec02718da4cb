// bench/ab.ts — `node --import tsx bench/ab.ts [rounds] [seconds]`: not part of `npm run bench`, a quicker A/B for
// work on the hot path. bare-http-proxy, a lean node:http relay (bench/lean-proxy.ts: the floor of node's HTTP
// client and server), node:http's server with undici's Pool (bench/node-floor.ts: the floor of Drawbridge's own
// stack), Drawbridge on a public route and authenticated (memory store), pinned as in the bench,
// interleaved rounds with wrk; prints each row's proxy CPU µs per request (from /proc, steadier than req/s on a
// shared machine) and its ratios to bare, as medians of per-round figures. `--base DIR` adds the same two Drawbridge
// rows from another checkout (e.g. a git worktree of the previous commit) to the same interleaved rounds: a before
// and after measured in one run, each row's ratio to its base row printed as the median of per-round ratios.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { detectPinning, pinSelf, startChild } from './child.js';
import { median } from './steps/common.js';
import { cpuSeconds } from './steps/cpu.js';
import { runWrk } from './wrk.js';

const args = process.argv.slice(2);
const baseAt = args.indexOf('--base');
const baseDir = baseAt >= 0 ? args.splice(baseAt, 2)[1] : undefined;
const rounds = Number(args[0] ?? 6);
const seconds = Number(args[1] ?? 3);


const pin = detectPinning();
pinSelf(pin.load);
const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
const url = `http://127.0.0.1:${upstream.ready.port}`;
const bare = await startChild<{ port: number }>('./bare-proxy.ts', [url], { cpu: pin.proxy });
const lean = await startChild<{ port: number }>('./lean-proxy.ts', [url], { cpu: pin.proxy });
const floor = await startChild<{ port: number }>('./node-floor.ts', [url], { cpu: pin.proxy });
const db = await startChild<{ port: number; cookie: string }>('./drawbridge-proxy.ts', ['--upstream', url, '--store', 'memory'], { cpu: pin.proxy });
db.process.send({ type: 'quiet' });
const before = baseDir === undefined ? undefined : await startChild<{ port: number; cookie: string }>(pathToFileURL(join(baseDir, 'bench/drawbridge-proxy.ts')).href, ['--upstream', url, '--store', 'memory'], { cpu: pin.proxy });
before?.process.send({ type: 'quiet' });
const rows: Array<{ name: string; port: number; host: string; headers: Record<string, string>; pid: number }> = [
  { name: 'bare', port: bare.ready.port, host: 'bench.localhost', headers: {}, pid: bare.process.pid! },
  { name: 'lean', port: lean.ready.port, host: 'bench.localhost', headers: {}, pid: lean.process.pid! },
  { name: 'node-floor', port: floor.ready.port, host: 'bench.localhost', headers: {}, pid: floor.process.pid! },
  { name: 'public', port: db.ready.port, host: 'public.localhost', headers: {}, pid: db.process.pid! },
  { name: 'auth', port: db.ready.port, host: 'app.localhost', headers: { cookie: db.ready.cookie }, pid: db.process.pid! },
  ...(before
    ? [
        { name: 'public-base', port: before.ready.port, host: 'public.localhost', headers: {}, pid: before.process.pid! },
        { name: 'auth-base', port: before.ready.port, host: 'app.localhost', headers: { cookie: before.ready.cookie }, pid: before.process.pid! },
      ]
    : []),
];
const spec = (row: (typeof rows)[number], ms: number) => ({ port: row.port, host: row.host, path: '/', headers: row.headers, connections: 32, durationMs: ms });
const figures = new Map(rows.map((r) => [r.name, { rps: [] as number[], us: [] as number[] }]));
for (const row of rows) await runWrk(spec(row, 2000), pin.load);
for (let round = 0; round < rounds; round++) {
  for (const row of rows) {
    const cpu0 = cpuSeconds([row.pid]);
    const result = await runWrk(spec(row, seconds * 1000), pin.load);
    const cpu1 = cpuSeconds([row.pid]);
    const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
    if (bad.length > 0) throw new Error(`${row.name}: non-2xx answers ${JSON.stringify(result.statuses)}`);
    figures.get(row.name)!.rps.push(result.rps);
    figures.get(row.name)!.us.push((1e6 * (cpu1 - cpu0)) / result.requests);
  }
}
const base = figures.get('bare')!;
for (const row of rows) {
  const f = figures.get(row.name)!;
  const byRps = median(f.rps.map((x, i) => x / base.rps[i]!));
  const byCpu = median(f.us.map((x, i) => base.us[i]! / x));
  console.log(`${row.name.padEnd(11)} ${median(f.rps).toFixed(0).padStart(6)} req/s  ${median(f.us).toFixed(1).padStart(6)} µs CPU/request  × bare: ${byRps.toFixed(3)} by req/s, ${byCpu.toFixed(3)} by CPU`);
}
// With --base: each Drawbridge row against its base row measured next to it in the same round, as the median of the
// per-round ratios of CPU per request (a before/after pair shares that round's load; their separate medians do not).
if (before) {
  for (const name of ['public', 'auth']) {
    const after = figures.get(name)!.us;
    const base = figures.get(`${name}-base`)!.us;
    const ratios = after.map((x, i) => x / base[i]!);
    console.log(`${name} / ${name}-base  CPU per request: ${median(ratios).toFixed(3)} (median of per-round ratios; per round ${ratios.map((r) => r.toFixed(2)).join(' ')})`);
  }
}
await before?.stop();
await db.stop();
await lean.stop();
await floor.stop();
await bare.stop();
await upstream.stop();
process.exit(0);
