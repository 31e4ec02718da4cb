// telemetry/metrics.ts — prom-client series of SPEC §7, one registry per Drawbridge instance
// (several instances may share a test process). Served only on the admin listener.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Route } from '../routes/compile.js';
import { registerEventLoopMetrics } from './event-loop.js';
import { Epoch, FastCounter, FastHistogram, histogramSlots, observeAt, Slab } from './fast-metrics.js';

export interface Metrics {
  readonly registry: Registry;
  /**
   * The route's children of the per-request series, made when a configuration snapshot is provisioned
   * (server/provision.ts); `RouteMetrics.remove` drops its series when a reload removed the route.
   */
  route(route: Route): RouteMetrics;
  /** Counts a finished request under its route's name (`route=""` when none matched). */
  request(route: RouteMetrics | undefined, decision: string, status: number, seconds: number): void;
  upstream(route: RouteMetrics, seconds: number): void;
  /**
   * `request` and `upstream` through the holder of a route's children and of their block (`RouteMetricsAt`, a route's
   * run-time state): the same counts, without reading the children object itself on the request's path.
   */
  requestAt(at: RouteMetricsAt | undefined, decision: string, status: number, seconds: number): void;
  upstreamAt(at: RouteMetricsAt, seconds: number): void;
  signIn(result: 'success' | 'failure' | 'idp-unavailable' | 'idp-misconfigured' | 'step-up-failed' | 'limited'): void;
  reload(result: 'success' | 'failure'): void;
  /** Sets how active sessions are counted when /metrics is scraped. */
  sessionsFrom(count: () => Promise<number>): void;
  /** Counts a WebSocket Drawbridge closed because it could no longer be admitted (runtime/websockets.ts). */
  websocketClosed(route: string, reason: string): void;
  /** Sets how open WebSockets are counted when /metrics is scraped. */
  websocketsFrom(count: () => number): void;
  /** Counts an access-request or access-grant event (access/): `event` and `action` as logged. */
  access(event: 'access-request' | 'access-grant', action: string, route: string): void;
}

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** status_class by Math.floor(status / 100); any other status is OTHER_CLASS. */
const CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx', 'other'];
const OTHER_CLASS = CLASSES.length - 1;

type CounterChild = { value: number };

/**
 * A route's block in the routes' slab (one per route name): its `allow`/`2xx` request count, then its request and
 * upstream duration histograms, side by side, so that counting a request touches one small block rather than three
 * children and their numbers spread over memory (with 10,000 routes, none of them in the CPU caches).
 */
const ALLOWED = 0;
const DURATION = 1;
const UPSTREAM = DURATION + histogramSlots(BUCKETS);
/**
 * The block's own bookkeeping, beside its counts: the stamp of the route name's use of the block (a new one each time
 * the block is given to a name, so that events of a route a reload removed are never counted into a block since given
 * to another), the epoch its children were registered in, and which of them are (REGISTERED_* bits).
 */
const STAMP = UPSTREAM + histogramSlots(BUCKETS);
const SEEN = STAMP + 1;
const REGISTERED = SEEN + 1;
const REGISTERED_ALLOWED = 1;
const REGISTERED_DURATION = 2;
const REGISTERED_UPSTREAM = 4;
/** Numbers per block, rounded up to whole 64-byte lines. */
const BLOCK = Math.ceil((REGISTERED + 1) / 8) * 8;
/** Route events written down before they are counted (`fold`), and the class of an upstream duration among them. */
const PENDING = 256;
const UPSTREAM_EVENT = -1;

/** One route's children of the per-request series of one Metrics instance (`Metrics.route`). */
export interface RouteMetrics {
  readonly route: Route;
  /** Where the route's usual counts are (`RouteMetricsAt`): its block in the routes' slab, and the block's stamp. */
  readonly block: number;
  readonly stamp: number;
  /**
   * Drops the route's series (a reload removed the route): they are no longer scraped, and what is still counted
   * through this object (a request that began before the reload) is not counted.
   */
  remove(): void;
}

