// proxy/test/reload.test.ts — configuration reload (SPEC §7): `reload()` swaps the route table atomically; `serve`
// reloads on a changed file (checksum every 2 s) and on SIGHUP, refuses an invalid file with FILE:LINE:COL while
// the running configuration keeps serving; requests and WebSockets in flight finish on the route they matched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startSampleApp, type SampleApp } from '../../e2e/sample-app/sample-app.js';
import { received, SESSION_SECRET, sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** GET through the proxy port with a given Host (and cookie); resolves with status and body. */
function get(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host, accept: 'application/json', ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${host}${path}: no answer`)));
    req.on('error', reject);
  });
}

/** A streaming GET: `first` resolves at the first chunk, `done` with every chunk and how the response ended. */
function stream(port: number, host: string, path: string, headers: Record<string, string> = {}) {
  let onFirst!: () => void;
  const first = new Promise<void>((r) => (onFirst = r));
  const state = { ended: false };
  const done = new Promise<{ status: number; chunks: string[]; complete: boolean }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false }, (res) => {
      const chunks: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        chunks.push(c);
        onFirst();
      });
      res.on('end', () => {
        state.ended = true;
        resolve({ status: res.statusCode ?? 0, chunks, complete: res.complete });
      });
      res.on('error', reject);
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, chunks, complete: false }));
    });
    req.on('error', reject);
  });
  return { first, done, ended: () => state.ended };
}

/** Opens a WebSocket through the proxy port with a given Host and cookie. */
async function openSocket(port: number, host: string, cookie: string): Promise<{ ws: WebSocket; echo(text: string): Promise<string> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host, cookie } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return {
    ws,
    echo: (text) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no echo of ${text}`)), 5000);
        ws.once('message', (data) => {
          clearTimeout(timer);
          resolve(String(data));
        });
        ws.send(text);
      }),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

const ROUTES = `routes:
${APP_ROUTE}  - name: legacy
    from: http://legacy.localhost:{{PORT}}
    to: {{APP}}
    public: true
${PUBLIC_ROUTE}`;

let s: Stack;
let app2: SampleApp;
let original: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  app2 = await startSampleApp();
  original = readFileSync(s.configFile, 'utf8');
});

after(async () => {
  await s?.close();
  await app2?.close();
});

test('reload() after the file changed adds a route: the new one works, the old ones still do', { timeout: 60_000 }, async () => {
  writeFileSync(s.configFile, original);
  await s.db.reload();
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  assert.equal((await b.get(s.url('added.localhost', '/x'), { redirect: 'manual' })).status, 404, 'no such route yet');

  writeFileSync(s.configFile, `${original}  - name: added\n    from: http://added.localhost:${s.port}\n    to: ${app2.url}\n    public: true\n`);
  assert.deepEqual(await s.db.reload(), { ok: true });
  const marker = `added${Date.now()}`;
  const added = await b.get(s.url('added.localhost', `/x?${marker}`), { redirect: 'manual' });
  assert.equal(added.status, 200);
  assert.equal(received(app2, marker).length, 1, 'the new route reaches its upstream');
  assert.equal((await b.get(s.url('app.localhost', '/still'), { redirect: 'manual' })).status, 200, 'the session and the old route survive');
  assert.equal((await b.get(s.url('public.localhost', '/still'), { redirect: 'manual' })).status, 200);
  assert.ok(s.logs.some((l) => l.event === 'reload' && l.result === 'success' && l.routes === 4));

  // An invalid file is refused with FILE:LINE:COL; the table in force stays.
  writeFileSync(s.configFile, original.replace('    public: true\n', '    public: maybe\n'));
  const refused = await s.db.reload();
  assert.equal(refused.ok, false);
  const line = original.split('\n').findIndex((l) => l === '    public: true') + 1;
  assert.ok(!refused.ok && refused.errors.some((e) => e.startsWith(`${s.configFile}:${line}:13: `)), JSON.stringify(refused));
  assert.equal((await b.get(s.url('added.localhost', '/y'), { redirect: 'manual' })).status, 200, 'the last good configuration keeps serving');
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
});

test('reload refuses a stricter regex route that a catch-all prefix route would silently shadow; the table in force stays', { timeout: 60_000 }, async () => {
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
  // Listed before the public catch-all of its host: prefix routes are tried first, so it could never match.
  const strict = `  - name: legacy-admin\n    from: http://legacy.localhost:${s.port}\n    regex: "^/admin/"\n    to: ${app2.url}\n    policy: { allow: [ { groups: [wiki-admins] } ] }\n`;
  const shadowed = original.replace('  - name: legacy\n', `${strict}  - name: legacy\n`);
  writeFileSync(s.configFile, shadowed);
  const refused = await s.db.reload();
  const line = shadowed.split('\n').findIndex((l) => l.startsWith('    regex: "^/admin/"')) + 1;
  assert.ok(
    !refused.ok && refused.errors.some((e) => e.startsWith(`${s.configFile}:${line}:12: this regex route can never match: routes[2] "legacy" serves every path of legacy.localhost:${s.port}`)),
    JSON.stringify(refused),
  );
  assert.ok(s.logs.some((l) => l.event === 'reload' && l.result === 'failure' && JSON.stringify(l.errors).includes('can never match')), 'the refusal is logged');
  const marker = `kept${Date.now()}`;
  assert.equal((await get(s.port, `legacy.localhost:${s.port}`, `/admin/x?${marker}`)).status, 200, 'the last good configuration keeps serving');
  assert.equal(received(app2, marker).length, 0, 'the refused route never reached its upstream');
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
});

