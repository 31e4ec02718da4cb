// forward/forwarder.ts — sends an authorized request or WebSocket upgrade to its route's upstream (plain requests
// by Drawbridge's relay through an undici keep-alive pool, upgrades by http-proxy-3's ws passes), with the route's
// timeout; failures become 502/504 pages that never show
// the upstream's address or error. A forwarded WebSocket can be closed by Drawbridge (a policy close, 1008).
// The relay (relay.ts), the WebSocket path (websocket.ts) and the pools (pools.ts) are its parts; a request's state
// in flight is flight.ts.
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { upstreamTarget } from '../routes/rewrite.js';
import type { Route } from '../routes/compile.js';
import { fail, FLIGHT, newFlight, report, startFlightTimer, writeRawStatus, type ForwardDone, type InFlight, type RenderError, type UpstreamErrorListener } from './flight.js';
import { Pools, type Pool } from './pools.js';
import { onResponseClose, relay } from './relay.js';
import { closeWebSocket, type WebSocketHandle } from './websocket.js';

export { upstreamProblem } from './flight.js';
export type { ForwardDone, ForwardResult, RenderError, UpstreamProblem } from './flight.js';
export type { Pool } from './pools.js';
export type { WebSocketHandle } from './websocket.js';

/** Options of `Forwarder`. */
export interface ForwarderOptions {
  /** Receives every upstream failure with its details (address, cause) for the log; the client never sees them. */
  onError?: UpstreamErrorListener;
  /** Concurrent connections per upstream; further requests queue in its pool. Default 1024. */
  maxSockets?: number;
  /**
   * True for a name of Drawbridge's own cookies (session/cookie.ts `isOwnCookie`): an upstream's Set-Cookie for
   * one is dropped, so an application (or whoever took it over) cannot plant or overwrite Drawbridge's session or
   * sign-in cookies in the browser.
   */
  reservedCookie?: (name: string) => boolean;
  /**
   * An idle pooled connection is closed after this long (or after the upstream's own `Keep-Alive: timeout`, less
   * 2 s, if that is shorter). Default 4 s: below node's 5 s server keep-alive timeout, so Drawbridge closes first
   * rather than reusing a socket the upstream is closing.
   */
  freeSocketTimeoutMs?: number;
}

/**
 * The request-target to send upstream (routes/rewrite.ts `upstreamTarget`): the route's base path, the normalized
 * path (rewritten by the route's `stripPrefix`/`rewrite`), and the query (without `?`, '' for none); or why the
 * rewrite is refused. Assign the path to `req.url` before `web`/`ws`.
 */
export const upstreamPath = upstreamTarget;

/** Forwards requests and upgrades to route upstreams. One instance per process; `close()` on shutdown. */
export class Forwarder {
  private readonly onError: UpstreamErrorListener | undefined;
  private readonly reservedCookie: ((name: string) => boolean) | undefined;
  private readonly pools: Pools;

  constructor(opts: ForwarderOptions = {}) {
    this.onError = opts.onError;
    this.reservedCookie = opts.reservedCookie;
    // undici's pool hands a request the first idle connection in its list, so traffic stays on the same few
    // connections and the others idle out (what node's agent did with `scheduling: 'lifo'`).
    this.pools = new Pools({ connections: opts.maxSockets ?? 1024, idleMs: opts.freeSocketTimeoutMs ?? 4000 });
  }

  /**
   * Creates the pools of a configuration's routes, aligned with `routes` (reading upstream TLS files now, so a
   * missing file fails the start or the reload, not a request). Routes to the same upstream with the same TLS
   * settings share one pool. Release each (`Pool.release`) when the configuration is replaced.
   */
  provision(routes: readonly Route[]): readonly Pool[] {
    return this.pools.provision(routes);
  }

  /**
   * Forwards `req` (with `req.url` already the upstream path, see `upstreamPath`, and headers already stripped
   * and set) to `route.upstream` through `pool` (the route's, from `provision`). The upstream's response is relayed untouched except for what `relayedHeader`
   * refuses (hop-by-hop headers, Set-Cookie for Drawbridge's cookies), plus `hsts` as Strict-Transport-Security
   * unless the upstream sends its own. Refused/reset/DNS/TLS failure → `renderError(res, DRB_UPSTREAM_UNAVAILABLE)`;
   * no response headers within `route.timeoutMs` → `renderError(res, DRB_UPSTREAM_TIMEOUT)`; a failure after the
   * response started destroys the client socket.
   * `done` is called once, when the response is finished or the client connection closed.
   */
  web(req: http.IncomingMessage, res: http.ServerResponse, route: Route, pool: Pool, done: ForwardDone, renderError: RenderError, hsts?: string): void {
    const flight = newFlight(route, pool, req, res, this.onError, this.reservedCookie, done, renderError, hsts);
    (req as InFlight)[FLIGHT] = flight;
    // `on`, not `once`: close is emitted once anyway, and once() allocates a wrapper per request.
    res.on('close', onResponseClose);
    const headers = req.headers;
    if (!route.preserveHost) headers.host = route.upstream.hostHeader;
    // A plain request never asks the upstream to switch protocols (upgrades go through ws()).
    if (headers.upgrade !== undefined) {
      delete headers.upgrade;
      delete headers.connection;
    }
    startFlightTimer(flight, route.timeoutMs);
    relay(req, res, pool.target);
  }

  /**
   * Forwards a WebSocket upgrade (authorized by the caller, `req.url` set as for `web`). The 101 is relayed and
   * the sockets piped; a failure before it writes a bare 502/504 and closes the socket, after it just closes. The
   * upstream's answer, 101 or not, goes through the same header rule as a plain response (`relayedHeader`).
   * `done` is called once, when the client socket closes. The handle closes the WebSocket from Drawbridge's side.
   */
  ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, route: Route, pool: Pool, done: ForwardDone, hsts?: string): WebSocketHandle {
    const flight = newFlight(route, pool, req, socket, this.onError, this.reservedCookie, done, undefined, hsts);
    (req as InFlight)[FLIGHT] = flight;
    const handle: WebSocketHandle = { close: (code, reason) => closeWebSocket(flight, code, reason) };
    socket.once('close', () => report(flight));
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      flight.status = 400;
      writeRawStatus(socket, 400, 'Bad Request', hsts);
      return handle;
    }
    if (!route.preserveHost) req.headers.host = route.upstream.hostHeader;
    startFlightTimer(flight, route.timeoutMs);
    try {
      pool.proxy.ws(req, socket, head);
    } catch (err) {
      fail(flight, err as Error);
    }
    return handle;
  }

  /** Upstream connections held by the keep-alive pools: `active` (serving a request) and `free` (idle). */
  socketCounts(): { active: number; free: number } {
    return this.pools.socketCounts();
  }

  /** Pools not yet destroyed: the configuration in force's, and replaced ones' still carrying requests. */
  poolCount(): number {
    return this.pools.size;
  }

  /** Closes every pool's connections. Safe to call twice. */
  close(): void {
    this.pools.close();
  }
}