/** What holds a route's children and, copied from them, their block and stamp (`Metrics.requestAt`). */
export interface RouteMetricsAt {
  readonly metrics: RouteMetrics;
  readonly metricsBlock: number;
  readonly metricsStamp: number;
}

/**
 * `RouteMetrics`: the children are created when first counted, exactly as without this object (so the scrape output
 * is the same), and taken again after any series was reset (`seen`, and the block's own SEEN): a reset drops the
 * series' children, and counting into a dropped one would be lost. The usual children (`allow`/`2xx`, both durations)
 * count in the route name's block of `slab` (at `block`, while the block's stamp is still `stamp`), shared by every
 * RouteChildren of that name.
 */
class RouteChildren implements RouteMetrics {
  /** drawbridge_requests_total by decision other than the usual `allow`/`2xx`, then by index in CLASSES. */
  readonly requests = new Map<string, (CounterChild | undefined)[]>();
  seen: number;
  removed = false;

  constructor(
    readonly route: Route,
    readonly epoch: Epoch,
    readonly slab: Slab,
    readonly block: number,
    readonly stamp: number,
    readonly onRemove: (name: string) => void,
  ) {
    this.seen = epoch.value;
  }

  /** Itself, its children dropped if a series was reset since they were taken. */
  current(): RouteChildren {
    if (this.seen !== this.epoch.value) {
      this.requests.clear();
      this.seen = this.epoch.value;
    }
    return this;
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.onRemove(this.route.name);
  }
}

/** The index in CLASSES of a status. */
function statusClass(status: number): number {
  const k = Math.floor(status / 100);
  return k >= 0 && k < OTHER_CLASS ? k : OTHER_CLASS;
}