test('in flight across a reload: a stream and a WebSocket finish on the route they matched; new requests get the new table', { timeout: 60_000 }, async () => {
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  const cookie = `drawbridge=${sessionCookie(b, s.url('app.localhost'))!}`;
  const host = (name: string) => `${name}.localhost:${s.port}`;
  const marker = `inflight${Date.now()}`;

  // A public route that the new file removes, and a signed-in route that it points at another upstream.
  const legacy = stream(s.port, host('legacy'), `/stream?ms=250&chunks=16&${marker}=legacy`);
  const streamed = stream(s.port, host('app'), `/stream?ms=250&chunks=16&${marker}=app`, { cookie });
  await Promise.all([legacy.first, streamed.first]);
  const socket = await openSocket(s.port, host('app'), cookie);
  assert.equal(await socket.echo('before reload'), 'before reload');

  writeFileSync(
    s.configFile,
    original
      .replace(/ {2}- name: legacy\n[\s\S]*?public: true\n/, '')
      .replaceAll(`to: ${s.app.url}`, `to: ${app2.url}`),
  );
  assert.deepEqual(await s.db.reload(), { ok: true });
  assert.ok(!legacy.ended() && !streamed.ended(), 'both streams were still in flight when the table changed');

  // New requests: the removed route is gone, the moved one reaches the new upstream (plain and WebSocket).
  assert.equal((await get(s.port, host('legacy'), `/after?${marker}=new-legacy`)).status, 404);
  const moved = await get(s.port, host('app'), `/after?${marker}=new-app`, { cookie });
  assert.equal(moved.status, 200);
  assert.equal(received(app2, `${marker}=new-app`).length, 1);
  assert.equal(received(s.app, `${marker}=new-app`).length, 0);
  const fresh = await openSocket(s.port, host('app'), cookie);
  assert.equal(await fresh.echo('new socket'), 'new socket');
  assert.equal(app2.requests.filter((r) => r.upgrade).length, 1, 'the new WebSocket went to the new upstream');
  fresh.ws.close();

  // What was in flight carries on with the old route and the old upstream.
  assert.equal(await socket.echo('after reload'), 'after reload');
  const [l, a] = await Promise.all([legacy.done, streamed.done]);
  for (const [name, r] of [['legacy', l], ['app', a]] as const) {
    assert.equal(r.status, 200, name);
    assert.equal(r.complete, true, `${name}: the stream ended normally`);
    assert.match(r.chunks.join(''), /chunk 16 of 16\n$/, `${name}: every chunk arrived`);
    assert.equal(received(s.app, `${marker}=${name}`).length, 1, `${name}: the old upstream served it`);
    assert.equal(received(app2, `${marker}=${name}`).length, 0);
  }
  assert.ok(s.app.requests.some((r) => r.upgrade), 'the old WebSocket is with the old upstream');
  assert.equal(await socket.echo('still open'), 'still open');
  socket.ws.close();

  await waitFor(() => s.logs.filter((x) => x.event === 'request' && x.path === '/stream').length >= 2, 5000);
  const lines = s.logs.filter((x) => x.event === 'request' && x.path === '/stream');
  assert.deepEqual(lines.map((x) => x.route).sort(), ['app', 'legacy']);
  for (const x of lines) {
    assert.equal(x.status, 200);
    assert.equal(x.aborted, undefined, 'not cut short');
  }
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
});

