// forward/relay.ts — plain requests: Drawbridge's own `web` pass in http-proxy-3's chain, which sends the request
// upstream through its pool's agent and relays the answer, and the header rule every upstream answer goes through.
import * as http from 'node:http';
import { clearFlightTimer, fail, FLIGHT, report, type Flight, type InFlight, type InFlightUpstream } from './flight.js';

/** Where a pool's relay sends requests. */
export interface RelayTarget {
  readonly agent: http.Agent;
  readonly request: typeof http.request;
  /** Without IPv6 brackets (what the resolver wants). */
  readonly hostname: string;
  readonly port: number;
  /** The Host header for a request that has none (an HTTP/1.0 request to a preserveHost route). */
  readonly hostHeader: string;
}

/**
 * Drawbridge's `web` pass, in place of http-proxy-3's deleteLength…stream passes: measured, the library's stream
 * pass (options merge and header copy in setupOutgoing, a closure and listener per event, a pipe of a request
 * that has no body, five response passes) costs about a quarter of a proxied request's CPU. This one sends the
 * request headers as they are (already stripped and set by the pipeline), ends a request without a body at once,
 * pipes a body otherwise, and relays the response (status, headers, streamed body). The flight (forwarder state
 * on the request) gets the upstream request, for timeouts and aborts. Returns true: no further pass runs.
 */
export function relay(req: http.IncomingMessage, res: http.ServerResponse, target: RelayTarget): true {
  const flight = (req as InFlight)[FLIGHT];
  const headers = req.headers;
  const length = headers['content-length'];
  const chunked = headers['transfer-encoding'] !== undefined;
  const bodyless = !chunked && (length === undefined || length === '0');
  // The headers go to node as a flat [name, value, …] list: node writes such a list as it is (validating each
  // value once), where an object costs a setHeader per name (validation, lower-casing, a map entry) first.
  const list: string[] = [];
  let hasHost = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    // Hop-by-hop, as http-proxy drops it too.
    if (name === 'trailer') continue;
    if (name === 'host') hasHost = true;
    if (typeof value === 'string') list.push(name, value);
    else for (const v of value) list.push(name, v);
  }
  if (!hasHost) list.push('host', target.hostHeader);
  // A request without a body says so to an upstream that would otherwise expect one: node's own default for a
  // headers object (Content-Length: 0 on end()) is not applied to a list. For DELETE/OPTIONS this is also
  // http-proxy's deleteLength, without its smuggling bug (it gave a chunked DELETE `Content-Length: 0` and still
  // streamed the body, which a keep-alive upstream reads as a second request).
  if (length === undefined && !chunked && req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'TRACE') list.push('content-length', '0');
  const proxyReq = target.request({ agent: target.agent, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: list as unknown as http.OutgoingHttpHeaders });
  (proxyReq as unknown as InFlightUpstream)[FLIGHT] = flight;
  if (flight) flight.proxyReq = proxyReq;
  proxyReq.on('error', onUpstreamRequestError);
  proxyReq.on('response', onUpstreamResponse);
  if (bodyless) {
    proxyReq.end();
  } else {
    req.on('error', onClientRequestError);
    req.pipe(proxyReq);
  }
  return true;
}

// Shared listener (`this` is the upstream request).
function onUpstreamRequestError(this: InFlightUpstream, err: Error): void {
  const flight = this[FLIGHT];
  if (flight) upstreamError(flight, err);
  else this.destroy();
}

// Shared listener (`this` is the client's request): its body stream failed (the client went away mid-upload).
function onClientRequestError(this: InFlight, err: Error): void {
  const flight = this[FLIGHT];
  if (flight) upstreamError(flight, err);
}

