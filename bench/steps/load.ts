// bench/steps/load.ts — the load step: the load generator (wrk, or bench/load-gen.ts), a warm-up per row, then the
// measured rounds (rows rotated per round), with upstream connection counts and CPU figures per run.
import { startChild, type Child } from '../child.js';
import type { LoadResult, LoadSpec } from '../load-gen.js';
import type { UpstreamStats } from '../upstream.js';
import { hasWrk, runWrk } from '../wrk.js';
import { log, version, type BenchRun, type RoundResult, type RowPlan } from './common.js';
import { busyPct, cpuSeconds, cpuTimes } from './cpu.js';

/** How the rows are loaded. */
export interface Loader {
  readonly generator: Child<object>;
  /** The open-loop generator for a row: pinned with the load, or unpinned for the unpinned rows. */
  generatorOf(p: Pick<RowPlan, 'mode'>): Child<object>;
  readonly loadTool: string;
  load(spec: LoadSpec, p?: Pick<RowPlan, 'mode'>): Promise<LoadResult>;
  specOf(p: RowPlan, seconds: number): LoadSpec;
}

export async function startLoader({ o, pin, cleanups }: BenchRun): Promise<Loader> {
  const generator = await startChild<object>('./load-gen.ts', [], { cpu: pin.load });
  cleanups.push(() => generator.stop());
  const wrk = o.loadgen !== 'node' && hasWrk();
  const loadTool = wrk ? `wrk ${version('wrk', ['--version'], (s) => s.split('\n')[0]!.replace(/^wrk\s+/, '').split(' ')[0]!) ?? ''} (1 thread)` : `bench/load-gen.ts (closed loop; ${o.loadgen === 'node' ? '--loadgen node' : 'wrk not found'})`;
  // The unpinned rows' load: wrk over every CPU, or a second bench/load-gen.ts started unpinned (also the fixed-rate
  // generator of the unpinned pair).
  const unpinnedGenerator = await startChild<object>('./load-gen.ts', [], { cpu: pin.all });
  cleanups.push(() => unpinnedGenerator.stop());
  const generatorOf = (p: Pick<RowPlan, 'mode'>) => (p.mode === 'unpinned' ? unpinnedGenerator : generator);
  const load = (spec: LoadSpec, p?: Pick<RowPlan, 'mode'>): Promise<LoadResult> =>
    wrk ? runWrk(spec, p?.mode === 'unpinned' ? pin.all : pin.load) : generatorOf(p ?? {}).ask<{ result: LoadResult }>({ type: 'run', spec }, 'result', spec.durationMs + 60_000).then((m) => m.result);
  const specOf = (p: RowPlan, seconds: number): LoadSpec => ({ port: p.port, host: p.host, path: '/', headers: p.headers, connections: o.connections, durationMs: seconds * 1000, ...(p.requestsFile ? { requestsFile: p.requestsFile } : {}) });
  return { generator, generatorOf, loadTool, load, specOf };
}

/** Warms every runnable row up, then measures `o.rounds` rounds of them. */
export async function measureRows({ o, pin }: BenchRun, plans: readonly RowPlan[], { loadTool, load, specOf }: Loader): Promise<RoundResult[]> {
  const runnable = () => plans.filter((p) => !p.skipped && !p.invalid);

  log(`warm-up: ${o.warmupSeconds} s per row with ${loadTool}`);
  for (const p of runnable()) {
    // A routes row warms up through its whole request list at least once: every route's first request signs
    // the route's assertion, which must not land in a measured run.
    let sent = 0;
    for (let i = 0; i < 10 && (i === 0 || sent < (p.requestCount ?? 0)); i++) sent += (await load(specOf(p, o.warmupSeconds), p)).requests;
    if (p.requestCount !== undefined) log(`warm-up ${p.name}: ${sent.toLocaleString('en-US')} requests (list of ${p.requestCount.toLocaleString('en-US')})`);
  }

  const runs: RoundResult[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = runnable();
    const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
    for (const p of rotated) {
      const before = await p.upstream.ask<UpstreamStats>({ type: 'stats' }, 'stats', 10_000);
      const cpuBefore = cpuTimes();
      const pids = p.pidsNow?.() ?? p.pids;
      const procBefore = cpuSeconds(pids);
      const result = await load(specOf(p, o.seconds), p);
      const procAfter = cpuSeconds(pids);
      const cpuAfter = cpuTimes();
      const after = await p.upstream.ask<UpstreamStats>({ type: 'stats' }, 'stats', 10_000);
      runs.push({
        row: p.name,
        round,
        result,
        ...(busyPct(cpuBefore, cpuAfter, pin.load) !== undefined ? { cpu0: busyPct(cpuBefore, cpuAfter, pin.load)! } : {}),
        ...(busyPct(cpuBefore, cpuAfter, pin.proxy) !== undefined ? { cpu1: busyPct(cpuBefore, cpuAfter, pin.proxy)! } : {}),
        upstreamConnections: after.connections - before.connections,
        upstreamRequests: after.requests - before.requests,
        proxyCpuSec: procAfter - procBefore,
      });
      log(`round ${round + 1}/${o.rounds} ${p.name}: ${Math.round(result.rps)} req/s, p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms`);
    }
  }
  return runs;
}
