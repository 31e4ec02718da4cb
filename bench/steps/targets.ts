// bench/steps/targets.ts — the targets from the rows, the fixed-rate comparisons, the memory after load, the routes
// rows and the sessions row: each met or not, or not measured with the reason. Ratios between rows are medians of
// per-round ratios (both rows measured in the same round), never ratios of figures from different runs.
import { round, type FixedRate, type ReportDetails, type Row, type RowName, type Target } from '../report.js';
import { median, type BenchRun, type RoundResult } from './common.js';
import type { MicroResults } from './micro.js';

/** The median over rounds of `a`'s req/s over `b`'s in the same round; null when either row has no valid figure. */
export function perRoundRatio(rows: readonly Row[], runs: readonly RoundResult[], a: RowName, b: RowName): { ratio: number | null; why?: string } {
  for (const name of [a, b]) {
    const row = rows.find((r) => r.name === name)!;
    if (row.rps === null) return { ratio: null, why: `${name}: ${row.skipped ?? row.invalid}` };
  }
  const ratios = runs.filter((r) => r.row === a).flatMap((x) => runs.filter((y) => y.row === b && y.round === x.round).map((y) => x.result.rps / y.result.rps));
  return ratios.length ? { ratio: round(median(ratios)) } : { ratio: null, why: `${a} and ${b} never ran in the same round` };
}

/** Resident memory after the load rounds, per Drawbridge process (MB = 10^6 bytes). */
export type RssAfterLoad = Array<{ row: RowName; pid: number; rssMB: number }>;

export function computeTargets(
  { o }: BenchRun,
  rows: readonly Row[],
  runs: readonly RoundResult[],
  fixedRates: ReportDetails['fixedRates'],
  rss: RssAfterLoad,
  routesE2e: ReportDetails['routesE2e'],
  { sessions, sessionsSkip }: MicroResults,
): { targets: Target[]; sessionsScale: number } {
  const sessionsScale = sessions ? 100_000 / sessions.sessions : 1;
  const ratioTarget = (name: Target['name'], target: string, a: RowName, b: RowName, min: number): Target => {
    const { ratio, why } = perRoundRatio(rows, runs, a, b);
    return ratio === null ? { name, target, measured: null, met: false, skipped: why ?? 'not measured' } : { name, target, measured: ratio, met: ratio >= min };
  };
  const p99Target = (name: Target['name'], mode: 'pinned' | 'unpinned'): Target => {
    const fr: FixedRate | undefined = fixedRates?.[mode];
    const target = `p99 ≤ ${mode === 'pinned' ? 'apache-mod-auth-openidc' : 'apache-mod-auth-openidc-unpinned'} p99, both at a fixed rate of half that Apache row's peak; measured: Drawbridge's p99 / Apache's`;
    if (!fr || 'skipped' in fr) return { name, target, measured: null, met: false, skipped: fr?.skipped ?? 'not run' };
    const [apache, drawbridge] = fr.rows;
    const bad = [apache, drawbridge].find((r) => !r?.valid);
    if (!apache || !drawbridge || bad) return { name, target, measured: null, met: false, skipped: bad ? `${bad.name}: ${bad.note}` : 'not run' };
    const ratio = round(drawbridge.p99Ms / apache.p99Ms);
    return { name, target, measured: ratio, met: ratio <= 1 };
  };
  const rssTarget = (): Target => {
    const target = '≤ 100 MB resident per Drawbridge process with the memory store (each worker of the workers row, the single-process memory rows) after the load rounds; measured: the largest';
    const counted = rss.filter((r) => r.row !== 'drawbridge-auth-redis');
    if (counted.length === 0) return { name: 'rss-after-load', target, measured: null, met: false, skipped: 'no Drawbridge process to read (/proc unreadable?)' };
    const largest = Math.max(...counted.map((r) => r.rssMB));
    return { name: 'rss-after-load', target, measured: round(largest, 1), met: largest <= 100 };
  };
  const routesTarget = `≤ 1.1 × the time per request with ${o.routes[0]} routes, through Drawbridge (proxy CPU µs / request; ${o.routes[1].toLocaleString('en-US')} routes, requests spread over every route)`;
  const reported = (name: Target['name'], target: string, a: RowName, b: RowName): Target => {
    const r = perRoundRatio(rows, runs, a, b);
    return r.ratio === null ? { name, target, measured: null, met: false, skipped: r.why ?? 'not measured' } : { name, target, measured: r.ratio, met: true };
  };
  const targets: Target[] = [
    ratioTarget('auth-memory-vs-apache-pinned', '≥ 2.0 × apache-mod-auth-openidc req/s, pinned (one core each), authenticated, memory store', 'drawbridge-auth-memory', 'apache-mod-auth-openidc', 2),
    ratioTarget('auth-workers-vs-apache-unpinned', '≥ 2.0 × apache-mod-auth-openidc-unpinned req/s, unpinned, Drawbridge with `workers: auto`', 'drawbridge-auth-workers', 'apache-mod-auth-openidc-unpinned', 2),
    p99Target('p99-at-half-apache-pinned', 'pinned'),
    p99Target('p99-at-half-apache-unpinned', 'unpinned'),
    rssTarget(),
    ratioTarget('auth-redis-rps', '≥ 0.7 × drawbridge-auth-memory req/s (pinned)', 'drawbridge-auth-redis', 'drawbridge-auth-memory', 0.7),
    routesE2e && 'ratio' in routesE2e
      ? { name: 'routes-10k-vs-10', target: routesTarget, measured: round(routesE2e.ratio), met: routesE2e.ratio <= 1.1 }
      : { name: 'routes-10k-vs-10', target: routesTarget, measured: null, met: false, skipped: routesE2e?.skipped ?? 'not run' },
    sessions
      ? { name: 'sessions-100k-rss', target: '≤ 150 MB resident over an empty store (MB = 10^6 bytes)', measured: round(sessions.rssOverEmptyMB * sessionsScale, 1), met: sessions.rssOverEmptyMB * sessionsScale <= 150 }
      : { name: 'sessions-100k-rss', target: '≤ 150 MB resident over an empty store (MB = 10^6 bytes)', measured: null, met: false, skipped: sessionsSkip ?? 'not run' },
    reported('auth-memory-share-of-nginx', 'no target yet (reported): drawbridge-auth-memory req/s / nginx req/s, pinned; `met` means measured', 'drawbridge-auth-memory', 'nginx'),
    reported('node-floor-vs-apache-pinned', 'no target (reported): node-floor req/s / apache-mod-auth-openidc req/s, pinned: the most any proxy on node:http + undici reaches against Apache on this machine, the ceiling of auth-memory-vs-apache-pinned; `met` means measured', 'node-floor', 'apache-mod-auth-openidc'),
    reported('auth-memory-share-of-node-floor', 'no target (reported): drawbridge-auth-memory req/s / node-floor req/s, pinned: the share of the stack\'s own throughput left after Drawbridge\'s work; `met` means measured', 'drawbridge-auth-memory', 'node-floor'),
    reported('node-floor-vs-apache-unpinned', 'no target (reported): node-floor-unpinned req/s / apache-mod-auth-openidc-unpinned req/s: node:http + undici alone, one event loop unpinned beside the load generator and the upstream, against Apache on every core; the ceiling of auth-workers-vs-apache-unpinned on this machine; `met` means measured', 'node-floor-unpinned', 'apache-mod-auth-openidc-unpinned'),
  ];
  return { targets, sessionsScale };
}
