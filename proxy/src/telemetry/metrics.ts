// telemetry/metrics.ts — prom-client series of SPEC §7, one registry per Drawbridge instance
// (several instances may share a test process). Served only on the admin listener.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  /** Counts a finished request; `route` is '' when none matched. */
  request(route: string, decision: string, status: number, seconds: number): void;
  upstream(route: string, seconds: number): void;
  signIn(result: 'success' | 'failure' | 'idp-unavailable' | 'step-up-failed'): void;
  reload(result: 'success' | 'failure'): void;
  /** Sets how active sessions are counted when /metrics is scraped. */
  sessionsFrom(count: () => Promise<number>): void;
}

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Creates a registry with every Drawbridge series and the process defaults. */
export function createMetrics(options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'drawbridge_' });
  const requests = new Counter({ name: 'drawbridge_requests_total', help: 'Requests by route, decision and status class.', labelNames: ['route', 'decision', 'status_class'], registers: [registry] });
  const duration = new Histogram({ name: 'drawbridge_request_duration_seconds', help: 'Time from request to response end, by route.', labelNames: ['route'], buckets: BUCKETS, registers: [registry] });
  const upstream = new Histogram({ name: 'drawbridge_upstream_duration_seconds', help: 'Time from dispatch to upstream response headers, by route.', labelNames: ['route'], buckets: BUCKETS, registers: [registry] });
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
  lastReload.setToCurrentTime();
  signIns.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);

  const classes = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
  const requestChildren = new Map<string, { inc(): void }>();
  const durationChildren = new Map<string, { observe(v: number): void }>();
  const upstreamChildren = new Map<string, { observe(v: number): void }>();
  return {
    registry,
    request(route, decision, status, seconds) {
      // Label children are looked up once per combination: hashing label objects on every request costs.
      const cls = classes[Math.floor(status / 100)] ?? 'other';
      const key = `${route}\0${decision}\0${cls}`;
      let counter = requestChildren.get(key);
      if (!counter) requestChildren.set(key, (counter = requests.labels(route, decision, cls)));
      counter.inc();
      let hist = durationChildren.get(route);
      if (!hist) durationChildren.set(route, (hist = duration.labels(route)));
      hist.observe(seconds);
    },
    upstream(route, seconds) {
      let hist = upstreamChildren.get(route);
      if (!hist) upstreamChildren.set(route, (hist = upstream.labels(route)));
      hist.observe(seconds);
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
  };
}
