// proxy/test/hsts.test.ts — HSTS on every response Drawbridge sends over HTTPS (issue 19), over real sockets: on a
// TLS listener and behind a trusted proxy that says X-Forwarded-Proto: https; proxied responses (an upstream's own
// header unchanged), its 400/403/404/502 pages and the redirect to sign-in; never over plain HTTP. And the problem
// answers of the catalog: JSON 502/504 for API clients, the request log's errorCode with Node's own cause (a TLS
// verification error of a self-signed upstream).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECURITY_HEADERS } from '../src/runtime/respond.js';
import { head, marker, sendRaw } from '../../test-support/raw.js';
import { cookieForOrigin, reservePort, sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';

const T = { timeout: 30_000 };
const ONE_YEAR = 'max-age=31536000';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** GET over TLS to the listener on 127.0.0.1:port with this Host (the test certificate is self-signed). */
function tlsGet(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, method: 'GET', rejectUnauthorized: false, agent: false, headers: { host: `${host}:${port}`, connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Writes `head` on a TLS connection to the listener and reads until it closes (for WebSocket upgrades). */
function tlsRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.write(text));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (out += c));
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
  });
}

/** How many times the response carries Strict-Transport-Security. */
function stsCount(rawHeaders: readonly string[] | readonly [string, string][]): number {
  const names = typeof rawHeaders[0] === 'string' ? (rawHeaders as string[]).filter((_, i) => i % 2 === 0) : (rawHeaders as [string, string][]).map(([n]) => n);
  return names.filter((n) => n.toLowerCase() === 'strict-transport-security').length;
}

function selfSignedCert(): { certFile: string; keyFile: string; cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-hsts-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tls.key', '-out', 'tls.crt', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,DNS:*.localhost'], { cwd: dir, stdio: 'pipe' });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

function requestLine(s: Stack, path: string): Record<string, any> | undefined {
  return s.logs.find((l) => l.event === 'request' && l.path === path);
}

