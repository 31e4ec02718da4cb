// forward/forwarder.ts — sends an authorized request or WebSocket upgrade to its route's upstream through
// http-proxy-3 (plain requests by Drawbridge's own relay pass in its chain, upgrades by the library's ws passes)
// and a keep-alive agent per upstream, with the route's timeout; failures become 502/504 pages that never show
// the upstream's address or error. A forwarded WebSocket can be closed by Drawbridge (a policy close, 1008).
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import { DrawbridgeError } from '../errors.js';
import type { Route } from '../routes/compile.js';
import { upstreamTarget } from '../routes/rewrite.js';
import { upstreamTls } from '../tls/upstream.js';
import { closeFrame, FrameBoundary } from './ws-frames.js';

/** How one forwarded request ended, for the request log and metrics. */
export interface ForwardResult {
  /** Status sent to the client: the upstream's, 502/504 on failure, 101 for an upgrade, 499 if the client left first. */
  status: number;
  /** Milliseconds from dispatch to the upstream's response headers (or to the failure). */
  upstreamMs: number;
  error?: 'unavailable' | 'timeout';
  /** The problem answered (or logged, when the response had started), from `upstreamProblem`. */
  problem?: UpstreamProblem;
}

/** An upstream failure as Drawbridge reports it: its catalog code, and Node's code for the cause. */
export interface UpstreamProblem {
  readonly code: 'DRB_UPSTREAM_UNAVAILABLE' | 'DRB_UPSTREAM_TIMEOUT';
  /** Node's error code (ECONNREFUSED, ECONNRESET, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID...), if it gave one. */
  readonly cause?: string;
}

/**
 * The one mapping of an upstream failure to a problem: no answer within the route's timeout is
 * DRB_UPSTREAM_TIMEOUT, anything else (refused, reset, DNS, a TLS certificate the route does not trust)
 * DRB_UPSTREAM_UNAVAILABLE; the cause keeps Node's own code (the TLS verification error, not just "failed").
 */
export function upstreamProblem(err: Error, timedOut: boolean): UpstreamProblem {
  const code = timedOut ? 'DRB_UPSTREAM_TIMEOUT' : 'DRB_UPSTREAM_UNAVAILABLE';
  const cause = timedOut ? undefined : (err as NodeJS.ErrnoException).code;
  return typeof cause === 'string' && cause !== '' ? { code, cause } : { code };
}

export type ForwardDone = (result: ForwardResult) => void;

/** Answers an upstream failure with Drawbridge's own 502/504 (runtime/problem.ts); must not include upstream details. */
export type RenderError = (res: http.ServerResponse, problem: UpstreamProblem) => void;

/** Options of `Forwarder`. */
export interface ForwarderOptions {
  /** Receives every upstream failure with its details (address, cause) for the log; the client never sees them. */
  onError?: (err: Error, req: http.IncomingMessage, problem: UpstreamProblem) => void;
  /** Concurrent connections per upstream; further requests queue in the agent. Default 1024. */
  maxSockets?: number;
  /** Idle keep-alive connections kept per upstream. Default 256. */
  maxFreeSockets?: number;
  /**
   * True for a name of Drawbridge's own cookies (session/cookie.ts `isOwnCookie`): an upstream's Set-Cookie for
   * one is dropped, so an application (or whoever took it over) cannot plant or overwrite Drawbridge's session or
   * sign-in cookies in the browser.
   */
  reservedCookie?: (name: string) => boolean;
  /**
   * An idle pooled connection is closed after this long. Default 4 s: below node's 5 s server keep-alive timeout,
   * so Drawbridge closes first rather than reusing a socket the upstream is closing.
   */
  freeSocketTimeoutMs?: number;
}

/** Client closed the request before a response (nginx's convention). */
const CLIENT_CLOSED = 499;

const FLIGHT = Symbol('drawbridge.flight');

