// bench/steps/targets.ts — the SPEC §10 targets from the rows, the fixed-rate comparison, the routes rows and the
// sessions row: each met or not, or skipped with the reason.
import { round, type ReportDetails, type Row, type Target } from '../report.js';
import type { BenchRun } from './common.js';
import type { MicroResults } from './micro.js';

export function computeTargets({ o }: BenchRun, rows: readonly Row[], fixedRate: ReportDetails['fixedRate'], routesE2e: ReportDetails['routesE2e'], { sessions, sessionsSkip }: MicroResults): { targets: Target[]; sessionsScale: number } {
  const sessionsScale = sessions ? 100_000 / sessions.sessions : 1;
  const fr = fixedRate && 'rate' in fixedRate ? fixedRate : undefined;
  const frBare = fr?.rows.find((r) => r.name === 'bare-http-proxy');
  const frAuth = fr?.rows.find((r) => r.name === 'drawbridge-auth-memory');
  const ratioTarget = (name: Target['name'], row: Row, min: number): Target => {
    const target = `≥ ${min} × bare-http-proxy req/s`;
    if (row.ratioToBare === null) return { name, target, measured: null, met: false, skipped: row.skipped ?? row.invalid ?? 'no valid bare-http-proxy figure' };
    return { name, target, measured: row.ratioToBare, met: row.ratioToBare >= min };
  };
  const p99Skip = !fr ? (fixedRate && 'skipped' in fixedRate ? fixedRate.skipped : 'not run') : !frBare?.valid ? `bare-http-proxy: ${frBare?.note}` : !frAuth?.valid ? `drawbridge-auth-memory: ${frAuth?.note}` : undefined;
  const p99Delta = frBare && frAuth && !p99Skip ? round(frAuth.p99Ms - frBare.p99Ms) : null;
  const routesTarget = `≤ 1.1 × the time per request with ${o.routes[0]} routes, through Drawbridge (proxy CPU µs / request; ${o.routes[1].toLocaleString('en-US')} routes, requests spread over every route)`;
  const targets: Target[] = [
    ratioTarget('auth-memory-rps', rows.find((r) => r.name === 'drawbridge-auth-memory')!, 0.9),
    p99Delta === null
      ? { name: 'auth-memory-p99-at-half-load', target: 'p99 ≤ bare-http-proxy p99 + 1 ms, both at 50% of bare peak rate; measured: the difference, ms', measured: null, met: false, skipped: p99Skip ?? 'not run' }
      : { name: 'auth-memory-p99-at-half-load', target: 'p99 ≤ bare-http-proxy p99 + 1 ms, both at 50% of bare peak rate; measured: the difference, ms', measured: p99Delta, met: p99Delta <= 1 },
    ratioTarget('auth-redis-rps', rows.find((r) => r.name === 'drawbridge-auth-redis')!, 0.7),
    routesE2e && 'ratio' in routesE2e
      ? { name: 'routes-10k-vs-10', target: routesTarget, measured: round(routesE2e.ratio), met: routesE2e.ratio <= 1.1 }
      : { name: 'routes-10k-vs-10', target: routesTarget, measured: null, met: false, skipped: routesE2e?.skipped ?? 'not run' },
    sessions
      ? { name: 'sessions-100k-rss', target: '≤ 150 MB resident over an empty store (MB = 10^6 bytes)', measured: round(sessions.rssOverEmptyMB * sessionsScale, 1), met: sessions.rssOverEmptyMB * sessionsScale <= 150 }
      : { name: 'sessions-100k-rss', target: '≤ 150 MB resident over an empty store (MB = 10^6 bytes)', measured: null, met: false, skipped: sessionsSkip ?? 'not run' },
  ];
  return { targets, sessionsScale };
}
