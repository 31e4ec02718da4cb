// bench/steps/write.ts — the outputs: results.json (validated), the markdown report and the SVG chart (docs/ for a
// full run, bench/out/ for --quick), and every raw figure in bench/out/raw*.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, type as osType } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ROOT } from '../child.js';
import type { LoadResult } from '../load-gen.js';
import { apacheVersion, findApache } from '../apache.js';
import { nginxVersion, type findNginx } from '../nginx.js';
import { renderMarkdown, renderSvg, validateResults, type ReportDetails, type Results, type Row, type Target } from '../report.js';
import { log, packageVersion, version, type BenchRun, type RoundResult } from './common.js';
import type { MicroResults } from './micro.js';

/** Everything measured, for the outputs. */
export interface Measured {
  startedAt: number;
  /** What the Drawbridge processes ran: the compiled build, or the source through tsx (`--source`). */
  code: 'dist' | 'source';
  loadAverage: string;
  loadTool: string;
  nginxFound: ReturnType<typeof findNginx>;
  rows: Row[];
  rowDetails: ReportDetails['rowDetails'];
  runs: RoundResult[];
  fixedRates: ReportDetails['fixedRates'];
  rssAfterLoad: NonNullable<ReportDetails['rssAfterLoad']>;
  ratePairs: Array<{ name: string; results: LoadResult[] }>;
  routesE2e: ReportDetails['routesE2e'];
  micro: MicroResults;
  targets: Target[];
  sessionsScale: number;
}

/** Builds the results and details and writes every output; returns the results. */
export function writeOutputs({ o, pin }: BenchRun, m: Measured): Results {
  const { startedAt, code, loadAverage, loadTool, nginxFound, rows, rowDetails, runs, fixedRates, rssAfterLoad, ratePairs, routesE2e, targets, sessionsScale } = m;
  const { routes, routesSkip, sessions, sessionsSkip } = m.micro;
  const cpu = cpus();
  const pinned: Record<string, string> = pin.reason
    ? { none: pin.reason }
    : {
        'pinned rows: proxy under test (direct upstream, nginx, bare-http-proxy, drawbridge, apache: every process) and micro rows': `CPU ${pin.proxy}`,
        'pinned rows: load generator, upstream, redis-server, dev IdP, orchestrator': `CPU ${pin.load}`,
        'unpinned rows (-unpinned, drawbridge-auth-workers): proxy, its upstream, load generator': `CPUs ${pin.all ?? 'all'}`,
      };
  const results: Results = {
    machine: { cpus: cpu.length, model: cpu[0]?.model.trim() || 'unknown', node: process.version, os: `${osType()} ${release()} ${process.arch}`, pinned, date: new Date(startedAt).toISOString() },
    rows,
    targets,
  };
  const problems = validateResults(results);
  if (problems.length) throw new Error(`results are malformed (a bench bug):\n${problems.join('\n')}`);

  const versions: Record<string, string> = { 'http-proxy-3': packageVersion('http-proxy-3') };
  if ('binary' in nginxFound) versions.nginx = nginxVersion(nginxFound.binary);
  const apache = findApache();
  if ('binary' in apache) versions.apache = apacheVersion(apache.binary);
  const redisV = version('redis-server', ['--version'], (s) => /v=(\S+)/.exec(s)?.[1] ?? s);
  if (redisV) versions['redis-server'] = redisV;
  versions['load generator'] = loadTool;
  const details: ReportDetails = {
    quick: o.quick,
    code,
    durationSec: (Date.now() - startedAt) / 1000,
    loadTool,
    connections: o.connections,
    rounds: o.rounds,
    secondsPerRun: o.seconds,
    warmupSeconds: o.warmupSeconds,
    loadAverage,
    versions,
    rowDetails,
    ...(fixedRates ? { fixedRates } : {}),
    rssAfterLoad,
    ...(routesE2e ? { routesE2e } : {}),
    routes: routes
      ? {
          smallNs: routes.small.nsPerRequest,
          largeNs: routes.large.nsPerRequest,
          largeHotNs: routes.largeHot.nsPerRequest,
          ratio: routes.ratio,
          hotRatio: routes.hotRatio,
          smallHosts: routes.small.hosts,
          largeHosts: routes.large.hosts,
          ...(routes.large.yamlLoadMs !== undefined ? { largeYamlLoadMs: routes.large.yamlLoadMs } : {}),
          largeCompileMs: routes.large.compileMs,
          rounds: routes.rounds.length,
        }
      : { skipped: routesSkip ?? 'not run' },
    sessions: sessions
      ? {
          count: sessions.sessions,
          emptyRssMB: sessions.emptyRss / 1e6,
          fullRssMB: sessions.fullRss / 1e6,
          rssOverEmptyMB: sessions.rssOverEmptyMB * sessionsScale,
          heapOverEmptyMB: sessions.heapOverEmptyMB * sessionsScale,
          bytesPerSession: (sessions.fullHeap - sessions.emptyHeap) / sessions.sessions,
          createMs: sessions.createMs,
          ...(sessions.rssAfterReadOverEmptyMB !== undefined ? { rssAfterReadOverEmptyMB: sessions.rssAfterReadOverEmptyMB * sessionsScale } : {}),
          ...(sessions.decoded !== undefined ? { decoded: sessions.decoded } : {}),
        }
      : { skipped: sessionsSkip ?? 'not run' },
  };

  const resultsFile = join(o.outDir, 'results.json');
  const mdFile = o.quick ? join(o.outDir, 'performance.md') : join(ROOT, 'docs/performance.md');
  const svgFile = o.quick ? join(o.outDir, 'bench.svg') : join(ROOT, 'docs/images/bench.svg');
  for (const f of [resultsFile, mdFile, svgFile]) mkdirSync(dirname(f), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(svgFile, renderSvg(results));
  writeFileSync(mdFile, renderMarkdown(results, details, relative(dirname(mdFile), svgFile)));
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out', o.quick ? 'raw-quick.json' : 'raw.json'), `${JSON.stringify({ results, details, runs, fixedRate: ratePairs, routes, sessions }, null, 2)}\n`);
  log(`wrote ${[resultsFile, mdFile, svgFile].map((f) => relative(ROOT, f)).join(', ')} in ${Math.round((Date.now() - startedAt) / 1000)} s`);
  return results;
}
