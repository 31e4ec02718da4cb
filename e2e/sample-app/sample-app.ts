// e2e/sample-app/sample-app.ts — the sample legacy app Drawbridge fronts in tests and the demo: it shows
// and records exactly what it received, verifies the assertion, and offers slow, streaming and WebSocket endpoints.
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type RequestHandler } from 'express';
import { WebSocketServer } from 'ws';
import { requestPage, wsPage, WS_PAGE_SCRIPT, type PageData } from './page.js';
import { verifyAssertion, type AssertionResult } from './verify-assertion.js';

/** Where the assertion's keys come from and what it must say. */
export interface AssertionCheckOptions {
  /** Drawbridge's /.drawbridge/jwks.json URL. */
  jwksUrl?: string;
  /** Drawbridge's publicUrl. */
  issuer?: string;
  /** The route origin(s) Drawbridge signs for. */
  audience?: string | string[];
}

/** Options of {@link startSampleApp}. */
export interface SampleAppOptions extends AssertionCheckOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
}

/** One request as the app received it (upgrades included). */
export interface RecordedRequest {
  method: string;
  url: string;
  /** Lower-case names, as Node parsed them. */
  headers: IncomingHttpHeaders;
  /** Names and values as sent, in order. */
  rawHeaders: string[];
  /** Epoch ms. */
  time: number;
  /** true for a WebSocket (or other) upgrade request. */
  upgrade?: boolean;
}

/** A running sample app. */
export interface SampleApp {
  /** `http://HOST:PORT` (no trailing slash). */
  url: string;
  port: number;
  /** Every request received, oldest first; tests may clear it with `requests.length = 0`. */
  requests: RecordedRequest[];
  /** Sets (or changes) how the assertion is verified, e.g. once Drawbridge's port is known. */
  setAssertionCheck(options: AssertionCheckOptions): void;
  /** Closes the server, WebSockets and every socket; safe to call twice. */
  close(): Promise<void>;
}

const MAX_DELAY_MS = 120_000;
const MAX_ECHO_BODY = 10 * 1024 * 1024;

/** Starts the sample app on `host:port`. It prints nothing. */
export async function startSampleApp(options: SampleAppOptions = {}): Promise<SampleApp> {
  const host = options.host ?? '127.0.0.1';
  const requests: RecordedRequest[] = [];
  let checkAssertion = assertionCheck(options);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.all('/echo', async (req, res) => {
    res.json({ method: req.method, url: req.originalUrl, headers: req.headers, body: await readText(req) });
  });

  app.get('/slow', (req, res) => {
    const ms = numberParam(req.query.ms, 1000, MAX_DELAY_MS);
    const timer = setTimeout(() => res.json({ waitedMs: ms }), ms);
    res.on('close', () => clearTimeout(timer));
  });

  app.get('/stream', (req, res) => {
    const ms = numberParam(req.query.ms, 100, MAX_DELAY_MS);
    const chunks = Math.max(1, numberParam(req.query.chunks, 5, 1000));
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.flushHeaders();
    let sent = 0;
    const writeChunk = () => {
      res.write(`chunk ${++sent} of ${chunks}\n`);
      if (sent < chunks) return;
      clearInterval(timer);
      res.end();
    };
    const timer = setInterval(writeChunk, ms);
    writeChunk();
    res.on('close', () => clearInterval(timer));
  });

  app.all('/status/:code', (req, res) => {
    const code = Number(req.params.code);
    if (!Number.isInteger(code) || code < 200 || code > 599) {
      res.status(400).json({ error: 'status must be an integer from 200 to 599' });
      return;
    }
    if (code === 204 || code === 304) res.status(code).end();
    else res.status(code).json({ status: code });
  });

  app.get('/ws-page', (_req, res) => {
    res.type('html').send(wsPage());
  });

  app.get('/ws-page.js', (_req, res) => {
    res.type('application/javascript').send(WS_PAGE_SCRIPT);
  });

  app.use((req, res, next) => checkAssertion(req, res, next));
  app.use((req, res) => {
    const data: PageData = {
      method: req.method,
      path: req.path,
      url: req.originalUrl,
      headers: req.headers,
      assertion: res.locals.assertion as AssertionResult,
    };
    if (req.accepts(['html', 'json']) === 'json') res.json(data);
    else res.type('html').send(requestPage(data, req.rawHeaders));
  });
  // Express's default handler would print the error; this app prints nothing.
  app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (res.headersSent) res.destroy();
    else res.status(500).json({ error: error.message });
  });

  const record = (req: IncomingMessage, upgrade: boolean) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: { ...req.headers },
      rawHeaders: [...req.rawHeaders],
      time: Date.now(),
      ...(upgrade ? { upgrade } : {}),
    });
  };

  const server = http.createServer((req, res) => {
    record(req, false);
    app(req, res);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    record(req, true);
    if (new URL(req.url ?? '/', 'http://sample.invalid').pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    setAssertionCheck(check) {
      checkAssertion = assertionCheck(check);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

function assertionCheck({ jwksUrl, issuer, audience }: AssertionCheckOptions): RequestHandler {
  if (jwksUrl && issuer && audience) return verifyAssertion({ jwksUrl, issuer, audience, optional: true });
  return (_req, res, next) => {
    res.locals.assertion = { verified: false, error: 'the sample app was given no jwksUrl, issuer and audience to verify with' } satisfies AssertionResult;
    next();
  };
}

function numberParam(value: unknown, fallback: number, max: number): number {
  const parsed = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : fallback;
  return Math.min(parsed, max);
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ECHO_BODY) throw new Error('body too large for /echo');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
