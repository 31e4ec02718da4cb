// proxy/test/http2.test.ts — HTTP/2 on the TLS listener (tls.http2, server/h2.ts) over real sockets: ALPN offers h2
// and http/1.1 on one listener (only http/1.1 with `http2: false`); a proxied request gets the same decision, upstream
// headers and assertion over both; sign-in, the cookie flow and the Express pages over h2; upstream answers with
// HTTP/1.1 connection headers relayed; WebSockets still upgrade over http/1.1; and the h2 counterparts of the raw
// attack suites (node's http2 client where it can send the request, raw frames from test-support/h2-raw.ts where it
// refuses to): :authority/Host disagreement, pseudo-header abuse, :path forms and normalization, upper-case and
// connection-specific names, CR/LF/NUL in values, content-length against DATA, CONNECT, oversized header lists,
// rapid reset (CVE-2023-44487), CONTINUATION floods and the stream limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { WebSocket } from 'ws';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { certDir, makeCa, makeCert } from '../../test-support/certs.js';
import { dataFrame, frame, FRAME, get, H2_ERROR, headerBlock, headersFrame, rstFrame, sendH2 } from '../../test-support/h2-raw.js';
import { marker } from '../../test-support/raw.js';
import { startStack, waitFor, type Stack } from '../../test-support/stack.js';

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/** One request over a new HTTP/2 connection (node's client; ALPN h2 only). */
async function h2(port: number, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Response> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'localhost' });
  try {
    return await h2On(session, headers, body);
  } finally {
    session.close();
  }
}

function h2On(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request({ ':method': body === undefined ? 'GET' : 'POST', ...headers }, { endStream: body === undefined });
    let status = 0;
    let got: http2.IncomingHttpHeaders = {};
    let text = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      got = h;
    });
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    stream.on('end', () => resolve({ status, headers: got, body: text }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** One request over HTTP/1.1 on the TLS listener (ALPN http/1.1). */
function h1(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<H2Response & { alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path, servername: 'localhost', rejectUnauthorized: false, agent: false, ALPNProtocols: ['http/1.1'], headers: { host, ...headers } };
    const req = https.request(options as https.RequestOptions, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol ?? false }));
    });
    req.on('error', reject);
    req.end();
  });
}

function alpnOf(port: number, protocols: string[]): Promise<string | false | Error> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: protocols }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.destroy();
    });
    socket.once('error', (e) => resolve(e));
  });
}

/** Cookies by host name, from Set-Cookie (attributes ignored: the test follows one flow). */
type Jar = Map<string, Map<string, string>>;

function keep(jar: Jar, host: string, setCookie: string | string[] | undefined): void {
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const pair = line.split(';')[0]!;
    const eq = pair.indexOf('=');
    const cookies = jar.get(host) ?? new Map<string, string>();
    const value = pair.slice(eq + 1);
    if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
    else cookies.set(pair.slice(0, eq), value);
    jar.set(host, cookies);
  }
}

const cookieHeader = (jar: Jar, host: string) => [...(jar.get(host) ?? new Map<string, string>())].map(([n, v]) => `${n}=${v}`).join('; ');

/**
 * Signs in through Drawbridge over HTTP/2 like a browser: every request to the proxy port goes over h2 (whatever the
 * scheme of the URL it was sent to), the dev IdP's pages over its own HTTP. Returns the jar and the final answer.
 */
async function signInOverH2(s: Stack, start: string, login: string): Promise<{ jar: Jar; final: H2Response; steps: { url: string; status: number }[] }> {
  const jar: Jar = new Map();
  const steps: { url: string; status: number }[] = [];
  let url = new URL(start);
  for (let hop = 0; hop < 12; hop++) {
    if (Number(url.port) === s.port) {
      const res = await h2(s.port, { ':authority': url.host, ':path': url.pathname + url.search, accept: 'text/html', cookie: cookieHeader(jar, url.hostname) });
      steps.push({ url: url.href, status: res.status });
      keep(jar, url.hostname, res.headers['set-cookie']);
      if (res.status < 300 || res.status >= 400) return { jar, final: res, steps };
      url = new URL(String(res.headers.location), url);
    } else {
      // The IdP: its forms, until it sends the browser back to Drawbridge's callback.
      const client = s.browser();
      const r = await signInAtIdp(client, url, { login, stopAt: s.publicUrl, headers: { accept: 'text/html' } });
      steps.push({ url: url.href, status: r.response.status });
      url = new URL(String(r.response.headers.location), r.response.url);
    }
  }
  throw new Error(`sign-in did not end: ${JSON.stringify(steps)}`);
}

