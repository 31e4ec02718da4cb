// forward/forwarder.test.ts — the forwarding path over real sockets: a front server that strips, sets identity
// headers and calls Forwarder, in front of recording upstreams (plain, TLS, WebSocket, down, slow).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { Identity } from '../policy/input.js';
import type { Route } from '../routes/compile.js';
import { createHash } from 'node:crypto';
import { Forwarder, upstreamPath, type ForwardResult, type RenderError, type WebSocketHandle } from './forwarder.js';
import { alice, listen, makeRoute, rawExchange, request, startUpstream, type RecordingUpstream } from './harness.case.js';
import { isOwnCookie } from '../session/cookie.js';
import { headerPlan, setIdentityHeaders } from './identity-headers.js';
import { compileStripper, stripClientHeaders } from './strip.js';

const T = { timeout: 15_000 };
const ASSERTION = 'eyJhbGciOiJFUzI1NiJ9.signed.by-drawbridge';
const stripper = compileStripper(['X-Forwarded-User', 'X-Forwarded-Email', 'X-Forwarded-Groups', 'X-Forwarded-Name', 'X-Drawbridge-Assertion']);

const renderError: RenderError = (res, problem) => {
  const status = problem.code === 'DRB_UPSTREAM_TIMEOUT' ? 504 : 502;
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><h1>${status === 502 ? 'The application is unavailable' : 'The application did not answer in time'}</h1><p>Request id req-1</p>`);
};

interface Front {
  port: number;
  forwarder: Forwarder;
  results: ForwardResult[];
  errors: Error[];
  /** The handles of the WebSocket upgrades forwarded, in order. */
  handles: WebSocketHandle[];
  close(): Promise<void>;
}

interface FrontOptions {
  reservedCookie?: (name: string) => boolean;
  trustedPeer?: boolean;
  identity?: Identity;
  consumedBearer?: boolean;
}

async function startFront(route: Route, opts: FrontOptions = {}): Promise<Front> {
  const results: ForwardResult[] = [];
  const errors: Error[] = [];
  const handles: WebSocketHandle[] = [];
  const forwarder = new Forwarder({ onError: (err) => errors.push(err), ...(opts.reservedCookie ? { reservedCookie: opts.reservedCookie } : {}) });
  const identity = opts.identity ?? alice();
  // Provisioned once, as a snapshot's routes are (server/provision.ts).
  const plan = headerPlan(route);
  const [pool] = forwarder.provision([route]);
  const prepare = (req: http.IncomingMessage): void => {
    const url = new URL(req.url ?? '/', 'http://front');
    stripClientHeaders(req, stripper, { trustedPeer: opts.trustedPeer ?? false, cookieBase: 'drawbridge', consumedBearer: opts.consumedBearer ?? false });
    const forwardedFor = opts.trustedPeer ? (req.headers['x-forwarded-for'] as string | undefined) : undefined;
    setIdentityHeaders(req.headers, plan, identity, {
      assertion: { name: 'X-Drawbridge-Assertion', value: ASSERTION },
      requestId: 'req-1',
      clientIp: req.socket.remoteAddress ?? '',
      ...(forwardedFor ? { forwardedFor } : {}),
      proto: 'http',
      host: req.headers.host ?? '',
    });
    const target = upstreamPath(route, url.pathname, url.search.slice(1));
    assert.ok(target.ok);
    req.url = target.path;
  };
  const server = http.createServer((req, res) => {
    prepare(req);
    forwarder.web(req, res, route, pool!, (r) => results.push(r), renderError);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    prepare(req);
    handles.push(forwarder.ws(req, socket, head, route, pool!, (r) => results.push(r)));
  });
  const port = await listen(server);
  return {
    port,
    forwarder,
    results,
    errors,
    handles,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      forwarder.close();
    },
  };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Header names as sent on the wire, lower-cased, in order. */
function names(rawHeaders: string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

let upstream: RecordingUpstream;
before(async () => {
  upstream = await startUpstream();
});
after(async () => {
  await upstream.close();
});

const FORGED = [
  'X-Forwarded-User: mallory',
  'x-forwarded-user: m2',
  'X-FORWARDED-USER: m3',
  'X-FORWARDED-USER: m4',
  'X_Forwarded_User: m5',
  'X-Drawbridge-Assertion: forged',
  'x-drawbridge-anything: 1',
  'X-Forwarded-Access-Token: stolen',
  'X-Forwarded-Groups: admins',
];

function assertOnlyDrawbridgeIdentity(seen: { headers: http.IncomingHttpHeaders; rawHeaders: string[] }): void {
  const wire = names(seen.rawHeaders);
  assert.equal(wire.filter((n) => n === 'x-forwarded-user').length, 1, `one X-Forwarded-User in ${wire.join(' ')}`);
  assert.equal(seen.headers['x-forwarded-user'], 'alice');
  assert.equal(seen.headers['x-forwarded-groups'], 'engineering,staff');
  assert.equal(seen.headers['x-drawbridge-assertion'], ASSERTION);
  for (const n of ['x_forwarded_user', 'x-drawbridge-anything', 'x-forwarded-access-token']) assert.equal(wire.includes(n), false, `${n} reached the upstream`);
}

test('forged identity, assertion, x-drawbridge-* and access-token headers never reach the upstream', T, async (t) => {
  const front = await startFront(makeRoute(upstream.url));
  t.after(() => front.close());
  const before = upstream.seen.length;
  const res = await rawExchange(front.port, ['GET /forged HTTP/1.1', 'Host: app.example.com', ...FORGED, 'Connection: close'].join('\r\n'));
  assert.equal(res.status, 200);
  assert.equal(upstream.seen.length, before + 1);
  assertOnlyDrawbridgeIdentity(upstream.seen.at(-1)!);
});

test('the same with Expect: 100-continue (where http-proxy skips its proxyReq event)', T, async (t) => {
  const front = await startFront(makeRoute(upstream.url));
  t.after(() => front.close());
  const head = ['POST /expect HTTP/1.1', 'Host: app.example.com', ...FORGED, 'Content-Type: text/plain', 'Content-Length: 5', 'Expect: 100-continue', 'Connection: close'].join('\r\n');
  const res = await rawExchange(front.port, head, 'hello', { expectContinue: true });
  assert.match(res.raw, /^HTTP\/1\.1 100 Continue/);
  assert.equal(res.status, 200);
  const seen = upstream.seen.at(-1)!;
  assert.equal(seen.url, '/expect');
  assert.equal(seen.body, 'hello');
  assertOnlyDrawbridgeIdentity(seen);
});

test('Connection: close, X-Forwarded-User cannot remove the value Drawbridge sets; other named headers go', T, async (t) => {
  const front = await startFront(makeRoute(upstream.url));
  t.after(() => front.close());
  const res = await rawExchange(
    front.port,
    ['GET /conn HTTP/1.1', 'Host: app.example.com', 'X-Hop: 1', 'X-Forwarded-User: mallory', 'Connection: close, X-Forwarded-User, X-Drawbridge-Assertion, X-Forwarded-For, X-Request-Id, X-Hop'].join('\r\n'),
  );
  assert.equal(res.status, 200);
  const seen = upstream.seen.at(-1)!;
  assert.equal(seen.headers['x-forwarded-user'], 'alice');
  assert.equal(seen.headers['x-drawbridge-assertion'], ASSERTION);
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-request-id'], 'req-1');
  assert.equal(seen.headers['x-hop'], undefined);
  // The client's Connection tokens never travel: the agent owns the upstream connection.
  assert.equal(seen.headers.connection, 'keep-alive');
});

test('Connection cannot delete Content-Length to smuggle a body as a second request', T, async (t) => {
  const front = await startFront(makeRoute(upstream.url));
  t.after(() => front.close());
  const inner = 'GET /smuggled HTTP/1.1\r\nHost: app.example.com\r\n\r\n';
  const before = upstream.seen.length;
  const res = await rawExchange(front.port, ['GET /carrier HTTP/1.1', 'Host: app.example.com', `Content-Length: ${inner.length}`, 'Connection: close, Content-Length'].join('\r\n'), inner);
  assert.equal(res.status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(upstream.seen.slice(before).map((s) => s.url), ['/carrier']);
  assert.equal(upstream.seen.at(-1)!.body, inner);
});

test('a DELETE with a chunked body is forwarded framed, never smuggled (http-proxy deleteLength replaced)', T, async (t) => {
  const front = await startFront(makeRoute(upstream.url));
  t.after(() => front.close());
  const inner = 'GET /smuggled HTTP/1.1\r\nHost: app.example.com\r\n\r\n';
  const chunked = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
  const before = upstream.seen.length;
  const res = await rawExchange(front.port, ['DELETE /item HTTP/1.1', 'Host: app.example.com', 'Transfer-Encoding: chunked', 'Connection: close'].join('\r\n'), chunked);
  assert.equal(res.status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(upstream.seen.slice(before).map((s) => `${s.method} ${s.url}`), ['DELETE /item']);
  assert.equal(upstream.seen.at(-1)!.body, inner);
  // A body-less DELETE arrives framed as having no body: no Transfer-Encoding, and no Content-Length (RFC 9110
  // §8.6: a client SHOULD NOT send one for a method that does not anticipate content; undici keeps to it, and a
  // request with neither has no body, RFC 9112 §6.3). A body-less POST still says Content-Length: 0.
  await request(front.port, '/item2', { method: 'DELETE' });
  assert.equal(upstream.seen.at(-1)!.headers['transfer-encoding'], undefined);
  assert.equal(upstream.seen.at(-1)!.headers['content-length'], undefined);
  assert.equal(upstream.seen.at(-1)!.body, '');
  await request(front.port, '/item3', { method: 'POST' });
  assert.equal(upstream.seen.at(-1)!.headers['content-length'], '0');
});

test('the session cookie leaves Cookie, other cookies stay; a consumed bearer is removed', T, async (t) => {
  const front = await startFront(makeRoute(upstream.url), { consumedBearer: true });
  t.after(() => front.close());
  await request(front.port, '/c', { headers: { cookie: 'theme=dark; drawbridge=sealed-session; lang=en', authorization: 'Bearer idp-token' } });
  assert.equal(upstream.seen.at(-1)!.headers.cookie, 'theme=dark; lang=en');
  assert.equal(upstream.seen.at(-1)!.headers.authorization, undefined);
  await request(front.port, '/c', { headers: { cookie: 'drawbridge=sealed-session' } });
  assert.equal(upstream.seen.at(-1)!.headers.cookie, undefined);
});

test('an untrusted peer\'s X-Forwarded-* are replaced; a trusted peer\'s chain is appended to', T, async (t) => {
  const spoof = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6' };
  const untrusted = await startFront(makeRoute(upstream.url));
  t.after(() => untrusted.close());
  await request(untrusted.port, '/xff', { headers: { host: 'app.example.com', ...spoof } });
  let seen = upstream.seen.at(-1)!;
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-host'], 'app.example.com');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers.forwarded, undefined);
  assert.equal(seen.headers['x-real-ip'], undefined);

  const trusted = await startFront(makeRoute(upstream.url), { trustedPeer: true });
  t.after(() => trusted.close());
  await request(trusted.port, '/xff', { headers: { host: 'app.example.com', 'x-forwarded-for': '203.0.113.5, 10.1.1.1' } });
  seen = upstream.seen.at(-1)!;
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.5, 10.1.1.1, 127.0.0.1');
});

test('Host is the upstream\'s unless preserveHost', T, async (t) => {
  const plain = await startFront(makeRoute(upstream.url));
  t.after(() => plain.close());
  await request(plain.port, '/h', { headers: { host: 'app.example.com' } });
  assert.equal(upstream.seen.at(-1)!.headers.host, `127.0.0.1:${upstream.port}`);
  assert.equal(upstream.seen.at(-1)!.headers['x-forwarded-host'], 'app.example.com');

  const preserving = await startFront(makeRoute(upstream.url, { preserveHost: true }));
  t.after(() => preserving.close());
  await request(preserving.port, '/h', { headers: { host: 'app.example.com' } });
  assert.equal(upstream.seen.at(-1)!.headers.host, 'app.example.com');
});

test('the path gets the upstream base path and keeps the query; set/removeRequestHeaders apply', T, async (t) => {
  const route = makeRoute(`${upstream.url}/base/`, {
    setRequestHeaders: [['X-App-Key', 'k1']],
    removeRequestHeaders: ['x-remove-me', 'x-forwarded-name'],
  });
  const front = await startFront(route);
  t.after(() => front.close());
  await request(front.port, '/a/b?x=1&y=%20', { headers: { 'x-remove-me': '1', 'x-keep': '2' } });
  const seen = upstream.seen.at(-1)!;
  assert.equal(seen.url, '/base/a/b?x=1&y=%20');
  assert.equal(seen.headers['x-app-key'], 'k1');
  assert.equal(seen.headers['x-remove-me'], undefined);
  assert.equal(seen.headers['x-forwarded-name'], undefined);
  assert.equal(seen.headers['x-keep'], '2');
});

test('a non-ASCII name with CR/LF arrives percent-encoded, never raw', T, async (t) => {
  const name = 'Zoë 山田\r\nX-Evil: 1';
  const front = await startFront(makeRoute(upstream.url), { identity: alice({ name, groups: ['ops,admin', 'ü'] }) });
  t.after(() => front.close());
  const res = await request(front.port, '/n');
  assert.equal(res.status, 200);
  const seen = upstream.seen.at(-1)!;
  assert.equal(seen.headers['x-forwarded-name'], 'Zo%C3%AB %E5%B1%B1%E7%94%B0%0D%0AX-Evil: 1');
  assert.equal(decodeURIComponent(seen.headers['x-forwarded-name'] as string), name);
  assert.equal(seen.headers['x-evil'], undefined);
  assert.equal(seen.headers['x-forwarded-groups'], 'ops%2Cadmin,%C3%BC');
});

test('keep-alive: the upstream sees fewer TCP connections than requests, even when clients say close', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  for (let i = 0; i < 20; i++) {
    const res = await request(front.port, `/k${i}`, { headers: { connection: 'close' } });
    assert.equal(res.status, 200);
    // The client asked to close: its own connection is closed, whatever the upstream connection does.
    assert.equal(res.headers.connection, 'close');
  }
  assert.equal(own.seen.length, 20);
  assert.equal(own.connections, 1);
  assert.equal(front.results.length, 20);
  assert.ok(front.results.every((r) => r.status === 200 && r.upstreamMs >= 0 && r.error === undefined));
});

test('upstream responses are relayed untouched: no security headers added; its Connection: close stays upstream', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  own.handler = (_req, res) => {
    res.setHeader('x-upstream', 'yes');
    res.setHeader('set-cookie', ['app=1; Path=/', 'other=2']);
    res.setHeader('connection', 'close');
    res.statusCode = 201;
    res.end('created');
  };
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await request(front.port, '/r', { agent });
  assert.equal(first.status, 201);
  assert.equal(first.body, 'created');
  assert.equal(first.headers['x-upstream'], 'yes');
  assert.deepEqual(first.headers['set-cookie'], ['app=1; Path=/', 'other=2']);
  for (const h of ['content-security-policy', 'strict-transport-security', 'x-frame-options', 'x-content-type-options', 'referrer-policy', 'cross-origin-opener-policy']) {
    assert.equal(first.headers[h], undefined, `${h} added`);
  }
  assert.equal(first.headers.connection, 'keep-alive');
  const socketsBefore = own.connections;
  await request(front.port, '/r', { agent });
  // The client's connection survived the upstream's close; the upstream got a new one.
  assert.equal(own.connections, socketsBefore + 1);
  assert.equal(Object.keys(agent.sockets).length + Object.keys(agent.freeSockets).length, 1);
});

test('relay: a body of unknown length reaches HTTP/1.1 clients chunked and HTTP/1.0 clients until close; reason phrase kept', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  own.handler = (_req, res) => {
    res.statusMessage = 'Made It';
    res.statusCode = 202;
    // No Content-Length: the upstream sends chunked, in several writes.
    res.write('part-one;');
    setTimeout(() => res.end('part-two'), 20);
  };
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  const v11 = await rawExchange(front.port, 'GET /stream HTTP/1.1\r\nHost: app.example.com\r\nConnection: close');
  assert.match(v11.raw, /^HTTP\/1\.1 202 Made It\r\n/);
  assert.equal(v11.headers['transfer-encoding'], 'chunked');
  assert.match(v11.body, /part-one;/);
  assert.match(v11.body, /part-two/);
  const v10 = await rawExchange(front.port, 'GET /stream HTTP/1.0\r\nHost: app.example.com');
  assert.match(v10.raw, /^HTTP\/1\.1 202 Made It\r\n/);
  assert.equal(v10.headers['transfer-encoding'], undefined, 'no chunked framing for an HTTP/1.0 client');
  assert.equal(v10.headers.connection, 'close');
  assert.equal(v10.body, 'part-one;part-two');
});

test('relay: HEAD and 304 answers carry no body; the keep-alive connection stays usable', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  own.handler = (req, res) => {
    if (req.url === '/cached') {
      res.writeHead(304, { etag: '"v1"' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  };
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const head = await request(front.port, '/doc', { method: 'HEAD', agent });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '5');
  assert.equal(head.body, '');
  const cached = await request(front.port, '/cached', { agent, headers: { 'if-none-match': '"v1"' } });
  assert.equal(cached.status, 304);
  assert.equal(cached.headers.etag, '"v1"');
  assert.equal(cached.body, '');
  const after = await request(front.port, '/doc', { agent });
  assert.equal(after.body, 'hello');
  assert.equal(Object.keys(agent.sockets).length + Object.keys(agent.freeSockets).length, 1, 'one client connection for all three');
});

test('relay: a large upload and a large answer stream through intact (backpressure on both legs); Trailer is not forwarded', T, async (t) => {
  const size = 4 * 1024 * 1024;
  let framing = '';
  // Echoes the body back as it comes, without buffering it.
  const echo = http.createServer((req, res) => {
    framing = String(req.headers['transfer-encoding']);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-trailer-seen': String(req.headers.trailer ?? '') });
    req.pipe(res);
  });
  const echoPort = await listen(echo);
  t.after(async () => {
    echo.closeAllConnections();
    await new Promise<void>((r) => echo.close(() => r()));
  });
  const front = await startFront(makeRoute(`http://127.0.0.1:${echoPort}`));
  t.after(() => front.close());
  const payload = Buffer.alloc(size, 'abcdefghijklmnopqrstuvwxyz');
  const echoed = await new Promise<{ status: number; body: Buffer; trailerSeen: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: front.port, path: '/upload', method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', trailer: 'x-checksum' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), trailerSeen: String(res.headers['x-trailer-seen']) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Chunked upload in 64 KiB writes.
    for (let i = 0; i < size; i += 65536) req.write(payload.subarray(i, i + 65536));
    req.addTrailers({ 'x-checksum': 'abc' });
    req.end();
  });
  assert.equal(echoed.status, 200);
  assert.equal(echoed.body.length, size);
  assert.ok(echoed.body.equals(payload), 'the echoed body is the uploaded one');
  assert.equal(echoed.trailerSeen, '', 'the hop-by-hop Trailer header is not forwarded');
  assert.equal(framing, 'chunked');
});

