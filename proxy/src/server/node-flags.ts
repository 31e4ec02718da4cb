// server/node-flags.ts — the node flags a serving Drawbridge runs with (docs/deploy.md, "Memory"): the Docker image's
// NODE_OPTIONS and `npm start` pass them, the cluster primary adds them to every worker it forks, the bench's rows use them.

/**
 * `--max-semi-space-size=8`: V8's young generation is capped at two 8 MB semi-spaces instead of two of 16 MB. Under
 * sustained load V8 grows it to its cap and keeps both resident; at 8 a process holds about 12 MB less, for a CPU cost
 * per request within the noise of interleaved rounds (docs/performance.md, "Memory after the load rounds").
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

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
