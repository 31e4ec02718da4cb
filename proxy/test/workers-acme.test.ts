// proxy/test/workers-acme.test.ts — `workers: 2` with `tls.acme`, against Debian's pebble: the primary orders (one ACME
// client), the challenge answers and the certificates reach both workers before they are needed (pebble's validation
// connections land on either worker: the listener is shared), each worker serves the certificates, a worker that
// replaces one that died serves them from its first connection, and a name without a certificate is refused by every
// worker. Which worker answered comes from each request's log line; every wait is for a log line, never a sleep.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { type PeerCertificate } from 'node:tls';
import { drawbridgeProcess, type DrawbridgeProcess } from '../../test-support/process.js';
import { startPebble, type Pebble } from '../../test-support/pebble.js';
import { marker } from '../../test-support/raw.js';
import { reservePort, SESSION_SECRET } from '../../test-support/stack.js';

const T = { timeout: 180_000 };
const app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from the app'));
await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
const appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
const port = await reservePort();
const httpPort = await reservePort();
const pebble: Pebble = await startPebble({ httpPort, tlsPort: port });
const root = await pebble.root();
const running: DrawbridgeProcess[] = [];

after(async () => {
  for (const db of running) await db.stop();
  await pebble.close();
  await new Promise<void>((r) => app.close(() => r()));
});


/** `drawbridge serve` with workers: 2 and tls.acme for `hosts` (the first is publicUrl's), ordering from pebble. */
function serve(hosts: string[], challenge: 'tls-alpn-01' | 'http-01'): DrawbridgeProcess {
  const file = join(mkdtempSync(join(tmpdir(), 'drawbridge-workers-acme-')), 'drawbridge.yaml');
  const storage = mkdtempSync(join(tmpdir(), 'drawbridge-acme-'));
  writeFileSync(
    file,
    [
      `listen: "127.0.0.1:${port}"`,
      'workers: 2',
      `publicUrl: https://${hosts[0]}:${port}`,
      'admin: { listen: "127.0.0.1:0" }',
      'tls:',
      `  acme: { email: ops@example.com, directory: "${pebble.directoryUrl}", caFile: "${pebble.caFile}", storage: "${storage}", httpListen: "127.0.0.1:${httpPort}", challenges: [${challenge}] }`,
      'idp: { issuer: "http://127.0.0.1:9/", clientId: drawbridge, clientSecret: not-used-not-used, allowInsecureHttp: true }',
      `session: { secret: ${SESSION_SECRET} }`,
      'log: { level: info, format: json }',
      'routes:',
      ...hosts.map((h, i) => `  - { name: r${i}, from: "https://${h}", to: "${appUrl}", public: true }`),
      '',
    ].join('\n'),
  );
  const db = drawbridgeProcess('serve', '--config', file);
  running.push(db);
  return db;
}

/** The primary's outcome of the first order of `host` (the workers never order: their lines carry `worker`). */
async function ordered(db: DrawbridgeProcess, host: string): Promise<void> {
  const line = await db.line((l) => l.event === 'acme' && l.host === host && (l.result === 'success' || l.result === 'failure'));
  assert.equal(line.worker, undefined, 'ordered by the primary');
  assert.equal(line.result, 'success', `${JSON.stringify(line)}\n${pebble.output().slice(-2000)}`);
}

interface Seen {
  worker: number;
  cert: PeerCertificate;
  authorized: boolean;
  status: number;
}

/** One HTTPS request to `host` on a new connection, verified against pebble's root: which worker served it, and with what. */
async function visit(db: DrawbridgeProcess, host: string): Promise<Seen> {
  const mark = marker('acme');
  const seen = await new Promise<Omit<Seen, 'worker'>>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, servername: host, path: `/${mark}`, headers: { host: `${host}:${port}` }, ca: root, agent: false, timeout: 30_000 }, (res) => {
      const socket = res.socket as tls.TLSSocket;
      const cert = socket.getPeerCertificate();
      res.resume();
      res.on('end', () => resolve({ cert, authorized: socket.authorized, status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
  });
  const line = await db.line((l) => l.event === 'request' && String(l.path).includes(mark));
  return { worker: line.worker as number, ...seen };
}

/** Visits `host` until both workers (or `worker`, when given) have answered; every visit. */
async function visitUntil(db: DrawbridgeProcess, host: string, done: (workers: Set<number>) => boolean): Promise<Seen[]> {
  const visits: Seen[] = [];
  const workers = new Set<number>();
  for (let i = 0; i < 40 && !done(workers); i++) {
    const v = await visit(db, host);
    visits.push(v);
    workers.add(v.worker);
  }
  assert.ok(done(workers), `answered by workers ${[...workers].join(', ')}`);
  return visits;
}

function refused(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: host, ca: root, ALPNProtocols: ['http/1.1'] }, () => {
      socket.destroy();
      reject(new Error(`a handshake for ${host} succeeded`));
    });
    socket.on('error', (e: Error) => resolve(e.message));
  });
}

test('workers: 2, tls.acme over TLS-ALPN-01 — the primary orders, both workers answer the challenges and serve the certificates; a replacement serves them at once; other names are refused', T, async () => {
  const hosts = ['a.test', 'b.test'];
  const db = serve(hosts, 'tls-alpn-01');
  const start = await db.line((l) => l.event === 'start' && l.workers === 2);
  for (const host of hosts) await ordered(db, host);
  for (const host of hosts) {
    const visits = await visitUntil(db, host, (w) => w.size === 2);
    for (const v of visits) {
      assert.equal(v.authorized, true, `worker ${v.worker} serves ${host}'s certificate from pebble`);
      assert.equal(v.cert.subjectaltname, `DNS:${host}`);
      assert.equal(v.status, 200);
    }
  }
  // Fail closed: a name without a certificate gets no handshake, on every worker (each refusal is its own connection,
  // dealt out in turn).
  for (let i = 0; i < 4; i++) assert.match(await refused('other.test'), /alert|socket hang up|ECONNRESET|disconnected/i);
  // The orders are counted once, by the primary.
  const metrics = await (await fetch(`${String(start.admin)}/metrics`)).text();
  assert.match(metrics, /^drawbridge_acme_orders_total\{result="success"\} 2$/m);
  // A worker that dies is replaced; the replacement has the certificates before it accepts its first connection.
  const started = [...db.logs].reverse().find((l) => l.event === 'worker' && l.result === 'started' && l.worker === 1);
  assert.ok(started?.pid);
  const from = db.logs.length;
  process.kill(started.pid as number, 'SIGKILL');
  const replaced = await db.line((l) => l.event === 'worker' && l.result === 'started' && l.worker === 1, from);
  assert.notEqual(replaced.pid, started.pid);
  const visits = await visitUntil(db, 'a.test', (w) => w.has(1));
  assert.ok(visits.every((v) => v.authorized && v.status === 200), 'every connection, the replacement\'s first one too, gets the certificate');
  await db.stop();
});

test('workers: 2, tls.acme over HTTP-01 — the answers reach the port-80 listener of both workers; both serve the certificates', T, async () => {
  const hosts = ['c.test', 'd.test'];
  const db = serve(hosts, 'http-01');
  await db.line((l) => l.event === 'start' && l.workers === 2);
  for (const host of hosts) await ordered(db, host);
  for (const host of hosts) {
    const visits = await visitUntil(db, host, (w) => w.size === 2);
    assert.ok(visits.every((v) => v.authorized && v.cert.subjectaltname === `DNS:${host}` && v.status === 200), JSON.stringify(visits.map((v) => [v.worker, v.authorized])));
  }
  await db.stop();
});
