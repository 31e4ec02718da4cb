// telemetry/event-loop.ts — drawbridge_event_loop_delay_seconds: how late the event loop ran a 10 ms timer
// (perf_hooks.monitorEventLoopDelay), as a summary (quantiles and maximum) over the window since the previous scrape.
// Every request waits behind whatever holds the loop (a GC pause, a synchronous write, a long callback): this is
// the figure that explains a tail latency.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Metric, Registry } from 'prom-client';

/** The quantiles reported (`quantile` label). */
export const EVENT_LOOP_QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;

/**
 * Sampling period of the monitor: a stall shorter than this can fall between two samples (one of length S is seen
 * with probability S / 10 ms; every stall of 10 ms or more is seen). Node's own default, and prom-client's for its
 * lag metric. At 1 ms the monitor woke an idle process about 900 times a second (25 ms of CPU per second, measured
 * with bench/tail-unpinned.ts), and a lightly loaded one between requests just as often.
 */
export const RESOLUTION_MS = 10;
const PERIOD_NS = RESOLUTION_MS * 1e6;

let monitor: IntervalHistogram | undefined;

/**
 * One monitor per process (the event loop is the process's): several registries in one process (tests) share it,
 * and a scrape of any of them starts a new window (the monitor's first interval after a reset is not recorded).
 * Its timer is native and unreferenced (it keeps no process alive).
 */
function processMonitor(): IntervalHistogram {
  if (monitor === undefined) {
    monitor = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    monitor.enable();
  }
  return monitor;
}

type Labels = Record<string, string | number>;

/** What the registry reads of a metric on scrape (prom-client's MetricObjectWithValues). */
interface Snapshot {
  name: string;
  help: string;
  type: 'summary';
  aggregator: 'max';
  values: Array<{ labels: Labels; value: number; metricName?: string }>;
}

/**
 * Registers drawbridge_event_loop_delay_seconds, a summary over the window since the previous scrape (the monitor
 * is reset after each): quantiles 0.5, 0.9, 0.99 and 0.999 of the samples, quantile 1 the longest delay, `_sum` and
 * `_count`. A window without a sample reports 0. Across processes the worst one counts (`aggregator: 'max'`):
 * quantiles cannot be summed.
 */
export function registerEventLoopMetrics(registry: Registry): void {
  const histogram = processMonitor();
  const metric = {
    name: 'drawbridge_event_loop_delay_seconds',
    async get(): Promise<Snapshot> {
      const count = histogram.count;
      // The monitor records the interval between two runs of its timer: the delay is what exceeds the period.
      const seconds = (ns: number): number => (count === 0 || !Number.isFinite(ns) ? 0 : Math.max(0, ns - PERIOD_NS) / 1e9);
      const snapshot: Snapshot = {
        name: 'drawbridge_event_loop_delay_seconds',
        help: `Event-loop delay (how late a ${RESOLUTION_MS} ms timer ran) since the previous scrape; quantile 1 is the longest.`,
        type: 'summary',
        aggregator: 'max',
        values: [
          ...EVENT_LOOP_QUANTILES.map((q) => ({ labels: { quantile: q }, value: seconds(histogram.percentile(q * 100)) })),
          { labels: { quantile: 1 }, value: seconds(histogram.max) },
          { metricName: 'drawbridge_event_loop_delay_seconds_sum', labels: {}, value: count === 0 ? 0 : Math.max(0, histogram.mean - PERIOD_NS) * count / 1e9 },
          { metricName: 'drawbridge_event_loop_delay_seconds_count', labels: {}, value: count },
        ],
      };
      histogram.reset();
      return snapshot;
    },
    reset(): void {
      histogram.reset();
    },
  };
  // The registry calls only `name`, `get()` and `reset()` of a metric.
  registry.registerMetric(metric as unknown as Metric);
}
