// proxy/test/acme.test.ts — automatic certificates (tls.acme) end to end against Debian's pebble: first issuance over
// HTTP-01 and TLS-ALPN-01, the issued chain served by name, renewal on the injected clock, a failed challenge that
// keeps the certificate in use, and the port-80 listener's redirects. No sleeps: the test awaits check().
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import tls, { type PeerCertificate } from 'node:tls';
import { loadConfigText } from '../src/config/load.js';
import { formatIssue } from '../src/config/locate.js';
import { createListener, startDrawbridge, type Drawbridge } from '../src/server/server.js';
import { startPebble, type Pebble } from '../../test-support/pebble.js';
import { startRedis } from '../../test-support/redis.js';
import { RedisCertificateStorage } from '../src/tls/acme-redis-storage.js';

const SECRET = 'test-session-secret-0123456789abcdef0123456789';

function configText(port: number, app: string, tlsBlock: string, hosts: string[]): string {
  return [
    'listen: "127.0.0.1:0"',
    `publicUrl: https://${hosts[0]}:${port}`,
    'tls:',
    tlsBlock,
    'idp: { issuer: "http://127.0.0.1:9/", clientId: drawbridge, clientSecret: not-used-not-used, allowInsecureHttp: true }',
    `session: { secret: ${SECRET} }`,
    'routes:',
    ...hosts.map((h, i) => `  - { name: r${i}, from: "https://${h}", to: "${app}", public: true }`),
    '',
  ].join('\n');
}

interface Instance {
  drawbridge: Drawbridge;
  port: number;
  httpPort: number;
  pebble: Pebble;
  root: string;
  storage: string;
  log: () => Record<string, unknown>[];
  clock: { now: number };
  close(): Promise<void>;
}

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

interface Listeners {
  server: http.Server | https.Server;
  port: number;
  acmeHttpServer: http.Server;
  httpPort: number;
}

/** A Drawbridge's proxy listener (made for tls.acme) and port-80 listener, both on ephemeral ports. */
async function listeners(hosts: string[], app: string, files = ''): Promise<Listeners> {
  const probe = loadConfigText(configText(1, app, `${files}  acme: { email: ops@example.com }`, hosts), 'probe.yaml');
  assert.ok(probe.ok, probe.ok ? '' : probe.errors.map(formatIssue).join('\n'));
  const server = createListener(probe.config);
  const port = await listen(server);
  const acmeHttpServer = http.createServer();
  const httpPort = await listen(acmeHttpServer);
  return { server, port, acmeHttpServer, httpPort };
}

/** A Drawbridge with tls.acme for `hosts` on `l`, ordering from `pebble`; the clock is the instance's own. */
async function launch(l: Listeners, hosts: string[], acmeExtra: string, app: string, pebble: Pebble, storage: string, extra = '', files = ''): Promise<Instance> {
  const block = `${files}  acme: { email: ops@example.com, directory: "${pebble.directoryUrl}", caFile: "${pebble.caFile}", storage: "${storage}"${acmeExtra} }`;
  const loaded = loadConfigText(configText(l.port, app, block, hosts).replace('session: {', `session: {${extra}`), 'acme.yaml');
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatIssue).join('\n'));
  const lines: string[] = [];
  const logStream = new Writable({ write: (c, _e, cb) => (lines.push(...c.toString().split('\n').filter(Boolean)), cb()) });
  const clock = { now: Date.now() };
  const drawbridge = await startDrawbridge({
    config: loaded.config,
    server: l.server,
    acmeHttpServer: l.acmeHttpServer,
    adminListen: false,
    logStream,
    logBatch: false,
    now: () => clock.now,
    // The timer never fires by itself: the test calls check() after moving the clock.
    acme: { schedule: () => () => {}, poll: { minMs: 50, maxMs: 500, attempts: 60 }, retry: { baseMs: 60_000, maxMs: 3_600_000 } },
  });
  return {
    drawbridge,
    port: l.port,
    httpPort: l.httpPort,
    pebble,
    root: await pebble.root(),
    storage,
    clock,
    log: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    close: () => drawbridge.close(),
  };
}

/** pebble, and a Drawbridge with tls.acme for `hosts` whose listeners pebble validates. */
async function startAcme(hosts: string[], acmeExtra: string, app: string, reuse?: { pebble: Pebble; storage: string }, files = ''): Promise<Instance> {
  const l = await listeners(hosts, app, files);
  const pebble = reuse?.pebble ?? (await startPebble({ httpPort: l.httpPort, tlsPort: l.port }));
  const instance = await launch(l, hosts, acmeExtra, app, pebble, reuse?.storage ?? mkdtempSync(join(tmpdir(), 'drawbridge-acme-')), '', files);
  return {
    ...instance,
    async close() {
      await instance.close();
      if (!reuse) await pebble.close();
    },
  };
}

