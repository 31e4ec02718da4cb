// proxy/test/front-doors.test.ts — one admission, four front doors (issue 14): every case of
// config/example.tests.yaml and every row of the normalization matrix goes through the proxy (a real socket), a
// WebSocket upgrade, forward-auth (`/.drawbridge/auth`, as nginx and Traefik ask) and explain/test (the Simulator),
// and every door must reach the same decision. The server runs config/example.yaml itself, with only what cannot run
// here changed: the listener (plain HTTP on loopback behind a trusted proxy saying https), the upstreams (one local
// echo server), the session store (memory) and the assertion key (generated).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { parse as parseYamlText } from 'yaml';
import { loadConfigText } from '../src/config/load.js';
import { formatIssue } from '../src/config/locate.js';
import { createListener, startDrawbridge, type Drawbridge } from '../src/server/server.js';
import { DEFAULT_CLIENT_IP, identityFromSpec, Simulator, type IdentitySpec, type Simulation } from '../src/cli/simulate.js';
import { sealSessionId } from '../src/session/cookie.js';
import { tokenFields } from '../src/session/sessions.js';
import { TARGETS } from '../src/url/normalize.case.js';
import { waitFor } from '../../test-support/stack.js';

const SECRET = 'front-doors-session-secret-0123456789abcdef';
// Cases without a time run now, as `drawbridge test` runs them.
const START = Date.now();

interface Case {
  name: string;
  request: { url: string; method?: string; ip?: string; time?: string };
  identity?: IdentitySpec;
}

let db: Drawbridge;
let upstream: http.Server;
let sim: Simulator;
let clock = START;
const logs: Record<string, unknown>[] = [];
const upgraded = new Set<net.Socket>();

before(async () => {
  // The request id Drawbridge sent comes back, so the proxied request's log line can be found.
  upstream = http.createServer((req, res) => res.writeHead(200, { 'x-request-id': String(req.headers['x-request-id']) }).end('ok'));
  upstream.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    upgraded.add(socket);
    socket.on('error', () => undefined);
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.end(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const upstreamOrigin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const env = { DRAWBRIDGE_CLIENT_SECRET: 'front-doors-client-secret', DRAWBRIDGE_SESSION_SECRET: SECRET };
  const raw = parseYamlText(readFileSync('config/example.yaml', 'utf8')) as Record<string, any>;
  raw.listen = '127.0.0.1:0';
  delete raw.tls;
  raw.trustedProxies = ['127.0.0.1/32'];
  raw.admin = { listen: '127.0.0.1:0' };
  raw.idp.issuer = 'https://127.0.0.1:9';
  raw.session.store = { type: 'memory', maxSessions: 10000 };
  delete raw.assertion.keyFile;
  delete raw.assertion.previousKeys;
  raw.log = { level: 'info', format: 'json' };
  for (const route of raw.routes as Record<string, any>[]) {
    delete route.upstreamTls;
    delete route.upstreamAuth;
    route.to = `${upstreamOrigin}${new URL(route.to as string).pathname.replace(/\/$/, '')}`;
  }
  const loaded = loadConfigText(JSON.stringify(raw), 'example.yaml', env);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('\n'));
  sim = new Simulator(loaded.config);
  const server = createListener(loaded.config);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  db = await startDrawbridge({ config: loaded.config, logStream, server, adminListen: '127.0.0.1:0', now: () => clock });
});

after(async () => {
  for (const s of upgraded) s.destroy();
  await db?.close();
  await new Promise<void>((r) => upstream.close(() => r()));
});