const ROUTES = `routes:
  - name: app
    from: https://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
  - name: public
    from: https://public.localhost:{{PORT}}
    to: {{APP}}
    public: true
    websockets: true
  - name: hop
    from: https://hop.localhost:{{PORT}}
    to: http://127.0.0.1:{{HOP}}
    public: true
`;

/** Not node's defaults (16 KiB, 60 s on an HTTP/2 listener): the HTTP/1.1 side of the listener must get these. */
const MAX_HEADER = 8192;
const HEADERS_TIMEOUT_S = 2;
const REQUEST_TIMEOUT_S = 3;

let s: Stack;
let hop: http.Server;
let hopPort = 0;
const dir = certDir();
const ca = makeCa(dir);
const leaf = makeCert(dir, ca, 'edge', ['localhost', '*.localhost']);

before(async () => {
  // An upstream that answers with every HTTP/1.1 connection header HTTP/2 forbids.
  hop = http.createServer((_req, res) => {
    res.writeHead(200, ['content-type', 'text/plain', 'keep-alive', 'timeout=5', 'upgrade', 'h2c', 'proxy-connection', 'keep-alive', 'te', 'gzip', 'transfer-encoding', 'chunked', 'x-kept', 'yes'] as unknown as http.OutgoingHttpHeaders);
    res.end('hop body');
  });
  await new Promise<void>((r) => hop.listen(0, '127.0.0.1', () => r()));
  hopPort = (hop.address() as AddressInfo).port;
  s = await startStack({ routes: ROUTES.replace('{{HOP}}', String(hopPort)), tls: `{ certFile: ${leaf.certFile}, keyFile: ${leaf.keyFile} }`, extra: `limits: { maxHeaderSize: ${MAX_HEADER}, headersTimeout: ${HEADERS_TIMEOUT_S}s, requestTimeout: ${REQUEST_TIMEOUT_S}s }` });
});

after(async () => {
  await s.close();
  hop.closeAllConnections();
  await new Promise<void>((r) => hop.close(() => r()));
});

const authority = (host: string) => `${host}:${s.port}`;
const upstreamSaw = (m: string) => s.app.requests.filter((r) => r.url.includes(m));