/** The certificate a TLS client verifying against pebble's root sees for `servername`. */
function served(port: number, servername: string, ca: string): Promise<{ cert: PeerCertificate & { issuerCertificate?: PeerCertificate }; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = socket.getPeerCertificate(true);
      resolve({ cert, authorized: socket.authorized, ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}) });
      socket.end();
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

function httpsGet(port: number, host: string, ca: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, servername: host, headers: { host: `${host}:${port}` }, path, ca, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function httpGet(port: number, host: string, path: string): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { host }, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}), body }));
      })
      .on('error', reject);
  });
}

async function startApp(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from the app'));
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('tls.acme over HTTP-01: certificates for two hosts from pebble, served by name with its chain; renewal on the clock replaces one; a failed challenge keeps it; port 80 redirects', { timeout: 120_000 }, async (t) => {
  const app = await startApp();
  const acme = await startAcme(['a.test', 'b.test'], ', challenges: [http-01]', app.url);
  t.after(async () => {
    await acme.close();
    await app.close();
  });
  const manager = acme.drawbridge.acme!;
  const first = await manager.check();
  assert.deepEqual(first.map((s) => [s.host, s.failures, s.lastError]), [['a.test', 0, undefined], ['b.test', 0, undefined]], acme.pebble.output());

  // Served by name, chaining to pebble's root; the proxied request goes through.
  for (const host of ['a.test', 'b.test']) {
    const seen = await served(acme.port, host, acme.root);
    assert.equal(seen.authorized, true, seen.error);
    assert.equal(seen.cert.subjectaltname, `DNS:${host}`);
    assert.match(String(seen.cert.issuer.CN), /Pebble Intermediate/);
    const res = await httpsGet(acme.port, host, acme.root);
    assert.deepEqual([res.status, res.body], [200, 'hello from the app']);
  }
  const stored = readFileSync(join(acme.storage, `127.0.0.1-${new URL(acme.pebble.directoryUrl).port}-dir`, 'certificates', 'a.test', 'cert.pem'), 'utf8');
  assert.equal(new (await import('node:crypto')).X509Certificate(stored).serialNumber, (await served(acme.port, 'a.test', acme.root)).cert.serialNumber);
  assert.ok(acme.log().some((l) => l.event === 'acme' && l.host === 'b.test' && l.result === 'success'));

  // A restart serves the stored certificates at once, without ordering.
  const again = await startAcme(['a.test', 'b.test'], ', challenges: [http-01]', app.url, { pebble: acme.pebble, storage: acme.storage });
  try {
    const reloaded = await served(again.port, 'a.test', acme.root);
    assert.equal(reloaded.authorized, true, reloaded.error);
    assert.equal(reloaded.cert.serialNumber, (await served(acme.port, 'a.test', acme.root)).cert.serialNumber);
    await again.drawbridge.acme!.check();
    assert.deepEqual(again.log().filter((l) => l.event === 'acme').map((l) => [l.host, l.result]), [['a.test', 'loaded'], ['b.test', 'loaded']]);
  } finally {
    await again.close();
  }

  // Port 80: challenges only for pending tokens, 308 to HTTPS for served hosts, nothing for others.
  assert.deepEqual(await httpGet(acme.httpPort, 'a.test', '/some/page?x=1'), { status: 308, location: `https://a.test:${acme.port}/some/page?x=1`, body: 'Permanent Redirect\n' });
  assert.equal((await httpGet(acme.httpPort, 'evil.example', '/')).status, 404);
  assert.equal((await httpGet(acme.httpPort, 'a.test', '/.well-known/acme-challenge/AAAAAAAAAAAAAAAAAAAAAAAA')).status, 404);

  // Renewal: the clock passes two thirds of both certificates' lifetimes: both renew.
  const before = (await served(acme.port, 'a.test', acme.root)).cert.serialNumber;
  const dueAll = () => Math.max(...manager.status().map((s) => s.renewAt!)) + 1000;
  acme.clock.now = dueAll();
  const renewed = await manager.check();
  assert.ok(renewed.every((s) => s.failures === 0), JSON.stringify(renewed));
  const after = await served(acme.port, 'a.test', acme.root);
  assert.equal(after.authorized, true);
  assert.notEqual(after.cert.serialNumber, before, 'the renewed certificate is served to new connections');
  assert.ok(acme.log().some((l) => l.event === 'acme' && l.host === 'a.test' && l.result === 'success' && l.renewal === true));

  // A failed challenge: port 80 stops answering, so pebble's HTTP-01 validation fails. The certificate stays.
  await new Promise<void>((r) => acme.drawbridge.acmeHttpServer!.close(() => r()));
  acme.clock.now = dueAll();
  const failed = await manager.check();
  const a = failed.find((s) => s.host === 'a.test')!;
  assert.equal(a.failures, 1);
  assert.equal(a.retryAt, acme.clock.now + 60_000);
  assert.ok(a.lastError && a.lastError.length > 0);
  assert.equal((await served(acme.port, 'a.test', acme.root)).cert.serialNumber, after.cert.serialNumber, 'the certificate in use stays');
  const line = acme.log().find((l) => l.event === 'acme' && l.host === 'a.test' && l.result === 'failure');
  assert.ok(line, 'the failure is logged');
  assert.equal(line.level, 'error');
  assert.match(String(line.message), /the certificate in use stays/);
  const metrics = await acme.drawbridge.metrics.registry.metrics();
  assert.match(metrics, /drawbridge_acme_orders_total\{result="failure"\} 2/);
  // Backoff: before retryAt nothing is ordered again.
  acme.clock.now += 30_000;
  assert.equal((await manager.check()).find((s) => s.host === 'a.test')!.failures, 1);
});

test('the port-80 listener binds or Drawbridge does not start (DRB_LISTEN_FAILED naming it)', { timeout: 30_000 }, async () => {
  const taken = http.createServer();
  const port = await listen(taken);
  try {
    const storage = mkdtempSync(join(tmpdir(), 'drawbridge-acme-'));
    const text = configText(443, 'http://127.0.0.1:9', `  acme: { email: ops@example.com, directory: "https://127.0.0.1:9/dir", storage: "${storage}", httpListen: "127.0.0.1:${port}" }`, ['a.test']);
    const loaded = loadConfigText(text, 'acme.yaml');
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatIssue).join('\n'));
    const lines: string[] = [];
    const logStream = new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) });
    await assert.rejects(startDrawbridge({ config: loaded.config, adminListen: false, logStream, logBatch: false }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'DRB_LISTEN_FAILED');
      assert.match(e.message, new RegExp(`the ACME HTTP listener cannot listen on 127\\.0\\.0\\.1:${port}.*already in use`));
      return true;
    });
  } finally {
    await new Promise<void>((r) => taken.close(() => r()));
  }
});

