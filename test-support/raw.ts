// test-support/raw.ts — exact bytes over a raw TCP socket, for the attack suites: what node's http client
// would refuse or repair (bad request lines, duplicate or folded headers, smuggled bodies, slow senders) is sent
// as written, and every response the server wrote on the connection is read back and parsed.
import net from 'node:net';

/** One HTTP response read off the wire. */
export interface WireResponse {
  status: number;
  reason: string;
  /** Lower-case names; repeated headers joined with ', ' (set-cookie with '\n'). */
  headers: Record<string, string>;
  /** Names and values as sent, in order. */
  rawHeaders: [string, string][];
  /** The body, de-chunked (latin1, byte for byte). */
  body: string;
  /** The 1xx statuses (100 Continue) seen before this response. */
  interim: number[];
}

/** Everything that happened on one connection. */
export interface Exchange {
  /** Every byte the server wrote (latin1). */
  raw: string;
  /** The complete responses, in order. */
  responses: WireResponse[];
  /** Bytes after the last complete response (a partial or garbage answer); '' when none. */
  rest: string;
  /** The first response (throws when there is none). */
  readonly first: WireResponse;
  /** The server closed (or reset) the connection before the timeout. */
  closed: boolean;
  /** The timeout ended the exchange (the connection was still open). */
  timedOut: boolean;
  /** Milliseconds from connect to the end of the exchange. */
  elapsedMs: number;
  /** Milliseconds from connect to the first byte the server sent, when it sent any. */
  firstByteAtMs?: number;
  /** Milliseconds from connect to the server's close, when it closed. */
  closedAtMs?: number;
  /** A socket error (ECONNRESET, EPIPE) seen on the way. */
  error?: string;
}

/** Options of {@link sendRaw}. */
export interface SendOptions {
  /** The exchange ends here at the latest (default 10 s); the socket is then destroyed. */
  timeoutMs?: number;
  /** Wait this long between the pieces of an array `data` (slow senders). Default 0. */
  gapMs?: number;
  /** Half-close (FIN) after the last piece. Default false. */
  end?: boolean;
  /**
   * Stop once this many final responses are complete and `idleMs` passed with no more bytes, without waiting
   * for the server to close (keep-alive, pipelining). Default: wait for the close.
   */
  responses?: number;
  /** Quiet time after the expected responses before stopping. Default 250 ms. */
  idleMs?: number;
  /** Keep writing the pieces even after a response arrived (a slow sender does not listen). Default true. */
  keepSending?: boolean;
}

/** Builds a request head: the lines joined with CRLF and the blank line that ends the head. */
export function head(...lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Opens a connection to 127.0.0.1:port, writes `data` (an array: piece by piece, `gapMs` apart), and reads
 * until the server closes, the expected responses are in, or the timeout passes. Never rejects: what the
 * server did (answer, close, nothing) is in the result.
 */
export function sendRaw(port: number, data: string | Buffer | readonly (string | Buffer)[], options: SendOptions = {}): Promise<Exchange> {
  const pieces = typeof data === 'string' || Buffer.isBuffer(data) ? [data] : [...data];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const gapMs = options.gapMs ?? 0;
  const idleMs = options.idleMs ?? 250;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let finished = false;
    let closedAtMs: number | undefined;
    let firstByteAtMs: number | undefined;
    let error: string | undefined;
    let idle: NodeJS.Timeout | undefined;
    let writer: NodeJS.Timeout | undefined;

    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(idle);
      clearTimeout(writer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const { responses, rest } = parseResponses(raw, closedAtMs !== undefined);
      resolve({
        raw,
        responses,
        rest,
        get first(): WireResponse {
          const r = responses[0];
          if (!r) throw new Error(`no complete response; the server sent ${JSON.stringify(raw.slice(0, 300))}`);
          return r;
        },
        closed: closedAtMs !== undefined,
        timedOut,
        elapsedMs: performance.now() - t0,
        ...(closedAtMs !== undefined ? { closedAtMs } : {}),
        ...(firstByteAtMs !== undefined ? { firstByteAtMs } : {}),
        ...(error !== undefined ? { error } : {}),
      });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);

    let next = 0;
    const writeNext = () => {
      if (finished || socket.destroyed || !socket.writable) return;
      if (next >= pieces.length) {
        if (options.end) socket.end();
        return;
      }
      socket.write(pieces[next++]!);
      if (next < pieces.length && gapMs > 0) writer = setTimeout(writeNext, gapMs);
      else writeNext();
    };
    socket.on('connect', writeNext);
    socket.on('data', (chunk: Buffer) => {
      firstByteAtMs ??= performance.now() - t0;
      chunks.push(chunk);
      if (options.keepSending === false) clearTimeout(writer);
      if (options.responses === undefined) return;
      clearTimeout(idle);
      const parsed = parseResponses(Buffer.concat(chunks).toString('latin1'), false);
      if (parsed.responses.length >= options.responses) idle = setTimeout(() => finish(false), idleMs);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => {
      closedAtMs = performance.now() - t0;
      finish(false);
    });
  });
}

