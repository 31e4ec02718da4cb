// telemetry/metrics.test.ts — the per-request series as scraped, and a route's children (`Metrics.route`): per
// Metrics instance, taken again after a reset, dropped when the route is removed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { compileConfig, type Route } from '../routes/compile.js';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createMetrics, type Metrics, type RouteMetrics } from './metrics.js';

function routes(): readonly Route[] {
  const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: app, from: "https://app.example.com", to: "http://10.0.0.1:80", public: true }
  - { name: wiki, from: "https://wiki.example.com", to: "http://10.0.0.2:80", public: true }
`;
  const r = loadConfigText(text, 't.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return compileConfig(r.config).table.routes;
}

async function value(metrics: Metrics, series: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${series} `));
  return found === undefined ? undefined : Number(found.slice(series.length + 1));
}

const APP_2XX = 'drawbridge_requests_total{route="app",decision="allow",status_class="2xx"}';

test('two Metrics instances sharing one compiled route count separately', async () => {
  const [route] = routes();
  const a = createMetrics({ defaults: false });
  const b = createMetrics({ defaults: false });
  const appA = a.route(route!);
  const appB = b.route(route!);
  // Interleaved, so each instance finds the other's children on the route.
  a.request(appA, 'allow', 200, 0.01);
  b.request(appB, 'allow', 200, 0.01);
  a.request(appA, 'allow', 204, 0.01);
  a.upstream(appA, 0.005);
  b.upstream(appB, 0.005);
  b.upstream(appB, 0.005);
  a.request(appA, 'allow', 200, 0.01);
  assert.equal(await value(a, APP_2XX), 3);
  assert.equal(await value(b, APP_2XX), 1);
  assert.equal(await value(a, 'drawbridge_request_duration_seconds_count{route="app"}'), 3);
  assert.equal(await value(b, 'drawbridge_request_duration_seconds_count{route="app"}'), 1);
  assert.equal(await value(a, 'drawbridge_upstream_duration_seconds_count{route="app"}'), 1);
  assert.equal(await value(b, 'drawbridge_upstream_duration_seconds_count{route="app"}'), 2);
});

test('after a reset, counting through a route starts again from 0 and is reported', async () => {
  const [route] = routes();
  const m = createMetrics({ defaults: false });
  const app = m.route(route!);
  m.request(app, 'allow', 200, 0.01);
  m.request(app, 'allow', 200, 0.01);
  m.upstream(app, 0.005);
  assert.equal(await value(m, APP_2XX), 2);
  m.registry.resetMetrics();
  assert.equal(await value(m, APP_2XX), undefined);
  m.request(app, 'allow', 200, 0.01);
  m.upstream(app, 0.005);
  m.upstream(app, 0.005);
  assert.equal(await value(m, APP_2XX), 1);
  assert.equal(await value(m, 'drawbridge_request_duration_seconds_count{route="app"}'), 1);
  assert.equal(await value(m, 'drawbridge_upstream_duration_seconds_count{route="app"}'), 2);
  // One series reset on its own invalidates the cached children too.
  m.registry.getSingleMetric('drawbridge_upstream_duration_seconds')!.reset();
  m.upstream(app, 0.005);
  assert.equal(await value(m, 'drawbridge_upstream_duration_seconds_count{route="app"}'), 1);
  assert.equal(await value(m, APP_2XX), 1);
});

test('series by route name, decision and status class: routes of one name share a series, copies and no route count under their own name', async () => {
  const [appRoute, wikiRoute] = routes();
  const [reloadedRoute] = routes();
  assert.notEqual(appRoute, reloadedRoute);
  const m = createMetrics({ defaults: false });
  const [app, reloaded, wiki] = [appRoute, reloadedRoute, wikiRoute].map((r) => m.route(r!)) as [RouteMetrics, RouteMetrics, RouteMetrics];
  m.request(app, 'allow', 200, 0.01);
  m.request(reloaded, 'allow', 299, 0.01);
  m.request(wiki, 'deny', 403, 0.01);
  m.request(m.route({ ...appRoute!, name: 'copy' }), 'allow', 200, 0.01);
  m.request(app, 'allow', 200, 0.01);
  m.request(undefined, 'no-route', 404, 0.01);
  for (const status of [0, 101, 302, 502, 600, Number.NaN]) m.request(app, 'page', status, 0.01);
  assert.equal(await value(m, APP_2XX), 3);
  assert.equal(await value(m, 'drawbridge_requests_total{route="copy",decision="allow",status_class="2xx"}'), 1);
  assert.equal(await value(m, 'drawbridge_requests_total{route="wiki",decision="deny",status_class="4xx"}'), 1);
  assert.equal(await value(m, 'drawbridge_requests_total{route="",decision="no-route",status_class="4xx"}'), 1);
  for (const cls of ['0xx', '1xx', '3xx', '5xx']) assert.equal(await value(m, `drawbridge_requests_total{route="app",decision="page",status_class="${cls}"}`), 1, cls);
  assert.equal(await value(m, 'drawbridge_requests_total{route="app",decision="page",status_class="other"}'), 2);
  assert.equal(await value(m, 'drawbridge_request_duration_seconds_count{route="app"}'), 9);
  assert.equal(await value(m, 'drawbridge_request_duration_seconds_count{route=""}'), 1);
  // No upstream series for a route until an upstream time is observed.
  assert.doesNotMatch(await m.registry.metrics(), /^drawbridge_upstream_duration_seconds_count/m);
});