describe('over a TLS listener', () => {
  let s: Stack;
  const tls = selfSignedCert();
  // An upstream that sends its own HSTS; one that never answers; one serving HTTPS with a self-signed certificate.
  const ownSts = http.createServer((_req, res) => res.writeHead(200, { 'strict-transport-security': 'max-age=60', 'content-type': 'text/plain' }).end('own'));
  const silent = http.createServer(() => {});
  const selfSigned = https.createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.end('never reached'));

  before(async () => {
    const [own, slow, tlsUp, closed] = [await listen(ownSts), await listen(silent), await listen(selfSigned), await reservePort()];
    s = await startStack({
      extra: `tls: { certFile: ${tls.certFile}, keyFile: ${tls.keyFile}, hsts: { maxAge: 2d, includeSubDomains: true } }`,
      routes: `routes:
  - { name: public, from: "http://public.localhost:{{PORT}}", to: "{{APP}}", public: true }
  - { name: own, from: "http://own.localhost:{{PORT}}", to: "http://127.0.0.1:${own}", public: true }
  - { name: down, from: "http://down.localhost:{{PORT}}", to: "http://127.0.0.1:${closed}", public: true }
  - { name: slow, from: "http://slow.localhost:{{PORT}}", to: "http://127.0.0.1:${slow}", public: true, timeout: 300ms }
  - { name: selfsigned, from: "http://selfsigned.localhost:{{PORT}}", to: "https://127.0.0.1:${tlsUp}", public: true }
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { groups: [engineering] } ] }
`,
    });
  }, { timeout: 60_000 });

  after(async () => {
    await s?.close();
    silent.closeAllConnections();
    await Promise.all([ownSts, silent, selfSigned].map((srv) => new Promise((r) => srv.close(r))));
  });

  const HSTS = 'max-age=172800; includeSubDomains';

  test('a proxied response carries the configured HSTS, once', T, async () => {
    const res = await tlsGet(s.port, 'public.localhost', `/${marker('p')}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], HSTS);
    assert.equal(stsCount(res.rawHeaders), 1);
  });

  test('an upstream\u2019s own Strict-Transport-Security passes unchanged, and Drawbridge adds none beside it', T, async () => {
    const res = await tlsGet(s.port, 'own.localhost', '/');
    assert.equal(res.body, 'own');
    assert.equal(res.headers['strict-transport-security'], 'max-age=60');
    assert.equal(stsCount(res.rawHeaders), 1);
  });

  test('the 404, 400 and 502 pages and the redirect to sign-in carry HSTS', T, async () => {
    const browser = { accept: 'text/html' };
    const notFound = await tlsGet(s.port, 'nothing.localhost', '/', browser);
    assert.equal(notFound.status, 404);
    const bad = await tlsGet(s.port, 'public.localhost', '/a%2Fb', browser);
    assert.equal(bad.status, 400);
    const down = await tlsGet(s.port, 'down.localhost', '/', browser);
    assert.equal(down.status, 502);
    assert.match(String(down.headers['content-type']), /text\/html/);
    const signIn = await tlsGet(s.port, 'app.localhost', '/deep', browser);
    assert.equal(signIn.status, 302);
    assert.match(String(signIn.headers.location), /\/\.drawbridge\/sign_in\?rd=https%3A%2F%2Fapp\.localhost/);
    for (const [what, res] of Object.entries({ notFound, bad, down, signIn })) {
      assert.equal(res.headers['strict-transport-security'], HSTS, what);
      assert.equal(stsCount(res.rawHeaders), 1, what);
    }
    // Drawbridge's own Express pages too (the sign-in start, on the route host).
    const start = await tlsGet(s.port, 'app.localhost', '/.drawbridge/sign_in?rd=%2F', browser);
    assert.equal(start.headers['strict-transport-security'], HSTS, 'sign_in');
  });

  test('WebSocket upgrades over TLS: a refused one (404) and one whose upstream is down (502) carry HSTS', T, async () => {
    const upgrade = (host: string) => head('GET /ws HTTP/1.1', `Host: ${host}:${s.port}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
    const refused = await tlsRaw(s.port, upgrade('nothing.localhost'));
    assert.match(refused, /^HTTP\/1\.1 404 /);
    assert.match(refused, new RegExp(`\r\nstrict-transport-security: ${HSTS}\r\n`, 'i'));
    const down = await tlsRaw(s.port, upgrade('down.localhost'));
    assert.match(down, /^HTTP\/1\.1 502 /);
    assert.match(down, new RegExp(`\r\nstrict-transport-security: ${HSTS}\r\n`, 'i'));
  });

  test('API clients get JSON for 502 and 504, with HSTS; the log line has errorCode and Node\u2019s cause', T, async () => {
    const api = { accept: 'application/json' };
    const m = marker('down');
    const down = await tlsGet(s.port, 'down.localhost', `/${m}`, api);
    assert.equal(down.status, 502);
    assert.match(String(down.headers['content-type']), /^application\/json/);
    const body = JSON.parse(down.body);
    assert.equal(body.error, 'upstream_unavailable');
    assert.equal(body.requestId, down.headers['x-request-id']);
    assert.ok(!down.body.includes('127.0.0.1'), 'no upstream address');
    assert.equal(down.headers['strict-transport-security'], HSTS);
    await waitFor(() => requestLine(s, `/${m}`) !== undefined, 5000);
    assert.equal(requestLine(s, `/${m}`)!.errorCode, 'DRB_UPSTREAM_UNAVAILABLE');
    assert.equal(requestLine(s, `/${m}`)!.cause, 'ECONNREFUSED');

    const t = marker('slow');
    const slow = await tlsGet(s.port, 'slow.localhost', `/${t}`, api);
    assert.equal(slow.status, 504);
    assert.equal(JSON.parse(slow.body).error, 'upstream_timeout');
    assert.equal(slow.headers['strict-transport-security'], HSTS);
    await waitFor(() => requestLine(s, `/${t}`) !== undefined, 5000);
    assert.equal(requestLine(s, `/${t}`)!.errorCode, 'DRB_UPSTREAM_TIMEOUT');
    assert.equal(requestLine(s, `/${t}`)!.cause, undefined);
  });

  test('an upstream with a self-signed certificate: 502, and the log keeps the TLS error code beside errorCode', T, async () => {
    const m = marker('tls');
    const res = await tlsGet(s.port, 'selfsigned.localhost', `/${m}`, { accept: 'application/json' });
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body).error, 'upstream_unavailable');
    await waitFor(() => requestLine(s, `/${m}`) !== undefined, 5000);
    const line = requestLine(s, `/${m}`)!;
    assert.equal(line.errorCode, 'DRB_UPSTREAM_UNAVAILABLE');
    assert.equal(line.cause, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    const upstreamError = s.logs.find((l) => l.event === 'upstream-error' && l.requestId === line.requestId);
    assert.equal(upstreamError?.errorCode, 'DRB_UPSTREAM_UNAVAILABLE');
    assert.equal(upstreamError?.cause, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});

describe('behind a trusted proxy (X-Forwarded-Proto) and over plain HTTP', () => {
  let s: Stack;
  let alice: string;

  before(async () => {
    s = await startStack({
      extra: 'trustedProxies: [127.0.0.0/8]',
      routes: `routes:
  - { name: public, from: "http://public.localhost:{{PORT}}", to: "{{APP}}", public: true }
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { groups: [engineering] } ] }
  - name: closed
    from: http://closed.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { user: [nobody] } ] }
`,
    });
    const b = s.browser();
    await s.signIn(b, s.url('app.localhost', '/'), 'alice');
    alice = sessionCookie(b, s.url('app.localhost'))!;
    assert.ok(alice);
  }, { timeout: 60_000 });

  after(async () => {
    await s?.close();
  });

  /** GET through the "proxy" (this socket on 127.0.0.1, trusted), as https when `https`. */
  async function get(host: string, path: string, https: boolean, lines: string[] = []) {
    const cookie = https ? `Cookie: __Host-drawbridge=${cookieForOrigin(alice, `https://${host}:${s.port}`)}` : `Cookie: drawbridge=${cookieForOrigin(alice, `http://${host}:${s.port}`)}`;
    const ex = await sendRaw(s.port, head(`GET ${path} HTTP/1.1`, `Host: ${host}:${s.port}`, ...(https ? ['X-Forwarded-Proto: https'] : []), cookie, ...lines, 'Connection: close'));
    return ex.first;
  }

  test('over HTTPS (the trusted proxy says so): proxied, 403, 404 and the sign-in redirect carry the default HSTS', T, async () => {
    const proxied = await get('public.localhost', `/${marker('p')}`, true);
    assert.equal(proxied.status, 200);
    const m = marker('deny');
    const denied = await get('closed.localhost', `/${m}`, true, ['Accept: text/html']);
    assert.equal(denied.status, 403, denied.body);
    assert.match(denied.body, /Access denied/);
    const notFound = await get('nothing.localhost', '/', true, ['Accept: text/html']);
    assert.equal(notFound.status, 404);
    const signIn = await sendRaw(s.port, head('GET /x HTTP/1.1', `Host: app.localhost:${s.port}`, 'X-Forwarded-Proto: https', 'Accept: text/html', 'Connection: close'));
    assert.equal(signIn.first.status, 302);
    for (const [what, res] of Object.entries({ proxied, denied, notFound, signIn: signIn.first })) {
      assert.equal(res.headers['strict-transport-security'], ONE_YEAR, what);
      assert.equal(stsCount(res.rawHeaders), 1, what);
    }
    await waitFor(() => requestLine(s, `/${m}`) !== undefined, 5000);
    assert.equal(requestLine(s, `/${m}`)!.errorCode, 'DRB_FORBIDDEN');
  });

  test('over plain HTTP: no HSTS anywhere (proxied, 403, 404, the sign-in redirect, Drawbridge\u2019s pages); one set of security headers on its own pages', T, async () => {
    const proxied = await get('public.localhost', `/${marker('p')}`, false);
    assert.equal(proxied.status, 200);
    const denied = await get('closed.localhost', '/', false, ['Accept: text/html']);
    assert.equal(denied.status, 403);
    const notFound = await get('nothing.localhost', '/', false, ['Accept: application/json']);
    assert.equal(notFound.status, 404);
    assert.equal(JSON.parse(notFound.body).error, 'not_found');
    const signIn = await sendRaw(s.port, head('GET /x HTTP/1.1', `Host: app.localhost:${s.port}`, 'Accept: text/html', 'Connection: close'));
    assert.equal(signIn.first.status, 302);
    const me = await get('app.localhost', '/.drawbridge/me', false, ['Accept: text/html']);
    assert.equal(me.status, 200);
    for (const [what, res] of Object.entries({ proxied, denied, notFound, signIn: signIn.first, me })) {
      assert.equal(res.headers['strict-transport-security'], undefined, what);
    }
    // One set of security headers on every page Drawbridge makes, the Express ones (/me) as the pipeline's (403, 404 JSON).
    for (const [what, res] of Object.entries({ denied, notFound, me })) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(res.headers[name], value, `${what}: ${name}`);
    }
    for (const name of Object.keys(SECURITY_HEADERS)) assert.equal(proxied.headers[name], undefined, `proxied: no ${name}`);
  });
});
