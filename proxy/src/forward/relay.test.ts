// forward/relay.test.ts — the undici leg of plain requests over real sockets, beyond forwarder.test.ts: an upload the
// client abandons is abandoned upstream, an interim 1xx answer is not relayed, and with preserveHost the TLS server
// name stays the route's whatever Host the clients send (one connection, the certificate checked for the upstream);
// the headers an upstream's Connection names are hop-by-hop and not relayed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { test, type TestContext } from 'node:test';
import type { Route } from '../routes/compile.js';
import { Forwarder, type ForwardResult, type RenderError } from './forwarder.js';
import { connectionOptions } from './relay.js';
import { listen, makeRoute, request } from './harness.case.js';

const T = { timeout: 15_000 };

const renderError: RenderError = (res, problem) => {
  res.statusCode = problem.code === 'DRB_UPSTREAM_TIMEOUT' ? 504 : 502;
  res.end('unavailable');
};

async function startFront(route: Route, hsts?: string): Promise<{ port: number; results: ForwardResult[]; errors: Error[]; close(): Promise<void> }> {
  const results: ForwardResult[] = [];
  const errors: Error[] = [];
  const forwarder = new Forwarder({ onError: (err) => errors.push(err) });
  const [pool] = forwarder.provision([route]);
  const server = http.createServer((req, res) => forwarder.web(req, res, route, pool!, (r) => results.push(r), renderError, hsts));
  const port = await listen(server);
  return {
    port,
    results,
    errors,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      forwarder.close();
    },
  };
}

/** A front relaying to a raw upstream that writes `answer` to the first bytes of each connection; closed with the test. */
async function frontOverRaw(t: TestContext, answer: string, hsts?: string): Promise<{ port: number }> {
  const upstream = net.createServer((socket) => {
    socket.once('data', () => socket.write(answer));
  });
  const upstreamPort = await listen(upstream);
  t.after(() => upstream.close());
  const front = await startFront(makeRoute(`http://127.0.0.1:${upstreamPort}`), hsts);
  t.after(() => front.close());
  return front;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a client that leaves mid-upload: the upstream request is aborted (its body never completes), reported as 499', T, async (t) => {
  let received = 0;
  let completed = false;
  let upstreamClosed = false;
  const upstream = http.createServer((req) => {
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => (completed = true));
    req.socket.once('close', () => (upstreamClosed = true));
  });
  const upstreamPort = await listen(upstream);
  t.after(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const front = await startFront(makeRoute(`http://127.0.0.1:${upstreamPort}`));
  t.after(() => front.close());
  const client = net.connect(front.port, '127.0.0.1');
  client.on('error', () => {});
  client.write('POST /upload HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 100000\r\n\r\n');
  client.write(Buffer.alloc(1000, 'a'));
  await until(() => received === 1000);
  client.destroy();
  await until(() => upstreamClosed && front.results.length === 1);
  assert.equal(completed, false, 'the upstream never saw a complete body');
  assert.equal(front.results[0]!.status, 499);
});

test('an interim 103 answer is not relayed: the client gets the final answer only', T, async (t) => {
  const front = await frontOverRaw(t, 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal');
  const res = await request(front.port, '/hints', { agent: false });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'final');
  assert.equal(res.headers.link, undefined);
});

test('hop-by-hop: the headers the upstream\'s Connection names are not relayed (RFC 9110 §7.6.1); the others are, Drawbridge\'s own Connection is', T, async (t) => {
  const front = await frontOverRaw(t, 'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Upstream-Hop , upgrade\r\nX-Upstream-Hop: internal\r\nUpgrade: h2,h2c\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok');
  const res = await request(front.port, '/hop', { agent: false });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ok');
  assert.equal(res.headers['x-upstream-hop'], undefined);
  assert.equal(res.headers.upgrade, undefined);
  assert.equal(res.headers['x-kept'], 'yes');
  assert.match(String(res.headers.connection), /^(keep-alive|close)$/);
});

test('hop-by-hop: an upstream that names Strict-Transport-Security in Connection does not remove Drawbridge\'s', T, async (t) => {
  const hsts = 'max-age=31536000; includeSubDomains';
  const front = await frontOverRaw(t, 'HTTP/1.1 200 OK\r\nConnection: Strict-Transport-Security\r\nStrict-Transport-Security: max-age=0\r\nContent-Length: 2\r\n\r\nok', hsts);
  const res = await request(front.port, '/sts', { agent: false });
  assert.equal(res.status, 200);
  assert.equal(res.headers['strict-transport-security'], hsts);
});

test('connectionOptions: the names a Connection value lists besides keep-alive and close, lower-cased; none for the usual values', () => {
  for (const usual of ['keep-alive', 'close', 'Keep-Alive', 'Close', ' keep-alive ', 'KEEP-ALIVE, close', '']) assert.equal(connectionOptions(usual, undefined), undefined, usual);
  assert.deepEqual([...connectionOptions(' Keep-Alive , X-A,upgrade,', undefined)!], ['x-a', 'upgrade']);
  const into = new Set(['x-b']);
  assert.equal(connectionOptions('X-C', into), into);
  assert.deepEqual([...into], ['x-b', 'x-c']);
});

test('preserveHost over TLS: the server name is the route\'s for every client Host (one connection, the certificate checked for the upstream)', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-relay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', '1', '-extfile', 'leaf.ext');
  const names: string[] = [];
  let connections = 0;
  const upstream = https.createServer({ key: readFileSync(join(dir, 'leaf.key')), cert: readFileSync(join(dir, 'leaf.crt')) }, (req, res) => {
    names.push(String((req.socket as TLSSocket).servername));
    res.end(String(req.headers.host));
  });
  upstream.on('secureConnection', () => connections++);
  const upstreamPort = await listen(upstream);
  t.after(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const route = makeRoute(`https://localhost:${upstreamPort}`, { preserveHost: true, upstreamTls: { caFile: join(dir, 'ca.crt'), caOnly: true, minVersion: 'TLSv1.2', insecureSkipVerify: false } });
  const front = await startFront(route);
  t.after(() => front.close());
  for (const host of ['a.example.com', 'b.example.com', 'a.example.com', 'c.example.com']) {
    const res = await request(front.port, '/', { headers: { host } });
    assert.equal(res.status, 200, `${host}: ${res.body}`);
    assert.equal(res.body, host, 'the client\'s Host reaches the upstream');
  }
  assert.deepEqual(names, ['localhost', 'localhost', 'localhost', 'localhost']);
  assert.equal(connections, 1, 'no reconnection when the Host changes');
});
