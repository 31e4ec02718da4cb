// bench/steps/common.ts — what the bench's steps share: the options, the run's context (pinning, cleanups), the
// row plans and measured rounds, and small helpers (log, median, a row's status problems, tool versions).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MALLOC_ENV, NODE_FLAGS } from '../../proxy/src/server/node-flags.js';
import { ROOT, type Child, type Pinning } from '../child.js';
import type { LoadResult } from '../load-gen.js';
import type { RowName } from '../report.js';

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
  /** `--source`: run Drawbridge from its TypeScript source through tsx instead of the compiled build (bench/build.ts). */
  source?: boolean;
}

/** One bench run: its options, where its processes are pinned, and what to stop at the end (in reverse order). */
export interface BenchRun {
  readonly o: BenchOptions;
  readonly pin: Pinning;
  readonly cleanups: Array<() => Promise<unknown>>;
  /** The compiled build the Drawbridge processes run (bench/build.ts); undefined: the TypeScript source through tsx. */
  readonly dist?: string;
}

/**
 * How a bench child runs Drawbridge (bench/child.ts startChild's options), as deployed: the compiled build when there
 * is one, with Drawbridge's node flags and malloc settings (proxy/src/server/node-flags.ts, as the Dockerfile gives them).
 */
export function drawbridgeChild({ dist }: Pick<BenchRun, 'dist'>): { dist?: string; nodeArgs: string[]; env: Record<string, string> } {
  return { ...(dist !== undefined ? { dist } : {}), nodeArgs: [...NODE_FLAGS], env: { ...MALLOC_ENV } };
}

/** The end-to-end routes rows (Drawbridge with N generated routes); reported with the routes target, not in `rows`. */
export type RoutesRowName = `drawbridge-routes-${number}`;

/** A load row as run: where to send requests and what reached the upstream in the sanity check. */
export interface RowPlan {
  name: RowName | RoutesRowName;
  port: number;
  host: string;
  headers: Record<string, string>;
  /** The upstream this row ends at (for connection counting). */
  upstream: Child<{ port: number }>;
  expectUser: string | null;
  /** The processes doing the row's proxying (their CPU time is measured per run). */
  pids: number[];
  /** When the row's processes change (Apache's and the cluster's children): read before each run instead of `pids`. */
  pidsNow?: () => number[];
  /** `unpinned`: the row's processes and its load generator may use every CPU (the pinned rows' are split). */
  mode?: 'unpinned';
  /** false: the upstream gets no Drawbridge assertion on this row (Apache); checked otherwise when a user is expected. */
  expectAssertion?: boolean;
  /** The session cookie that must not reach the upstream (default: Drawbridge's). */
  cookieName?: string;
  /** The Drawbridge child serving the row (its recent log lines explain a failed sanity check). */
  drawbridge?: Child<unknown>;
  skipped?: string;
  invalid?: string;
  /** Routes rows: the request list (bench/wrk-routes.lua, LoadSpec.requestsFile), its length, some of its entries. */
  requestsFile?: string;
  requestCount?: number;
  sample?: Array<{ hostname: string; path: string; cookie?: string }>;
}

export interface RoundResult {
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

export const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
export const fmtRatio = (x: number) => x.toFixed(3);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function statusProblem(results: LoadResult[]): string | undefined {
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

export function version(cmd: string, args: string[], pick: (s: string) => string): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return undefined;
  return pick(`${r.stdout ?? ''}${r.stderr ?? ''}`.trim());
}

export function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