describe('one listener, both protocols', () => {
  test('ALPN: h2 preferred, http/1.1 on the same listener, a client without ALPN gets HTTP/1.1', async () => {
    assert.equal(await alpnOf(s.port, ['h2', 'http/1.1']), 'h2');
    assert.equal(await alpnOf(s.port, ['http/1.1', 'h2']), 'h2', 'the server\'s preference');
    assert.equal(await alpnOf(s.port, ['http/1.1']), 'http/1.1');
    const m = marker('alpn');
    const res = await h1(s.port, authority('public.localhost'), `/${m}`, { accept: 'application/json' });
    assert.equal(res.status, 200);
    assert.equal(res.alpn, 'http/1.1');
    const plain = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: s.port, path: `/${m}`, rejectUnauthorized: false, agent: false, headers: { host: authority('public.localhost') } }, (r) => (r.resume(), resolve(r.statusCode ?? 0))).on('error', reject);
    });
    assert.equal(plain, 200);
  });

  test('HTTP/1.1 on the h2 listener keeps the configured limits: maxHeaderSize (431) and headersTimeout (slowloris)', { timeout: 30_000 }, async () => {
    const big = 'v'.repeat(MAX_HEADER);
    const one = await h1(s.port, authority('public.localhost'), `/${marker('big1')}`, { 'x-big': big });
    assert.equal(one.status, 431);
    const small = await h1(s.port, authority('public.localhost'), `/${marker('ok1')}`, { 'x-big': 'v'.repeat(MAX_HEADER / 2) });
    assert.equal(small.status, 200);
    // A head that never ends: closed once headersTimeout has passed (408), not after node's 60 s.
    const t0 = performance.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: s.port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => socket.write(`GET / HTTP/1.1\r\nHost: ${authority('public.localhost')}\r\nX-Slow: 1`));
      let text = '';
      socket.on('data', (c) => (text += c));
      socket.on('error', () => {});
      socket.on('close', () => resolve(text));
    });
    const ms = performance.now() - t0;
    assert.ok(ms >= HEADERS_TIMEOUT_S * 1000 - 100 && ms < 15_000, `closed after ${Math.round(ms)} ms`);
    assert.match(answer, /^HTTP\/1\.1 408/);
  });

  test('the same proxied request over h1 and h2: same decision, same headers to the upstream, a verified assertion', async () => {
    const { jar, final } = await signInOverH2(s, `https://${authority('app.localhost')}/start`, 'alice');
    assert.equal(final.status, 200, final.body);
    const cookie = cookieHeader(jar, 'app.localhost');
    const m1 = marker('h1');
    const m2 = marker('h2');
    const one = await h1(s.port, authority('app.localhost'), `/${m1}?q=1`, { accept: 'application/json', cookie, 'x-custom': 'v' });
    const two = await h2(s.port, { ':authority': authority('app.localhost'), ':path': `/${m2}?q=1`, accept: 'application/json', cookie, 'x-custom': 'v' });
    assert.equal(one.status, 200);
    assert.equal(two.status, 200);
    const [u1] = upstreamSaw(m1);
    const [u2] = upstreamSaw(m2);
    assert.ok(u1 && u2);
    const varying = new Set(['x-request-id', 'x-drawbridge-assertion', 'connection', 'x-forwarded-port']);
    const shape = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).filter(([k]) => !varying.has(k)).sort(([a], [b]) => a.localeCompare(b)));
    assert.deepEqual(shape(u2.headers), shape(u1.headers));
    assert.equal(u2.headers['x-forwarded-host'], authority('app.localhost'));
    assert.equal(u2.headers['x-forwarded-user'], 'alice');
    assert.equal(u2.headers['x-forwarded-proto'], 'https');
    assert.ok(!Object.keys(u2.headers).some((k) => k.startsWith(':')), 'no pseudo-header reaches the upstream');
    // The assertions verify against the JWKS Drawbridge serves (fetched over h2: an Express page).
    const jwks = await h2(s.port, { ':authority': authority('auth.localhost'), ':path': '/.drawbridge/jwks.json' });
    assert.equal(jwks.status, 200);
    const keys = createLocalJWKSet(JSON.parse(jwks.body));
    for (const u of [u1, u2]) {
      const { payload } = await jwtVerify(String(u.headers['x-drawbridge-assertion']), keys, { issuer: s.publicUrl, audience: `https://app.localhost:${s.port}` });
      assert.equal(payload.user, 'alice');
    }
    const lines = s.logs.filter((l) => l.event === 'request' && (l.path === `/${m1}` || l.path === `/${m2}`));
    assert.deepEqual(lines.map((l) => [l.decision, l.route, l.user, l.status, l.host, l.aborted]), [['allow', 'app', 'alice', 200, authority('app.localhost'), undefined], ['allow', 'app', 'alice', 200, authority('app.localhost'), undefined]]);
  });

  test('sign-in over h2: the redirect, the IdP round trip, the session cookie, then the pages (Express) and sign-out by POST', async () => {
    const first = await h2(s.port, { ':authority': authority('app.localhost'), ':path': '/deep?x=1', accept: 'text/html' });
    assert.equal(first.status, 302);
    assert.match(String(first.headers.location), /\/\.drawbridge\/sign_in\?rd=https%3A%2F%2Fapp\.localhost/);
    assert.ok(first.headers['strict-transport-security'], 'HSTS over h2 too');
    const { jar, final, steps } = await signInOverH2(s, `https://${authority('app.localhost')}/deep?x=1`, 'alice');
    assert.equal(final.status, 200, JSON.stringify(steps));
    assert.match(final.body, /alice/);
    assert.ok(steps.some((st) => st.url.includes('/.drawbridge/callback')), 'the callback was served over h2');
    const session = [...(jar.get('app.localhost') ?? new Map<string, string>()).keys()].find((n) => n.includes('drawbridge'));
    assert.ok(session, 'a session cookie for the route host');
    // An Express page over h2, with the security headers of Drawbridge's own pages.
    const me = await h2(s.port, { ':authority': authority('app.localhost'), ':path': '/.drawbridge/me', accept: 'application/json', cookie: cookieHeader(jar, 'app.localhost') });
    assert.equal(me.status, 200, me.body);
    assert.equal(JSON.parse(me.body).user, 'alice');
    assert.equal(me.headers['x-frame-options'], 'DENY');
    assert.ok(me.headers['x-request-id']);
    const page = await h2(s.port, { ':authority': authority('app.localhost'), ':path': '/.drawbridge/sign_out', accept: 'text/html', cookie: cookieHeader(jar, 'app.localhost') });
    assert.equal(page.status, 200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
    const form = csrf ? `csrf=${encodeURIComponent(csrf)}` : '';
    const out = await h2(s.port, { ':authority': authority('app.localhost'), ':path': '/.drawbridge/sign_out', accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: `https://${authority('app.localhost')}`, cookie: cookieHeader(jar, 'app.localhost') }, form);
    assert.ok(out.status === 302 || out.status === 303 || out.status === 200, `sign-out answered ${out.status}: ${out.body.slice(0, 200)}`);
    keep(jar, 'app.localhost', out.headers['set-cookie']);
    const after = await h2(s.port, { ':authority': authority('app.localhost'), ':path': '/again', accept: 'application/json', cookie: cookieHeader(jar, 'app.localhost') });
    assert.equal(after.status, 401, 'signed out over h2');
  });

  test('a request body over h2 reaches the upstream whole, with or without content-length (DATA frames delimit it)', async () => {
    for (const withLength of [true, false]) {
      const m = marker('body');
      const body = `payload-${m}-`.repeat(2000);
      const res = await h2(s.port, { ':authority': authority('public.localhost'), ':path': `/echo?${m}`, 'content-type': 'text/plain', accept: 'application/json', ...(withLength ? { 'content-length': String(body.length) } : {}) }, body);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).body, body, `content-length ${withLength ? 'sent' : 'absent'}`);
      const [u] = upstreamSaw(m);
      assert.equal(withLength ? u?.headers['content-length'] : u?.headers['transfer-encoding'], withLength ? String(body.length) : 'chunked');
    }
  });

  test('Expect: 100-continue over h2: the 100 only for a request that is let through; a refused one is answered before its body', async () => {
    const ask = (host: string, path: string) =>
      new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
        const session = http2.connect(`https://127.0.0.1:${s.port}`, { rejectUnauthorized: false, servername: 'localhost' });
        session.on('error', reject);
        const stream = session.request({ ':method': 'POST', ':authority': authority(host), ':path': path, expect: '100-continue', 'content-type': 'text/plain', accept: 'application/json' }, { endStream: false });
        let continued = false;
        let status = 0;
        let body = '';
        stream.on('continue', () => {
          continued = true;
          stream.end('the body');
        });
        stream.on('response', (h) => {
          status = Number(h[':status']);
          if (!continued) stream.close();
        });
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (body += c));
        stream.on('close', () => {
          session.close();
          resolve({ continued, status, body });
        });
      });
    const m = marker('expect');
    const allowed = await ask('public.localhost', `/echo?${m}`);
    assert.deepEqual([allowed.continued, allowed.status, JSON.parse(allowed.body).body], [true, 200, 'the body']);
    const refused = await ask('app.localhost', `/echo?${m}x`);
    assert.deepEqual([refused.continued, refused.status], [false, 401]);
    assert.equal(upstreamSaw(`${m}x`).length, 0);
  });

  test('an upstream answer with HTTP/1.1 connection headers reaches an h2 client without them (and unchanged over h1)', async () => {
    const two = await h2(s.port, { ':authority': authority('hop.localhost'), ':path': '/x' });
    assert.equal(two.status, 200);
    assert.equal(two.body, 'hop body');
    assert.equal(two.headers['x-kept'], 'yes');
    for (const name of ['keep-alive', 'upgrade', 'proxy-connection', 'te', 'transfer-encoding', 'connection']) assert.equal(two.headers[name], undefined, name);
    const one = await h1(s.port, authority('hop.localhost'), '/x');
    assert.equal(one.status, 200);
    assert.equal(one.body, 'hop body');
    assert.equal(one.headers['upgrade'], 'h2c', 'HTTP/1.1 relays what it always relayed');
  });

  test('WebSockets stay on HTTP/1.1: no extended CONNECT advertised, a ws client upgrades on the same listener', async () => {
    const session = http2.connect(`https://127.0.0.1:${s.port}`, { rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((r) => session.once('remoteSettings', () => r()));
    assert.notEqual(session.remoteSettings.enableConnectProtocol, true);
    session.close();
    const m = marker('ws');
    const ws = new WebSocket(`wss://127.0.0.1:${s.port}/ws?${m}`, { headers: { host: authority('public.localhost') }, rejectUnauthorized: false, servername: 'localhost' } as unknown as import('ws').ClientOptions);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('ping'));
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    assert.match(echoed, /ping/, JSON.stringify(s.logs.filter((l) => l.websocket)));
    ws.close();
    assert.equal(upstreamSaw(m)[0]?.upgrade, true);
  });

  test('client identity headers are stripped over h2 as over h1', async () => {
    const m = marker('strip');
    const res = await h2(s.port, { ':authority': authority('public.localhost'), ':path': `/${m}`, accept: 'application/json', 'x-forwarded-user': 'admin', 'x-forwarded-email': 'admin@example.com', 'x-forwarded-groups': 'admins', 'x-drawbridge-assertion': 'forged', 'x-forwarded-for': '10.0.0.1', 'x-forwarded-host': 'evil.example' });
    assert.equal(res.status, 200);
    const [u] = upstreamSaw(m);
    assert.ok(u);
    assert.equal(u.headers['x-forwarded-user'], undefined);
    assert.equal(u.headers['x-forwarded-email'], undefined);
    assert.equal(u.headers['x-forwarded-groups'], undefined);
    assert.notEqual(u.headers['x-drawbridge-assertion'], 'forged');
    assert.notEqual(u.headers['x-forwarded-host'], 'evil.example');
    assert.doesNotMatch(String(u.headers['x-forwarded-for']), /10\.0\.0\.1/);
  });

  test('forward-auth over h2: /.drawbridge/auth answers like over h1 (untrusted peer: 403 without identity)', async () => {
    const original = `http://${authority('app.localhost')}/deep`;
    const two = await h2(s.port, { ':authority': 'drawbridge.internal', ':path': '/.drawbridge/auth', 'x-original-url': original, accept: 'application/json' });
    const one = await h1(s.port, 'drawbridge.internal', '/.drawbridge/auth', { 'x-original-url': original, accept: 'application/json' });
    assert.equal(two.status, one.status);
    assert.equal(JSON.parse(two.body).error, JSON.parse(one.body).error);
    assert.equal(two.headers['x-forwarded-user'], undefined);
  });
});