/** One request in flight, attached to its IncomingMessage. */
interface Flight {
  readonly route: Route;
  readonly req: http.IncomingMessage;
  /** The client's response (web) or socket (ws). */
  readonly target: http.ServerResponse | Duplex;
  readonly onError: ForwarderOptions['onError'];
  /** True for a cookie name that belongs to Drawbridge (see ForwarderOptions.reservedCookie). */
  readonly reservedCookie: ((name: string) => boolean) | undefined;
  readonly start: number;
  readonly done: ForwardDone;
  readonly renderError: RenderError | undefined;
  /** The upstream request, captured from the agent (web) or the proxyReqWs event (ws). */
  proxyReq: http.ClientRequest | undefined;
  timer: NodeJS.Timeout | undefined;
  upstreamMs: number;
  status: number;
  error: 'unavailable' | 'timeout' | undefined;
  problem: UpstreamProblem | undefined;
  /** Strict-Transport-Security to add to the upstream's response (over HTTPS), unless it sends its own. */
  hsts: string | undefined;
  timedOut: boolean;
  /** The 101 was relayed (ws): failures after it only close the socket. */
  upgraded: boolean;
  reported: boolean;
  /** After the 101 (ws): the upstream's socket, and the frame boundaries of what it sent the client. */
  upstreamSocket: Duplex | undefined;
  frames: FrameBoundary | undefined;
  /** Drawbridge closed the WebSocket itself (`WebSocketHandle.close`): what fails after that is no upstream error. */
  closedByUs: boolean;
}

/** A forwarded WebSocket, for Drawbridge to close it when it may no longer be open (runtime/websockets.ts). */
export interface WebSocketHandle {
  /**
   * Closes it for good. After the 101: nothing more is relayed either way, the upstream's socket is destroyed, and
   * the client gets a close frame with `code` and `reason` when the upstream's stream is between two frames (else
   * its socket is just destroyed); its socket is destroyed once it answers, or after a second. Before the 101: both
   * sides are destroyed. Idempotent.
   */
  close(code: number, reason: string): void;
}

/** How long a client that got Drawbridge's close frame has to answer it before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

type InFlight = http.IncomingMessage & { [FLIGHT]?: Flight };

/**
 * One upstream's connection pool and the http-proxy-3 instance bound to it. The target and agent are the
 * instance's own options rather than per-call options: http-proxy merges per-call options into a fresh object on
 * every request, and measured end to end that costs ~15% of the CPU of a proxied request; the instance's own
 * options are merged by a plain clone.
 */
interface Pool {
  readonly agent: http.Agent;
  readonly proxy: ProxyServer;
}

/** Where a pool's relay sends requests. */
interface RelayTarget {
  readonly agent: http.Agent;
  readonly request: typeof http.request;
  /** Without IPv6 brackets (what the resolver wants). */
  readonly hostname: string;
  readonly port: number;
  /** The Host header for a request that has none (an HTTP/1.0 request to a preserveHost route). */
  readonly hostHeader: string;
}

