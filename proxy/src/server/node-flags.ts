// server/node-flags.ts — the node flags and the malloc settings a serving Drawbridge runs with (docs/deploy.md, "Memory"):
// the Docker image's NODE_OPTIONS and ENV and `npm start` pass them, the cluster primary adds them to every worker it
// forks, the bench's rows use them; the V8 settings node refuses in NODE_OPTIONS are set by `serve` itself.
import { setFlagsFromString } from 'node:v8';

/**
 * `--max-semi-space-size=8`: V8's young generation is capped at two 8 MB semi-spaces instead of two of 16 MB. Under
 * sustained load V8 grows it to its cap and keeps both resident; at 8 a process holds about 12 MB less than at 16, for a
 * CPU cost per request within the noise of interleaved rounds. At 4 it would hold 5–8 MB less again, but in the full
 * bench the pinned row then gave 0.66–0.75 of node-floor's req/s against 0.86 at 8 (twice the young collections, each
 * waking V8's helper threads on the one core): not worth it (docs/deploy.md, "Memory").
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * `--heap-growing-percent=20`: after each full collection V8 lets the old generation grow by 20% (at least 8 MB)
 * before the next, instead of a factor it picks itself, up to 4 × what was live, for a process with much memory to
 * take. Under sustained load a proxy promotes a little of every request (what is in flight at a young collection),
 * so with V8's factor its old generation climbs round after round (10–20 MB above what is live after a minute of
 * load, and further the longer it runs) before a full collection brings it back: resident memory then depends on when
 * it is read. Bounded, a full collection comes after about 8 MB promoted (hundreds of thousands of requests) and
 * marks concurrently, for a CPU cost per request within the noise of interleaved rounds. The cap on the
 * heap (`--max-old-space-size`) is unchanged: nothing fails sooner. Node refuses this flag in NODE_OPTIONS, so it is
 * set by `drawbridge serve` itself when it starts (applyV8RuntimeFlags), unless node's command line sets it.
 */
export const V8_RUNTIME_FLAGS: readonly string[] = ['--heap-growing-percent=20'];

/**
 * Sets each of V8_RUNTIME_FLAGS that node's command line (`execArgv`) does not set otherwise, through
 * `v8.setFlagsFromString` (V8 reads these at every collection, so they apply from the next one); returns those set.
 * An operator's own value always wins.
 */
export function applyV8RuntimeFlags(execArgv: readonly string[] = process.execArgv, set: (flag: string) => void = setFlagsFromString): string[] {
  const given = new Set(execArgv.filter((a) => a.startsWith('--')).map(flagName));
  const applied = V8_RUNTIME_FLAGS.filter((f) => !given.has(flagName(f)));
  for (const f of applied) set(f);
  return applied;
}

/** A flag's name as node and V8 compare it (`--max_semi_space_size=4` and `--max-semi-space-size=4` are one flag). */
const flagName = (arg: string): string => arg.split('=')[0]!.replaceAll('_', '-');

/**
 * A worker's node flags: the primary's own (`process.execArgv`), after each of NODE_FLAGS that the operator did not
 * set otherwise, on the command line or in NODE_OPTIONS (which workers inherit with the environment). An operator's
 * own value always wins.
 */
export function withNodeFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].filter((a) => a.startsWith('--')).map(flagName));
  return [...NODE_FLAGS.filter((f) => !given.has(flagName(f))), ...execArgv];
}

/**
 * `MALLOC_TRIM_THRESHOLD_=131072` (glibc): malloc's trim and mmap thresholds stay at their documented 128 KiB. By
 * default glibc raises both each time a large block is freed (up to 32 and 64 MiB), and V8's compiler and GC threads
 * free such blocks: from then on memory freed in those threads' arenas stays resident instead of going back to the
 * system. Fixed, a Drawbridge process holds 10–15 MB less after load (the thread arenas: about 8–16 MB → 1–2 MB), for
 * a CPU cost per request within the noise of interleaved rounds (docs/performance.md, "Memory after the load rounds").
 * glibc reads it when the process starts: it must be in the environment node is started with. Other C libraries
 * (musl) ignore it. Fewer arenas (`MALLOC_ARENA_MAX`) cost memory instead: the main arena then fragments.
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: '131072' };

/**
 * What a worker's environment adds to the primary's (which it inherits): each of MALLOC_ENV that the operator did not
 * set, nor any malloc tunable through GLIBC_TUNABLES. An operator's own value always wins.
 */
export function withMallocEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  if (/(^|:)glibc\.malloc\./.test(env.GLIBC_TUNABLES ?? '')) return {};
  return Object.fromEntries(Object.entries(MALLOC_ENV).filter(([k]) => env[k] === undefined));
}