describe('h2 attack counterparts (refused before the upstream)', () => {
  /** Sends `fields` as stream 1 (raw frames) and returns what came back and whether the upstream saw the marker. */
  async function attack(fields: [string, string][], m: string, extra: Buffer[] = [], endStream = true) {
    const r = await sendH2(s.port, [headersFrame(1, fields, { endStream }), ...extra], { streams: [1], timeoutMs: 8000 });
    return { status: r.statuses.get(1), reset: r.resets.get(1), goaway: r.goaway, reached: upstreamSaw(m).length, r };
  }

  test(':authority and Host that disagree: 400 (as absolute-form beside Host on HTTP/1.1); agreeing or alone: served', async () => {
    const m = marker('auth');
    const bad = await attack(get(authority('public.localhost'), `/${m}`, [['host', authority('app.localhost')]]), m);
    assert.equal(bad.status, 400);
    assert.equal(bad.reached, 0);
    assert.ok(s.logs.some((l) => l.event === 'request' && l.status === 400 && l.reason === ':authority and Host disagree'));
    const same = await attack(get(authority('public.localhost'), `/${m}a`, [['host', authority('public.localhost')]]), `${m}a`);
    assert.equal(same.status, 200);
    const hostOnly = await attack([[':method', 'GET'], [':scheme', 'https'], [':path', `/${m}b`], ['host', authority('public.localhost')]], `${m}b`);
    assert.equal(hostOnly.status, 200);
    const neither = await attack([[':method', 'GET'], [':scheme', 'https'], [':path', `/${m}c`]], `${m}c`);
    assert.ok(neither.status === 400 || neither.reset === H2_ERROR.PROTOCOL_ERROR, `no host at all: ${neither.status}/${neither.reset}`);
    assert.equal(neither.reached, 0);
    const twoHosts = await attack([[':method', 'GET'], [':scheme', 'https'], [':path', `/${m}d`], ['host', authority('public.localhost')], ['host', authority('app.localhost')]], `${m}d`);
    assert.ok(twoHosts.status === 400 || twoHosts.reset !== undefined, `two Host fields: ${twoHosts.status}/${twoHosts.reset}`);
    assert.equal(twoHosts.reached, 0);
    const httpScheme = await attack([[':method', 'GET'], [':scheme', 'http'], [':authority', authority('public.localhost')], [':path', `/${m}e`]], `${m}e`);
    assert.equal(httpScheme.status, 400);
    assert.equal(httpScheme.reached, 0);
  });

  const malformed: [string, (m: string) => [string, string][]][] = [
    ['duplicate :path', (m) => [...get(authority('public.localhost'), `/${m}`), [':path', `/${m}x`]]],
    ['duplicate :authority', (m) => [...get(authority('public.localhost'), `/${m}`), [':authority', authority('app.localhost')]]],
    ['unknown pseudo-header', (m) => [...get(authority('public.localhost'), `/${m}`), [':user', 'admin']]],
    ['pseudo-header after a regular one', (m) => [[':method', 'GET'], ['x-a', '1'], [':scheme', 'https'], [':authority', authority('public.localhost')], [':path', `/${m}`]]],
    ['upper-case header name', (m) => get(authority('public.localhost'), `/${m}`, [['X-Forwarded-User', 'admin']])],
    ['upper-case Host', (m) => get(authority('public.localhost'), `/${m}`, [['Host', authority('app.localhost')]])],
    ['connection header', (m) => get(authority('public.localhost'), `/${m}`, [['connection', 'x-forwarded-user']])],
    ['transfer-encoding', (m) => get(authority('public.localhost'), `/${m}`, [['transfer-encoding', 'chunked']])],
    ['keep-alive', (m) => get(authority('public.localhost'), `/${m}`, [['keep-alive', '5']])],
    ['upgrade', (m) => get(authority('public.localhost'), `/${m}`, [['upgrade', 'websocket']])],
    ['proxy-connection', (m) => get(authority('public.localhost'), `/${m}`, [['proxy-connection', 'keep-alive']])],
    ['te other than trailers', (m) => get(authority('public.localhost'), `/${m}`, [['te', 'gzip']])],
    [':path without the leading slash', (m) => get(authority('public.localhost'), `${m}`)],
    [':path absolute-form', (m) => get(authority('public.localhost'), `https://${authority('app.localhost')}/${m}`)],
    [':path empty', () => get(authority('public.localhost'), '')],
    ['extended CONNECT (:protocol, RFC 8441 not enabled)', (m) => [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'https'], [':authority', authority('public.localhost')], [':path', `/${m}`]]],
    ['no :method', (m) => [[':scheme', 'https'], [':authority', authority('public.localhost')], [':path', `/${m}`]]],
  ];
  for (const [name, fields] of malformed) {
    test(`malformed: ${name} → stream reset (PROTOCOL_ERROR), nothing upstream`, async () => {
      const m = marker('mal');
      const r = await attack(fields(m), m);
      assert.equal(r.reset, H2_ERROR.PROTOCOL_ERROR, `status ${r.status} reset ${r.reset}`);
      assert.equal(r.reached, 0);
    });
  }

  test(':path "*" (OPTIONS), dot segments and encoded slashes: the HTTP/1.1 normalization matrix answers the same', async () => {
    const cases: [string, string][] = [
      ['GET', '/a/../b'],
      ['GET', '/a/%2e%2e/b'],
      ['GET', '/a%2Fb'],
      ['GET', '/a%5Cb'],
      ['GET', '/a/./b'],
      ['GET', '/%00'],
      ['OPTIONS', '*'],
    ];
    for (const [method, path] of cases) {
      const one = await new Promise<number>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: s.port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${authority('public.localhost')}\r\nConnection: close\r\n\r\n`));
        let text = '';
        socket.on('data', (c) => (text += c));
        socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
      });
      const r = await sendH2(s.port, [headersFrame(1, [[':method', method], [':scheme', 'https'], [':authority', authority('public.localhost')], [':path', path]])], { streams: [1] });
      const two = r.statuses.get(1) ?? (r.resets.has(1) ? 'reset' : 'none');
      if (one === 200) assert.equal(two, 200, `${method} ${path}: h1 ${one}, h2 ${two}`);
      else assert.ok(two === one || two === 'reset', `${method} ${path}: h1 ${one}, h2 ${two}`);
    }
  });

  test('CR, LF or NUL in a header value (h2→h1 smuggling): never reaches the upstream as a header break', async () => {
    for (const value of ['a\r\nx-forwarded-user: admin', 'a\nx-forwarded-user: admin', 'a\0b', 'a\rb']) {
      const m = marker('crlf');
      const r = await attack(get(authority('public.localhost'), `/${m}`, [['x-inject', value]]), m);
      const seen = upstreamSaw(m);
      for (const u of seen) {
        assert.equal(u.headers['x-forwarded-user'], undefined);
        assert.ok(!u.rawHeaders.some((h) => /[\r\n\0]/.test(h)), 'no CR/LF/NUL in what the upstream read');
        assert.equal(u.headers['x-inject'], undefined, 'the field is dropped, not repaired');
      }
      assert.ok(r.status === 200 || r.status === 400 || r.reset !== undefined, `${JSON.stringify(value)}: ${r.status}/${r.reset}`);
    }
  });

  test('content-length disagreeing with the DATA sent: the stream is reset; the upstream never gets a whole request', async () => {
    for (const [declared, sent] of [['2', 'hello'], ['20', 'hello']] as const) {
      const m = marker('cl');
      const fields: [string, string][] = [[':method', 'POST'], [':scheme', 'https'], [':authority', authority('public.localhost')], [':path', `/echo?${m}`], ['content-length', declared], ['content-type', 'text/plain']];
      const r = await attack(fields, m, [dataFrame(1, sent)], false);
      assert.equal(r.reset, H2_ERROR.PROTOCOL_ERROR, `${declared} vs ${sent.length}: ${r.status}/${r.reset}`);
      assert.notEqual(r.status, 200);
    }
  });

  test('a body that never finishes (slow POST): 408 once limits.requestTimeout has passed, as on HTTP/1.1', { timeout: 30_000 }, async () => {
    const m = marker('slowbody');
    const t0 = performance.now();
    const fields: [string, string][] = [[':method', 'POST'], [':scheme', 'https'], [':authority', authority('public.localhost')], [':path', `/echo?${m}`], ['content-length', '100'], ['content-type', 'text/plain']];
    const r = await sendH2(s.port, [headersFrame(1, fields, { endStream: false }), dataFrame(1, 'only ten b', false)], { streams: [1], timeoutMs: 20_000 });
    const ms = performance.now() - t0;
    assert.equal(r.statuses.get(1), 408, `${r.statuses.get(1)}/${r.resets.get(1)}`);
    assert.ok(ms >= REQUEST_TIMEOUT_S * 1000 - 100 && ms < 15_000, `answered after ${Math.round(ms)} ms`);
  });

  test('CONNECT: 405 from node, nothing upstream (no tunnel through Drawbridge)', async () => {
    const r = await sendH2(s.port, [headersFrame(1, [[':method', 'CONNECT'], [':authority', new URL(s.app.url).host]])], { streams: [1] });
    assert.ok(r.statuses.get(1) === 405 || r.resets.has(1), `${r.statuses.get(1)}/${r.resets.get(1)}`);
    assert.equal(s.app.requests.filter((q) => q.method === 'CONNECT').length, 0);
  });

  test('header list over limits.maxHeaderSize: 431 (enforced whatever the client acknowledged); too many fields: reset', async () => {
    const m = marker('big');
    const many: [string, string][] = [];
    for (let i = 0; i < 80; i++) many.push([`x-h${i}`, 'v'.repeat(250)]);
    const r = await attack(get(authority('public.localhost'), `/${m}`, many), m);
    assert.equal(r.status, 431, `${r.status}/${r.reset}/${r.goaway}`);
    assert.equal(r.reached, 0);
    assert.ok(s.logs.some((l) => l.event === 'client-error' && l.status === 431 && l.cause === 'h2-header-list'));
    const fields: [string, string][] = [];
    for (let i = 0; i < 1000; i++) fields.push([`x-f${i}`, '1']);
    const block = headerBlock(get(authority('public.localhost'), `/${m}b`, fields));
    const r2 = await sendH2(s.port, [frame(FRAME.HEADERS, 0x1, 1, block.subarray(0, 9000)), frame(FRAME.CONTINUATION, 0x4, 1, block.subarray(9000))], { streams: [1] });
    assert.ok(r2.resets.has(1) || r2.goaway !== undefined || r2.statuses.get(1) === 431, `${r2.statuses.get(1)}/${r2.resets.get(1)}/${r2.goaway}`);
    assert.equal(upstreamSaw(`${m}b`).length, 0);
  });

  test('rapid reset (CVE-2023-44487): streams opened and cancelled at once cost no upstream request; the flood ends in GOAWAY', async () => {
    const m = marker('rapid');
    const frames: Buffer[] = [];
    const n = 2000;
    for (let i = 0; i < n; i++) {
      frames.push(headersFrame(1 + 2 * i, get(authority('public.localhost'), `/${m}/${i}`)));
      frames.push(rstFrame(1 + 2 * i));
    }
    const r = await sendH2(s.port, frames, { timeoutMs: 8000, streams: [2 * n - 1] });
    assert.notEqual(r.goaway, undefined, 'the connection is refused further streams');
    assert.notEqual(r.goaway, H2_ERROR.NO_ERROR);
    // Only a stream whose RST_STREAM came in a later read than its HEADERS can get through (one per TLS read at most).
    const admitted = s.logs.filter((l) => l.event === 'request' && String(l.path).startsWith(`/${m}/`)).length;
    assert.ok(admitted <= 50, `${admitted} requests admitted (logged) for ${n} cancelled streams`);
    assert.ok(upstreamSaw(m).length <= 50, `${upstreamSaw(m).length} upstream requests for ${n} cancelled streams`);
  });

  test('CONTINUATION flood: a header block that never ends is cut (GOAWAY), no request is made', async () => {
    const m = marker('cont');
    const frames: Buffer[] = [frame(FRAME.HEADERS, 0, 1, headerBlock(get(authority('public.localhost'), `/${m}`)))];
    for (let i = 0; i < 20000; i++) frames.push(frame(FRAME.CONTINUATION, 0, 1, headerBlock([[`x-c${i % 10}`, 'v']])));
    const r = await sendH2(s.port, frames, { timeoutMs: 8000, streams: [1] });
    assert.ok(r.goaway !== undefined || r.resets.has(1) || r.closed, 'cut');
    assert.equal(upstreamSaw(m).length, 0);
  });

  test('more concurrent streams than tls.http2.maxConcurrentStreams (100): the rest are refused (REFUSED_STREAM)', async () => {
    const m = marker('conc');
    const frames: Buffer[] = [];
    for (let i = 0; i < 150; i++) frames.push(headersFrame(1 + 2 * i, [[':method', 'GET'], [':scheme', 'https'], [':authority', authority('public.localhost')], [':path', `/slow?ms=300&${m}=${i}`]]));
    const r = await sendH2(s.port, frames, { timeoutMs: 8000, streams: Array.from({ length: 150 }, (_, i) => 1 + 2 * i) });
    const refused = [...r.resets.values()].filter((c) => c === H2_ERROR.REFUSED_STREAM).length;
    assert.equal(refused, 50, `resets ${JSON.stringify([...r.resets])}`);
    assert.equal([...r.statuses.values()].filter((st) => st === 200).length, 100);
  });
});

describe('shutdown', () => {
  test('a graceful close sends GOAWAY to h2 connections and lets their streams in flight finish', { timeout: 30_000 }, async () => {
    const st = await startStack({ routes: ROUTES.replace('{{HOP}}', String(hopPort)), tls: `{ certFile: ${leaf.certFile}, keyFile: ${leaf.keyFile} }` });
    try {
      const session = http2.connect(`https://127.0.0.1:${st.port}`, { rejectUnauthorized: false, servername: 'localhost' });
      session.on('error', () => {});
      const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
      const m = marker('drain');
      const inFlight = h2On(session, { ':authority': `public.localhost:${st.port}`, ':path': `/slow?ms=400&${m}`, accept: 'application/json' });
      await waitFor(() => st.app.requests.some((r) => r.url.includes(m)), 5000);
      const closing = st.db.close({ drainMs: 5000 });
      assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).waitedMs, 400);
      await closing;
    } finally {
      await st.close();
    }
  });
});