test("an upstream cannot set Drawbridge's cookies: Set-Cookie for the session or sign-in cookie names is dropped, the app's own stay", T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  const planted = ['drawbridge=forged-session', '__Host-drawbridge=forged; Path=/; Secure', '__HOST-drawbridge=case', ' drawbridge-login-abcdef123456=x', '__Host-drawbridge-login-abc=y'];
  own.handler = (req, res) => {
    res.setHeader('set-cookie', req.url === '/only-planted' ? planted : ['app=1; Path=/', ...planted, 'drawbridgeish=kept', 'other=2']);
    res.end('ok');
  };
  const front = await startFront(makeRoute(own.url), { reservedCookie: (name) => isOwnCookie('drawbridge', name) });
  t.after(() => front.close());
  const mixed = await request(front.port, '/mixed');
  assert.equal(mixed.status, 200);
  assert.deepEqual(mixed.headers['set-cookie'], ['app=1; Path=/', 'drawbridgeish=kept', 'other=2']);
  const only = await request(front.port, '/only-planted');
  assert.equal(only.status, 200);
  assert.equal(only.headers['set-cookie'], undefined);
});

test('upstream down → 502 page without the upstream address; the details go to onError', T, async (t) => {
  const probe = http.createServer();
  const deadPort = await listen(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const front = await startFront(makeRoute(`http://127.0.0.1:${deadPort}`));
  t.after(() => front.close());
  const res = await request(front.port, '/down');
  assert.equal(res.status, 502);
  assert.match(res.body, /unavailable/);
  assert.equal(res.body.includes('127.0.0.1') || res.body.includes(String(deadPort)) || /ECONNREFUSED/.test(res.body), false);
  assert.equal(JSON.stringify(res.headers).includes(String(deadPort)), false);
  await until(() => front.results.length === 1);
  assert.equal(front.results[0].status, 502);
  assert.equal(front.results[0].error, 'unavailable');
  assert.equal(front.errors.length, 1);
  assert.equal((front.errors[0] as Error & { code: string }).code, 'DRB_UPSTREAM_UNAVAILABLE');
  assert.match(front.errors[0].message, new RegExp(`127\\.0\\.0\\.1:${deadPort}.*ECONNREFUSED`));
});

test('an unresolvable upstream host → 502', T, async (t) => {
  const front = await startFront(makeRoute('http://drawbridge-test.invalid:8080'));
  t.after(() => front.close());
  const res = await request(front.port, '/dns');
  assert.equal(res.status, 502);
  assert.equal(res.body.includes('invalid'), false);
});

test('slow upstream → 504 page within the route timeout, upstream request aborted', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  let aborted = false;
  own.handler = (req) => {
    req.socket.once('close', () => (aborted = true));
  };
  const front = await startFront(makeRoute(own.url, { timeoutMs: 300 }));
  t.after(() => front.close());
  const started = Date.now();
  const res = await request(front.port, '/slow');
  const elapsed = Date.now() - started;
  assert.equal(res.status, 504);
  assert.match(res.body, /did not answer in time/);
  assert.ok(elapsed >= 290 && elapsed < 2000, `answered after ${elapsed} ms`);
  await until(() => aborted && front.results.length === 1);
  assert.equal(front.results[0].status, 504);
  assert.equal(front.results[0].error, 'timeout');
  assert.ok(front.results[0].upstreamMs >= 290);
  assert.equal((front.errors[0] as Error & { code: string }).code, 'DRB_UPSTREAM_TIMEOUT');
});

