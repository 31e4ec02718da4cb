// bench/wrk.ts — runs Debian `wrk` (one thread, keep-alive, pinned) with wrk-report.lua and returns what it
// measured in the same shape as bench/load-gen.ts.
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinnedCommand } from './child.js';
import type { LoadResult, LoadSpec } from './load-gen.js';

const SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));
/** The same report, with requests taken in turn from `spec.requestsFile`. */
const ROUTES_SCRIPT = fileURLToPath(new URL('./wrk-routes.lua', import.meta.url));

/** True when a `wrk` binary runs. */
export function hasWrk(): boolean {
  const probe = spawnSync('wrk', ['--version'], { stdio: 'ignore' });
  return !probe.error;
}

interface WrkReport {
  requests: number;
  durationUs: number;
  p50Us: number;
  p99Us: number;
  statuses: Record<string, number>;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

/** A closed-loop run of `spec.connections` keep-alive connections for `spec.durationMs`. */
export function runWrk(spec: LoadSpec, cpu: string | undefined): Promise<LoadResult> {
  const seconds = Math.max(1, Math.round(spec.durationMs / 1000));
  const headers = Object.entries({ Host: spec.host, ...spec.headers }).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const script = spec.requestsFile === undefined ? ['-s', SCRIPT] : ['-s', ROUTES_SCRIPT];
  const scriptArgs = spec.requestsFile === undefined ? [] : ['--', spec.requestsFile];
  const [cmd, args] = pinnedCommand(cpu, 'wrk', ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--timeout', '5s', ...script, ...headers, `http://127.0.0.1:${spec.port}${spec.path}`, ...scriptArgs]);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH-WRK '));
      if (err || !line) return reject(new Error(`wrk failed: ${err?.message ?? 'no report line'}\n${stdout}${stderr}`));
      const r = JSON.parse(line.slice('BENCH-WRK '.length)) as WrkReport;
      const durationSec = r.durationUs / 1e6;
      const e = r.errors;
      const errors = e.connect + e.read + e.write + e.timeout;
      resolve({
        tool: 'wrk',
        durationSec,
        requests: r.requests,
        rps: r.requests / durationSec,
        p50Ms: r.p50Us / 1000,
        p99Ms: r.p99Us / 1000,
        statuses: r.statuses,
        errors,
        errorDetail: errors ? `connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}` : '',
      });
    });
  });
}
