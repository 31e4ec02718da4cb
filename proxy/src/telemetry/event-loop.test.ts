// telemetry/event-loop.test.ts — drawbridge_event_loop_delay_seconds as scraped: a summary whose window is the time
// since the previous scrape, which sees a stall of the event loop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { registerEventLoopMetrics, RESOLUTION_MS } from './event-loop.js';
import { createMetrics } from './metrics.js';

function series(text: string, quantile: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`drawbridge_event_loop_delay_seconds{quantile="${quantile}"} `));
  assert.ok(line, `quantile ${quantile} in\n${text}`);
  return Number(line.split(' ')[1]);
}

/** Holds the event loop for `ms` (what a long synchronous callback or a GC pause does). */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

test('event-loop delay: a stall shows in the window that saw it (quantile 1 is the longest), the next scrape starts a new window', async () => {
  const registry = new Registry();
  registerEventLoopMetrics(registry);
  // Timers run in order of their due time: each of these is due after the monitor's next one, so two of them let
  // the monitor take at least two samples (its first after a reset only starts the interval it measures).
  const ticks = async (): Promise<void> => {
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setTimeout(resolve, RESOLUTION_MS * 2));
  };
  await registry.metrics();
  // A reset window measures from the monitor's first sample after it: let one be taken before the stall.
  await ticks();
  stall(250);
  // The monitor's timer, overdue, runs in the timers phase after the stall (all expired timers run in it); the
  // second of these timers is due later than the monitor's next one and so comes after it in any case.
  await ticks();
  const first = await registry.metrics();
  assert.match(first, /# TYPE drawbridge_event_loop_delay_seconds summary/);
  const longest = series(first, '1');
  assert.ok(longest >= 0.2, `the 250 ms stall was measured: ${longest} s`);
  for (const q of ['0.5', '0.9', '0.99', '0.999']) assert.ok(series(first, q) <= longest, `quantile ${q} ≤ the longest`);
  assert.match(first, /^drawbridge_event_loop_delay_seconds_count [1-9]\d*$/m);
  const second = await registry.metrics();
  assert.ok(series(second, '1') < longest, 'the stall is not reported again in the next window');
});

test('event-loop delay is on the registry /metrics serves, beside the process defaults', async () => {
  const text = await createMetrics().registry.metrics();
  assert.match(text, /^drawbridge_event_loop_delay_seconds\{quantile="0.99"\} /m);
  assert.match(text, /^drawbridge_nodejs_eventloop_lag_p99_seconds /m);
  // Without the defaults (several instances in one test process), neither is registered.
  assert.doesNotMatch(await createMetrics({ defaults: false }).registry.metrics(), /event_loop_delay|eventloop_lag/);
});