test('the timeout also aborts a request with Expect: 100-continue (no proxyReq event there)', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  let aborted = false;
  own.handler = (req) => req.socket.once('close', () => (aborted = true));
  const front = await startFront(makeRoute(own.url, { timeoutMs: 300 }));
  t.after(() => front.close());
  const head = ['POST /slow HTTP/1.1', 'Host: app.example.com', 'Content-Length: 2', 'Expect: 100-continue', 'Connection: close'].join('\r\n');
  const res = await rawExchange(front.port, head, 'hi', { expectContinue: true });
  assert.equal(res.status, 504);
  await until(() => aborted);
  assert.equal(own.seen.at(-1)!.body, 'hi');
});

test('routes to the same upstream share one connection pool', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  const one = makeRoute(own.url, { name: 'one' });
  const two = makeRoute(own.url, { name: 'two', prefix: '/two' });
  const results: ForwardResult[] = [];
  const forwarder = new Forwarder();
  t.after(() => forwarder.close());
  const [onePool, twoPool] = forwarder.provision([one, two]);
  assert.equal(onePool, twoPool);
  const server = http.createServer((req, res) => {
    stripClientHeaders(req, stripper, { trustedPeer: false, cookieBase: '', consumedBearer: false });
    const isTwo = req.url!.startsWith('/two');
    forwarder.web(req, res, isTwo ? two : one, (isTwo ? twoPool : onePool)!, (r) => results.push(r), renderError);
  });
  const port = await listen(server);
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  for (let i = 0; i < 6; i++) assert.equal((await request(port, i % 2 ? '/two' : '/one')).status, 200);
  assert.equal(own.connections, 1);
  await until(() => results.length === 6);
});

