// proxy/test/serve-process.test.ts — `drawbridge serve` as a process, through bin/drawbridge.js: it exits non-zero
// when a listener cannot bind (never half-running), and it starts and stops with the lines an operator looks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { drawbridgeProcess, drawbridgeProcessWith } from '../../test-support/process.js';
import { reservePort, SESSION_SECRET, waitFor } from '../../test-support/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const dir = mkdtempSync(join(tmpdir(), 'drawbridge-serve-process-'));

function configFile(listen: number, admin: number, extra = ''): string {
  const file = join(dir, `drawbridge-${listen}-${admin}.yaml`);
  writeFileSync(
    file,
    `listen: "127.0.0.1:${listen}"
publicUrl: http://auth.localhost:${listen}
admin: { listen: "127.0.0.1:${admin}" }
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
    from: http://one.localhost:${listen}
    to: http://127.0.0.1:9
    public: true
${extra}`,
  );
  return file;
}



/** A listener holding a loopback port, as another process would. */
async function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  return { port: (holder.address() as AddressInfo).port, close: () => new Promise((r) => holder.close(() => r())) };
}

test('serve exits non-zero, naming the address and the cause, when the proxy listener cannot bind', { timeout: 120_000 }, async () => {
  const held = await occupy();
  try {
    const s = drawbridgeProcess('serve', '--config', configFile(held.port, await reservePort()));
    const code = await s.exited;
    assert.notEqual(code, 0);
    assert.match(s.stderr(), new RegExp(`proxy listener cannot listen on 127\\.0\\.0\\.1:${held.port} .*already in use \\[EADDRINUSE\\]`));
    assert.ok(s.logs.some((l) => l.event === 'listen' && l.result === 'failure' && String(l.error).includes(String(held.port))), JSON.stringify(s.logs));
    assert.ok(!s.logs.some((l) => l.event === 'start'), 'never announced as started');
  } finally {
    await held.close();
  }
});

test('serve exits non-zero when the admin listener cannot bind: no proxy left serving without /healthz', { timeout: 120_000 }, async () => {
  const held = await occupy();
  try {
    const s = drawbridgeProcess('serve', '--config', configFile(await reservePort(), held.port));
    const code = await s.exited;
    assert.notEqual(code, 0);
    assert.match(s.stderr(), new RegExp(`admin listener cannot listen on 127\\.0\\.0\\.1:${held.port} .*already in use \\[EADDRINUSE\\]`));
    assert.ok(!s.logs.some((l) => l.event === 'start'), 'never announced as started');
  } finally {
    await held.close();
  }
});

test('serve logs its version, listen addresses and IdP at start; SIGTERM drains the request in flight, logs the shutdown and exits 0', { timeout: 120_000 }, async () => {
  // An upstream that holds its answer until told: the request is in flight when the signal comes.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const arrival = new Promise<void>((r) => (arrived = r));
  const upstream = http.createServer((_req, res) => {
    arrived();
    void released.then(() => res.end('slow answer'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  try {
    const [port, adminPort] = [await reservePort(), await reservePort()];
    const file = configFile(port, adminPort, `  - name: slow\n    from: http://slow.localhost:${port}\n    to: http://127.0.0.1:${upstreamPort}\n    public: true\n`);
    const s = drawbridgeProcess('serve', '--config', file);
    const start = await s.line((l) => l.event === 'start');
    assert.equal(start.version, PACKAGE.version);
    assert.equal(start.listen, `http://127.0.0.1:${port}`);
    assert.equal(start.admin, `http://127.0.0.1:${adminPort}`);
    assert.equal(start.idp, 'http://127.0.0.1:9');

    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: `slow.localhost:${port}` }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    await arrival;
    s.child.kill('SIGTERM');
    // The listener is closed at once: new connections are refused while the request in flight goes on.
    await waitFor(() => connects(port).then((ok) => !ok), 30_000);
    release();
    assert.deepEqual(await answer, { status: 200, body: 'slow answer' });
    assert.equal(await s.exited, 0);
    const shutdown = s.logs.find((l) => l.event === 'shutdown');
    assert.ok(shutdown, JSON.stringify(s.logs));
    assert.equal(shutdown.signal, 'SIGTERM');
    assert.equal(shutdown.inFlight, 1);
    assert.equal(shutdown.drained, 1);
    assert.equal(shutdown.abandoned, 0);
    assert.equal(typeof shutdown.durationMs, 'number');
  } finally {
    release();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
});

/** Whether a TCP connection to the loopback port is accepted. */
function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('serve of one process loads only what serving needs: never the cluster primary\'s modules nor the help texts', { timeout: 120_000 }, async () => {
  // Module hooks (node:module register) that write down every module the process resolves, tsx's .ts files included.
  const seen = join(dir, 'modules.txt');
  writeFileSync(seen, '');
  const hooks = join(dir, 'record-hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(seen)}, r.url + '\\n'); return r; }\n`);
  const register = join(dir, 'record.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const s = drawbridgeProcessWith({ nodeArgs: ['--import', pathToFileURL(register).href] }, 'serve', '--config', configFile(await reservePort(), await reservePort()));
  try {
    await s.line((l) => l.event === 'start');
  } finally {
    await s.stop();
  }
  const modules = readFileSync(seen, 'utf8').split('\n').filter((u) => u.includes('/proxy/src/')).map((u) => u.slice(u.indexOf('/proxy/src/') + '/proxy/src/'.length));
  for (const m of ['cli/serve.ts', 'server/server.ts', 'server/workers.ts']) assert.ok(modules.includes(m), `${m} was not loaded: the recording missed it (${modules.length} modules seen)`);
  for (const m of ['server/cluster.ts', 'session/cluster-store.ts', 'server/cluster-acme.ts', 'server/cluster-tls.ts', 'cli/help.ts', 'cli/validate.ts', 'cli/doctor.ts']) assert.ok(!modules.includes(m), `serve loaded ${m}`);
});
