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
  readonly loadTool: string;
  load(spec: LoadSpec): Promise<LoadResult>;
  specOf(p: RowPlan, seconds: number): LoadSpec;
}

export async function startLoader({ o, pin, cleanups }: BenchRun): Promise<Loader> {
  const generator = await startChild<object>('./load-gen.ts', [], { cpu: pin.load });
  cleanups.push(() => generator.stop());
  const wrk = o.loadgen !== 'node' && hasWrk();
  const loadTool = wrk ? `wrk ${version('wrk', ['--version'], (s) => s.split('\n')[0]!.replace(/^wrk\s+/, '').split(' ')[0]!) ?? ''} (1 thread)` : `bench/load-gen.ts (closed loop; ${o.loadgen === 'node' ? '--loadgen node' : 'wrk not found'})`;
  const load = (spec: LoadSpec): Promise<LoadResult> =>
    wrk ? runWrk(spec, pin.load) : generator.ask<{ result: LoadResult }>({ type: 'run', spec }, 'result', spec.durationMs + 60_000).then((m) => m.result);
  const specOf = (p: RowPlan, seconds: number): LoadSpec => ({ port: p.port, host: p.host, path: '/', headers: p.headers, connections: o.connections, durationMs: seconds * 1000, ...(p.requestsFile ? { requestsFile: p.requestsFile } : {}) });
  return { generator, loadTool, load, specOf };
}

/** Warms every runnable row up, then measures `o.rounds` rounds of them. */
export async function measureRows({ o, pin }: BenchRun, plans: readonly RowPlan[], { loadTool, load, specOf }: Loader): Promise<RoundResult[]> {
  const runnable = () => plans.filter((p) => !p.skipped && !p.invalid);

  log(`warm-up: ${o.warmupSeconds} s per row with ${loadTool}`);
  for (const p of runnable()) {
    // A routes row warms up through its whole request list at least once: every route's first request signs
    // the route's assertion, which must not land in a measured run.
    let sent = 0;
    for (let i = 0; i < 10 && (i === 0 || sent < (p.requestCount ?? 0)); i++) sent += (await load(specOf(p, o.warmupSeconds))).requests;
    if (p.requestCount !== undefined) log(`warm-up ${p.name}: ${sent.toLocaleString('en-US')} requests (list of ${p.requestCount.toLocaleString('en-US')})`);
  }

  const runs: RoundResult[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = runnable();
    const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
    for (const p of rotated) {
      const before = await p.upstream.ask<UpstreamStats>({ type: 'stats' }, 'stats', 10_000);
      const cpuBefore = cpuTimes();
      const procBefore = cpuSeconds(p.pids);
      const result = await load(specOf(p, o.seconds));
      const procAfter = cpuSeconds(p.pids);
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