test('a request that reaches the upstream leg after its pool was released idle (a reload during its admission) is forwarded, then the pool closes again', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  const route = makeRoute(own.url);
  const results: ForwardResult[] = [];
  const forwarder = new Forwarder();
  t.after(() => forwarder.close());
  const [pool] = forwarder.provision([route]);
  const server = http.createServer((req, res) => {
    stripClientHeaders(req, stripper, { trustedPeer: false, cookieBase: '', consumedBearer: false });
    forwarder.web(req, res, route, pool!, (r) => results.push(r), renderError);
  });
  const port = await listen(server);
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  assert.equal((await request(port, '/before')).status, 200);
  // The snapshot is replaced while nothing is in flight: the pool is destroyed at once.
  pool!.release();
  assert.equal(forwarder.poolCount(), 0);
  // A request that took that snapshot earlier still goes to the upstream it was authorized for.
  const late = await request(port, '/late');
  assert.equal(late.status, 200, late.body);
  assert.equal(own.seen.at(-1)?.url, '/late');
  await until(() => results.length === 2);
  assert.deepEqual(results.map((r) => r.status), [200, 200]);
  assert.equal(forwarder.poolCount(), 0, 'closed again once idle');
  // After the forwarder's close, nothing is forwarded any more.
  forwarder.close();
  assert.equal((await request(port, '/closed')).status, 502);
});

