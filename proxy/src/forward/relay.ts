// forward/relay.ts — plain requests: sent upstream through the pool's undici dispatcher (an HTTP/1.1 keep-alive
// pool), the answer relayed to the client as it streams, and the header rule every upstream answer goes through.
import type * as http from 'node:http';
import type { Dispatcher } from 'undici';
import { clearFlightTimer, fail, FLIGHT, report, type Flight, type InFlight } from './flight.js';

/** Where a pool's relay sends requests. */
export interface RelayTarget {
  readonly dispatcher: Dispatcher;
  /** The Host header for a request that has none (an HTTP/1.0 request to a preserveHost route). */
  readonly hostHeader: string;
  /**
   * A constant per pool, given with every request (undici reads it though its types do not list it): undici
   * otherwise derives a TLS server name from each request's Host (the client's, with preserveHost) and reconnects
   * when it changes. The name actually sent and verified is the pool's connector's (pools.ts), never a request's.
   */
  readonly servername: string;
}

/**
 * Sends the request to the upstream with the headers as they are (already stripped and set by the pipeline), the
 * body streamed from the client (none for a request without one) and relays the answer: status, headers through
 * `relayedHeader`, body streamed with backpressure both ways. undici owns the upstream connection's framing:
 * Transfer-Encoding and Expect are its to write (it refuses them from the caller; node's server already answered
 * the client's 100-continue), Content-Length is checked against the body it streams.
 *
 * Why undici's dispatcher rather than `http.request`: measured (docs/performance.md), node's ClientRequest, its
 * agent and its IncomingMessage (an EventEmitter and a stream per request, a listener per event, a headers object
 * built) were most of a proxied request's CPU; a dispatch is one request object and this handler, headers stay a
 * flat list both ways. The handler uses undici's raw callbacks (onHeaders/onData/onComplete): its newer
 * onResponseStart API parses the headers into an object on every answer, which this relay would only undo.
 */
export function relay(req: http.IncomingMessage, res: http.ServerResponse, target: RelayTarget): void {
  const flight = (req as InFlight)[FLIGHT]!;
  const headers = req.headers;
  const length = headers['content-length'];
  const chunked = headers['transfer-encoding'] !== undefined;
  const bodyless = !chunked && (length === undefined || length === '0');
  const list: string[] = [];
  let hasHost = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    switch (name) {
      // Hop-by-hop, or the framing undici writes itself (it throws on these).
      case 'trailer':
      case 'transfer-encoding':
      case 'expect':
      case 'connection':
      case 'keep-alive':
      case 'upgrade':
        continue;
      case 'host':
        hasHost = true;
    }
    if (typeof value === 'string') list.push(name, value);
    else for (const v of value) list.push(name, v);
  }
  if (!hasHost) list.push('host', target.hostHeader);
  // A POST/PUT/PATCH without a body says so (`Content-Length: 0`) to an upstream that would otherwise expect one.
  // For other methods undici leaves it out (RFC 9110 §8.6); without it or Transfer-Encoding a request has no body.
  // Never given to a chunked request (http-proxy's deleteLength gave a chunked DELETE `Content-Length: 0` and still
  // streamed the body, which a keep-alive upstream reads as a second request).
  if (length === undefined && !chunked && req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'TRACE') list.push('content-length', '0');
  const exchange = new Exchange(flight, res);
  flight.abortUpstream = exchange;
  // A dispatch that throws (an invalid header value) reports it to the handler's onError: a 502.
  const options: Dispatcher.DispatchOptions & { servername: string } = { method: req.method!, path: req.url!, headers: list, body: bodyless ? null : req, servername: target.servername };
  target.dispatcher.dispatch(options, exchange);
}

/** The name of a Set-Cookie value (before the first `=`, trimmed as browsers do). */
function cookieName(setCookie: string): string {
  const eq = setCookie.indexOf('=');
  return (eq < 0 ? '' : setCookie.slice(0, eq)).trim();
}

/**
 * The rule every upstream answer's headers go through before the client sees them — a plain response (the relay),
 * a WebSocket handshake's 101 and a refused handshake alike: false for the hop-by-hop Connection, Keep-Alive and
 * Transfer-Encoding (they describe the upstream's connection to Drawbridge, never the client's), and for a
 * Set-Cookie naming one of Drawbridge's own cookies (an application, or whoever took it over, cannot plant or
 * overwrite Drawbridge's session or sign-in cookies in the browser). `lower` is the lower-cased name.
 */
export function relayedHeader(lower: string, value: string, reservedCookie: ((name: string) => boolean) | undefined): boolean {
  if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') return false;
  return !(lower === 'set-cookie' && reservedCookie !== undefined && reservedCookie(cookieName(value)));
}

/**
 * The header names a Connection header's value lists besides `keep-alive` and `close` (lower-cased, added to
 * `into`), or `into` unchanged when there are none: RFC 9110 §7.6.1, a proxy removes the headers the Connection header
 * names before it forwards the message (they describe the upstream's connection to Drawbridge, not the client's).
 */
export function connectionOptions(value: string, into: Set<string> | undefined): Set<string> | undefined {
  // Nearly every answer: nothing named, nothing to split.
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return into;
  for (const raw of value.split(',')) {
    const option = raw.trim().toLowerCase();
    if (option === '' || option === 'keep-alive' || option === 'close') continue;
    (into ??= new Set()).add(option);
  }
  return into;
}

/** A flat [name, value, …] header list without the headers whose lower-cased name is in `named`. */
function withoutNamed(list: string[], named: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (!named.has(list[i]!.toLowerCase())) kept.push(list[i]!, list[i + 1]!);
  return kept;
}

