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
const snapshot = () => {
  const ms = (ns) => ns / 1e6;
  const newSpaceMB = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
  const out = { type: 'probe', delay: { p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max), count: delay.count }, gc, newSpaceMB };
  delay.reset();
  gc = { count: 0, totalMs: 0, maxMs: 0, byKind: {} };
  return out;
};
process.on('message', (m) => {
  if (m?.type === 'probe') process.send(snapshot());
});
// Processes whose IPC channel is not the bench's (`drawbridge serve` and its cluster workers, preloaded through
// NODE_OPTIONS by bench/tail-unpinned.ts): SIGUSR2 writes the same answer to TAIL_PROBE_DIR/<pid>.json.
if (process.env.TAIL_PROBE_DIR) {
  const { writeFileSync } = await import('node:fs');
  process.on('SIGUSR2', () => writeFileSync(`${process.env.TAIL_PROBE_DIR}/${process.pid}.json`, JSON.stringify(snapshot())));
}

// Allocation sampling (`heap-start`, then `heap-stop` answers): every sampled allocation, collected or not, by
// function — bytes allocated per request do not depend on how busy the machine is, unlike times.
const { Session } = await import('node:inspector');
const session = new Session();
session.connect();
const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
process.on('message', async (m) => {
  if (m?.type === 'heap-start') {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    process.send({ type: 'heap-started' });
  } else if (m?.type === 'heap-stop') {
    const { profile } = await post('HeapProfiler.stopSampling');
    const byFunction = new Map();
    let total = 0;
    const walk = (node) => {
      const { functionName, url, lineNumber } = node.callFrame;
      const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|proxy\/src)\//, '$1/')}:${lineNumber + 1}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
      for (const child of node.children) walk(child);
    };
    walk(profile.head);
    const top = [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
    process.send({ type: 'heap', total, top });
  }
});