test('two Forwarders sharing one compiled route each use their own pool', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  const route = makeRoute(own.url);
  const a = new Forwarder();
  const b = new Forwarder();
  t.after(() => a.close());
  t.after(() => b.close());
  const [aPool] = a.provision([route]);
  const [bPool] = b.provision([route]);
  const results: ForwardResult[] = [];
  const server = http.createServer((req, res) => {
    stripClientHeaders(req, stripper, { trustedPeer: false, cookieBase: '', consumedBearer: false });
    const isB = req.url!.startsWith('/b');
    (isB ? b : a).web(req, res, route, (isB ? bPool : aPool)!, (r) => results.push(r), renderError);
  });
  const port = await listen(server);
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  for (const path of ['/a', '/b', '/a', '/b', '/a']) assert.equal((await request(port, path)).status, 200);
  await until(() => results.length === 5);
  // One keep-alive connection per Forwarder: neither borrowed the other's pool, nor made a new one per request.
  assert.equal(own.connections, 2);
  a.close();
  assert.equal((await request(port, '/b')).status, 200);
  assert.equal(own.connections, 2);
});

test('the timeout is to the response headers: a slow body after them is not cut', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  own.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a');
    setTimeout(() => res.end('b'), 500);
  };
  const front = await startFront(makeRoute(own.url, { timeoutMs: 200 }));
  t.after(() => front.close());
  const res = await request(front.port, '/stream');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ab');
});

