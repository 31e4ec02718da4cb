import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';

function line(text: string, series: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(found, `no line for ${series} in\n${text}`);
  return Number(found.slice(series.length + 1));
}

test('FastHistogram: cumulative buckets with Prometheus `le` semantics, +Inf, sum and count per label value', async () => {
  const registry = new Registry();
  const h = new FastHistogram('t_seconds', 'help text', 'route', [0.1, 1], registry);
  const app = h.child('app');
  for (const v of [0.05, 0.1, 0.5, 1, 3]) app.observe(v);
  app.observe(Number.NaN);
  h.child('other').observe(2);
  const text = await registry.metrics();
  assert.match(text, /^# HELP t_seconds help text$/m);
  assert.match(text, /^# TYPE t_seconds histogram$/m);
  // A value equal to a bound counts in that bucket (le = less than or equal).
  assert.equal(line(text, 't_seconds_bucket{le="0.1",route="app"}'), 2);
  assert.equal(line(text, 't_seconds_bucket{le="1",route="app"}'), 4);
  assert.equal(line(text, 't_seconds_bucket{le="+Inf",route="app"}'), 5);
  assert.equal(line(text, 't_seconds_count{route="app"}'), 5);
  assert.equal(line(text, 't_seconds_sum{route="app"}'), 4.65);
  assert.equal(line(text, 't_seconds_bucket{le="1",route="other"}'), 0);
  assert.equal(line(text, 't_seconds_bucket{le="+Inf",route="other"}'), 1);
  assert.equal(h.child('app'), app, 'one child per label value');
});

test('FastCounter: one series per label combination; reset clears', async () => {
  const registry = new Registry();
  const c = new FastCounter('t_total', 'counts', ['route', 'status_class'], registry);
  c.child('app', '2xx').value++;
  c.child('app', '2xx').value++;
  c.child('app', '4xx').value++;
  const three = new FastCounter('t3_total', 'counts', ['route', 'decision', 'status_class'], registry);
  three.child3('app', 'allow', '2xx').value++;
  three.child3('app', 'allow', '2xx').value++;
  assert.equal(three.child3('app', 'allow', '2xx'), three.child('app', 'allow', '2xx'), 'child3 and child agree');
  let text = await registry.metrics();
  assert.match(text, /^# TYPE t_total counter$/m);
  assert.equal(line(text, 't_total{route="app",status_class="2xx"}'), 2);
  assert.equal(line(text, 't_total{route="app",status_class="4xx"}'), 1);
  assert.equal(line(text, 't3_total{route="app",decision="allow",status_class="2xx"}'), 2);
  registry.resetMetrics();
  three.child3('app', 'allow', '2xx').value++;
  text = await registry.metrics();
  assert.doesNotMatch(text, /t_total\{/);
  assert.equal(line(text, 't3_total{route="app",decision="allow",status_class="2xx"}'), 1, 'after a reset, counting starts again from 0 and is reported');
});
