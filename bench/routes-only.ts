// bench/routes-only.ts — the routes target alone, for repeating it: the two end-to-end routes rows of `npm run bench`
// (Drawbridge with 10 and with 10,000 generated routes, requests spread over every route; bench/steps/routes-rows.ts)
// with the same warm-up, interleaved rounds and ratio, and nothing else. Prints one line per run
// (`routes ratio R (by req/s Q)`); `--runs N` repeats the whole measurement N times (fresh processes each time).
// Writes nothing: `npm run bench` alone writes results.
import { parseArgs } from 'node:util';
import { benchOptions } from './run.js';
import { detectPinning, isMain, pinSelf } from './child.js';
import { fmtRatio, log, type BenchRun, type RowPlan } from './steps/common.js';
import { measureRows, startLoader } from './steps/load.js';
import { startRoutesRows, summarizeRoutes } from './steps/routes-rows.js';
import { checkRows } from './steps/sanity.js';
import { startChild } from './child.js';

/** One measurement; resolves with the ratio (large over small, proxy CPU per request) or rejects with why not. */
export async function measureRoutesOnce(quick: boolean): Promise<{ ratio: number; rpsRatio: number }> {
  const o = benchOptions(quick);
  const pin = detectPinning();
  pinSelf(pin.load);
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const run: BenchRun = { o, pin, cleanups };
    const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
    cleanups.push(() => upstream.stop());
    const plans: RowPlan[] = [];
    const children = await startRoutesRows(run, plans, upstream, `http://127.0.0.1:${upstream.ready.port}`);
    await checkRows(plans, 'drawbridge');
    for (const c of children) c?.process.send({ type: 'quiet' });
    const loader = await startLoader(run);
    const runs = await measureRows(run, plans, loader);
    const e = summarizeRoutes(run, plans, runs, children);
    if (!e || !('ratio' in e)) throw new Error(e?.skipped ?? 'not measured');
    return { ratio: e.ratio, rpsRatio: e.rpsRatio };
  } finally {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, runs: { type: 'string', default: '1' } } });
  const results: number[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const r = await measureRoutesOnce(values.quick!);
    results.push(r.ratio);
    log(`run ${i + 1}: routes ratio ${fmtRatio(r.ratio)} (by req/s ${fmtRatio(r.rpsRatio)})`);
  }
  log(`routes ratio per run: ${results.map(fmtRatio).join(', ')}; ≤ 1.1 in ${results.filter((r) => r <= 1.1).length} of ${results.length}`);
  process.exit(0);
}