test('a failure after the response started destroys the client connection', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  own.handler = (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 50);
  };
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  await assert.rejects(request(front.port, '/partial'));
  await until(() => front.results.length === 1);
  assert.equal(front.results[0].status, 200);
});

test('an upstream that closes cleanly (FIN) mid-body cuts the client connection instead of leaving it waiting', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  own.handler = (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setTimeout(() => res.socket?.end(), 50);
  };
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  const started = Date.now();
  await assert.rejects(request(front.port, '/fin'));
  assert.ok(Date.now() - started < 2000);
  await until(() => front.results.length === 1);
  assert.equal(front.results[0].error, 'unavailable');
  assert.match(front.errors[0].message, /before the end of its answer/);
});

test('a client that leaves before the answer is reported as 499 and the upstream request aborted', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  let upstreamClosed = false;
  own.handler = (req) => req.socket.once('close', () => (upstreamClosed = true));
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  const req = http.request({ host: '127.0.0.1', port: front.port, path: '/leave', agent: false });
  req.on('error', () => {});
  req.end();
  await until(() => own.seen.length === 1);
  req.destroy();
  await until(() => upstreamClosed && front.results.length === 1);
  assert.equal(front.results[0].status, 499);
  assert.equal(front.results[0].error, undefined);
});

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
}