/** An error on either side of a relayed request (http-proxy's error handler, without its events). */
function upstreamError(flight: Flight, err: Error & { code?: string }): void {
  if (flight.req.socket.destroyed && err.code === 'ECONNRESET') {
    // The client went away: nothing to answer; `done` is called on the response's close.
    flight.proxyReq?.destroy();
    return;
  }
  fail(flight, err);
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
 * Upstream response headers never relayed to an HTTP/2 client beside relayedHeader's: connection-specific in
 * HTTP/2 (RFC 9113 §8.2.2), which node's http2 refuses to send (it would fail the whole answer).
 */
const H2_FORBIDDEN_RESPONSE: ReadonlySet<string> = new Set(['upgrade', 'proxy-connection', 'http2-settings', 'te']);

// Shared listener (`this` is the upstream request).
function onUpstreamResponse(this: InFlightUpstream, proxyRes: http.IncomingMessage): void {
  const flight = this[FLIGHT];
  if (!flight) {
    proxyRes.destroy();
    return;
  }
  clearFlightTimer(flight);
  flight.upstreamMs = performance.now() - flight.start;
  const res = flight.target as http.ServerResponse;
  if (flight.error !== undefined || res.headersSent || res.destroyed) {
    // A late answer to a request already answered with 504, or a client already gone.
    proxyRes.destroy();
    return;
  }
  // The response headers are relayed from the raw list (node then never builds the headers object), in the
  // upstream's own spelling and order. Hop-by-hop: the upstream's Connection/Keep-Alive/Transfer-Encoding describe
  // its connection to Drawbridge. Left in, an upstream `Connection: close` would close the client's connection;
  // what the client gets is the state of its own connection, and node frames the body for it (chunked when there
  // is no length). An upstream's Set-Cookie for one of Drawbridge's own cookie names is dropped.
  const raw = proxyRes.rawHeaders;
  const list: string[] = [];
  let hsts = flight.hsts;
  const h2 = flight.req.httpVersionMajor === 2;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const n = name.length;
    // Every name `relayedHeader` may refuse is 10 or 17 characters long: other names skip the lower-casing.
    if ((n === 10 || n === 17) && !relayedHeader(name.toLowerCase(), raw[i + 1]!, flight.reservedCookie)) continue;
    // To an HTTP/2 client, the connection-specific headers HTTP/2 forbids too (node would refuse the whole answer).
    if (h2 && H2_FORBIDDEN_RESPONSE.has(name.toLowerCase())) continue;
    // The upstream's own Strict-Transport-Security passes unchanged, and Drawbridge's is not added beside it.
    if (hsts !== undefined && n === 25 && name.toLowerCase() === 'strict-transport-security') hsts = undefined;
    list.push(name, raw[i + 1]!);
  }
  if (hsts !== undefined) list.push('strict-transport-security', hsts);
  if (!h2) list.push('connection', res.shouldKeepAlive ? 'keep-alive' : 'close');
  // A shared listener finds the flight on the response: an answer cut short must cut the client's connection.
  (proxyRes as InFlight)[FLIGHT] = flight;
  proxyRes.on('close', onUpstreamResponseClose);
  const status = proxyRes.statusCode ?? 502;
  if (flight.req.httpVersionMajor === 1 && proxyRes.statusMessage) res.writeHead(status, proxyRes.statusMessage, list);
  else res.writeHead(status, list);
  proxyRes.pipe(res);
}

// Shared listener (`this` is the upstream's response).
function onUpstreamResponseClose(this: http.IncomingMessage): void {
  const flight = (this as InFlight)[FLIGHT];
  // An answer that ends before it is complete (the upstream closed its connection mid-body with a FIN; a RST
  // comes as an error): http-proxy's pipe just stops, and the client would wait for the rest until an idle
  // timeout. Cut the client's connection too, and log it. Not when the client left first (that closes it too).
  if (flight && !this.complete && !flight.reported && !flight.target.destroyed) fail(flight, new Error('the upstream closed the connection before the end of its answer'));
}

// Shared listener (`this` is the response): no closure per request.
export function onResponseClose(this: http.ServerResponse): void {
  const req = this.req as InFlight;
  const flight = req[FLIGHT];
  if (!flight) return;
  // The client left before the whole answer was sent: the upstream request is abandoned too.
  if (!this.writableFinished && flight.proxyReq && !flight.proxyReq.destroyed) flight.proxyReq.destroy();
  report(flight, this);
}
