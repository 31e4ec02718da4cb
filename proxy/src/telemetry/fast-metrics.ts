// telemetry/fast-metrics.ts — the per-request series (a labelled counter and histograms) as plain numbers that a
// prom-client Registry formats on scrape like its own metrics. prom-client's label children validate, convert
// and hash their labels on every inc/observe; on the proxied path that is measurable, so the hot series keep
// their children in maps (one lookup per request) and count in typed arrays (a histogram's children in one shared,
// contiguous array: see Slab).
import type { Metric, Registry } from 'prom-client';

type Labels = Record<string, string | number>;

/** What the registry reads of a metric on scrape (prom-client's MetricObjectWithValues). */
interface Snapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Array<{ labels: Labels; value: number; metricName?: string }>;
}

interface Series {
  readonly name: string;
  get(): Promise<Snapshot>;
  reset(): void;
}

/**
 * Counts the resets of one or more series. A child handed out before a reset is no longer reported (the series
 * drops its children), so whoever keeps children compares the epoch's `value` to the one it saw when it took them.
 */
export class Epoch {
  value = 0;
}

function register(registry: Registry, metric: Series): void {
  // The registry calls only `name`, `get()` and `reset()` of a metric.
  registry.registerMetric(metric as unknown as Metric);
}

/**
 * A counter with fixed label names; `child(...values)` once per combination, then `inc()` per event. A child is
 * valid until the next reset, which increments `epoch.value`.
 */
export class FastCounter implements Series {
  readonly #children = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
    readonly epoch: Epoch = new Epoch(),
  ) {
    register(registry, this);
  }

  // Three-label children by value, one map level per label: no key string is built per event.
  readonly #tree = new Map<string, Map<string, Map<string, { value: number }>>>();

  /** The child of these label values (in `labelNames` order), created at 0 the first time. */
  child(...values: string[]): { value: number } {
    const key = values.join('\0');
    let child = this.#children.get(key);
    if (!child) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      child = { labels, value: 0 };
      this.#children.set(key, child);
    }
    return child;
  }

  /** `child(a, b, c)` of a three-label counter, without building a key: the per-request path. */
  child3(a: string, b: string, c: string): { value: number } {
    let byB = this.#tree.get(a);
    if (byB === undefined) this.#tree.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (byC === undefined) byB.set(b, (byC = new Map()));
    let child = byC.get(c);
    if (child === undefined) byC.set(c, (child = this.child(a, b, c)));
    return child;
  }

  /** Drops every child whose first label value is `a` (a route a reload removed). */
  removeFirst(a: string): void {
    this.#tree.delete(a);
    for (const [key, child] of this.#children) if (child.labels[this.labelNames[0]!] === a) this.#children.delete(key);
  }

  get(): Promise<Snapshot> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: 'counter',
      aggregator: 'sum',
      values: [...this.#children.values()].map((c) => ({ labels: { ...c.labels }, value: c.value })),
    });
  }

  reset(): void {
    this.#children.clear();
    this.#tree.clear();
    this.epoch.value++;
  }
}

/** One label value's buckets: counts[i] for values ≤ bounds[i] (not cumulative), counts[bounds.length] above. */
export interface HistogramChild {
  observe(value: number): void;
}

/**
 * Where a histogram's children keep their numbers: one Float64Array for all of them, `stride` numbers per child
 * (the bucket counts, then sum, then count), grown by doubling. With many label values (10,000 routes) the children
 * a request touches sit in one contiguous block rather than in a typed array (and its separately allocated backing
 * store) each, so counting costs about the same whatever the number of routes.
 */
class Slab {
  data: Float64Array;

  constructor(
    readonly stride: number,
    slots: number,
  ) {
    this.data = new Float64Array(stride * slots);
  }

  grow(): void {
    const bigger = new Float64Array(this.data.length * 2);
    bigger.set(this.data);
    this.data = bigger;
  }
}

class Child implements HistogramChild {
  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Labels,
    /** Replaced when the child is dropped (`detach`): a child still held somewhere then counts into a slab of its own. */
    public slab: Slab,
    public offset: number,
  ) {}

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    const data = this.slab.data;
    const o = this.offset;
    data[o + i]!++;
    data[o + bounds.length + 1]! += value;
    data[o + bounds.length + 2]!++;
  }

  /** Bucket i's own count (not cumulative), sum and count. */
  bucket(i: number): number {
    return this.slab.data[this.offset + i]!;
  }

  get sum(): number {
    return this.slab.data[this.offset + this.bounds.length + 1]!;
  }

  get count(): number {
    return this.slab.data[this.offset + this.bounds.length + 2]!;
  }

  /** Moves the child out of the shared slab (its slot may be reused): what it still counts is no longer reported. */
  detach(): void {
    this.slab = new Slab(this.slab.stride, 1);
    this.offset = 0;
  }
}

/**
 * A histogram with one label; `child(value)` once per label value, then `observe()` per event. A child is valid
 * until the next reset, which increments `epoch.value`.
 */
export class FastHistogram implements Series {
  readonly #children = new Map<string, Child>();
  #slab: Slab;
  /** Slots in use or freed (`free`), in order of first use. */
  #used = 0;
  readonly #free: number[] = [];

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelName: string,
    private readonly bounds: readonly number[],
    registry: Registry,
    readonly epoch: Epoch = new Epoch(),
  ) {
    this.#slab = new Slab(bounds.length + 3, 16);
    register(registry, this);
  }

  child(labelValue: string): HistogramChild {
    let child = this.#children.get(labelValue);
    if (!child) {
      const stride = this.#slab.stride;
      let slot = this.#free.pop();
      if (slot === undefined) {
        slot = this.#used++;
        if ((slot + 1) * stride > this.#slab.data.length) this.#slab.grow();
      } else this.#slab.data.fill(0, slot * stride, (slot + 1) * stride);
      child = new Child(this.bounds, { [this.labelName]: labelValue }, this.#slab, slot * stride);
      this.#children.set(labelValue, child);
    }
    return child;
  }

  /** Drops the child of this label value (a route a reload removed); its slot is reused by the next new child. */
  remove(labelValue: string): void {
    const child = this.#children.get(labelValue);
    if (!child) return;
    this.#children.delete(labelValue);
    this.#free.push(child.offset / this.#slab.stride);
    child.detach();
  }

  get(): Promise<Snapshot> {
    const values: Snapshot['values'] = [];
    for (const child of this.#children.values()) {
      let acc = 0;
      this.bounds.forEach((bound, i) => {
        acc += child.bucket(i);
        values.push({ labels: { le: bound, ...child.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...child.labels }, value: child.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...child.labels }, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...child.labels }, value: child.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values });
  }

  reset(): void {
    // Children handed out before keep the old slab (no longer reported): they never count into a new child's slot.
    this.#children.clear();
    this.#slab = new Slab(this.#slab.stride, 16);
    this.#used = 0;
    this.#free.length = 0;
    this.epoch.value++;
  }
}