test('an upstream over TLS: verified with the route\'s caFile; a wrong CA → 502', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  openssl(dir, 'x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', '1', '-extfile', 'leaf.ext');

  const seen: http.IncomingHttpHeaders[] = [];
  const tlsServer = https.createServer({ key: readFileSync(join(dir, 'leaf.key')), cert: readFileSync(join(dir, 'leaf.crt')) }, (req, res) => {
    seen.push(req.headers);
    res.end('secure');
  });
  const tlsPort = await listen(tlsServer);
  t.after(() => {
    tlsServer.closeAllConnections();
    tlsServer.close();
  });

  const good = await startFront(makeRoute(`https://localhost:${tlsPort}`, { upstreamTls: { caFile: join(dir, 'ca.crt'), caOnly: false, minVersion: 'TLSv1.2', insecureSkipVerify: false } }));
  t.after(() => good.close());
  const ok = await request(good.port, '/tls');
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'secure');
  assert.equal(seen.at(-1)!['x-forwarded-user'], 'alice');

  const byIp = await startFront(makeRoute(`https://127.0.0.1:${tlsPort}`, { preserveHost: true, upstreamTls: { caFile: join(dir, 'ca.crt'), caOnly: false, minVersion: 'TLSv1.2', insecureSkipVerify: false } }));
  t.after(() => byIp.close());
  // With preserveHost the certificate is still checked against the upstream's name, not the client's Host.
  assert.equal((await request(byIp.port, '/tls', { headers: { host: 'app.example.com' } })).status, 200);

  const wrong = await startFront(makeRoute(`https://localhost:${tlsPort}`, { upstreamTls: { caFile: join(dir, 'other-ca.crt'), caOnly: false, minVersion: 'TLSv1.2', insecureSkipVerify: false } }));
  t.after(() => wrong.close());
  const refused = await request(wrong.port, '/tls');
  assert.equal(refused.status, 502);
  assert.match(wrong.errors[0].message, /certificate/i);

  // A missing caFile fails provisioning (the start or the reload), never a request.
  const missing = new Forwarder();
  t.after(() => missing.close());
  assert.throws(() => missing.provision([makeRoute(`https://localhost:${tlsPort}`, { upstreamTls: { caFile: join(dir, 'nope.crt'), caOnly: false, minVersion: 'TLSv1.2', insecureSkipVerify: false } })]), { code: 'DRB_CONFIG_READ' });
  assert.equal(missing.poolCount(), 0);
});

test('a WebSocket upgrade is forwarded with identity headers and echoed', T, async (t) => {
  const wsHttp = http.createServer();
  const wss = new WebSocketServer({ server: wsHttp });
  const upgrades: http.IncomingHttpHeaders[] = [];
  wss.on('connection', (socket, req) => {
    upgrades.push(req.headers);
    socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
  });
  const wsPort = await listen(wsHttp);
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    wsHttp.closeAllConnections();
    wsHttp.close();
  });
  const front = await startFront(makeRoute(`http://127.0.0.1:${wsPort}`));
  t.after(() => front.close());

  const client = new WebSocket(`ws://127.0.0.1:${front.port}/socket?room=1`, { headers: { 'X-Forwarded-User': 'mallory', 'X-Drawbridge-Assertion': 'forged' } });
  const reply = await new Promise<string>((resolve, reject) => {
    client.on('open', () => client.send('hello'));
    client.on('message', (data) => resolve(data.toString()));
    client.on('error', reject);
  });
  assert.equal(reply, 'echo:hello');
  assert.equal(upgrades[0]['x-forwarded-user'], 'alice');
  assert.equal(upgrades[0]['x-drawbridge-assertion'], ASSERTION);
  client.close();
  await until(() => front.results.length === 1);
  assert.equal(front.results[0].status, 101);
});

test('a WebSocket upgrade to a down upstream gets a 502 and a closed socket', T, async (t) => {
  const probe = http.createServer();
  const deadPort = await listen(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const front = await startFront(makeRoute(`http://127.0.0.1:${deadPort}`));
  t.after(() => front.close());
  const client = new WebSocket(`ws://127.0.0.1:${front.port}/socket`);
  const status = await new Promise<number>((resolve) => {
    client.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    client.on('error', () => resolve(-1));
  });
  assert.equal(status, 502);
  await until(() => front.results.length === 1);
  assert.deepEqual(front.results[0].error, 'unavailable');
});

test('an upgrade to something other than WebSocket is refused with 400, upstream not contacted', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  const res = await rawExchange(front.port, ['GET /h2c HTTP/1.1', 'Host: app.example.com', 'Connection: Upgrade', 'Upgrade: h2c'].join('\r\n'));
  assert.equal(res.status, 400);
  assert.equal(own.seen.length, 0);
  await until(() => front.results.length === 1);
  assert.equal(front.results[0].status, 400);
});

/** An upstream that answers every upgrade with a 101 and then writes `after` (raw bytes), never reading frames. */
async function rawWebSocketUpstream(t: { after(fn: () => unknown): void }, after: Buffer): Promise<{ port: number; sockets: net.Socket[] }> {
  const server = http.createServer();
  const sockets: net.Socket[] = [];
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    sockets.push(socket);
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.write(after);
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  t.after(() => {
    server.closeAllConnections();
    server.close();
    for (const socket of sockets) socket.destroy();
  });
  return { port, sockets };
}