describe('tls.http2: false', () => {
  let only: Stack;
  before(async () => {
    only = await startStack({ tls: `{ certFile: ${leaf.certFile}, keyFile: ${leaf.keyFile}, http2: false }` });
  });
  after(() => only.close());

  test('only http/1.1 is offered: a client that speaks only h2 gets no connection, HTTP/1.1 works', async () => {
    const alpn = await alpnOf(only.port, ['h2']);
    assert.ok(alpn === false || alpn instanceof Error, `ALPN chose ${String(alpn)}`);
    assert.equal(await alpnOf(only.port, ['h2', 'http/1.1']), 'http/1.1');
    const res = await h1(only.port, `public.localhost:${only.port}`, `/${marker('only')}`);
    assert.equal(res.status, 200);
  });

  test('turning tls.http2 on is a restart: a reload keeps the listener as it is and says so', async () => {
    const text = readFileSync(only.configFile, 'utf8');
    writeFileSync(only.configFile, text.replace('http2: false', 'http2: true'));
    try {
      const result = await only.db.reload();
      assert.equal(result.ok, true);
      const line = only.logs.findLast((l) => l.event === 'reload');
      assert.ok(line?.needsRestart?.includes('tls.http2'), JSON.stringify(line));
      assert.equal(await alpnOf(only.port, ['h2', 'http/1.1']), 'http/1.1');
    } finally {
      writeFileSync(only.configFile, text);
    }
  });
});