/**
 * Upstream response headers never relayed to an HTTP/2 client beside relayedHeader's: connection-specific in
 * HTTP/2 (RFC 9113 §8.2.2), which node's http2 refuses to send (it would fail the whole answer).
 */
const H2_FORBIDDEN_RESPONSE: ReadonlySet<string> = new Set(['upgrade', 'proxy-connection', 'http2-settings', 'te']);

/** One relayed request's undici handler (one object per request; every callback reads the flight from it). */
class Exchange implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined = undefined;
  private resume: (() => void) | undefined = undefined;
  /** The answer's headers were written to the client: a failure from now on can only cut its connection. */
  private started = false;

  constructor(
    private readonly flight: Flight,
    private readonly res: http.ServerResponse,
  ) {}

  /** Aborts the upstream request (the client left, or the route's timeout fired); a no-op once it completed. */
  cancel(): void {
    this.abort?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    // Timed out or left while the request waited for a connection: it is never sent.
    if (this.flight.error !== undefined || this.flight.reported) abort();
    else this.abort = abort;
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    // An interim 1xx answer (103 Early Hints) is not relayed, as node's client did not either.
    if (statusCode < 200) return true;
    const { flight, res } = this;
    clearFlightTimer(flight);
    flight.upstreamMs = performance.now() - flight.start;
    if (flight.error !== undefined || res.headersSent || res.destroyed) {
      // A late answer to a request already answered with 504, or a client already gone.
      this.abort?.();
      return false;
    }
    // Relayed from the raw list, in the upstream's own spelling and order (latin1 both ways, as node reads and
    // writes header bytes). Hop-by-hop: the upstream's Connection/Keep-Alive/Transfer-Encoding describe its
    // connection to Drawbridge. Left in, an upstream `Connection: close` would close the client's connection;
    // what the client gets is the state of its own connection, and node frames the body for it (chunked when
    // there is no length). So are the headers the upstream's Connection names (RFC 9110 §7.6.1: `Connection:
    // X-Upstream-Hop` or an `Upgrade` offer). An upstream's Set-Cookie for one of Drawbridge's own cookie names is dropped.
    let list: string[] = [];
    let hsts = flight.hsts;
    const h2 = flight.req.httpVersionMajor === 2;
    // Header names the upstream's Connection header lists besides keep-alive/close (rare): hop-by-hop too.
    let named: Set<string> | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!.length;
      const name = raw[i]!.toString('latin1');
      let value: string | undefined;
      // Every name `relayedHeader` may refuse is 10 or 17 characters long: other names skip the lower-casing. Only a
      // Set-Cookie's value is read by it: a dropped hop-by-hop header's is never converted, but Connection's options.
      if (n === 10 || n === 17) {
        const lower = name.toLowerCase();
        if (lower === 'set-cookie') value = raw[i + 1]!.toString('latin1');
        else if (lower === 'connection') named = connectionOptions(raw[i + 1]!.toString('latin1'), named);
        if (!relayedHeader(lower, value ?? '', flight.reservedCookie)) continue;
      }
      // To an HTTP/2 client, the connection-specific headers HTTP/2 forbids too (node would refuse the whole answer).
      if (h2 && H2_FORBIDDEN_RESPONSE.has(name.toLowerCase())) continue;
      // The upstream's own Strict-Transport-Security passes unchanged, and Drawbridge's is not added beside it.
      if (hsts !== undefined && n === 25 && name.toLowerCase() === 'strict-transport-security') hsts = undefined;
      list.push(name, value ?? raw[i + 1]!.toString('latin1'));
    }
    if (named !== undefined) {
      list = withoutNamed(list, named);
      // An upstream HSTS removed as hop-by-hop does not take Drawbridge's with it.
      if (named.has('strict-transport-security')) hsts = flight.hsts;
    }
    if (hsts !== undefined) list.push('strict-transport-security', hsts);
    if (!h2) list.push('connection', res.shouldKeepAlive ? 'keep-alive' : 'close');
    this.started = true;
    this.resume = resume;
    if (flight.req.httpVersionMajor === 1 && statusText) res.writeHead(statusCode, statusText, list);
    else res.writeHead(statusCode, list);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // The client reads slower than the upstream sends: undici stops reading the upstream until it drains.
    this.res.once('drain', () => this.resume?.());
    return false;
  }

  onComplete(): void {
    // Trailers are not relayed (node's pipe did not relay them either).
    this.res.end();
  }

  onError(err: Error & { code?: string }): void {
    const { flight, res } = this;
    // Aborted by Drawbridge (timeout, client gone), or the client's upload failed because it left: already
    // answered, or nobody to answer (the response's close reports a 499).
    if (flight.error !== undefined || flight.reported || res.destroyed || (flight.req.socket.destroyed && err.code === 'ECONNRESET')) return;
    // undici's "other side closed": the upstream closed the connection (a FIN) before the end of its answer, or
    // without one; node's client reported the latter as ECONNRESET, which the logs keep as the cause.
    if (err.code === 'UND_ERR_SOCKET') {
      const what = this.started ? 'the upstream closed the connection before the end of its answer' : 'the upstream closed the connection without an answer';
      err = Object.assign(new Error(what, { cause: err }), { code: 'ECONNRESET' });
    }
    fail(flight, err);
  }
}

// Shared listener (`this` is the response): no closure per request.
export function onResponseClose(this: http.ServerResponse): void {
  const req = this.req as InFlight;
  const flight = req[FLIGHT];
  if (!flight) return;
  // The client left before the whole answer was sent: the upstream request is abandoned too.
  if (!this.writableFinished) flight.abortUpstream?.cancel();
  report(flight, this);
}