function upstreamHostname(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/**
 * Drawbridge's `web` pass, in place of http-proxy-3's deleteLength…stream passes: measured, the library's stream
 * pass (options merge and header copy in setupOutgoing, a closure and listener per event, a pipe of a request
 * that has no body, five response passes) costs about a quarter of a proxied request's CPU. This one sends the
 * request headers as they are (already stripped and set by the pipeline), ends a request without a body at once,
 * pipes a body otherwise, and relays the response (status, headers, streamed body). The flight (forwarder state
 * on the request) gets the upstream request, for timeouts and aborts. Returns true: no further pass runs.
 */
function relay(req: http.IncomingMessage, res: http.ServerResponse, target: RelayTarget): true {
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

type InFlightUpstream = http.ClientRequest & { [FLIGHT]?: Flight };

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
function relayedHeader(lower: string, value: string, reservedCookie: ((name: string) => boolean) | undefined): boolean {
  if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') return false;
  return !(lower === 'set-cookie' && reservedCookie !== undefined && reservedCookie(cookieName(value)));
}

/**
 * `relayedHeader` applied in place to the headers of an upstream's answer to a WebSocket upgrade, which http-proxy-3
 * then writes to the client: its 101 (whose `Connection: Upgrade` is Drawbridge's own: the handshake needs it), or a
 * refused handshake (`Connection: close`: Drawbridge closes the client's socket after it).
 */
function filterHandshakeHeaders(headers: http.IncomingHttpHeaders, reservedCookie: ((name: string) => boolean) | undefined, upgraded: boolean): void {
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      const kept = value.filter((v) => relayedHeader(name, v, reservedCookie));
      if (kept.length === 0) delete headers[name];
      else if (kept.length !== value.length) headers[name] = kept;
    } else if (!relayedHeader(name, value, reservedCookie)) {
      delete headers[name];
    }
  }
  headers.connection = upgraded ? 'Upgrade' : 'close';
}

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
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const n = name.length;
    // Every name `relayedHeader` may refuse is 10 or 17 characters long: other names skip the lower-casing.
    if ((n === 10 || n === 17) && !relayedHeader(name.toLowerCase(), raw[i + 1]!, flight.reservedCookie)) continue;
    // The upstream's own Strict-Transport-Security passes unchanged, and Drawbridge's is not added beside it.
    if (hsts !== undefined && n === 25 && name.toLowerCase() === 'strict-transport-security') hsts = undefined;
    list.push(name, raw[i + 1]!);
  }
  if (hsts !== undefined) list.push('strict-transport-security', hsts);
  list.push('connection', res.shouldKeepAlive ? 'keep-alive' : 'close');
  // A shared listener finds the flight on the response: an answer cut short must cut the client's connection.
  (proxyRes as InFlight)[FLIGHT] = flight;
  proxyRes.on('close', onUpstreamResponseClose);
  const status = proxyRes.statusCode ?? 502;
  if (flight.req.httpVersionMajor === 1 && proxyRes.statusMessage) res.writeHead(status, proxyRes.statusMessage, list);
  else res.writeHead(status, list);
  proxyRes.pipe(res);
}

/**
 * The request-target to send upstream (routes/rewrite.ts `upstreamTarget`): the route's base path, the normalized
 * path (rewritten by the route's `stripPrefix`/`rewrite`), and the query (without `?`, '' for none); or why the
 * rewrite is refused. Assign the path to `req.url` before `web`/`ws`.
 */
export const upstreamPath = upstreamTarget;

/**
 * A route's pool, kept on the route (`route.runtime.pool`) so a request finds it without a map lookup. `owner`
 * is the Forwarder it belongs to: several may share a process (and a compiled route), and each has its own pools.
 * `route` is the route it was chosen for: a copy of a route (`{ ...route, upstream }`) shares its runtime object.
 */
interface PoolSlot {
  readonly owner: Forwarder;
  readonly route: Route;
  readonly pool: Pool;
}

function poolSlot(route: Route): PoolSlot | undefined {
  return route.runtime.pool as PoolSlot | undefined;
}

function setPoolSlot(route: Route, slot: PoolSlot): void {
  route.runtime.pool = slot;
}

/** Forwards requests and upgrades to route upstreams. One instance per process; `close()` on shutdown. */
export class Forwarder {
  private readonly onError: ForwarderOptions['onError'];
  private readonly reservedCookie: ((name: string) => boolean) | undefined;
  private readonly agentOptions: http.AgentOptions;
  /** Pools of the current configuration by upstream and TLS settings; `prepare` starts a new generation. */
  private generation = new Map<string, Pool>();
  /** Every pool not yet destroyed, for close(); pools of earlier generations are dropped once idle. */
  private readonly pools = new Set<Pool>();
  private closed = false;

  constructor(opts: ForwarderOptions = {}) {
    this.onError = opts.onError;
    this.reservedCookie = opts.reservedCookie;
    this.agentOptions = {
      keepAlive: true,
      maxSockets: opts.maxSockets ?? 1024,
      maxFreeSockets: opts.maxFreeSockets ?? 256,
      timeout: opts.freeSocketTimeoutMs ?? 4000,
      scheduling: 'lifo',
    };
  }