/** What the first response on a connection said: its status and headers (a 101 included). */
function send(head: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(db.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(head.slice(0, 120))}`));
    }, 10_000);
    socket.on('connect', () => socket.write(`${head}\r\n\r\n`, 'latin1'));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const lines = text.slice(0, end < 0 ? text.length : end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0), headers, body: end < 0 ? '' : text.slice(end + 4) });
    });
  });
}

/** The request log line of a request id (written when its response closes: waited for, never slept on). */
async function logOf(requestId: string | undefined): Promise<Record<string, unknown> | undefined> {
  if (!requestId) return undefined;
  let line: Record<string, unknown> | undefined;
  await waitFor(() => (line = logs.find((l) => l.event === 'request' && l.requestId === requestId)) !== undefined, 5000, 5);
  return line;
}

/** The test file's outcome names, from a log line's decision. */
function outcomeOfLog(decision: unknown): string {
  switch (decision) {
    case 'no-route':
      return 'not-found';
    case 'page':
      return 'reserved';
    case 'rewrite-refused':
      // Admitted, then refused by the route's rewrite while forwarding: admission said allow.
      return 'allow';
    default:
      return String(decision).startsWith('allow:') ? 'allow' : String(decision);
  }
}

function outcomeOfSimulation(s: Simulation): string {
  switch (s.kind) {
    case 'no-route':
      return 'not-found';
    case 'decided':
      return s.decision.outcome;
    default:
      return s.kind;
  }
}

/** The cookie header of a session with this identity on `origin` (created in the server's own store). */
async function cookieFor(identity: IdentitySpec | undefined, origin: string, now: number): Promise<string | undefined> {
  const id = identityFromSpec(identity, now);
  if (!id) return undefined;
  const record = await db.runtime.sessions.create(id, tokenFields({}), undefined, now);
  const secure = origin.startsWith('https:');
  return `${secure ? '__Host-' : ''}drawbridge=${sealSessionId(record.id, db.runtime.sessions.keys.cookieMac, origin)}`;
}

interface Request {
  scheme: string;
  host: string;
  /** The raw request-target, as the client wrote it. */
  target: string;
  method: string;
  ip: string;
  cookie: string | undefined;
}

function common(r: Request): string[] {
  return [`X-Forwarded-For: ${r.ip}`, 'Accept: application/json', 'Connection: close', ...(r.cookie ? [`Cookie: ${r.cookie}`] : [])];
}

async function viaProxy(r: Request): Promise<string> {
  const res = await send([`${r.method} ${r.target} HTTP/1.1`, `Host: ${r.host}`, `X-Forwarded-Proto: ${r.scheme}`, ...common(r)].join('\r\n'));
  if (res.status === 400) return 'bad-request';
  return outcomeOfLog((await logOf(res.headers['x-request-id']))?.decision);
}

async function viaWebSocket(r: Request): Promise<string> {
  const res = await send(
    [
      `${r.method} ${r.target} HTTP/1.1`,
      `Host: ${r.host}`,
      `X-Forwarded-Proto: ${r.scheme}`,
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ...common(r).map((h) => (h === 'Connection: close' ? 'Connection: Upgrade' : h)),
    ].join('\r\n'),
  );
  switch (res.status) {
    case 101:
      return 'allow';
    case 400:
      return 'bad-request';
    case 404: {
      // The upgrade door logs every refusal before admission as `refused`: the path says which.
      const line = await logOf(res.headers['x-request-id']);
      return String(line?.path ?? '').startsWith('/.drawbridge') ? 'reserved' : 'not-found';
    }
    case 405:
      return 'method-not-allowed';
    default:
      return outcomeOfLog((await logOf(res.headers['x-request-id']))?.decision);
  }
}

/** Forward-auth as nginx asks (`X-Original-URL`) or as Traefik and Caddy do (`X-Forwarded-Uri`/-Host/-Proto/-Method). */
async function viaForwardAuth(r: Request, form: 'nginx' | 'traefik'): Promise<string> {
  const original =
    form === 'nginx'
      ? [`X-Original-URL: ${r.scheme}://${r.host}${r.target}`, `X-Original-Method: ${r.method}`]
      : [`X-Forwarded-Uri: ${r.target}`, `X-Forwarded-Host: ${r.host}`, `X-Forwarded-Proto: ${r.scheme}`, `X-Forwarded-Method: ${r.method}`];
  const res = await send([`${form === 'nginx' ? r.method : 'GET'} /.drawbridge/auth HTTP/1.1`, 'Host: drawbridge.internal', ...original, ...common(r)].join('\r\n'));
  if (res.status === 400) return 'bad-request';
  const line = await logOf(res.headers['x-request-id']);
  assert.equal(line?.frontDoor, 'forward-auth');
  const outcome = outcomeOfLog(line?.decision);
  const status = { allow: 200, 'sign-in': 401, 'step-up': 401, deny: 403, reserved: 404, 'not-found': 404, 'method-not-allowed': 405 }[outcome];
  assert.equal(res.status, status, `forward-auth status of ${outcome}`);
  return outcome;
}

