// bench/tail-probe.mjs — preloaded (`node --import ./bench/tail-probe.mjs`) into a process under test by bench/tail.ts:
// its event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and its GC pauses, answered and reset on
// an IPC `probe` message. Plain JavaScript: it loads before tsx.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let gc = { count: 0, totalMs: 0, maxMs: 0, byKind: {} };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
    const kind = String(e.detail?.kind ?? e.kind);
    gc.byKind[kind] = (gc.byKind[kind] ?? 0) + 1;
  }
}).observe({ entryTypes: ['gc'] });
process.on('message', (m) => {
  if (m?.type !== 'probe') return;
  const ms = (ns) => ns / 1e6;
  const newSpaceMB = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
  process.send({ type: 'probe', delay: { p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max), count: delay.count }, gc, newSpaceMB });
  delay.reset();
  gc = { count: 0, totalMs: 0, maxMs: 0, byKind: {} };
});
