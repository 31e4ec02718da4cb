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

test('FastHistogram: children in one growing slab keep their own counts; a removed child\'s slot is reused from 0 and the stale child no longer counts into it', async () => {
  const registry = new Registry();
  const h = new FastHistogram('s_seconds', 'help', 'route', [0.1, 1], registry);
  // More children than the slab's first size (16): it grows, and the children taken before keep counting.
  const children = Array.from({ length: 100 }, (_, i) => h.child(`r${i}`));
  children.forEach((c, i) => {
    for (let k = 0; k <= i; k++) c.observe(0.5);
  });
  children[3]!.observe(5);
  let text = await registry.metrics();
  for (const i of [0, 3, 15, 16, 17, 99]) assert.equal(line(text, `s_seconds_count{route="r${i}"}`), i + 1 + (i === 3 ? 1 : 0), `r${i}`);
  assert.equal(line(text, 's_seconds_bucket{le="1",route="r99"}'), 100);
  assert.equal(line(text, 's_seconds_bucket{le="+Inf",route="r3"}'), 5);
  assert.equal(line(text, 's_seconds_sum{route="r3"}'), 7);

  h.remove('r5');
  const fresh = h.child('new');
  fresh.observe(0.05);
  children[5]!.observe(0.05); // a child held across its removal (a request that began before a reload)
  text = await registry.metrics();
  assert.doesNotMatch(text, /route="r5"/);
  assert.equal(line(text, 's_seconds_count{route="new"}'), 1, 'the reused slot starts at 0 and the stale child does not count into it');
  assert.equal(line(text, 's_seconds_bucket{le="0.1",route="new"}'), 1);
  assert.equal(line(text, 's_seconds_count{route="r6"}'), 7, 'neighbours untouched');

  registry.resetMetrics();
  const after = h.child('r0');
  children[0]!.observe(0.05);
  after.observe(2);
  text = await registry.metrics();
  assert.equal(line(text, 's_seconds_count{route="r0"}'), 1, 'after a reset, a child taken before does not count into the new one');
  assert.equal(line(text, 's_seconds_bucket{le="1",route="r0"}'), 0);
});
