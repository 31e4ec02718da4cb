// bench/steps/routes-rows.ts — the end-to-end routes rows: Drawbridge with N generated routes (the same session,
// memory store and upstream), requests spread over every route; and their summary, the large table against the small.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, type Child } from '../child.js';
import type { ReportDetails } from '../report.js';
import { drawbridgeChild, fmtRatio, log, median, statusProblem, type BenchRun, type RoundResult, type RoutesRowName, type RowPlan } from './common.js';
import type { DbReady } from './drawbridge-rows.js';

export type RoutesReady = DbReady & { loadMs: number };

/** Starts one Drawbridge per route count of `o.routes`; their plans are appended to `plans`. */
export async function startRoutesRows({ o, pin, cleanups, dist }: BenchRun, plans: RowPlan[], upstream: Child<{ port: number }>, upstreamUrl: string): Promise<Array<Child<RoutesReady> | undefined>> {
  // The routes rows: the same session, memory store and upstream, N generated routes, every request to the
  // next entry of a list that visits every route equally often (its hosts and prefixes as in micro-routes.ts).
  const routesDir = mkdtempSync(join(tmpdir(), 'drawbridge-bench-'));
  cleanups.push(async () => rmSync(routesDir, { recursive: true, force: true }));
  const routesChildren: Array<Child<RoutesReady> | undefined> = [];
  for (const n of o.routes) {
    const name: RoutesRowName = `drawbridge-routes-${n}`;
    log(`starting Drawbridge with ${n.toLocaleString('en-US')} routes`);
    const requestCount = Math.max(2, Math.ceil(2000 / n)) * n;
    const requestsFile = join(routesDir, `${name}.requests`);
    try {
      // The child writes the request list (micro-routes.ts routeRequests), each line with its host's session cookie.
      const c = await startChild<RoutesReady>('./drawbridge-proxy.ts', ['--upstream', upstreamUrl, '--store', 'memory', '--routes', String(n), '--requests', requestsFile, '--request-count', String(requestCount)], { cpu: pin.proxy, readyTimeoutMs: 180_000, ...drawbridgeChild({ dist }) });
      cleanups.push(() => c.stop());
      routesChildren.push(c);
      const list = readFileSync(requestsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [hostname, path, cookie] = line.split(' ') as [string, string, string];
          return { hostname, path, cookie };
        });
      const sample = Array.from({ length: 12 }, (_, k) => list[Math.floor((k * list.length) / 12)]!);
      plans.push({ name, port: c.ready.port, host: list[0]!.hostname, headers: { cookie: list[0]!.cookie }, upstream, expectUser: c.ready.user, drawbridge: c, pids: [c.process.pid!], requestsFile, requestCount: list.length, sample });
    } catch (e) {
      routesChildren.push(undefined);
      plans.push({ name, port: 0, host: '', headers: {}, upstream, expectUser: null, pids: [], skipped: (e as Error).message.split('\n')[0]! });
    }
  }
  return routesChildren;
}

/** The routes rows' figures, or why they are skipped. */
export function summarizeRoutes({ o }: BenchRun, plans: readonly RowPlan[], runs: readonly RoundResult[], routesChildren: ReadonlyArray<Child<RoutesReady> | undefined>): ReportDetails['routesE2e'] {
  // The routes rows: the large table against the small one, per round (the two ran in the same round).
  const cpuUsOf = (r: RoundResult) => (1e6 * r.proxyCpuSec) / Math.max(1, r.result.requests);
  const routesRow = (n: number) => {
    const name: RoutesRowName = `drawbridge-routes-${n}`;
    const p = plans.find((x) => x.name === name)!;
    const mine = runs.filter((r) => r.row === name);
    const problem = p.skipped ?? p.invalid ?? statusProblem(mine.map((r) => r.result));
    const figures = {
      routes: n,
      rps: median(mine.map((r) => r.result.rps)),
      p50Ms: median(mine.map((r) => r.result.p50Ms)),
      p99Ms: median(mine.map((r) => r.result.p99Ms)),
      proxyCpuPct: median(mine.map((r) => (100 * r.proxyCpuSec) / r.result.durationSec)),
      cpuUsPerRequest: median(mine.map(cpuUsOf)),
      upstreamConnections: mine.reduce((a, r) => a + r.upstreamConnections, 0),
      upstreamRequests: mine.reduce((a, r) => a + r.upstreamRequests, 0),
      perRound: mine.map((r) => r.result.rps),
    };
    return { name, mine, problem: problem === undefined ? undefined : `${name}: ${problem}`, figures };
  };
  const [smallRoutes, largeRoutes] = [routesRow(o.routes[0]), routesRow(o.routes[1])];
  let routesE2e: ReportDetails['routesE2e'];
  if (smallRoutes.problem || largeRoutes.problem) routesE2e = { skipped: [smallRoutes.problem, largeRoutes.problem].filter(Boolean).join('; ') };
  else {
    const pairs = smallRoutes.mine.flatMap((sm) => largeRoutes.mine.filter((lg) => lg.round === sm.round).map((lg) => ({ sm, lg })));
    const cpuRatio = median(pairs.map(({ sm, lg }) => cpuUsOf(lg) / cpuUsOf(sm)));
    const rpsRatio = median(pairs.map(({ sm, lg }) => sm.result.rps / lg.result.rps));
    // Without /proc (CPU time unreadable), wall-clock time per request (1 / req/s) is the figure.
    const byCpu = Number.isFinite(cpuRatio) && cpuRatio > 0;
    const largeLoadMs = routesChildren[1]?.ready.loadMs;
    routesE2e = {
      small: smallRoutes.figures,
      large: largeRoutes.figures,
      cpuRatio: byCpu ? cpuRatio : null,
      rpsRatio,
      ratio: byCpu ? cpuRatio : rpsRatio,
      rounds: pairs.length,
      requests: plans.find((x) => x.name === largeRoutes.name)?.requestCount ?? 0,
      ...(largeLoadMs !== undefined ? { largeLoadMs } : {}),
    };
    log(`routes: ${o.routes[1]} vs ${o.routes[0]} routes: ${fmtRatio(routesE2e.ratio)} × the proxy CPU per request (${fmtRatio(rpsRatio)} × by req/s)`);
  }
  return routesE2e;
}