/**
 * Parses what a server wrote on a connection: 1xx answers are attached to the final response after them.
 * `eof`: the connection is closed, so a response without a length ends there. Incomplete trailing bytes are
 * returned in `rest`.
 */
export function parseResponses(raw: string, eof: boolean): { responses: WireResponse[]; rest: string } {
  const responses: WireResponse[] = [];
  let interim: number[] = [];
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = raw.slice(at, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!m) break;
    const status = Number(m[1]);
    const rawHeaders: [string, string][] = [];
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      rawHeaders.push([name, value]);
      const key = name.toLowerCase();
      headers[key] = headers[key] === undefined ? value : `${headers[key]}${key === 'set-cookie' ? '\n' : ', '}${value}`;
    }
    let bodyStart = end + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      interim.push(status);
      at = bodyStart;
      continue;
    }
    let body: string;
    let next: number;
    if (status === 101 || status === 204 || status === 304) {
      body = '';
      next = bodyStart;
    } else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
      const dechunked = dechunk(raw, bodyStart);
      if (!dechunked) break;
      body = dechunked.body;
      next = dechunked.next;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (raw.length < bodyStart + length) break;
      body = raw.slice(bodyStart, bodyStart + length);
      next = bodyStart + length;
    } else {
      if (!eof) break;
      body = raw.slice(bodyStart);
      next = raw.length;
    }
    responses.push({ status, reason: m[2] ?? '', headers, rawHeaders, body, interim });
    interim = [];
    at = next;
    bodyStart = next;
  }
  return { responses, rest: raw.slice(at) };
}

function dechunk(raw: string, start: number): { body: string; next: number } | undefined {
  let body = '';
  let at = start;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(raw.slice(at, lineEnd), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) {
      // Trailer lines, then the blank line.
      let t = lineEnd + 2;
      while (!raw.startsWith('\r\n', t)) {
        const trailerEnd = raw.indexOf('\r\n', t);
        if (trailerEnd < 0) return undefined;
        t = trailerEnd + 2;
      }
      return { body, next: t + 2 };
    }
    if (raw.length < lineEnd + 2 + size + 2) return undefined;
    body += raw.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

/** The raw header list of a recorded upstream request as [lower-case name with `_` read as `-`, value] pairs. */
export function headerPairs(rawHeaders: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) out.push([rawHeaders[i]!.toLowerCase().replaceAll('_', '-'), rawHeaders[i + 1]!]);
  return out;
}

/** The values of one header (compared as CGI-style apps read names: case-insensitive, `_` as `-`). */
export function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const n = name.toLowerCase().replaceAll('_', '-');
  return headerPairs(rawHeaders)
    .filter(([k]) => k === n)
    .map(([, v]) => v);
}

/** A marker unique within the test run, to find one test's requests among everything the upstream recorded. */
export function marker(prefix = 'm'): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** The `name=value` pairs of a raw response's Set-Cookie headers (deletions, Max-Age=0, left out). */
export function setCookiePairs(res: WireResponse): string[] {
  return res.rawHeaders
    .filter(([n]) => n.toLowerCase() === 'set-cookie')
    .map(([, v]) => v)
    .filter((v) => !/;\s*max-age=0/i.test(v))
    .map((v) => v.split(';')[0]!);
}

/**
 * Walks Drawbridge's own redirects on raw sockets, from `url` (on the proxy `port`, any host), while they stay on
 * `/.drawbridge/sign_in`: the route host's start (binding cookie, `hb` ticket) and publicUrl's. `cookies` holds
 * `name=value` pairs per host (the caller's jar; the binding cookies are added to it). Returns the first answer
 * that is not such a redirect (the IdP redirect, the hand-off, a refusal).
 */
export async function followSignIn(port: number, url: string, cookies: Map<string, string[]>, headers: readonly string[] = ['Accept: text/html']): Promise<WireResponse> {
  let next = new URL(url);
  for (let i = 0; i < 5; i++) {
    const jar = cookies.get(next.host) ?? [];
    const ex = await sendRaw(port, head(`GET ${next.pathname}${next.search} HTTP/1.1`, `Host: ${next.host}`, ...headers, ...(jar.length ? [`Cookie: ${jar.join('; ')}`] : []), 'Connection: close'));
    const res = ex.first;
    const set = setCookiePairs(res);
    if (set.length) cookies.set(next.host, [...jar, ...set]);
    const location = res.status === 302 ? res.headers.location : undefined;
    if (!location) return res;
    const to = new URL(location);
    if (to.pathname !== '/.drawbridge/sign_in' || String(to.port) !== String(port)) return res;
    next = to;
  }
  throw new Error(`followSignIn: too many sign_in redirects from ${url}`);
}