  /**
   * Creates the agents of a configuration's routes (reading upstream TLS files now, so a missing file fails the
   * start or the reload, not a request) and starts a new agent generation; idle agents of older ones are destroyed.
   */
  prepare(routes: readonly Route[]): void {
    const generation = new Map<string, Pool>();
    for (const route of routes) setPoolSlot(route, { owner: this, route, pool: this.pool(route, generation) });
    this.generation = generation;
    const current = new Set(generation.values());
    for (const pool of this.pools) {
      if (current.has(pool)) continue;
      const { agent } = pool;
      if (Object.keys(agent.sockets).length === 0 && Object.keys(agent.requests).length === 0) {
        agent.destroy();
        this.pools.delete(pool);
      }
    }
  }

  /**
   * Forwards `req` (with `req.url` already the upstream path, see `upstreamPath`, and headers already stripped
   * and set) to `route.upstream`. The upstream's response is relayed untouched except for what `relayedHeader`
   * refuses (hop-by-hop headers, Set-Cookie for Drawbridge's cookies), plus `hsts` as Strict-Transport-Security
   * unless the upstream sends its own. Refused/reset/DNS/TLS failure → `renderError(res, DRB_UPSTREAM_UNAVAILABLE)`;
   * no response headers within `route.timeoutMs` → `renderError(res, DRB_UPSTREAM_TIMEOUT)`; a failure after the
   * response started destroys the client socket. `done` is called once, when the response is finished or the client
   * connection closed.
   */
  web(req: http.IncomingMessage, res: http.ServerResponse, route: Route, done: ForwardDone, renderError: RenderError, hsts?: string): void {
    const flight = newFlight(route, req, res, this.onError, this.reservedCookie, done, renderError);
    flight.hsts = hsts;
    (req as InFlight)[FLIGHT] = flight;
    // `on`, not `once`: close is emitted once anyway, and once() allocates a wrapper per request.
    res.on('close', onResponseClose);
    let pool: Pool;
    try {
      pool = this.entry(route);
    } catch (err) {
      fail(flight, err as Error);
      return;
    }
    const headers = req.headers;
    if (!route.preserveHost) headers.host = route.upstream.hostHeader;
    // A plain request never asks the upstream to switch protocols (upgrades go through ws()).
    if (headers.upgrade !== undefined) {
      delete headers.upgrade;
      delete headers.connection;
    }
    flight.timer = setTimeout(onTimeout, route.timeoutMs, flight);
    try {
      pool.proxy.web(req, res);
    } catch (err) {
      // http.request threw synchronously (e.g. an invalid header value).
      fail(flight, err as Error);
    }
  }

