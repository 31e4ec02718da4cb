// proxy/test/websocket.test.ts — WebSocket upgrades are authenticated and authorized like any request, BEFORE the
// upgrade is forwarded (SPEC §3 step 6): no session → 401, wrong person → 403, and the upstream never sees the
// upgrade; with a session the echo works and the upstream gets Drawbridge's identity, never the client's. The
// upstream's answer to the handshake, 101 or refused, meets the same header rule as a plain response: no Set-Cookie
// for Drawbridge's own cookies, no hop-by-hop headers of the upstream's connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { rawHttp, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';

let s: Stack;
let alice: string;
let aliceOnTiny: string;
let bob: string;
let tiny: http.Server;
/** The tiny upstream's upgraded sockets (the server no longer tracks them): destroyed at the end. */
const tinySockets = new Set<net.Socket>();

/** Drawbridge's own cookie names (plain and `__Host-`, session and sign-in attempt) planted by an upstream, and an app cookie. */
const PLANTED = ['Set-Cookie: drawbridge=evil; Path=/', 'Set-Cookie: __Host-drawbridge=evil; Path=/; Secure', 'Set-Cookie: drawbridge-login-abc=evil; Path=/', 'Set-Cookie: app=ok; Path=/'];

/** A tiny upstream answering upgrades itself: /refuse with a 403, anything else with a 101; both plant cookies. */
async function startTiny(): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    tinySockets.add(socket);
    socket.on('close', () => tinySockets.delete(socket));
    socket.on('error', () => undefined);
    if (req.url?.startsWith('/refuse')) {
      socket.end(['HTTP/1.1 403 Forbidden', ...PLANTED, 'Connection: keep-alive, X-Upstream-Hop', 'X-Upstream-Hop: internal', 'Keep-Alive: timeout=5', 'Content-Type: text/plain', 'Content-Length: 5', '', 'nope\n'].join('\r\n'));
      return;
    }
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade, Keep-Alive, X-Upstream-Hop', 'X-Upstream-Hop: internal', 'Keep-Alive: timeout=5', `Sec-WebSocket-Accept: ${accept}`, ...PLANTED, '', ''].join('\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

before(async () => {
  tiny = await startTiny();
  const tinyUrl = `http://127.0.0.1:${(tiny.address() as AddressInfo).port}`;
  s = await startStack({
    routes: `routes:
  - name: tiny
    from: http://tiny.localhost:{{PORT}}
    to: ${tinyUrl}
    policy:
      allow:
        - authenticated: true
${APP_ROUTE}${PUBLIC_ROUTE}  - name: nows
    from: http://nows.localhost:{{PORT}}
    to: {{APP}}
    websockets: false
    policy:
      allow:
        - authenticated: true
`,
  });
  for (const login of ['alice', 'bob']) {
    const b = s.browser();
    // bob is refused on app.localhost, but the sign-in still gives him a session on publicUrl and the route host.
    await s.signIn(b, s.url('app.localhost', '/'), login);
    const cookie = sessionCookie(b, s.url('app.localhost'));
    assert.ok(cookie, `${login} has a session cookie`);
    if (login === 'alice') {
      alice = cookie;
      // The hand-off gives alice her cookie on the tiny upstream's host too.
      assert.equal((await b.get(s.url('tiny.localhost', '/'))).body, 'plain');
      aliceOnTiny = sessionCookie(b, s.url('tiny.localhost'))!;
      assert.ok(aliceOnTiny);
    } else bob = cookie;
  }
}, { timeout: 60_000 });

after(async () => {
  // First: Drawbridge's listener waits for its upgraded connections, which end when the upstream's do.
  for (const socket of tinySockets) socket.destroy();
  tiny?.closeAllConnections();
  await new Promise((r) => tiny?.close(r));
  await s?.close();
});

type Outcome = { open: true; ws: WebSocket } | { open: false; status: number; body: string };

/** Opens a WebSocket to `host` on the proxy port with the given extra headers. */
function connect(host: string, path: string, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, { headers: { host: `${host}:${s.port}`, ...headers }, handshakeTimeout: 5000 });
    ws.once('open', () => resolve({ open: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ open: false, status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    ws.once('error', (e) => reject(e));
  });
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(text);
  });
}

const upgrades = (marker: string) => s.app.requests.filter((r) => r.upgrade && r.url.includes(marker));

test('without a session: 401 before the upgrade, the upstream never sees it', { timeout: 20_000 }, async () => {
  const marker = `anon${Date.now()}`;
  const anon = await connect('app.localhost', `/ws?${marker}`);
  assert.equal(anon.open, false);
  assert.equal(anon.open === false && anon.status, 401);
  const tampered = await connect('app.localhost', `/ws?${marker}`, { cookie: `drawbridge=${alice.slice(0, -2)}AA` });
  assert.equal(tampered.open === false && tampered.status, 401);
  const spoofed = await connect('app.localhost', `/ws?${marker}`, { 'x-forwarded-user': 'alice', 'x-forwarded-groups': 'engineering' });
  assert.equal(spoofed.open === false && spoofed.status, 401);
  assert.equal(upgrades(marker).length, 0);
  assert.equal(s.app.requests.filter((r) => r.url.includes(marker)).length, 0);
});