test('tls.acme over TLS-ALPN-01: pebble validates on the TLS listener (acme-tls/1), the issued certificate is served; acme-tls/1 without a pending challenge is refused', { timeout: 120_000 }, async (t) => {
  const app = await startApp();
  const acme = await startAcme(['c.test'], ', challenges: [tls-alpn-01], httpListen: false', app.url);
  t.after(async () => {
    await acme.close();
    await app.close();
  });
  const status = await acme.drawbridge.acme!.check();
  assert.deepEqual(status.map((s) => [s.host, s.failures, s.lastError]), [['c.test', 0, undefined]], acme.pebble.output());
  const seen = await served(acme.port, 'c.test', acme.root);
  assert.equal(seen.authorized, true, seen.error);
  assert.equal(seen.cert.subjectaltname, 'DNS:c.test');
  assert.deepEqual(await httpsGet(acme.port, 'c.test', acme.root).then((r) => [r.status, r.body]), [200, 'hello from the app']);
  // A name with no certificate (and no tls.certFile): the handshake is refused, no other host's certificate is shown.
  await assert.rejects(served(acme.port, 'other.test', acme.root));
  // A client asking for acme-tls/1 when no challenge is pending gets no certificate and no application data.
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: acme.port, servername: 'c.test', ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false }, () => resolve(s.alpnProtocol));
      s.on('error', reject);
    }),
    /no application protocol|alert number 120/i,
  );
});