/** Creates a registry with every Drawbridge series and the process defaults. */
export function createMetrics(options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaults !== false) {
    // The defaults' drawbridge_nodejs_eventloop_lag_* gauges stay for the usual Node.js dashboards; the event-loop
    // delay Drawbridge documents is its own summary (1 ms sampling where theirs is 10 ms, the sampling period not
    // counted as delay, one family with its maximum).
    collectDefaultMetrics({ register: registry, prefix: 'drawbridge_' });
    registerEventLoopMetrics(registry);
  }
  // Shared by the per-request series: a reset of any of them invalidates the children cached on routes.
  const epoch = new Epoch();
  const requests = new FastCounter('drawbridge_requests_total', 'Requests by route, decision and status class.', ['route', 'decision', 'status_class'], registry, epoch);
  const duration = new FastHistogram('drawbridge_request_duration_seconds', 'Time from request to response end, by route.', 'route', BUCKETS, registry, epoch);
  const upstream = new FastHistogram('drawbridge_upstream_duration_seconds', 'Time from dispatch to upstream response headers, by route.', 'route', BUCKETS, registry, epoch);
  const signIns = new Counter({ name: 'drawbridge_sign_ins_total', help: 'Sign-ins by result.', labelNames: ['result'], registers: [registry] });
  const reloads = new Counter({ name: 'drawbridge_config_reloads_total', help: 'Configuration reloads by result.', labelNames: ['result'], registers: [registry] });
  const lastReload = new Gauge({ name: 'drawbridge_config_last_reload_success_timestamp_seconds', help: 'When the configuration in force was loaded.', registers: [registry] });
  let countSessions: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'drawbridge_active_sessions',
    help: 'Live sessions in the session store.',
    registers: [registry],
    async collect() {
      if (countSessions) this.set(await countSessions().catch(() => NaN));
    },
  });
  const websocketsClosed = new Counter({ name: 'drawbridge_websockets_closed_total', help: 'WebSockets Drawbridge closed because their session ended or the policy no longer admits them, by route and reason.', labelNames: ['route', 'reason'], registers: [registry] });
  const accessEvents = new Counter({ name: 'drawbridge_access_events_total', help: 'Access requests and grants by event (access-request, access-grant), action (created, approved, denied, expired, revoked) and route.', labelNames: ['event', 'action', 'route'], registers: [registry] });
  let countWebSockets: (() => number) | undefined;
  new Gauge({
    name: 'drawbridge_websockets_open',
    help: 'WebSockets admitted and open.',
    registers: [registry],
    collect() {
      if (countWebSockets) this.set(countWebSockets());
    },
  });
  lastReload.setToCurrentTime();
  signIns.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);

  // Route name → its block in `slab` (freed blocks are reused, zeroed by the series as they register there; a block
  // given to a name gets a new stamp and nothing registered).
  const slab = new Slab(BLOCK, 16);
  const blocks = new Map<string, number>();
  const freeBlocks: number[] = [];
  let usedBlocks = 0;
  let stamps = 0;
  const blockOf = (name: string): number => {
    let block = blocks.get(name);
    if (block === undefined) {
      let slot = freeBlocks.pop();
      if (slot === undefined) {
        slot = usedBlocks++;
        while ((slot + 1) * BLOCK > slab.data.length) slab.grow();
      }
      blocks.set(name, (block = slot * BLOCK));
      slab.data[block + STAMP] = ++stamps;
      slab.data[block + SEEN] = -1;
      slab.data[block + REGISTERED] = 0;
    }
    return block;
  };

  const removeRoute = (name: string): void => {
    fold();
    requests.removeFirst(name);
    duration.remove(name);
    upstream.remove(name);
    const block = blocks.get(name);
    if (block === undefined) return;
    blocks.delete(name);
    // Events still to come for the removed route (requests that began before the reload) no longer match the block.
    slab.data[block + STAMP] = 0;
    freeBlocks.push(block / BLOCK);
  };

  // Requests' events are written down in order and counted into their route's block later (`fold`): on the request's path, a
  // few numbers appended to arrays that stay in the CPU caches, rather than reading the route's children and block,
  // which with thousands of routes are not there; the fold reads them back to back. Folded before every scrape,
  // reset and removal, in the order the events came: the series read exactly what counting at once would give.
  /** The route's children; undefined: a request no route matched (`route=""`). */
  const pendingChildren: (RouteChildren | undefined)[] = new Array<RouteChildren | undefined>(PENDING).fill(undefined);
  const pendingDecision: string[] = new Array<string>(PENDING).fill('');
  /** The status class's index in CLASSES, or UPSTREAM_EVENT. */
  const pendingClass = new Int8Array(PENDING);
  const pendingSeconds = new Float64Array(PENDING);
  /** The route's block and its stamp when the event was written down (the children object is not read then). */
  const pendingBlock = new Int32Array(PENDING);
  const pendingStamp = new Float64Array(PENDING);
  let pending = 0;
  const fold = (): void => {
    for (let i = 0; i < pending; i++) {
      const children = pendingChildren[i];
      pendingChildren[i] = undefined;
      const cls = pendingClass[i]!;
      if (cls === UPSTREAM_EVENT) countUpstream(children!, pendingBlock[i]!, pendingStamp[i]!, pendingSeconds[i]!);
      else countRequest(children, pendingBlock[i]!, pendingStamp[i]!, pendingDecision[i]!, cls, pendingSeconds[i]!);
    }
    pending = 0;
  };
  const defer = (children: RouteChildren | undefined, block: number, stamp: number, decision: string, cls: number, seconds: number): void => {
    pendingChildren[pending] = children;
    pendingBlock[pending] = block;
    pendingStamp[pending] = stamp;
    pendingDecision[pending] = decision;
    pendingClass[pending] = cls;
    pendingSeconds[pending] = seconds;
    if (++pending === PENDING) fold();
  };
  /**
   * The bits of the block's children registered in this epoch (a reset of any series drops them: registered again),
   * or -1 when the block is no longer the route's (removed by a reload). Reads only the block.
   */
  const registeredIn = (block: number, stamp: number): number => {
    const data = slab.data;
    if (data[block + STAMP] !== stamp) return -1;
    if (data[block + SEEN] !== epoch.value) {
      data[block + SEEN] = epoch.value;
      data[block + REGISTERED] = 0;
    }
    return data[block + REGISTERED]!;
  };
  for (const series of [requests, duration, upstream]) series.beforeRead = fold;

  // The usual event (`allow`/`2xx`, both durations) reads only the route's block; its children object is read to
  // register a child (once per block and epoch) and for the other decisions' counts.
  const countRequest = (metrics: RouteChildren | undefined, block: number, stamp: number, decision: string, cls: number, seconds: number): void => {
    if (metrics === undefined) {
      requests.child3('', decision, CLASSES[cls]!).value++;
      duration.child('').observe(seconds);
      return;
    }
    let registered = registeredIn(block, stamp);
    if (registered < 0) return;
    const data = slab.data;
    if (cls === 2 && decision === 'allow') {
      if ((registered & REGISTERED_ALLOWED) === 0) {
        requests.childAt(metrics.route.name, decision, CLASSES[cls]!, slab, block + ALLOWED);
        data[block + REGISTERED] = registered |= REGISTERED_ALLOWED;
      }
      data[block + ALLOWED]!++;
    } else {
      const children = metrics.current();
      let row = children.requests.get(decision);
      if (row === undefined) children.requests.set(decision, (row = CLASSES.map(() => undefined)));
      let count = row[cls];
      if (count === undefined) row[cls] = count = requests.child3(children.route.name, decision, CLASSES[cls]!);
      count.value++;
    }
    if ((registered & REGISTERED_DURATION) === 0) {
      duration.childAt(metrics.route.name, slab, block + DURATION);
      data[block + REGISTERED] = registered | REGISTERED_DURATION;
    }
    observeAt(data, block + DURATION, BUCKETS, seconds);
  };

  const countUpstream = (metrics: RouteChildren, block: number, stamp: number, seconds: number): void => {
    const registered = registeredIn(block, stamp);
    if (registered < 0) return;
    if ((registered & REGISTERED_UPSTREAM) === 0) {
      upstream.childAt(metrics.route.name, slab, block + UPSTREAM);
      slab.data[block + REGISTERED] = registered | REGISTERED_UPSTREAM;
    }
    observeAt(slab.data, block + UPSTREAM, BUCKETS, seconds);
  };

  return {
    registry,
    route(route) {
      const block = blockOf(route.name);
      return new RouteChildren(route, epoch, slab, block, slab.data[block + STAMP]!, removeRoute);
    },
    request(metrics, decision, status, seconds) {
      defer(metrics as RouteChildren | undefined, metrics?.block ?? 0, metrics?.stamp ?? 0, decision, statusClass(status), seconds);
    },
    upstream(metrics, seconds) {
      defer(metrics as RouteChildren, metrics.block, metrics.stamp, '', UPSTREAM_EVENT, seconds);
    },
    requestAt(at, decision, status, seconds) {
      defer(at?.metrics as RouteChildren | undefined, at?.metricsBlock ?? 0, at?.metricsStamp ?? 0, decision, statusClass(status), seconds);
    },
    upstreamAt(at, seconds) {
      defer(at.metrics as RouteChildren, at.metricsBlock, at.metricsStamp, '', UPSTREAM_EVENT, seconds);
    },
    signIn(result) {
      signIns.inc({ result });
    },
    reload(result) {
      reloads.inc({ result });
      if (result === 'success') lastReload.setToCurrentTime();
    },
    sessionsFrom(count) {
      countSessions = count;
    },
    websocketClosed(route, reason) {
      websocketsClosed.inc({ route, reason });
    },
    websocketsFrom(count) {
      countWebSockets = count;
    },
    access(event, action, route) {
      accessEvents.inc({ event, action, route });
    },
  };
}
