// bench/steps/fixed-rate.ts — the p99 comparison: half the bare proxy's peak, open loop, bare and auth-memory
// interleaved.
import type { LoadResult } from '../load-gen.js';
import type { ReportDetails, Row } from '../report.js';
import { log, median, statusProblem, type BenchRun, type RowPlan } from './common.js';
import type { Loader } from './load.js';

export async function measureFixedRate({ o }: BenchRun, plans: readonly RowPlan[], rows: readonly Row[], { generator, specOf }: Loader): Promise<{ fixedRate: ReportDetails['fixedRate']; ratePairs: Array<{ name: string; results: LoadResult[] }> }> {
  let fixedRate: ReportDetails['fixedRate'];
  const bareRow = rows.find((r) => r.name === 'bare-http-proxy')!;
  const authPlan = plans.find((p) => p.name === 'drawbridge-auth-memory')!;
  const authRow = rows.find((r) => r.name === 'drawbridge-auth-memory')!;
  const ratePairs: Array<{ name: string; results: LoadResult[] }> = [];
  if (bareRow.rps === null) fixedRate = { skipped: 'the bare-http-proxy row has no valid figure' };
  else if (authRow.rps === null) fixedRate = { skipped: 'the drawbridge-auth-memory row has no valid figure' };
  else {
    const rate = Math.max(10, Math.round(bareRow.rps / 2));
    const pair = [plans.find((p) => p.name === 'bare-http-proxy')!, authPlan];
    for (const p of pair) ratePairs.push({ name: p.name, results: [] });
    log(`fixed rate: ${rate} req/s, ${o.rateRounds} round(s) of ${o.rateSeconds} s`);
    for (let r = 0; r < o.rateRounds; r++) {
      for (const p of r % 2 === 0 ? pair : [...pair].reverse()) {
        const spec = { ...specOf(p, o.rateSeconds), rate };
        const m = await generator.ask<{ result: LoadResult }>({ type: 'run', spec }, 'result', spec.durationMs + 60_000);
        ratePairs.find((x) => x.name === p.name)!.results.push(m.result);
        log(`fixed rate round ${r + 1} ${p.name}: ${Math.round(m.result.rps)} req/s, p50 ${m.result.p50Ms.toFixed(3)} ms, p99 ${m.result.p99Ms.toFixed(3)} ms`);
      }
    }
    fixedRate = {
      rate,
      rounds: o.rateRounds,
      seconds: o.rateSeconds,
      rows: ratePairs.map((x) => {
        const problem = statusProblem(x.results);
        return { name: x.name, achievedRps: median(x.results.map((r) => r.rps)), backlog: median(x.results.map((r) => r.backlog ?? 0)), p50Ms: median(x.results.map((r) => r.p50Ms)), p99Ms: median(x.results.map((r) => r.p99Ms)), valid: !problem, ...(problem ? { note: problem } : {}) };
      }),
    };
  }
  return { fixedRate, ratePairs };
}