  /**
   * Forwards a WebSocket upgrade (authorized by the caller, `req.url` set as for `web`). The 101 is relayed and
   * the sockets piped; a failure before it writes a bare 502/504 and closes the socket, after it just closes. The
   * upstream's answer, 101 or not, goes through the same header rule as a plain response (`relayedHeader`).
   * `done` is called once, when the client socket closes. The handle closes the WebSocket from Drawbridge's side.
   * `hsts` goes on the bare 502/504 (over HTTPS).
   */
  ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, route: Route, done: ForwardDone, hsts?: string): WebSocketHandle {
    const flight = newFlight(route, req, socket, this.onError, this.reservedCookie, done, undefined);
    flight.hsts = hsts;
    (req as InFlight)[FLIGHT] = flight;
    const handle: WebSocketHandle = { close: (code, reason) => closeWebSocket(flight, code, reason) };
    socket.once('close', () => report(flight));
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      flight.status = 400;
      writeRawStatus(socket, 400, 'Bad Request', hsts);
      return handle;
    }
    let pool: Pool;
    try {
      pool = this.entry(route);
    } catch (err) {
      fail(flight, err as Error);
      return handle;
    }
    if (!route.preserveHost) req.headers.host = route.upstream.hostHeader;
    flight.timer = setTimeout(onTimeout, route.timeoutMs, flight);
    try {
      pool.proxy.ws(req, socket, head);
    } catch (err) {
      fail(flight, err as Error);
    }
    return handle;
  }

  /** Upstream sockets held by the keep-alive agents: `active` (serving a request) and `free` (pooled). */
  socketCounts(): { active: number; free: number } {
    let active = 0;
    let free = 0;
    for (const { agent } of this.pools) {
      for (const list of Object.values(agent.sockets)) active += list?.length ?? 0;
      for (const list of Object.values(agent.freeSockets)) free += list?.length ?? 0;
    }
    return { active, free };
  }

  /** Destroys every agent (and their pooled connections). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pool of this.pools) pool.agent.destroy();
    this.pools.clear();
    this.generation.clear();
  }

  /** The route's pool: the one `prepare` gave it, else (a route `prepare` never saw) one of the current generation. */
  private entry(route: Route): Pool {
    const slot = poolSlot(route);
    if (slot !== undefined && slot.owner === this && slot.route === route) return slot.pool;
    // Not prepared here (or prepared by another Forwarder of this process, whose pool is not this one's).
    const pool = this.pool(route, this.generation);
    setPoolSlot(route, { owner: this, route, pool });
    return pool;
  }

  private pool(route: Route, generation: Map<string, Pool>): Pool {
    const { upstream } = route;
    const secure = upstream.protocol === 'https:';
    const tls = route.upstreamTls;
    // Routes to the same upstream with the same TLS settings (and file contents: a renewed file makes a new pool)
    // share one pool: 10,000 routes to one app must not mean 10,000 pools of cold connections.
    const tlsOptions = secure ? upstreamTls(route) : undefined;
    const key = tlsOptions ? `${upstream.origin}|${tlsOptions.fingerprint}` : upstream.origin;
    let pool = generation.get(key);
    if (pool) return pool;
    const agent = tlsOptions ? new https.Agent({ ...this.agentOptions, ...tlsOptions.options }) : new http.Agent(this.agentOptions);
    const proxy = createProxyServer({
      target: new URL(upstream.origin),
      agent,
      // Drawbridge sets Host (in web/ws) and X-Forwarded-* (identity-headers.ts) itself.
      changeOrigin: false,
      xfwd: false,
      // req.url is sent as given: no re-parsing through URL (which would re-resolve dot segments) per request.
      toProxy: true,
      prependPath: false,
      secure: !(tls?.insecureSkipVerify ?? false),
    });
    // Plain requests: Drawbridge's relay pass runs first and ends the pass chain (a pass that returns true halts
    // it), so the library's own deleteLength/timeout/XHeaders/stream passes do not run; WebSocket upgrades go
    // through the library's ws passes.
    const target: RelayTarget = { agent, request: secure ? https.request : http.request, hostname: upstreamHostname(upstream.hostname), port: Number(upstream.port) || (secure ? 443 : 80), hostHeader: upstream.hostHeader };
    proxy.before('web', 'deleteLength', (req: http.IncomingMessage, res: http.ServerResponse) => relay(req, res, target));
    // Per-request state travels on the request, so these shared listeners allocate no closure per request.
    proxy.on('error', this.onProxyError);
    proxy.on('proxyReqWs', this.onProxyReqWs);
    // The client went away: the library already destroyed the upstream request; `done` is called on close.
    proxy.on('econnreset', ignore);
    pool = { agent, proxy };
    generation.set(key, pool);
    this.pools.add(pool);
    return pool;
  }

  // These listeners run before http-proxy-3's own (it emits proxyReqWs before it listens), which then write the
  // answer's headers to the client and pipe the sockets: the headers are filtered here first.
  private readonly onProxyReqWs = (proxyReq: http.ClientRequest, req: http.IncomingMessage): void => {
    const flight = (req as InFlight)[FLIGHT];
    if (!flight) return;
    flight.proxyReq = proxyReq;
    proxyReq.once('upgrade', (proxyRes: http.IncomingMessage, proxySocket: Duplex) => {
      clearFlightTimer(flight);
      flight.upstreamMs = performance.now() - flight.start;
      flight.upgraded = true;
      flight.status = 101;
      filterHandshakeHeaders(proxyRes.headers, flight.reservedCookie, true);
      flight.upstreamSocket = proxySocket;
      if (flight.closedByUs || flight.target.destroyed) {
        // Closed (or gone) while the upstream was answering: no tunnel is opened.
        proxySocket.destroy();
        return;
      }
      // Sees every chunk the upstream sends the client, in order, in the same turn as the library's pipe writes it
      // (the upstream's first bytes, which the library unshifts, included). Paused, so that nothing flows before
      // that pipe exists: the pipe resumes the socket.
      const frames = new FrameBoundary();
      flight.frames = frames;
      proxySocket.on('data', (chunk: Buffer) => frames.push(chunk));
      proxySocket.pause();
    });
    proxyReq.once('response', (proxyRes: http.IncomingMessage) => {
      clearFlightTimer(flight);
      flight.upstreamMs = performance.now() - flight.start;
      flight.status = proxyRes.statusCode ?? 502;
      filterHandshakeHeaders(proxyRes.headers, flight.reservedCookie, false);
    });
  };

  private readonly onProxyError = (err: Error, req: http.IncomingMessage, target: http.ServerResponse | Duplex): void => {
    const flight = (req as InFlight)[FLIGHT];
    if (!flight) {
      target.destroy();
      return;
    }
    // An error from the client's own socket after the upgrade is the client leaving, not an upstream failure; a
    // WebSocket request the upstream already answered (non-101, relayed by the library) gets no second answer.
    if (flight.upgraded || flight.closedByUs || (flight.renderError === undefined && flight.status !== 0)) {
      flight.target.destroy();
      return;
    }
    fail(flight, err);
  };
}