test('a compiled route carries no run-time state: counting through it leaves it as it was', () => {
  const [route] = routes();
  const before = JSON.stringify(route);
  const m = createMetrics({ defaults: false });
  m.request(m.route(route!), 'allow', 200, 0.01);
  assert.equal(JSON.stringify(route), before);
  assert.equal('runtime' in JSON.parse(JSON.stringify(route)), false);
});

test('a removed route\'s series are dropped, and what its old children still count is not reported', async () => {
  const [appRoute, wikiRoute] = routes();
  const m = createMetrics({ defaults: false });
  const app = m.route(appRoute!);
  const wiki = m.route(wikiRoute!);
  m.request(app, 'allow', 200, 0.01);
  m.upstream(app, 0.005);
  m.request(wiki, 'allow', 200, 0.01);
  m.request(app, 'deny', 403, 0.01);
  app.remove();
  m.request(app, 'allow', 200, 0.01);
  m.upstream(app, 0.005);
  const text = await m.registry.metrics();
  assert.doesNotMatch(text, /route="app"/);
  assert.equal(await value(m, 'drawbridge_requests_total{route="wiki",decision="allow",status_class="2xx"}'), 1);
  // A route of that name in a later configuration counts again, from 0.
  const again = m.route(routes()[0]!);
  m.request(again, 'allow', 200, 0.01);
  assert.equal(await value(m, APP_2XX), 1);
});

test('many routes each count in their own block (the blocks\' slab grows); a removed route\'s block, reused by a new route, starts from 0', async () => {
  const [appRoute] = routes();
  const m = createMetrics({ defaults: false });
  const many = Array.from({ length: 40 }, (_, i) => m.route({ ...appRoute!, name: `r${i}` }));
  many.forEach((r, i) => {
    for (let k = 0; k <= i; k++) {
      m.request(r, 'allow', 200, 0.002);
      m.upstream(r, 0.001);
    }
  });
  for (const i of [0, 15, 16, 39]) {
    assert.equal(await value(m, `drawbridge_requests_total{route="r${i}",decision="allow",status_class="2xx"}`), i + 1, `r${i}`);
    assert.equal(await value(m, `drawbridge_request_duration_seconds_bucket{le="0.0025",route="r${i}"}`), i + 1);
    assert.equal(await value(m, `drawbridge_request_duration_seconds_bucket{le="0.001",route="r${i}"}`), 0);
    assert.equal(await value(m, `drawbridge_upstream_duration_seconds_bucket{le="0.001",route="r${i}"}`), i + 1);
    const sum = await value(m, `drawbridge_upstream_duration_seconds_sum{route="r${i}"}`);
    assert.ok(sum !== undefined && Math.abs(sum - (i + 1) * 0.001) < 1e-9);
  }
  many[5]!.remove();
  const fresh = m.route({ ...appRoute!, name: 'fresh' });
  m.request(many[5], 'allow', 200, 0.002);
  m.upstream(many[5]!, 0.001);
  m.request(fresh, 'allow', 200, 0.002);
  assert.equal(await value(m, 'drawbridge_requests_total{route="fresh",decision="allow",status_class="2xx"}'), 1);
  assert.equal(await value(m, 'drawbridge_request_duration_seconds_count{route="fresh"}'), 1);
  assert.equal(await value(m, 'drawbridge_upstream_duration_seconds_count{route="fresh"}'), undefined);
  assert.equal(await value(m, 'drawbridge_request_duration_seconds_count{route="r6"}'), 7, 'neighbours untouched');
  assert.doesNotMatch(await m.registry.metrics(), /route="r5"/);
});

