import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { FastCounter, FastHistogram, histogramSlots, observeAt, Slab } from './fast-metrics.js';

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

test('childAt: a counter and histograms counting in a slab the caller owns are scraped like other children; a reset or a removal detaches them from their slots', async () => {
  const registry = new Registry();
  const bounds = [0.1, 1];
  const c = new FastCounter('b_total', 'counts', ['route', 'decision', 'status_class'], registry);
  const h = new FastHistogram('b_seconds', 'help', 'route', bounds, registry);
  const stride = 1 + histogramSlots(bounds);
  const slab = new Slab(stride, 1);
  slab.grow();
  // Values already counted through a plain child carry over into the slot.
  c.child3('two', 'allow', '2xx').value += 5;
  for (const [i, name] of ['one', 'two'].entries()) {
    c.childAt(name, 'allow', '2xx', slab, i * stride);
    h.childAt(name, slab, i * stride + 1);
    h.childAt(name, slab, i * stride + 1);
  }
  slab.data[0]!++;
  slab.data[stride]!++;
  for (const v of [0.05, 0.5, 3, Number.NaN]) observeAt(slab.data, 1, bounds, v);
  observeAt(slab.data, stride + 1, bounds, 0.5);
  let text = await registry.metrics();
  assert.equal(line(text, 'b_total{route="one",decision="allow",status_class="2xx"}'), 1);
  assert.equal(line(text, 'b_total{route="two",decision="allow",status_class="2xx"}'), 6);
  assert.equal(c.child3('one', 'allow', '2xx').value, 1, 'the registered child reads its slot');
  assert.equal(line(text, 'b_seconds_bucket{le="0.1",route="one"}'), 1);
  assert.equal(line(text, 'b_seconds_bucket{le="1",route="one"}'), 2);
  assert.equal(line(text, 'b_seconds_bucket{le="+Inf",route="one"}'), 3);
  assert.equal(line(text, 'b_seconds_sum{route="one"}'), 3.55);
  assert.equal(line(text, 'b_seconds_count{route="two"}'), 1);

  c.removeFirst('one');
  h.remove('one');
  slab.data[0]!++;
  observeAt(slab.data, 1, bounds, 0.5);
  text = await registry.metrics();
  assert.doesNotMatch(text, /route="one"/);
  // The slot registered again (a later route of that name, or another name) starts from 0.
  c.childAt('three', 'allow', '2xx', slab, 0);
  h.childAt('three', slab, 1);
  text = await registry.metrics();
  assert.equal(line(text, 'b_total{route="three",decision="allow",status_class="2xx"}'), 0);
  assert.equal(line(text, 'b_seconds_count{route="three"}'), 0);

  registry.resetMetrics();
  slab.data[stride]!++;
  observeAt(slab.data, stride + 1, bounds, 0.5);
  text = await registry.metrics();
  assert.doesNotMatch(text, /route="two"/, 'after a reset the slots are no longer reported');
  c.childAt('two', 'allow', '2xx', slab, stride);
  h.childAt('two', slab, stride + 1);
  text = await registry.metrics();
  assert.equal(line(text, 'b_total{route="two",decision="allow",status_class="2xx"}'), 0, 'registered again after a reset: from 0');
  assert.equal(line(text, 'b_seconds_count{route="two"}'), 0);
});
