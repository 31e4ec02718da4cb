// bench/steps/rows.ts — the SPEC §10 rows from the measured rounds: medians, the ratio to the bare proxy per round,
// and each row's details (CPU, upstream connections, per-round req/s); skipped or invalid rows keep their reason.
import { ROW_NAMES, round, type ReportDetails, type Row } from '../report.js';
import { median, statusProblem, type RoundResult, type RowPlan } from './common.js';

export function summarizeRows(plans: readonly RowPlan[], runs: readonly RoundResult[]): { rows: Row[]; rowDetails: ReportDetails['rowDetails'] } {
  const rowDetails: ReportDetails['rowDetails'] = {};
  const rows: Row[] = [];
  const bareRuns = runs.filter((r) => r.row === 'bare-http-proxy');
  const bareProblem = statusProblem(bareRuns.map((r) => r.result));
  for (const name of ROW_NAMES) {
    const p = plans.find((x) => x.name === name)!;
    const mine = runs.filter((r) => r.row === name);
    const problem = p.skipped ? undefined : (p.invalid ?? statusProblem(mine.map((r) => r.result)));
    rowDetails[name] = {
      ...(mine.length ? { cpu0: median(mine.flatMap((r) => (r.cpu0 === undefined ? [] : [r.cpu0]))), cpu1: median(mine.flatMap((r) => (r.cpu1 === undefined ? [] : [r.cpu1]))) } : {}),
      ...(mine.length ? { upstreamConnections: mine.reduce((a, r) => a + r.upstreamConnections, 0), upstreamRequests: mine.reduce((a, r) => a + r.upstreamRequests, 0) } : {}),
      perRound: mine.map((r) => r.result.rps),
      ...(mine.length
        ? {
            proxyCpuPct: median(mine.map((r) => (100 * r.proxyCpuSec) / r.result.durationSec)),
            cpuUsPerRequest: median(mine.map((r) => (1e6 * r.proxyCpuSec) / Math.max(1, r.result.requests))),
          }
        : {}),
    };
    if (p.skipped) {
      rows.push({ name, rps: null, p50Ms: null, p99Ms: null, ratioToBare: null, skipped: p.skipped });
      continue;
    }
    if (problem) {
      rows.push({ name, rps: null, p50Ms: null, p99Ms: null, ratioToBare: null, invalid: problem });
      continue;
    }
    const ratios = bareProblem
      ? []
      : mine.flatMap((r) => {
          const b = bareRuns.find((x) => x.round === r.round);
          return b ? [r.result.rps / b.result.rps] : [];
        });
    rows.push({
      name,
      rps: round(median(mine.map((r) => r.result.rps)), 1),
      p50Ms: round(median(mine.map((r) => r.result.p50Ms))),
      p99Ms: round(median(mine.map((r) => r.result.p99Ms))),
      ratioToBare: ratios.length ? round(median(ratios)) : null,
    });
  }
  return { rows, rowDetails };
}