test('the per-request series scrape exactly as prom-client\'s own Counter and Histogram given the same events: many routes, every kind of event, scrapes and resets between them', async () => {
  const [appRoute] = routes();
  const m = createMetrics({ defaults: false });
  const ref = new Registry();
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  const requests = new Counter({ name: 'drawbridge_requests_total', help: 'h', labelNames: ['route', 'decision', 'status_class'], registers: [ref] });
  const duration = new Histogram({ name: 'drawbridge_request_duration_seconds', help: 'h', labelNames: ['route'], buckets, registers: [ref] });
  const upstream = new Histogram({ name: 'drawbridge_upstream_duration_seconds', help: 'h', labelNames: ['route'], buckets, registers: [ref] });
  const classOf = (status: number) => ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'][Math.floor(status / 100)] ?? 'other';
  const samples = async (registry: Registry) => (await registry.metrics()).split('\n').filter((l) => /^drawbridge_(requests_total|request_duration|upstream_duration)/.test(l));
  const many = Array.from({ length: 300 }, (_, i) => ({ name: `r${i}`, children: m.route({ ...appRoute!, name: `r${i}` }) }));
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let k = 0; k < 5000; k++) {
    const r = many[Math.floor(next() * many.length)]!;
    const seconds = next() * next() * 0.2;
    const kind = next();
    if (kind < 0.05) {
      m.request(undefined, 'no-route', 404, seconds);
      requests.inc({ route: '', decision: 'no-route', status_class: '4xx' });
      duration.observe({ route: '' }, seconds);
    } else if (kind < 0.5) {
      m.upstream(r.children, seconds);
      upstream.observe({ route: r.name }, seconds);
    } else {
      const [decision, status] = kind < 0.9 ? ['allow', 200] : kind < 0.95 ? ['deny', 403] : ['allow:upstream-timeout', 504];
      m.request(r.children, decision!, status as number, seconds);
      requests.inc({ route: r.name, decision: decision!, status_class: classOf(status as number) });
      duration.observe({ route: r.name }, seconds);
    }
    if (k === 1234 || k === 3500) assert.deepEqual(await samples(m.registry), await samples(ref), `scrape at ${k}`);
    if (k === 2000) {
      m.registry.getSingleMetric('drawbridge_upstream_duration_seconds')!.reset();
      upstream.reset();
    }
    if (k === 4000) {
      m.registry.resetMetrics();
      ref.resetMetrics();
    }
  }
  assert.deepEqual(await samples(m.registry), await samples(ref));
});

test('counting through a route state (requestAt/upstreamAt, the children object not read) scrapes exactly as request/upstream: every decision, resets, a removed route whose block another route took', async () => {
  const [appRoute] = routes();
  const direct = createMetrics({ defaults: false });
  const held = createMetrics({ defaults: false });
  // What a route's run-time state holds (runtime/route-state.ts): its children, and their block and stamp copied.
  const holder = (m: Metrics, name: string) => {
    const metrics = m.route({ ...appRoute!, name });
    return { metrics, metricsBlock: metrics.block, metricsStamp: metrics.stamp };
  };
  const names = ['a', 'b', 'c', 'd'];
  const d = new Map(names.map((n) => [n, direct.route({ ...appRoute!, name: n })]));
  const h = new Map(names.map((n) => [n, holder(held, n)]));
  const both = (name: string | undefined, decision: string, status: number, seconds: number, upstream?: number) => {
    direct.request(name === undefined ? undefined : d.get(name), decision, status, seconds);
    held.requestAt(name === undefined ? undefined : h.get(name), decision, status, seconds);
    if (name !== undefined && upstream !== undefined) {
      direct.upstream(d.get(name)!, upstream);
      held.upstreamAt(h.get(name)!, upstream);
    }
  };
  const round = (k: number) => {
    for (const [i, n] of names.entries()) {
      both(n, 'allow', 200, 0.001 * (i + k), 0.0005 * (i + 1));
      if (i % 2 === 0) both(n, 'deny', 403, 0.02);
      if (i === 3) both(n, 'allow:upstream-timeout', 504, 31, 30);
    }
    both(undefined, 'no-route', 404, 0.001);
  };
  const same = async (why: string) => {
    // The two registries were made a moment apart: their load time is the one series that may differ by itself.
    for (const m of [direct, held]) (m.registry.getSingleMetric('drawbridge_config_last_reload_success_timestamp_seconds') as Gauge).set(0);
    assert.equal(await held.registry.metrics(), await direct.registry.metrics(), why);
  };
  round(1);
  await same('first counts');
  for (const m of [direct, held]) m.registry.resetMetrics();
  round(2);
  await same('after a reset');
  for (const m of [direct, held]) m.registry.getSingleMetric('drawbridge_request_duration_seconds')!.reset();
  round(3);
  await same('after one series reset');
  // b is removed by a reload; e takes its block; b's requests still in flight are not counted, into e or anywhere.
  d.get('b')!.remove();
  h.get('b')!.metrics.remove();
  d.set('e', direct.route({ ...appRoute!, name: 'e' }));
  h.set('e', holder(held, 'e'));
  assert.equal(h.get('e')!.metricsBlock, h.get('b')!.metricsBlock, 'the freed block is reused');
  both('b', 'allow', 200, 0.003, 0.001);
  both('b', 'deny', 403, 0.003);
  both('e', 'allow', 200, 0.004, 0.002);
  round(4);
  await same('after a removal and a reuse');
  const text = await held.registry.metrics();
  assert.doesNotMatch(text, /route="b"/);
  assert.match(text, /drawbridge_requests_total\{route="e",decision="allow",status_class="2xx"\} 1\n/);
});
