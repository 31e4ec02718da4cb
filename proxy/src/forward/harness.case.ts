// forward/harness.case.ts — test fixtures shared by the forward/ tests: a Route literal builder, a sample identity,
// a recording upstream, and raw-socket HTTP exchanges (for Expect and repeated or odd header spellings).
import * as http from 'node:http';
import * as net from 'node:net';
import type { Identity } from '../policy/input.js';
import type { Route } from '../routes/compile.js';

/** A compiled route as compileConfig would build it for `to: upstream`; fields overridable. */
export function makeRoute(upstream: string, overrides: Partial<Route> = {}): Route {
  const to = new URL(upstream);
  const port = to.port ? Number(to.port) : to.protocol === 'https:' ? 443 : 80;
  const basePath = to.pathname.endsWith('/') ? to.pathname.slice(0, -1) : to.pathname;
  return {
    index: 0,
    name: 'app',
    from: 'http://app.example.com',
    scheme: 'http',
    hostname: 'app.example.com',
    wildcard: false,
    prefix: '/',
    origin: 'http://app.example.com',
    public: false,
    bearer: false,
    upstream: { protocol: to.protocol, hostname: to.hostname, port, origin: to.origin, basePath, hostHeader: to.host },
    rewrite: undefined,
    basicAuth: undefined,
    identityHeaders: { user: 'X-Forwarded-User', email: 'X-Forwarded-Email', groups: 'X-Forwarded-Groups', name: 'X-Forwarded-Name' },
    passAccessToken: false,
    setRequestHeaders: [],
    removeRequestHeaders: [],
    keepRequestHeaders: undefined,
    preserveHost: false,
    wildcardHandoff: false,
    websockets: true,
    timeoutMs: 5000,
    sessionIdleMs: 30 * 60_000,
    sessionMaxMs: 12 * 3600_000,
    config: {} as Route['config'],
    ...overrides,
  };
}

/** Alice, as a session would hold her. */
export function alice(overrides: Partial<Identity> = {}): Identity {
  return {
    sub: 'sub-alice',
    user: 'alice',
    email: 'alice@example.com',
    emailVerified: true,
    groups: ['engineering', 'staff'],
    name: 'Alice Liddell',
    amr: ['pwd', 'otp'],
    acr: 'urn:loa:2',
    authTime: 1_700_000_000,
    claims: {},
    ...overrides,
  };
}

/** What the recording upstream saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** An upstream that records each request and answers 200 with `ok`; `handler` may answer instead. */
export interface RecordingUpstream {
  server: http.Server;
  port: number;
  url: string;
  seen: Seen[];
  /** TCP connections accepted so far. */
  connections: number;
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<RecordingUpstream> {
  const up: RecordingUpstream = {
    server: http.createServer(),
    port: 0,
    url: '',
    seen: [],
    connections: 0,
    close: async () => {
      up.server.closeAllConnections();
      await new Promise<void>((resolve) => up.server.close(() => resolve()));
    },
  };
  up.server.on('connection', () => up.connections++);
  up.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
      up.seen.push(seen);
      if (up.handler) return up.handler(req, res, seen);
      res.setHeader('content-type', 'text/plain');
      res.end('ok');
    });
  });
  await listen(up.server);
  up.port = (up.server.address() as net.AddressInfo).port;
  up.url = `http://127.0.0.1:${up.port}`;
  return up;
}

/** Listens on 127.0.0.1 and an ephemeral port. */
export async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as net.AddressInfo).port;
}

/** A raw HTTP response as read from the socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Every byte received, interim 1xx responses included. */
  raw: string;
}

function parseResponse(raw: string): RawResponse {
  let text = raw;
  // Skip interim responses (100 Continue).
  while (/^HTTP\/1\.1 1\d\d /.test(text)) text = text.slice(text.indexOf('\r\n\r\n') + 4);
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4), raw };
}

/**
 * Sends `head` (request line and headers, CRLF-separated, without the final blank line) and `body` over a fresh
 * socket, and reads until the server closes. With `expectContinue` the body waits for `100 Continue`.
 */
export function rawExchange(port: number, head: string, body = '', opts: { expectContinue?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let raw = '';
    let sentBody = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw exchange timed out; received: ${JSON.stringify(raw)}`));
    }, opts.timeoutMs ?? 5000);
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      socket.write(`${head}\r\n\r\n`, 'latin1');
      if (!opts.expectContinue && body) {
        socket.write(body, 'latin1');
        sentBody = true;
      }
    });
    socket.on('data', (chunk: string) => {
      raw += chunk;
      if (opts.expectContinue && !sentBody && raw.startsWith('HTTP/1.1 100')) {
        sentBody = true;
        socket.write(body, 'latin1');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(raw));
    });
  });
}

/** A plain request through node's client; resolves with status, headers and body. */
export function request(port: number, path: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string; agent?: http.Agent | false } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