async function allDoors(c: Case): Promise<Record<string, string>> {
  const now = c.request.time !== undefined ? Date.parse(c.request.time) : START;
  clock = now;
  const method = (c.request.method ?? 'GET').toUpperCase();
  const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(c.request.url)!;
  const scheme = m[1]!.toLowerCase();
  const host = m[2]!;
  const cookie = await cookieFor(c.identity, `${scheme}://${host.toLowerCase()}`, now);
  const r: Request = { scheme, host, target: m[3] === '' ? '/' : m[3]!, method, ip: c.request.ip ?? DEFAULT_CLIENT_IP, cookie };
  const doors: Record<string, string> = {
    explain: outcomeOfSimulation(sim.run({ url: c.request.url, method, ...(c.request.ip ? { ip: c.request.ip } : {}), now, ...(c.identity ? { identity: c.identity } : {}) })),
    proxy: await viaProxy(r),
    'forward-auth (nginx)': await viaForwardAuth(r, 'nginx'),
    'forward-auth (traefik)': await viaForwardAuth(r, 'traefik'),
  };
  // A WebSocket opening handshake is a GET.
  if (method === 'GET') doors.websocket = await viaWebSocket(r);
  return doors;
}

function assertSame(name: string, doors: Record<string, string>, expected?: string): void {
  const want = expected ?? doors.explain!;
  for (const [door, got] of Object.entries(doors)) assert.equal(got, want, `${name}: ${door} decided ${got}, explain ${doors.explain} (${JSON.stringify(doors)})`);
}

test('every case of config/example.tests.yaml: the same decision at every front door', async () => {
  const file = parseYamlText(readFileSync('config/example.tests.yaml', 'utf8')) as { tests: (Case & { expect: string | { decision: string } })[] };
  assert.ok(file.tests.length >= 30);
  for (const c of file.tests) {
    const expected = typeof c.expect === 'string' ? c.expect : c.expect.decision;
    assertSame(c.name, await allDoors(c), expected);
  }
});

test('every row of the normalization matrix: the same decision at every front door', async () => {
  const identity: IdentitySpec = { user: 'erin', email: 'erin@example.com', groups: ['engineering', 'wiki-admins'], amr: ['pwd', 'otp'], authAge: '1m' };
  let checked = 0;
  for (const [target] of TARGETS) {
    // What cannot be written on a request line or in a header value at all is refused by HTTP parsing before any
    // door (400 everywhere); the rows that can be written are compared.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f ]/.test(target) || !target.startsWith('/')) continue;
    for (const base of ['/', '/admin/', '/static/']) {
      const url = `https://wiki.example.com${base === '/' ? '' : base.slice(0, -1)}${target}`;
      assertSame(url, await allDoors({ name: url, request: { url, ip: '10.1.2.3' }, identity }));
      checked++;
    }
  }
  assert.ok(checked > 200, `${checked} rows checked`);
});

test('the Envoy form (path_prefix /.drawbridge/auth): the original path appended; dot segments never climb into another answer', async () => {
  clock = START;
  const cookie = await cookieFor({ user: 'erin', groups: ['engineering'] }, 'https://wiki.example.com', START);
  const ask = async (target: string) => {
    const res = await send([`GET /.drawbridge/auth${target} HTTP/1.1`, 'Host: wiki.example.com', 'X-Forwarded-Proto: https', 'X-Forwarded-For: 10.1.2.3', 'Accept: application/json', 'Connection: close', `Cookie: ${cookie}`].join('\r\n'));
    return res.status;
  };
  assert.equal(await ask('/page'), 200);
  assert.equal(await ask('/page?x=1'), 200);
  assert.equal(await ask('/admin/settings'), 403, 'wiki-admin: not an admin');
  assert.equal(await ask('/.drawbridge/me'), 404, 'a reserved path is never answered as a route');
  // The original path is what follows the prefix, never resolved against it: /.drawbridge/auth/../../x asks about
  // /../../x (above the root: 400), it is not a request for /x.
  assert.equal(await ask('/../../x'), 400);
  assert.equal(await ask('/static/../admin/settings'), 403);
  assert.equal(await ask('/a%2Fb'), 400);
});