test('with alice’s session: the upgrade is forwarded with her identity and the echo works', { timeout: 20_000 }, async () => {
  const marker = `alice${Date.now()}`;
  const res = await connect('app.localhost', `/ws?${marker}`, { cookie: `theme=dark; drawbridge=${alice}`, 'x-forwarded-user': 'SPOOF', 'X-Drawbridge-Assertion': 'SPOOF' });
  assert.ok(res.open, res.open ? '' : `status ${res.status}`);
  try {
    assert.equal(await echo(res.ws, 'hello through Drawbridge'), 'hello through Drawbridge');
    assert.equal(await echo(res.ws, 'twice'), 'twice');
  } finally {
    res.ws.close();
  }
  const [up] = upgrades(marker);
  assert.ok(up, 'the upstream received the upgrade');
  assert.equal(up.headers['x-forwarded-user'], 'alice');
  assert.equal(up.headers['x-forwarded-groups'], 'engineering');
  assert.match(String(up.headers['x-drawbridge-assertion']), /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.equal(up.headers.cookie, 'theme=dark', 'the session cookie is stripped from the upgrade');
  assert.ok(!JSON.stringify(up.rawHeaders).includes('SPOOF'));
  assert.equal(up.headers['x-forwarded-for'], '127.0.0.1');
});

test('a session cookie is bound to its host for upgrades too: app\u2019s value on tiny, or tiny\u2019s on app, opens nothing', { timeout: 20_000 }, async () => {
  const marker = `crosshost${Date.now()}`;
  const onTiny = await connect('tiny.localhost', `/ws?${marker}`, { cookie: `drawbridge=${alice}` });
  assert.equal(onTiny.open === false && onTiny.status, 401, 'app.localhost\u2019s cookie replayed on tiny.localhost');
  const onApp = await connect('app.localhost', `/ws?${marker}`, { cookie: `drawbridge=${aliceOnTiny}` });
  assert.equal(onApp.open === false && onApp.status, 401, 'tiny.localhost\u2019s cookie replayed on app.localhost');
  assert.equal(upgrades(marker).length, 0);
  // Control: each value on its own host is alice.
  const own = await connect('tiny.localhost', `/ws?${marker}own`, { cookie: `drawbridge=${aliceOnTiny}` });
  assert.ok(own.open, own.open ? '' : `status ${own.status}`);
  own.ws.close();
});

test('bob is refused with 403 before the upgrade', { timeout: 20_000 }, async () => {
  const marker = `bob${Date.now()}`;
  const res = await connect('app.localhost', `/ws?${marker}`, { cookie: `drawbridge=${bob}` });
  assert.equal(res.open, false);
  assert.equal(res.open === false && res.status, 403);
  assert.equal(upgrades(marker).length, 0);
});

test('a public route forwards upgrades without identity; a route with websockets: false refuses them', { timeout: 20_000 }, async () => {
  const marker = `pub${Date.now()}`;
  const pub = await connect('public.localhost', `/ws?${marker}`, { 'x-forwarded-user': 'SPOOF' });
  assert.ok(pub.open);
  try {
    assert.equal(await echo(pub.ws, 'ping'), 'ping');
  } finally {
    pub.ws.close();
  }
  const [up] = upgrades(marker);
  assert.equal(up?.headers['x-forwarded-user'], undefined);
  assert.equal(up?.headers['x-drawbridge-assertion'], undefined);

  const off = `off${Date.now()}`;
  const refused = await connect('nows.localhost', `/ws?${off}`, { cookie: `drawbridge=${alice}` });
  assert.equal(refused.open, false);
  assert.equal(refused.open === false && refused.status, 403);
  assert.equal(upgrades(off).length, 0);
});

/** The upgrade request for `path` on tiny.localhost with alice's cookie, as raw request lines. */
function tinyUpgrade(path: string): string {
  return [`GET ${path} HTTP/1.1`, `Host: tiny.localhost:${s.port}`, `Cookie: drawbridge=${aliceOnTiny}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='].join('\r\n');
}

/** The head of the first answer on a new connection (status line and header lines), read up to the blank line. */
function answerHead(head: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(s.port, '127.0.0.1');
    let raw = '';
    socket.on('connect', () => socket.write(`${head}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.destroy();
      resolve(raw.slice(0, end).split('\r\n'));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed before an answer: ${JSON.stringify(raw)}`)));
  });
}

test("an upstream's 101 cannot set Drawbridge's cookies, and its hop-by-hop headers stay upstream", { timeout: 20_000 }, async () => {
  const [status, ...lines] = await answerHead(tinyUpgrade('/ws'));
  assert.match(status!, /^HTTP\/1\.1 101 /);
  const cookies = lines.filter((l) => /^set-cookie:/i.test(l));
  assert.deepEqual(cookies.map((l) => l.toLowerCase()), ['set-cookie: app=ok; path=/'], 'only the application\u2019s own cookie passes');
  const named = (name: string) => lines.filter((l) => l.toLowerCase().startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim());
  assert.deepEqual(named('connection'), ['Upgrade'], 'Connection is the handshake\u2019s, not the upstream connection\u2019s');
  assert.deepEqual(named('upgrade'), ['websocket']);
  assert.deepEqual(named('keep-alive'), []);
  assert.deepEqual(named('x-upstream-hop'), [], 'a header the upstream\u2019s Connection names is hop-by-hop');
  assert.equal(named('sec-websocket-accept').length, 1);
});

test("an upstream's refused handshake (403) cannot set Drawbridge's cookies either; the client's connection is closed", { timeout: 20_000 }, async () => {
  const res = await rawHttp(s.port, tinyUpgrade('/refuse'));
  assert.equal(res.status, 403);
  assert.equal(res.body, 'nope\n');
  assert.deepEqual(res.headers['set-cookie']?.toLowerCase().split('\n'), ['app=ok; path=/']);
  assert.equal(res.headers.connection, 'close');
  assert.equal(res.headers['keep-alive'], undefined);
  assert.equal(res.headers['x-upstream-hop'], undefined);
});
