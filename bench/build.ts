// bench/build.ts — the compiled build the bench's Drawbridge processes run, as production runs dist/ (the Docker
// image, bin/drawbridge.js): bench/tsconfig.dist.json compiles the product's code (as tsconfig.build.json does) and
// the bench's Drawbridge child into bench/out/dist/ (gitignored; never ./dist, which bin/drawbridge.js would prefer).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './child.js';

/** Where the build goes (its proxy/src/main.js and bench/drawbridge-proxy.js mirror the source tree). */
export const BENCH_DIST = join(ROOT, 'bench/out/dist');
const TSCONFIG = join(ROOT, 'bench/tsconfig.dist.json');
const STAMP = join(BENCH_DIST, '.tsbuildinfo');

/** What the bench ran: `dist` (the compiled build) or `source` (TypeScript through tsx). */
export type BenchCode = 'dist' | 'source';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : e.name.endsWith('.ts') || e.name.endsWith('.json') ? statSync(p).mtimeMs : 0);
  }
  return newest;
}

/** True when the build is older than a source file it is compiled from (tsc itself takes ~20 s to say "nothing to do"). */
function stale(): boolean {
  if (!existsSync(STAMP) || !existsSync(join(BENCH_DIST, 'bench/drawbridge-proxy.js'))) return true;
  const built = statSync(STAMP).mtimeMs;
  const sources = Math.max(
    newestMtime(join(ROOT, 'proxy/src')),
    ...['bench/drawbridge-proxy.ts', 'bench/child.ts', 'bench/fixtures.ts', 'bench/micro-routes.ts', 'bench/tsconfig.dist.json', 'tsconfig.build.json', 'tsconfig.json', 'package-lock.json'].map((f) => statSync(join(ROOT, f)).mtimeMs),
  );
  return sources > built;
}

/** Compiles (incrementally) when the build is missing or stale; throws with tsc's output when it fails. */
export function buildForBench(log: (msg: string) => void = () => {}): string {
  if (!stale()) return BENCH_DIST;
  log('compiling Drawbridge into bench/out/dist/ (tsc -p bench/tsconfig.dist.json)');
  const t0 = performance.now();
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', TSCONFIG], { cwd: ROOT, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc -p bench/tsconfig.dist.json failed:\n${(tsc.stdout + tsc.stderr).slice(-4000)}`);
  // tsc leaves its build info alone when nothing changed (a file only touched): the stamp says "checked now".
  const now = new Date();
  utimesSync(STAMP, now, now);
  log(`compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return BENCH_DIST;
}
