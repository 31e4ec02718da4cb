// bench/run.ts — `npm run bench`: every row in one run on loopback (direct, nginx, bare http-proxy, Drawbridge
// public / authenticated with memory and redis stores, the real peer Apache + mod_auth_openidc; pinned, and unpinned
// with Drawbridge's `workers`), Drawbridge with 10 and with 10,000 routes (requests spread over every route), the
// fixed-rate p99 comparisons with Apache, the memory after load, and the in-process micro rows; writes
// bench/results.json, docs/performance.md and docs/images/bench.svg (`--quick`: short phases, everything under
// bench/out/ instead). Drawbridge runs compiled, as deployed (bench/build.ts: tsc into bench/out/dist/ first; `--source`:
// from its TypeScript source through tsx instead).
// The steps are in bench/steps/, one file per step or row family; this file runs them in order.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildForBench } from './build.js';
import { detectPinning, isMain, pinSelf, ROOT, type Pinning } from './child.js';
import type { Results, RowName } from './report.js';
import { startBaselineRows } from './steps/baseline-rows.js';
import { log, type BenchOptions, type BenchRun, type RowPlan } from './steps/common.js';
import { startDrawbridgeRows } from './steps/drawbridge-rows.js';
import { readRss, readRssAnon } from './steps/cpu.js';
import { startPeerRows } from './steps/peer-rows.js';
import { measureFixedRate } from './steps/fixed-rate.js';
import { measureRows, startLoader } from './steps/load.js';
import { runMicro } from './steps/micro.js';
import { startRoutesRows, summarizeRoutes } from './steps/routes-rows.js';
import { summarizeRows } from './steps/rows.js';
import { checkRows } from './steps/sanity.js';
import { computeTargets } from './steps/targets.js';
import { writeOutputs } from './steps/write.js';

export type { BenchOptions } from './steps/common.js';

export function benchOptions(quick: boolean): BenchOptions {
  return quick
    ? { quick, outDir: join(ROOT, 'bench/out'), rounds: 1, seconds: 1, warmupSeconds: 1, rateRounds: 1, rateSeconds: 1, connections: 16, sessions: 20_000, routes: [10, 1_000], limitMs: 380_000 }
    : { quick, outDir: join(ROOT, 'bench'), rounds: 8, seconds: 3, warmupSeconds: 2, rateRounds: 3, rateSeconds: 4, connections: 32, sessions: 100_000, routes: [10, 10_000], limitMs: 900_000 };
}

/** Runs the whole bench and writes its outputs; resolves with the results. */
export async function runBench(o: BenchOptions): Promise<Results> {
  const startedAt = Date.now();
  const pin: Pinning = detectPinning();
  // The orchestrator and everything it starts without its own taskset (redis-server) share the load CPU.
  pinSelf(pin.load);
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  const watchdog = setTimeout(() => {
    log(`time limit of ${o.limitMs / 1000} s reached: stopping`);
    void cleanup().finally(() => process.exit(2));
  }, o.limitMs);
  watchdog.unref();
  const loadAverage = loadavg()
    .map((v) => v.toFixed(2))
    .join(', ');

  try {
    const run: BenchRun = { o, pin, cleanups, ...(o.source ? {} : { dist: buildForBench(log) }) };
    const plans: RowPlan[] = [];
    const { upstream, upstreamUrl, nginxFound } = await startBaselineRows(run, plans);
    const { memory, redisDb } = await startDrawbridgeRows(run, plans, upstream, upstreamUrl);
    const peers = await startPeerRows(run, plans);
    const routesChildren = await startRoutesRows(run, plans, upstream, upstreamUrl);

    await checkRows(plans, memory.ready.cookie.split('=')[0]!);
    for (const c of [memory, redisDb, peers.memoryUnpinned, ...routesChildren]) c?.process.send({ type: 'quiet' });
    const loader = await startLoader(run);
    const runs = await measureRows(run, plans, loader);
    // Resident memory of every Drawbridge process of the load rows (each worker of the workers row), after the rounds.
    const rssAfterLoad = plans
      .filter((p) => ['drawbridge-auth-memory', 'drawbridge-auth-redis', 'drawbridge-auth-memory-unpinned', 'drawbridge-auth-workers'].includes(p.name) && !p.skipped && !p.invalid)
      .flatMap((p) => (p.pidsNow?.() ?? p.pids).map((pid) => ({ row: p.name as RowName, pid, rssMB: readRss(pid) / 1e6, anonMB: readRssAnon(pid) / 1e6 })))
      .filter((r) => r.rssMB > 0);

    const { rows, rowDetails } = summarizeRows(plans, runs);
    const routesE2e = summarizeRoutes(run, plans, runs, routesChildren);
    const { fixedRates, ratePairs } = await measureFixedRate(run, plans, rows, loader);

    // Free CPU 1 before the in-process rows.
    await cleanup();
    const micro = await runMicro(run);
    const { targets, sessionsScale } = computeTargets(run, rows, runs, fixedRates, rssAfterLoad, routesE2e, micro);
    return writeOutputs(run, { startedAt, code: run.dist !== undefined ? 'dist' : 'source', loadAverage, loadTool: loader.loadTool, nginxFound, rows, rowDetails, runs, fixedRates, rssAfterLoad, ratePairs, routesE2e, micro, targets, sessionsScale });
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, loadgen: { type: 'string', default: 'wrk' }, source: { type: 'boolean', default: false } } });
  if (values.loadgen !== 'wrk' && values.loadgen !== 'node') throw new Error('--loadgen: wrk or node');
  const stop = () => {
    log('interrupted');
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  runBench({ ...benchOptions(values.quick!), loadgen: values.loadgen, source: values.source! }).then(
    (results) => {
      for (const r of results.rows) log(`${r.name.padEnd(24)} ${r.rps === null ? (r.skipped ? `skipped: ${r.skipped}` : `INVALID: ${r.invalid}`) : `${r.rps} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${r.ratioToBare ?? '—'} × bare`}`);
      for (const t of results.targets) log(`target ${t.name}: ${t.measured ?? `not measured (${t.skipped})`} → ${t.met ? 'met' : 'NOT met'}`);
      process.exit(0);
    },
    (e: Error) => {
      log(`failed: ${e.stack ?? e.message}`);
      process.exit(1);
    },
  );
}
