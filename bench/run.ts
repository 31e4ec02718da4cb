// bench/run.ts — `npm run bench`: every SPEC §10 row in one run on loopback (direct, nginx, bare http-proxy,
// Drawbridge public / authenticated with memory and redis stores), Drawbridge with 10 and with 10,000 routes
// (requests spread over every route), a fixed-rate p99 comparison, and the in-process micro rows; writes
// bench/results.json, docs/performance.md and docs/images/bench.svg (`--quick`: short phases, everything under
// bench/out/ instead).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, release, tmpdir, type as osType } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis, type TestRedis } from '../proxy/test/helpers/redis.js';
import { detectPinning, isMain, pinSelf, ROOT, startChild, type Child, type Pinning } from './child.js';
import type { LoadResult, LoadSpec } from './load-gen.js';
import { routeRequests, type RoutesResult } from './micro-routes.js';
import type { SessionsResult } from './micro-sessions.js';
import { findNginx, nginxVersion, startNginx, type RunningNginx } from './nginx.js';
import { renderMarkdown, renderSvg, round, ROW_NAMES, validateResults, type ReportDetails, type Results, type Row, type RowName, type Target } from './report.js';
import type { UpstreamStats } from './upstream.js';
import { hasWrk, runWrk } from './wrk.js';

export interface BenchOptions {
  quick: boolean;
  /** Where results.json goes; the markdown and SVG go to docs/ (full) or next to it (quick). */
  outDir: string;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  rateRounds: number;
  rateSeconds: number;
  connections: number;
  /** Sessions created in the memory row; the figure is scaled to 100,000 when fewer (--quick). */
  sessions: number;
  /** Route counts of the two end-to-end routes rows (small, large). */
  routes: [number, number];
  /** The whole bench is aborted past this. */
  limitMs: number;
  /** `wrk` when installed (default), or `node`: bench/load-gen.ts in closed loop. */
  loadgen?: 'wrk' | 'node';
}

export function benchOptions(quick: boolean): BenchOptions {
  return quick
    ? { quick, outDir: join(ROOT, 'bench/out'), rounds: 1, seconds: 1, warmupSeconds: 1, rateRounds: 1, rateSeconds: 1, connections: 16, sessions: 20_000, routes: [10, 1_000], limitMs: 300_000 }
    : { quick, outDir: join(ROOT, 'bench'), rounds: 8, seconds: 3, warmupSeconds: 2, rateRounds: 3, rateSeconds: 4, connections: 32, sessions: 100_000, routes: [10, 10_000], limitMs: 480_000 };
}

/** The end-to-end routes rows (Drawbridge with N generated routes); reported with the routes target, not in `rows`. */
type RoutesRowName = `drawbridge-routes-${number}`;

/** A load row as run: where to send requests and what reached the upstream in the sanity check. */
interface RowPlan {
  name: RowName | RoutesRowName;
  port: number;
  host: string;
  headers: Record<string, string>;
  /** The upstream this row ends at (for connection counting). */
  upstream: Child<{ port: number }>;
  expectUser: string | null;
  /** The processes doing the row's proxying (their CPU time is measured per run). */
  pids: number[];
  /** The Drawbridge child serving the row (its recent log lines explain a failed sanity check). */
  drawbridge?: Child<unknown>;
  skipped?: string;
  invalid?: string;
  /** Routes rows: the request list (bench/wrk-routes.lua, LoadSpec.requestsFile), its length, some of its entries. */
  requestsFile?: string;
  requestCount?: number;
  sample?: Array<{ hostname: string; path: string }>;
}

interface RoundResult {
  row: RowName | RoutesRowName;
  round: number;
  result: LoadResult;
  cpu0?: number;
  cpu1?: number;
  upstreamConnections: number;
  upstreamRequests: number;
  /** CPU seconds used by the process under test during the run. */
  proxyCpuSec: number;
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const fmtRatio = (x: number) => x.toFixed(3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Busy and total jiffies per CPU from /proc/stat (Linux), for the CPU-busy columns. */
function cpuTimes(): Map<string, { busy: number; total: number }> | undefined {
  try {
    const out = new Map<string, { busy: number; total: number }>();
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const v = m[2]!.trim().split(/\s+/).map(Number);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      out.set(m[1]!, { busy: total - idle, total });
    }
    return out;
  } catch {
    return undefined;
  }
}

function busyPct(before: ReturnType<typeof cpuTimes>, after: ReturnType<typeof cpuTimes>, cpu: string | undefined): number | undefined {
  if (cpu === undefined) return undefined;
  const a = before?.get(cpu);
  const b = after?.get(cpu);
  if (!a || !b || b.total === a.total) return undefined;
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds (user + system) used so far by these processes (Linux /proc; 0 when unreadable). */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone or not Linux
    }
  }
  return ticks / CLK_TCK;
}

