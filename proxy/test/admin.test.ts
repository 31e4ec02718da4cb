// proxy/test/admin.test.ts — the admin listener (SPEC §7): Prometheus series for requests, latency, sign-ins,
// sessions and reloads on /metrics; /healthz and /readyz; and the proxy listener never serving any of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { rawHttp, startStack, waitFor, type Stack } from '../../test-support/stack.js';

let s: Stack;

before(async () => {
  s = await startStack();
});

after(async () => {
  await s?.close();
});

async function scrape(stack: Stack = s): Promise<string> {
  const r = await fetch(`${stack.db.adminUrl}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return r.text();
}

/** The value of one exact series line (`name{labels}`), NaN when absent. */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

const PROMETHEUS = /^# (HELP|TYPE) /m;

test('/metrics has every series of SPEC §7, labelled as documented', { timeout: 60_000 }, async () => {
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  assert.equal((await b.get(s.url('app.localhost', '/m1'))).status, 200);
  assert.equal((await s.api().get(s.url('public.localhost', '/m2'))).status, 200);
  assert.equal((await s.api().get(s.url('nowhere.localhost', '/m3'))).status, 404);
  assert.equal((await s.api().get(s.url('app.localhost', '/m4'), { redirect: 'manual' })).status, 401);
  const bob = s.browser();
  await s.signIn(bob, s.url('app.localhost', '/'), 'bob');
  assert.equal((await bob.get(s.url('app.localhost', '/m5'), { redirect: 'manual' })).status, 403);

  const text = await scrape();
  // Requests by route, decision and status class.
  for (const help of ['drawbridge_requests_total', 'drawbridge_request_duration_seconds', 'drawbridge_upstream_duration_seconds', 'drawbridge_sign_ins_total', 'drawbridge_active_sessions', 'drawbridge_config_reloads_total', 'drawbridge_config_last_reload_success_timestamp_seconds']) {
    assert.match(text, new RegExp(`^# HELP ${help} \\S`, 'm'), `${help} is described`);
  }
  assert.match(text, /^# TYPE drawbridge_requests_total counter$/m);
  assert.ok(value(text, 'drawbridge_requests_total{route="app",decision="allow",status_class="2xx"}') >= 1);
  assert.ok(value(text, 'drawbridge_requests_total{route="public",decision="allow",status_class="2xx"}') >= 1);
  assert.ok(value(text, 'drawbridge_requests_total{route="",decision="no-route",status_class="4xx"}') >= 1);
  assert.ok(value(text, 'drawbridge_requests_total{route="app",decision="sign-in",status_class="4xx"}') >= 1);
  assert.ok(value(text, 'drawbridge_requests_total{route="app",decision="deny",status_class="4xx"}') >= 1);
  // Latency histograms: whole request and upstream, by route.
  assert.match(text, /^# TYPE drawbridge_request_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE drawbridge_upstream_duration_seconds histogram$/m);
  assert.ok(value(text, 'drawbridge_request_duration_seconds_count{route="app"}') >= 1);
  assert.ok(value(text, 'drawbridge_request_duration_seconds_bucket{le="+Inf",route="app"}') >= 1);
  await waitFor(async () => value(await scrape(), 'drawbridge_upstream_duration_seconds_count{route="app"}') >= 1, 2000);
  assert.ok(value(await scrape(), 'drawbridge_upstream_duration_seconds_count{route="public"}') >= 1);
  // Sign-ins by result, live sessions, reloads by result and the time of the last good one.
  assert.equal(value(text, 'drawbridge_sign_ins_total{result="success"}'), 2);
  assert.equal(value(text, 'drawbridge_active_sessions'), 2);
  assert.equal(value(text, 'drawbridge_config_reloads_total{result="success"}'), 0);
  assert.equal(value(text, 'drawbridge_config_reloads_total{result="failure"}'), 0);
  const started = value(text, 'drawbridge_config_last_reload_success_timestamp_seconds');
  assert.ok(Math.abs(started - Date.now() / 1000) < 120, `a recent timestamp: ${started}`);
  // Process metrics come with the same prefix.
  assert.match(text, /^drawbridge_process_resident_memory_bytes \d/m);
});

test('reloads are counted by result; the last-good timestamp moves only on success', { timeout: 30_000 }, async () => {
  const original = readFileSync(s.configFile, 'utf8');
  const t0 = value(await scrape(), 'drawbridge_config_last_reload_success_timestamp_seconds');
  await new Promise((r) => setTimeout(r, 1100));
  assert.deepEqual(await s.db.reload(), { ok: true });
  let text = await scrape();
  assert.equal(value(text, 'drawbridge_config_reloads_total{result="success"}'), 1);
  const t1 = value(text, 'drawbridge_config_last_reload_success_timestamp_seconds');
  assert.ok(t1 > t0, `${t1} > ${t0}`);

  writeFileSync(s.configFile, original.replace('routes:', 'routes: [oops'));
  try {
    assert.equal((await s.db.reload()).ok, false);
  } finally {
    writeFileSync(s.configFile, original);
  }
  text = await scrape();
  assert.equal(value(text, 'drawbridge_config_reloads_total{result="failure"}'), 1);
  assert.equal(value(text, 'drawbridge_config_last_reload_success_timestamp_seconds'), t1);
});

test('/healthz answers 200; /readyz 200 with every check when ready; only GET and HEAD', { timeout: 30_000 }, async () => {
  const health = await fetch(`${s.db.adminUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const ready = await fetch(`${s.db.adminUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true, checks: { config: true, idp: true, store: true } });
  assert.equal((await fetch(`${s.db.adminUrl}/healthz`, { method: 'HEAD' })).status, 200);
  assert.equal((await fetch(`${s.db.adminUrl}/metrics`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${s.db.adminUrl}/nothing`)).status, 404);
});

test('/readyz is 503 while the IdP is unreachable; /healthz stays 200', { timeout: 30_000 }, async () => {
  const down = await startStack({ noIdp: true });
  try {
    const ready = await fetch(`${down.db.adminUrl}/readyz`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { ready: boolean; checks: Record<string, boolean> };
    assert.equal(body.ready, false);
    assert.equal(body.checks.idp, false);
    assert.equal(body.checks.store, true);
    assert.equal((await fetch(`${down.db.adminUrl}/healthz`)).status, 200);
    // A load balancer's readiness ignores the IdP (existing sessions keep working): ready, the IdP's check still shown.
    const serving = await fetch(`${down.db.adminUrl}/readyz?idp=optional`);
    assert.equal(serving.status, 200);
    const servingBody = (await serving.json()) as { ready: boolean; checks: Record<string, boolean> };
    assert.equal(servingBody.ready, true);
    assert.equal(servingBody.checks.idp, false);
    // New sign-ins get the 503 page meanwhile; public routes work.
    assert.equal((await down.browser().get(`${down.publicUrl}/.drawbridge/sign_in?rd=%2F`, { redirect: 'manual' })).status, 503);
    assert.equal((await down.api().get(down.url('public.localhost', '/'))).status, 200);
  } finally {
    await down.close();
  }
});

test('the proxy listener never serves /metrics, /healthz or /readyz, on any host, signed in or not', { timeout: 60_000 }, async () => {
  const alice = s.browser();
  await s.signIn(alice, s.url('app.localhost', '/'), 'alice');
  const hosts = ['app.localhost', 'public.localhost', 'unknown.localhost', 'auth.localhost'].map((h) => `${h}:${s.port}`);
  hosts.push(`127.0.0.1:${s.port}`);
  const paths = ['/metrics', '/healthz', '/readyz', '/metrics?x=1', '/METRICS', '/.drawbridge/metrics', '/.drawbridge/healthz', '/.drawbridge/readyz'];
  const clients = [
    ['anonymous browser', s.browser()],
    ['anonymous API', s.api()],
    ['alice', alice],
  ] as const;
  const forwarded = new Set<string>();
  for (const host of hosts) {
    for (const path of paths) {
      for (const [who, client] of clients) {
        const r = await client.get(`http://${host}${path}`, { redirect: 'manual' });
        const what = `${who} → ${host}${path}: ${r.status}`;
        assert.doesNotMatch(r.body, PROMETHEUS, what);
        assert.ok(!r.body.includes('drawbridge_requests_total'), what);
        assert.doesNotMatch(String(r.headers['content-type'] ?? ''), /version=0\.0\.4/, what);
        assert.notDeepEqual(safeJson(r.body), { status: 'ok' }, what);
        assert.equal(safeJson(r.body)?.checks, undefined, what);
        if (r.status === 200) forwarded.add(`${host}${path}`);
      }
    }
  }
  // What did answer 200 came from the upstream (a route's app), never from Drawbridge.
  for (const hit of forwarded) assert.match(hit, /^(app|public)\.localhost\.?:\d+\/(metrics|healthz|readyz)/i, hit);
  // Raw requests too: absolute-form targets and no Host header at all.
  for (const head of [`GET http://127.0.0.1:${s.port}/metrics HTTP/1.1\nHost: 127.0.0.1:${s.port}\nConnection: close`, 'GET /metrics HTTP/1.0', `GET /metrics HTTP/1.1\nHost: [::1]:${s.port}\nConnection: close`, `GET /metrics HTTP/1.1\nHost: AUTH.localhost.:${s.port}\nConnection: close`]) {
    const r = await rawHttp(s.port, head);
    assert.doesNotMatch(r.body, PROMETHEUS, head);
  }
});

test('a proxied request is logged once with every SPEC §8 field, upstreamMs included', { timeout: 30_000 }, async () => {
  const marker = `/logged-${Date.now()}`;
  assert.equal((await s.api().get(s.url('public.localhost', marker))).status, 200);
  await waitFor(() => s.logs.some((l) => l.event === 'request' && l.path === marker), 2000);
  const lines = s.logs.filter((l) => l.event === 'request' && l.path === marker);
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  for (const field of ['time', 'level', 'event', 'requestId', 'route', 'method', 'host', 'path', 'status', 'durationMs', 'upstreamMs', 'ip', 'user', 'email', 'decision', 'reasons']) {
    assert.ok(field in line, `${field} in ${JSON.stringify(line)}`);
  }
  assert.equal(line.route, 'public');
  assert.equal(line.status, 200);
  assert.equal(typeof line.upstreamMs, 'number', `the upstream time of a forwarded request: ${JSON.stringify(line)}`);
  assert.ok(line.upstreamMs >= 0 && line.upstreamMs <= line.durationMs);
});

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
