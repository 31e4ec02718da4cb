// bench/steps/fixed-rate.ts — the p99 comparisons: open loop (bench/load-gen.ts, constant rate, latency from each
// request's scheduled time) at half Apache's peak, Apache and Drawbridge interleaved; pinned (apache-mod-auth-openidc
// vs drawbridge-auth-memory) and unpinned (apache-mod-auth-openidc-unpinned vs drawbridge-auth-workers, with an
// unpinned generator).
import type { LoadResult } from '../load-gen.js';
import type { FixedRate, ReportDetails, Row, RowName } from '../report.js';
import { log, median, statusProblem, type BenchRun, type RowPlan } from './common.js';
import type { Loader } from './load.js';

const PAIRS = {
  pinned: ['apache-mod-auth-openidc', 'drawbridge-auth-memory'],
  unpinned: ['apache-mod-auth-openidc-unpinned', 'drawbridge-auth-workers'],
} as const satisfies Record<string, readonly [RowName, RowName]>;

export async function measureFixedRate({ o }: BenchRun, plans: readonly RowPlan[], rows: readonly Row[], { generatorOf, specOf }: Loader): Promise<{ fixedRates: NonNullable<ReportDetails['fixedRates']>; ratePairs: Array<{ name: string; results: LoadResult[] }> }> {
  const ratePairs: Array<{ name: string; results: LoadResult[] }> = [];
  const fixedRates = {} as NonNullable<ReportDetails['fixedRates']>;
  for (const mode of ['pinned', 'unpinned'] as const) {
    const names = PAIRS[mode];
    const missing = names.map((n) => rows.find((r) => r.name === n)!).find((r) => r.rps === null);
    if (missing) {
      fixedRates[mode] = { skipped: `the ${missing.name} row has no valid figure` };
      continue;
    }
    const apachePeak = rows.find((r) => r.name === names[0])!.rps!;
    const rate = Math.max(10, Math.round(apachePeak / 2));
    const pair = names.map((n) => plans.find((p) => p.name === n)!);
    const mine = pair.map((p) => ({ name: p.name, results: [] as LoadResult[] }));
    ratePairs.push(...mine);
    log(`fixed rate, ${mode}: ${rate} req/s, ${o.rateRounds} round(s) of ${o.rateSeconds} s`);
    for (let r = 0; r < o.rateRounds; r++) {
      for (const p of r % 2 === 0 ? pair : [...pair].reverse()) {
        const spec = { ...specOf(p, o.rateSeconds), rate };
        const m = await generatorOf(p).ask<{ result: LoadResult }>({ type: 'run', spec }, 'result', spec.durationMs + 60_000);
        mine.find((x) => x.name === p.name)!.results.push(m.result);
        log(`fixed rate ${mode} round ${r + 1} ${p.name}: ${Math.round(m.result.rps)} req/s, p50 ${m.result.p50Ms.toFixed(3)} ms, p99 ${m.result.p99Ms.toFixed(3)} ms`);
      }
    }
    const fr: FixedRate = {
      rate,
      rounds: o.rateRounds,
      seconds: o.rateSeconds,
      rows: mine.map((x) => {
        const problem = statusProblem(x.results);
        return { name: x.name, achievedRps: median(x.results.map((r) => r.rps)), backlog: median(x.results.map((r) => r.backlog ?? 0)), p50Ms: median(x.results.map((r) => r.p50Ms)), p99Ms: median(x.results.map((r) => r.p99Ms)), valid: !problem, ...(problem ? { note: problem } : {}) };
      }),
    };
    fixedRates[mode] = fr;
  }
  return { fixedRates, ratePairs };
}