test('a reload releases what the replaced configuration provisioned: its pools once their requests end, the series of removed routes', { timeout: 60_000 }, async () => {
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
  const forwarder = s.db.runtime.forwarder;
  const scrape = () => s.db.metrics.registry.metrics();
  // Every route of the file goes to one upstream: one pool (pools of earlier tests' configurations are gone once idle).
  await waitFor(() => forwarder.poolCount() === 1, 10_000);
  const host = (name: string) => `${name}.localhost:${s.port}`;
  const marker = `release${Date.now()}`;
  assert.equal((await get(s.port, host('legacy'), `/x?${marker}`)).status, 200);
  assert.match(await scrape(), /drawbridge_requests_total\{route="legacy"/);

  const legacy = stream(s.port, host('legacy'), `/stream?ms=250&chunks=8&${marker}=legacy`);
  await legacy.first;
  writeFileSync(
    s.configFile,
    original
      .replace(/ {2}- name: legacy\n[\s\S]*?public: true\n/, '')
      .replace(/(- name: public\n[^\n]*\n {4}to: )\S+/, `$1${app2.url}`),
  );
  assert.deepEqual(await s.db.reload(), { ok: true });
  assert.ok(!legacy.ended(), 'the stream was still in flight when the table changed');
  // The new configuration's two upstreams, and the replaced one's pool while the stream goes through it.
  assert.equal(forwarder.poolCount(), 3);
  assert.doesNotMatch(await scrape(), /route="legacy"/, 'the removed route\'s series are dropped at once');
  assert.match(await scrape(), /drawbridge_requests_total\{route="app"/, 'a kept route keeps its series');

  const done = await legacy.done;
  assert.equal(done.status, 200);
  assert.equal(done.complete, true, 'the request in flight finished through the replaced pool');
  await waitFor(() => forwarder.poolCount() === 2, 10_000);
  assert.doesNotMatch(await scrape(), /route="legacy"/, 'the request that finished after the reload brought no series back');
  writeFileSync(s.configFile, original);
  assert.deepEqual(await s.db.reload(), { ok: true });
  await waitFor(() => forwarder.poolCount() === 1, 10_000);
});

test('`drawbridge serve` reloads a changed file by itself, reloads on SIGHUP, and refuses an invalid file with FILE:LINE:COL', { timeout: 150_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-serve-'));
  const file = join(dir, 'drawbridge.yaml');
  const [port, adminPort] = [await freePort(), await freePort()];
  const base = `listen: "127.0.0.1:${port}"
publicUrl: http://auth.localhost:${port}
admin: { listen: "127.0.0.1:${adminPort}" }
idp:
  issuer: http://127.0.0.1:9
  clientId: drawbridge
  clientSecret: not-used-in-this-test
  allowInsecureHttp: true
session:
  secret: ${SESSION_SECRET}
log: { level: info, format: json }
routes:
  - name: one
    from: http://one.localhost:${port}
    to: ${s.app.url}
    public: true
`;
  writeFileSync(file, base);
  const child = spawn(process.execPath, ['--import', 'tsx', 'proxy/src/main.ts', 'serve', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, any>[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) logs.push(JSON.parse(line));
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const reloads = (result: string) => logs.filter((l) => l.event === 'reload' && l.result === result);
  const metrics = async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  try {
    await waitFor(() => logs.some((l) => l.event === 'start') || child.exitCode !== null, 60_000);
    assert.ok(logs.some((l) => l.event === 'start'), `serve started: ${stderr}`);
    assert.equal((await get(port, `one.localhost:${port}`, '/')).status, 200);
    assert.equal((await get(port, `two.localhost:${port}`, '/')).status, 404);

    // 1. The file changes: picked up by the checksum poll, no signal needed.
    const withTwo = `${base}  - name: two\n    from: http://two.localhost:${port}\n    to: ${s.app.url}\n    public: true\n`;
    writeFileSync(file, withTwo);
    await waitFor(async () => (await get(port, `two.localhost:${port}`, '/')).status === 200, 20_000, 100);
    assert.equal(reloads('success').length, 1);

    // 2. SIGHUP with the file unchanged: the poll has nothing to do, so this reload is the signal's.
    process.kill(child.pid!, 'SIGHUP');
    await waitFor(() => reloads('success').length === 2, 15_000);

    // 3. An invalid file and SIGHUP: refused, logged with FILE:LINE:COL, counted; the old table keeps serving.
    const failuresBefore = metricValue(await metrics(), 'drawbridge_config_reloads_total{result="failure"}');
    assert.equal(failuresBefore, 0);
    const broken = withTwo.replace('    to: http', '    tooo: oops\n    to: http');
    writeFileSync(file, broken);
    process.kill(child.pid!, 'SIGHUP');
    await waitFor(() => reloads('failure').length >= 1, 15_000);
    const failure = reloads('failure')[0]!;
    assert.equal(failure.level, 'error');
    const badLine = broken.split('\n').findIndex((l) => l === '    tooo: oops') + 1;
    assert.ok(
      (failure.errors as string[]).some((e) => e.startsWith(`${file}:${badLine}:5: `) && /tooo/.test(e)),
      `errors name FILE:LINE:COL: ${JSON.stringify(failure.errors)}`,
    );
    assert.equal((await get(port, `one.localhost:${port}`, '/')).status, 200, 'the running configuration stays');
    assert.equal((await get(port, `two.localhost:${port}`, '/')).status, 200);
    const text = await metrics();
    assert.ok(metricValue(text, 'drawbridge_config_reloads_total{result="failure"}') >= 1, 'the failure is counted');
    assert.equal(metricValue(text, 'drawbridge_config_reloads_total{result="success"}'), 2);
    assert.equal(reloads('success').length, 2);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, `serve stops cleanly on SIGTERM: ${stderr}`);
  }
});
