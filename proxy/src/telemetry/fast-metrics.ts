// telemetry/fast-metrics.ts — the per-request series (a labelled counter and histograms) as plain numbers that a
// prom-client Registry formats on scrape like its own metrics. prom-client's label children validate, convert
// and hash their labels on every inc/observe; on the proxied path that is measurable, so the hot series keep
// their children in maps (one lookup per request) and count in typed arrays (a histogram's children in one shared,
// contiguous array: see Slab; or, for the per-route series, each route's counter and histograms side by side in one
// block of a slab the caller owns: `childAt`).
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
  /** Called first by get() and reset(): whoever counts into the series later than the event brings it up to date. */
  beforeRead: (() => void) | undefined;
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
  beforeRead: (() => void) | undefined = undefined;
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

  /**
   * The child of (a, b, c) counting at `slab.data[offset]`, a number the caller increments directly (no child object
   * read per event). Registered the first time (from 0, or from what an existing child of those values had counted);
   * valid until that child is removed or the series reset, after which it no longer counts into the slot.
   */
  childAt(a: string, b: string, c: string, slab: Slab, offset: number): void {
    const existing = this.child3(a, b, c);
    if (existing instanceof SlabCount && existing.slab === slab && existing.offset === offset) return;
    const labels: Labels = {};
    [a, b, c].forEach((v, i) => (labels[this.labelNames[i]!] = v));
    slab.data[offset] = existing.value;
    const child = new SlabCount(labels, slab, offset);
    this.#children.set([a, b, c].join('\0'), child);
    this.#tree.get(a)!.get(b)!.set(c, child);
  }

  /** Drops every child whose first label value is `a` (a route a reload removed). */
  removeFirst(a: string): void {
    this.#tree.delete(a);
    for (const [key, child] of this.#children) {
      if (child.labels[this.labelNames[0]!] !== a) continue;
      this.#children.delete(key);
      if (child instanceof SlabCount) child.detach();
    }
  }

  get(): Promise<Snapshot> {
    this.beforeRead?.();
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: 'counter',
      aggregator: 'sum',
      values: [...this.#children.values()].map((c) => ({ labels: { ...c.labels }, value: c.value })),
    });
  }

  reset(): void {
    this.beforeRead?.();
    for (const child of this.#children.values()) if (child instanceof SlabCount) child.detach();
    this.#children.clear();
    this.#tree.clear();
    this.epoch.value++;
  }
}

/** A counter child whose value is a slot of a slab (`FastCounter.childAt`). */
class SlabCount {
  constructor(
    readonly labels: Labels,
    public slab: Slab,
    public offset: number,
  ) {}

  get value(): number {
    return this.slab.data[this.offset]!;
  }

  set value(v: number) {
    this.slab.data[this.offset] = v;
  }

  /** Moves the value out of the slab (its slot may be reused): what is still counted there is no longer reported. */
  detach(): void {
    const value = this.value;
    this.slab = new Slab(1, 1);
    this.offset = 0;
    this.value = value;
  }
}

/** One label value's buckets: counts[i] for values ≤ bounds[i] (not cumulative), counts[bounds.length] above. */
export interface HistogramChild {
  observe(value: number): void;
}

/**
 * Where children keep their numbers: one Float64Array for all of them, `stride` numbers per slot, grown by doubling
 * (so `data` is read anew on every event, never kept). A histogram child takes HISTOGRAM_SLOTS(bounds) numbers (sum,
 * count, then the bucket counts: an event touches the first few, one cache line for the usual short durations).
 * With many label values (10,000 routes) the numbers a request touches sit in one contiguous block rather than in a
 * typed array (and its separately allocated backing store) each, so counting costs about the same whatever the
 * number of routes.
 */
export class Slab {
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

/** Numbers a histogram child of these bounds takes in a slab. */
export function histogramSlots(bounds: readonly number[]): number {
  return bounds.length + 3;
}

/** Counts `value` into the histogram numbers at data[o]: sum, count, then the bucket counts (bounds.length + 1). */
export function observeAt(data: Float64Array, o: number, bounds: readonly number[], value: number): void {
  if (!Number.isFinite(value)) return;
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  data[o]! += value;
  data[o + 1]!++;
  data[o + 2 + i]!++;
}

class Child implements HistogramChild {
  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Labels,
    /** Replaced when the child is dropped (`detach`): a child still held somewhere then counts into a slab of its own. */
    public slab: Slab,
    public offset: number,
    /** In a slab the histogram does not own (`FastHistogram.childAt`): its slot is never reused by the histogram. */
    readonly external = false,
  ) {}

  observe(value: number): void {
    observeAt(this.slab.data, this.offset, this.bounds, value);
  }

  /** Bucket i's own count (not cumulative), sum and count. */
  bucket(i: number): number {
    return this.slab.data[this.offset + 2 + i]!;
  }

  get sum(): number {
    return this.slab.data[this.offset]!;
  }

  get count(): number {
    return this.slab.data[this.offset + 1]!;
  }

  /** Moves the child out of the shared slab (its slot may be reused): what it still counts is no longer reported. */
  detach(): void {
    this.slab = new Slab(histogramSlots(this.bounds), 1);
    this.offset = 0;
  }
}

/**
 * A histogram with one label; `child(value)` once per label value, then `observe()` per event. A child is valid
 * until the next reset, which increments `epoch.value`.
 */
export class FastHistogram implements Series {
  beforeRead: (() => void) | undefined = undefined;
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
    this.#slab = new Slab(histogramSlots(bounds), 16);
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

  /**
   * The child of this label value counting at `slab.data[offset]` (histogramSlots(bounds) numbers, which the caller
   * counts into with `observeAt`, no child object read per event). Registered from 0 the first time; valid until it
   * is removed or the series reset, after which it no longer counts into the slot.
   */
  childAt(labelValue: string, slab: Slab, offset: number): void {
    const existing = this.#children.get(labelValue);
    if (existing !== undefined && existing.slab === slab && existing.offset === offset) return;
    if (existing !== undefined) this.remove(labelValue);
    slab.data.fill(0, offset, offset + histogramSlots(this.bounds));
    this.#children.set(labelValue, new Child(this.bounds, { [this.labelName]: labelValue }, slab, offset, true));
  }

  /** Drops the child of this label value (a route a reload removed); its slot is reused by the next new child. */
  remove(labelValue: string): void {
    const child = this.#children.get(labelValue);
    if (!child) return;
    this.#children.delete(labelValue);
    if (!child.external) this.#free.push(child.offset / this.#slab.stride);
    child.detach();
  }

  get(): Promise<Snapshot> {
    this.beforeRead?.();
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
    this.beforeRead?.();
    // Children handed out before keep the old slab (no longer reported): they never count into a new child's slot.
    for (const child of this.#children.values()) if (child.external) child.detach();
    this.#children.clear();
    this.#slab = new Slab(this.#slab.stride, 16);
    this.#used = 0;
    this.#free.length = 0;
    this.epoch.value++;
  }
}