/** setTimeout callback (the flight comes as an argument, so no closure per request). */
function onTimeout(flight: Flight): void {
  flight.timer = undefined;
  if (flight.upgraded || flight.error !== undefined) return;
  flight.timedOut = true;
  if (flight.proxyReq && !flight.proxyReq.destroyed) {
    // The library reports the aborted request through its error event, which answers 504 (timedOut is set).
    flight.proxyReq.destroy();
  } else {
    fail(flight, new Error('upstream timeout'));
  }
}

// Shared listener (`this` is the upstream's response).
function onUpstreamResponseClose(this: http.IncomingMessage): void {
  const flight = (this as InFlight)[FLIGHT];
  // An answer that ends before it is complete (the upstream closed its connection mid-body with a FIN; a RST
  // comes as an error): http-proxy's pipe just stops, and the client would wait for the rest until an idle
  // timeout. Cut the client's connection too, and log it. Not when the client left first (that closes it too).
  if (flight && !this.complete && !flight.reported && !flight.target.destroyed) fail(flight, new Error('the upstream closed the connection before the end of its answer'));
}

/** Records an upstream failure once, logs it through onError, and answers 502/504 if nothing was sent yet. */
function fail(flight: Flight, err: Error): void {
  if (flight.error !== undefined) return;
  clearFlightTimer(flight);
  const timeout = flight.timedOut;
  flight.error = timeout ? 'timeout' : 'unavailable';
  const problem = upstreamProblem(err, timeout);
  flight.problem = problem;
  flight.upstreamMs = performance.now() - flight.start;
  const status = timeout ? 504 : 502;
  const { req, target } = flight;
  if (flight.onError) {
    const { route } = flight;
    const what = timeout ? `no response within ${route.timeoutMs} ms` : err.message;
    try {
      flight.onError(new DrawbridgeError(problem.code, `forwarding ${req.method} to route "${route.name}" (${route.upstream.origin}): ${what}`, { cause: err }), req, problem);
    } catch {
      // A failing logger must not leave the client without an answer.
    }
  }
  if (target instanceof http.ServerResponse) {
    if (target.headersSent || !flight.renderError) {
      target.destroy();
      return;
    }
    try {
      flight.renderError(target, problem);
    } catch {
      target.destroy();
    }
    return;
  }
  flight.status = status;
  // No 101 was relayed (checked by the caller): the client still expects an HTTP response.
  writeRawStatus(target, status, timeout ? 'Gateway Timeout' : 'Bad Gateway', flight.hsts);
}