/** The pids of a process's children (nginx workers), from /proc. */
function childPids(pid: number): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/** One GET through a row, returning status and body (the sanity check before measuring). */
function probe(port: number, host: string, headers: Record<string, string>, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { ...headers, host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function sanity(row: RowPlan, cookieName: string): Promise<string | undefined> {
  try {
    const r = await probe(row.port, row.host, row.headers, '/__whoami');
    if (r.status !== 200) return `sanity request answered ${r.status}: ${r.body.slice(0, 120)}`;
    const seen = JSON.parse(r.body) as { user: string | null; assertion: boolean; cookie: string | null };
    if (seen.user !== row.expectUser) return `upstream saw user ${JSON.stringify(seen.user)}, expected ${JSON.stringify(row.expectUser)}`;
    if (row.expectUser !== null && !seen.assertion) return 'upstream got no assertion header';
    if (seen.cookie?.includes(`${cookieName}=`)) return 'the session cookie reached the upstream';
    const plain = await probe(row.port, row.host, row.headers, '/');
    if (plain.status !== 200) return `sanity request answered ${plain.status}`;
    for (const s of row.sample ?? []) {
      const r = await probe(row.port, s.hostname, row.headers, s.path);
      if (r.status !== 200) return `sanity request to ${s.hostname}${s.path} answered ${r.status}: ${r.body.slice(0, 120)}`;
    }
    return undefined;
  } catch (e) {
    return `sanity request failed: ${(e as Error).message}`;
  }
}

function statusProblem(results: LoadResult[]): string | undefined {
  const bad = new Map<string, number>();
  let errors = 0;
  const details: string[] = [];
  for (const r of results) {
    for (const [status, n] of Object.entries(r.statuses)) if (!/^2\d\d$/.test(status)) bad.set(status, (bad.get(status) ?? 0) + n);
    errors += r.errors;
    if (r.errorDetail) details.push(r.errorDetail);
    if (r.requests === 0) details.push('no response at all');
  }
  const parts: string[] = [];
  if (bad.size) parts.push(`non-2xx responses: ${[...bad].map(([s, n]) => `${s} × ${n}`).join(', ')}`);
  if (errors) parts.push(`${errors} socket errors (${[...new Set(details)].join('; ')})`);
  if (results.some((r) => r.requests === 0)) parts.push('a run completed no request');
  return parts.length ? parts.join('; ') : undefined;
}

function version(cmd: string, args: string[], pick: (s: string) => string): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return undefined;
  return pick(`${r.stdout ?? ''}${r.stderr ?? ''}`.trim());
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
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
    log(`pinning: ${pin.reason ?? `proxy under test on CPU ${pin.proxy}, load generator/upstream/redis on CPU ${pin.load}`}`);
    const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
    cleanups.push(() => upstream.stop());
    const direct = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.proxy });
    cleanups.push(() => direct.stop());
    const upstreamUrl = `http://127.0.0.1:${upstream.ready.port}`;

    const plans: RowPlan[] = [];
    plans.push({ name: 'direct', port: direct.ready.port, host: `127.0.0.1:${direct.ready.port}`, headers: {}, upstream: direct, expectUser: null, pids: [direct.process.pid!] });

    const nginxFound = findNginx();
    let nginx: RunningNginx | undefined;
    let nginxSkip: string | undefined = 'reason' in nginxFound ? nginxFound.reason : undefined;
    if ('binary' in nginxFound) {
      try {
        nginx = await startNginx(nginxFound.binary, upstream.ready.port, pin.proxy);
        const n = nginx;
        cleanups.push(() => n.stop());
      } catch (e) {
        nginxSkip = (e as Error).message;
      }
    }
    const nginxPids = nginx ? [nginx.process.pid!, ...childPids(nginx.process.pid!)] : [];
    plans.push({ name: 'nginx', port: nginx?.port ?? 0, host: 'bench.localhost', headers: {}, upstream, expectUser: null, pids: nginxPids, ...(nginxSkip ? { skipped: nginxSkip } : {}) });

    const bare = await startChild<{ port: number }>('./bare-proxy.ts', [upstreamUrl], { cpu: pin.proxy });
    cleanups.push(() => bare.stop());
    plans.push({ name: 'bare-http-proxy', port: bare.ready.port, host: 'bench.localhost', headers: {}, upstream, expectUser: null, pids: [bare.process.pid!] });

    type DbReady = { port: number; cookie: string; user: string };
    const memory = await startChild<DbReady>('./drawbridge-proxy.ts', ['--upstream', upstreamUrl, '--store', 'memory'], { cpu: pin.proxy });
    cleanups.push(() => memory.stop());
    plans.push({ name: 'drawbridge-public', port: memory.ready.port, host: 'public.localhost', headers: {}, upstream, expectUser: null, drawbridge: memory, pids: [memory.process.pid!] });
    plans.push({ name: 'drawbridge-auth-memory', port: memory.ready.port, host: 'app.localhost', headers: { cookie: memory.ready.cookie }, upstream, expectUser: memory.ready.user, drawbridge: memory, pids: [memory.process.pid!] });

    let redis: TestRedis | undefined;
    let redisDb: Child<DbReady> | undefined;
    let redisSkip: string | undefined;
    try {
      redis = await startRedis();
      const r = redis;
      cleanups.push(() => r.stop());
      redisDb = await startChild<DbReady>('./drawbridge-proxy.ts', ['--upstream', upstreamUrl, '--store', redis.url], { cpu: pin.proxy });
      const d = redisDb;
      cleanups.push(() => d.stop());
    } catch (e) {
      redisSkip = (e as Error).message.split('\n')[0];
    }
    plans.push({
      name: 'drawbridge-auth-redis',
      port: redisDb?.ready.port ?? 0,
      host: 'app.localhost',
      headers: redisDb ? { cookie: redisDb.ready.cookie } : {},
      upstream,
      expectUser: redisDb?.ready.user ?? null,
      pids: redisDb ? [redisDb.process.pid!] : [],
      ...(redisDb ? { drawbridge: redisDb } : {}),
      ...(redisSkip ? { skipped: redisSkip } : {}),
    });

    // The routes rows: the same session, memory store and upstream, N generated routes, every request to the
    // next entry of a list that visits every route equally often (its hosts and prefixes as in micro-routes.ts).
    type RoutesReady = DbReady & { loadMs: number };
    const routesDir = mkdtempSync(join(tmpdir(), 'drawbridge-bench-'));
    cleanups.push(async () => rmSync(routesDir, { recursive: true, force: true }));
    const routesChildren: Array<Child<RoutesReady> | undefined> = [];
    for (const n of o.routes) {
      const name: RoutesRowName = `drawbridge-routes-${n}`;
      log(`starting Drawbridge with ${n.toLocaleString('en-US')} routes`);
      const list = routeRequests(n, Math.max(2, Math.ceil(2000 / n)) * n);
      const requestsFile = join(routesDir, `${name}.requests`);
      writeFileSync(requestsFile, list.map((r) => `${r.hostname} ${r.path}\n`).join(''));
      const sample = Array.from({ length: 12 }, (_, k) => list[Math.floor((k * list.length) / 12)]!);
      try {
        const c = await startChild<RoutesReady>('./drawbridge-proxy.ts', ['--upstream', upstreamUrl, '--store', 'memory', '--routes', String(n)], { cpu: pin.proxy, readyTimeoutMs: 180_000 });
        cleanups.push(() => c.stop());
        routesChildren.push(c);
        plans.push({ name, port: c.ready.port, host: list[0]!.hostname, headers: { cookie: c.ready.cookie }, upstream, expectUser: c.ready.user, drawbridge: c, pids: [c.process.pid!], requestsFile, requestCount: list.length, sample });
      } catch (e) {
        routesChildren.push(undefined);
        plans.push({ name, port: 0, host: '', headers: {}, upstream, expectUser: null, pids: [], skipped: (e as Error).message.split('\n')[0]! });
      }
    }

    const cookieName = memory.ready.cookie.split('=')[0]!;
    for (const p of plans) {
      if (p.skipped) continue;
      const problem = await sanity(p, cookieName);
      if (problem) {
        p.invalid = problem;
        log(`${p.name}: ${problem}`);
        const logs = await p.drawbridge?.ask<{ lines: string[] }>({ type: 'logs' }, 'logs', 5000).catch(() => undefined);
        for (const line of logs?.lines.filter((l) => /"level":"(error|warn)"/.test(l)).slice(-3) ?? []) log(`  ${p.name} log: ${line.slice(0, 600)}`);
      }
    }
    for (const c of [memory, redisDb, ...routesChildren]) c?.process.send({ type: 'quiet' });

    const generator = await startChild<object>('./load-gen.ts', [], { cpu: pin.load });
    cleanups.push(() => generator.stop());
    const wrk = o.loadgen !== 'node' && hasWrk();
    const loadTool = wrk ? `wrk ${version('wrk', ['--version'], (s) => s.split('\n')[0]!.replace(/^wrk\s+/, '').split(' ')[0]!) ?? ''} (1 thread)` : `bench/load-gen.ts (closed loop; ${o.loadgen === 'node' ? '--loadgen node' : 'wrk not found'})`;
    const load = (spec: LoadSpec): Promise<LoadResult> =>
      wrk ? runWrk(spec, pin.load) : generator.ask<{ result: LoadResult }>({ type: 'run', spec }, 'result', spec.durationMs + 60_000).then((m) => m.result);
    const specOf = (p: RowPlan, seconds: number): LoadSpec => ({ port: p.port, host: p.host, path: '/', headers: p.headers, connections: o.connections, durationMs: seconds * 1000, ...(p.requestsFile ? { requestsFile: p.requestsFile } : {}) });
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

    // Fixed rate: half the bare proxy's peak, open loop, bare and auth-memory interleaved.
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

    // Free CPU 1 before the in-process rows.
    await cleanup();

    log('micro: route matching + policy, 10 vs 10,000 routes');
    let routes: RoutesResult | undefined;
    let routesSkip: string | undefined;
    try {
      const c = await startChild<{ result: RoutesResult }>('./micro-routes.ts', o.quick ? ['--quick'] : [], { cpu: pin.proxy, nodeArgs: ['--expose-gc'], readyTimeoutMs: 180_000 });
      routes = c.ready.result;
      await c.stop();
    } catch (e) {
      routesSkip = (e as Error).message.split('\n')[0];
    }
    log(`micro: ${o.sessions.toLocaleString('en-US')} sessions in the memory store`);
    let sessions: SessionsResult | undefined;
    let sessionsSkip: string | undefined;
    try {
      const c = await startChild<{ result: SessionsResult }>('./micro-sessions.ts', [String(o.sessions)], { cpu: pin.proxy, nodeArgs: ['--expose-gc'], readyTimeoutMs: 180_000 });
      sessions = c.ready.result;
      await c.stop();
    } catch (e) {
      sessionsSkip = (e as Error).message.split('\n')[0];
    }

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

    const cpu = cpus();
    const pinned: Record<string, string> = pin.reason
      ? { none: pin.reason }
      : {
          'proxy under test (direct upstream, nginx, bare-http-proxy, drawbridge) and micro rows': `CPU ${pin.proxy}`,
          'load generator, upstream, redis-server, orchestrator': `CPU ${pin.load}`,
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
    const redisV = version('redis-server', ['--version'], (s) => /v=(\S+)/.exec(s)?.[1] ?? s);
    if (redisV) versions['redis-server'] = redisV;
    versions['load generator'] = loadTool;
    const details: ReportDetails = {
      quick: o.quick,
      durationSec: (Date.now() - startedAt) / 1000,
      loadTool,
      connections: o.connections,
      rounds: o.rounds,
      secondsPerRun: o.seconds,
      warmupSeconds: o.warmupSeconds,
      loadAverage,
      versions,
      rowDetails,
      ...(fixedRate ? { fixedRate } : {}),
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
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, loadgen: { type: 'string', default: 'wrk' } } });
  if (values.loadgen !== 'wrk' && values.loadgen !== 'node') throw new Error('--loadgen: wrk or node');
  const stop = () => {
    log('interrupted');
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  runBench({ ...benchOptions(values.quick!), loadgen: values.loadgen }).then(
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