/** Opens a ws client through the front; resolves once open, with its close event (code, reason) as a promise. */
async function openClient(port: number): Promise<{ client: WebSocket; closed: Promise<{ code: number; reason: string }>; messages: string[] }> {
  const client = new WebSocket(`ws://127.0.0.1:${port}/socket`);
  const messages: string[] = [];
  client.on('message', (data) => messages.push(String(data)));
  client.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return { client, closed, messages };
}

test('a WebSocket Drawbridge closes between two frames: the client gets a 1008 close frame with the reason; the upstream socket is closed', T, async (t) => {
  // Two complete frames ("hi", then an empty ping) and nothing in flight.
  const upstream = await rawWebSocketUpstream(t, Buffer.from([0x81, 0x02, 0x68, 0x69, 0x89, 0x00]));
  const front = await startFront(makeRoute(`http://127.0.0.1:${upstream.port}`));
  t.after(() => front.close());
  const { closed, messages } = await openClient(front.port);
  await until(() => messages.length === 1);
  assert.deepEqual(messages, ['hi']);
  const upstreamEnded = new Promise<void>((resolve) => upstream.sockets[0]!.once('end', () => resolve()));
  front.handles[0]!.close(1008, 'revoked');
  assert.deepEqual(await closed, { code: 1008, reason: 'revoked' });
  await upstreamEnded;
  await until(() => front.results.length === 1);
  assert.equal(front.results[0]!.status, 101);
  assert.deepEqual(front.errors, [], 'closing is no upstream error');
  front.handles[0]!.close(1008, 'again');
});

test('a WebSocket Drawbridge closes in the middle of an upstream frame: no frame is inserted, the connection is cut', T, async (t) => {
  // A text frame announcing 5 bytes, of which 2 were sent: a close frame now would be read as its payload.
  const partial = Buffer.from([0x81, 0x05, 0x68, 0x65]);
  const upstream = await rawWebSocketUpstream(t, partial);
  const front = await startFront(makeRoute(`http://127.0.0.1:${upstream.port}`));
  t.after(() => front.close());
  const client = net.connect(front.port, '127.0.0.1');
  let received = Buffer.alloc(0);
  const afterHead = () => {
    const end = received.indexOf('\r\n\r\n');
    return end < 0 ? undefined : received.subarray(end + 4);
  };
  let onPartial!: () => void;
  const gotPartial = new Promise<void>((resolve) => (onPartial = resolve));
  client.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (afterHead()?.equals(partial)) onPartial();
  });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.on('error', () => undefined);
  client.write('GET /socket HTTP/1.1\r\nHost: front\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  await gotPartial;
  front.handles[0]!.close(1008, 'revoked');
  await closed;
  assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /);
  assert.deepEqual([...afterHead()!], [...partial], 'nothing after the partial frame: no close frame inside it');
  assert.deepEqual(front.errors, []);
});

test('a WebSocket closed before the upstream answered: both sides are closed, no 502 and no upstream error', T, async (t) => {
  const silent = http.createServer();
  const held: net.Socket[] = [];
  const reached = new Promise<void>((resolve) =>
    silent.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
      held.push(socket);
      resolve();
    }),
  );
  const silentPort = await listen(silent);
  t.after(() => {
    for (const socket of held) socket.destroy();
    silent.closeAllConnections();
    silent.close();
  });
  const front = await startFront(makeRoute(`http://127.0.0.1:${silentPort}`));
  t.after(() => front.close());
  const client = new WebSocket(`ws://127.0.0.1:${front.port}/socket`);
  const outcome = new Promise<string>((resolve) => {
    client.on('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
    client.on('error', (e) => resolve(`error ${e.message}`));
  });
  await reached;
  const upstreamEnded = new Promise<void>((resolve) => held[0]!.once('end', () => resolve()));
  front.handles[0]!.close(1008, 'revoked');
  assert.match(await outcome, /^error /, 'no HTTP answer at all');
  await upstreamEnded;
  await until(() => front.results.length === 1);
  assert.equal(front.results[0]!.status, 499);
  assert.deepEqual(front.errors, []);
});

test('close() destroys pooled connections and is idempotent', T, async (t) => {
  const own = await startUpstream();
  t.after(() => own.close());
  const front = await startFront(makeRoute(own.url));
  t.after(() => front.close());
  await request(front.port, '/x');
  const open = (): Promise<number> => new Promise((resolve) => own.server.getConnections((_e, n) => resolve(n)));
  assert.equal(await open(), 1);
  front.forwarder.close();
  front.forwarder.close();
  const end = Date.now() + 3000;
  while ((await open()) !== 0) {
    assert.ok(Date.now() < end, 'the pooled connection is still open');
    await new Promise((r) => setTimeout(r, 10));
  }
});