function ignore(): void {}

function newFlight(
  route: Route,
  req: http.IncomingMessage,
  target: http.ServerResponse | Duplex,
  onError: Flight['onError'],
  reservedCookie: Flight['reservedCookie'],
  done: ForwardDone,
  renderError: RenderError | undefined,
): Flight {
  return {
    route,
    req,
    target,
    onError,
    reservedCookie,
    start: performance.now(),
    done,
    renderError,
    proxyReq: undefined,
    timer: undefined,
    upstreamMs: -1,
    status: 0,
    error: undefined,
    problem: undefined,
    hsts: undefined,
    timedOut: false,
    upgraded: false,
    reported: false,
    upstreamSocket: undefined,
    frames: undefined,
    closedByUs: false,
  };
}

/** `WebSocketHandle.close` (see there). */
function closeWebSocket(flight: Flight, code: number, reason: string): void {
  if (flight.closedByUs) return;
  flight.closedByUs = true;
  clearFlightTimer(flight);
  const client = flight.target as Duplex;
  const upstream = flight.upstreamSocket;
  if (!flight.upgraded || upstream === undefined) {
    flight.proxyReq?.destroy();
    client.destroy();
    return;
  }
  upstream.unpipe(client);
  client.unpipe(upstream);
  // What the upstream sent so far is exactly what was written to the client (the tracker and the pipe see the same
  // chunks): between two frames, one more frame keeps the stream well-formed.
  const between = flight.frames?.atBoundary === true;
  upstream.destroy();
  if (!between || !client.writable) {
    client.destroy();
    return;
  }
  const timer = setTimeout(() => client.destroy(), CLOSE_GRACE_MS);
  timer.unref();
  client.once('close', () => clearTimeout(timer));
  // The client answers with its own close frame and ends its side; what it sends meanwhile is read and dropped (a
  // socket closed with unread input would reset the connection, and the client might lose the close frame).
  client.once('end', () => client.destroy());
  client.on('data', ignore);
  client.end(closeFrame(code, reason));
}

/** Calls `done` once, with the status the client got. */
function report(flight: Flight, res?: http.ServerResponse): void {
  if (flight.reported) return;
  flight.reported = true;
  clearFlightTimer(flight);
  if (flight.upstreamMs < 0) flight.upstreamMs = performance.now() - flight.start;
  const failed = flight.error === 'timeout' ? 504 : flight.error ? 502 : CLIENT_CLOSED;
  const status = res ? (res.headersSent ? res.statusCode : failed) : flight.status === 0 ? failed : flight.status;
  const result: ForwardResult = { status, upstreamMs: flight.upstreamMs };
  if (flight.error !== undefined) result.error = flight.error;
  if (flight.problem !== undefined) result.problem = flight.problem;
  flight.done(result);
}

function clearFlightTimer(flight: Flight): void {
  if (flight.timer !== undefined) {
    clearTimeout(flight.timer);
    flight.timer = undefined;
  }
}

// Shared listener (`this` is the response): no closure per request.
function onResponseClose(this: http.ServerResponse): void {
  const req = this.req as InFlight;
  const flight = req[FLIGHT];
  if (!flight) return;
  // The client left before the whole answer was sent: the upstream request is abandoned too.
  if (!this.writableFinished && flight.proxyReq && !flight.proxyReq.destroyed) flight.proxyReq.destroy();
  report(flight, this);
}

function writeRawStatus(socket: Duplex, status: number, reason: string, hsts: string | undefined): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const sts = hsts !== undefined ? `Strict-Transport-Security: ${hsts}\r\n` : '';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${reason.length + 1}\r\n${sts}\r\n${reason}\n`);
}