test('tls.acme with the Redis session store: replicas share the account and certificates, and any replica answers the HTTP-01 challenge of another', { timeout: 120_000 }, async (t) => {
  const app = await startApp();
  const redis = await startRedis();
  const hosts = ['d.test'];
  const la = await listeners(hosts, app.url);
  const lb = await listeners(hosts, app.url);
  // The CA reaches replica B's port 80 (a load balancer's choice), whichever replica ordered.
  const pebble = await startPebble({ httpPort: lb.httpPort, tlsPort: lb.port });
  const storage = mkdtempSync(join(tmpdir(), 'drawbridge-acme-'));
  const store = ` store: { type: redis, url: "${redis.url}" },`;
  const b = await launch(lb, hosts, ', challenges: [http-01]', app.url, pebble, storage, store);
  const replicas: { a?: Instance } = {};
  t.after(async () => {
    await replicas.a?.close();
    await b.close();
    await pebble.close();
    await redis.stop();
    await app.close();
  });
  assert.deepEqual((await b.drawbridge.acme!.check()).map((s) => [s.host, s.failures, s.lastError]), [['d.test', 0, undefined]], pebble.output());
  // Replica A starts with B's certificate from Redis: served at once, nothing ordered.
  const a = (replicas.a = await launch(la, hosts, ', challenges: [http-01]', app.url, pebble, storage, store));
  assert.equal((await served(a.port, 'd.test', a.root)).cert.serialNumber, (await served(b.port, 'd.test', b.root)).cert.serialNumber);
  await a.drawbridge.acme!.check();
  assert.deepEqual(a.log().filter((l) => l.event === 'acme').map((l) => l.result), ['loaded']);
  // Nothing in the directory: the certificate and key are in Redis only, encrypted.
  assert.deepEqual(readdirSync(storage), []);

  // A renews; pebble validates on B's port 80, which answers A's token from Redis.
  a.clock.now = a.drawbridge.acme!.status()[0]!.renewAt! + 1000;
  const renewed = await a.drawbridge.acme!.check();
  assert.deepEqual(renewed.map((s) => [s.failures, s.lastError]), [[0, undefined]], pebble.output());
  const newSerial = (await served(a.port, 'd.test', a.root)).cert.serialNumber;
  assert.notEqual(newSerial, (await served(b.port, 'd.test', b.root)).cert.serialNumber);
  // B, not due yet, finds A's newer certificate in Redis at its next check and serves it without ordering.
  await b.drawbridge.acme!.check();
  assert.equal((await served(b.port, 'd.test', b.root)).cert.serialNumber, newSerial, JSON.stringify([b.log().filter((l) => l.event === 'acme'), b.drawbridge.acme!.status(), a.drawbridge.acme!.status()]));
  assert.equal(b.log().filter((l) => l.event === 'acme' && l.result === 'success').length, 1, 'B ordered only its first certificate');

  // The storage itself: one ordering lock per host; values encrypted, unreadable under another secret.
  const options = { url: redis.url, prefix: 'drawbridge:', directoryUrl: pebble.directoryUrl };
  const mine = new RedisCertificateStorage({ ...options, secret: SECRET });
  const other = new RedisCertificateStorage({ ...options, secret: `${SECRET}-another` });
  await Promise.all([mine.start(), other.start()]);
  try {
    const release = await mine.lock('e.test', 60_000);
    assert.ok(release);
    assert.equal(await other.lock('e.test', 60_000), undefined, 'another replica cannot take a held lock');
    await release();
    const again = await other.lock('e.test', 60_000);
    assert.ok(again);
    await again();
    assert.ok((await mine.load('d.test'))?.keyPem.includes('PRIVATE KEY'));
    assert.equal(await other.load('d.test'), undefined);
    assert.equal(await other.loadAccountKey(), undefined);
  } finally {
    await Promise.all([mine.close(), other.close()]);
  }
});

test('tls.acme beside certFile/keyFile: the ACME certificate for its names, the file certificate for every other name (a wildcard route)', { timeout: 120_000 }, async (t) => {
  const app = await startApp();
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-acme-files-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=files.test', '-addext', 'subjectAltName=DNS:*.wild.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const acme = await startAcme(['g.test'], ', challenges: [http-01], hosts: [g.test]', app.url, undefined, `  certFile: "${join(dir, 'cert.pem')}"\n  keyFile: "${join(dir, 'key.pem')}"\n`);
  t.after(async () => {
    await acme.close();
    await app.close();
  });
  assert.deepEqual((await acme.drawbridge.acme!.check()).map((s) => [s.host, s.failures]), [['g.test', 0]], acme.pebble.output());
  assert.equal((await served(acme.port, 'g.test', acme.root)).cert.subjectaltname, 'DNS:g.test');
  const file = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const other = await served(acme.port, 'x.wild.test', file);
  assert.equal(other.cert.subjectaltname, 'DNS:*.wild.test');
  assert.equal(other.authorized, true, other.error);
});
