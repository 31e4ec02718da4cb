// telemetry/metrics.ts — prom-client series of SPEC §7, one registry per Drawbridge instance
// (several instances may share a test process). Served only on the admin listener.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';

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
  const requests = new FastCounter('drawbridge_requests_total', 'Requests by route, decision and status class.', ['route', 'decision', 'status_class'], registry);
  const duration = new FastHistogram('drawbridge_request_duration_seconds', 'Time from request to response end, by route.', 'route', BUCKETS, registry);
  const upstream = new FastHistogram('drawbridge_upstream_duration_seconds', 'Time from dispatch to upstream response headers, by route.', 'route', BUCKETS, registry);
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
  return {
    registry,
    request(route, decision, status, seconds) {
      const cls = classes[Math.floor(status / 100)] ?? 'other';
      requests.child3(route, decision, cls).value++;
      duration.child(route).observe(seconds);
    },
    upstream(route, seconds) {
      upstream.child(route).observe(seconds);
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
