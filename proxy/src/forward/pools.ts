// forward/pools.ts — the upstream connection pools: per upstream, an undici keep-alive pool for plain requests and
// the http-proxy-3 instance (with its agent) for WebSocket upgrades, both with the route's upstream TLS options;
// provisioned with a configuration snapshot and destroyed once a reload has replaced it and nothing forwarded
// through them is left.
import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { buildConnector as BuildConnector, Pool as UndiciPool } from 'undici';
import type { Route } from '../routes/compile.js';
import { upstreamTls } from '../tls/upstream.js';
import { ignore, onProxyError } from './flight.js';
import type { RelayTarget } from './relay.js';
import { onProxyReqWs } from './websocket.js';

// Only undici's pool and connector, the same classes the package's index exports (proxy/test/lazy-packages.test.ts
// holds them equal): the index also loads fetch, web streams, WebSocket, caches and mocks, about 4 MB of live heap
// and 10 MB resident per process that forwarding never uses (docs/deploy.md, "Memory").
const require = createRequire(import.meta.url);
const UndiciPoolClass = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
const buildConnector = require('undici/lib/core/connect.js') as typeof BuildConnector;

/**
 * One upstream's connections: the undici pool plain requests go through (`target`, for relay.ts), and the
 * http-proxy-3 instance upgrades go through. The proxy's target and agent are the instance's own options rather
 * than per-call options (http-proxy merges per-call options into a fresh object on every request). A pool belongs
 * to the snapshot it was provisioned for (server/provision.ts); once that snapshot is replaced (`release`), its
 * connections are closed as soon as no request or WebSocket it carries is left.
 */
export class Pool {
  /** Requests and WebSockets forwarded through this pool that have not ended yet. */
  private inFlight = 0;
  private released = false;
  private destroyed = false;

  constructor(
    readonly target: RelayTarget & { dispatcher: UndiciPool },
    /** WebSocket upgrades only; its agent keeps no connection alive (an upgraded socket never returns to a pool). */
    readonly proxy: ProxyServer,
    private readonly wsAgent: http.Agent,
    private readonly onDestroy: (pool: Pool) => void,
    /** A fresh dispatcher with the same settings, or undefined once the forwarder is closed (revive). */
    private readonly redispatcher: (pool: Pool) => UndiciPool | undefined,
  ) {}

  /** A request or upgrade starts through this pool (the forwarder calls `leave` once when it ends). */
  enter(): void {
    if (this.destroyed) this.revive();
    this.inFlight++;
  }

  /**
   * A request that took this pool's snapshot before a reload replaced it can reach the upstream leg after the pool
   * was closed for being idle (its admission waited on the session store meanwhile). It still goes to the upstream
   * and TLS settings it was authorized with, on fresh connections; the pool closes again when it is idle. (undici
   * refuses every request on a destroyed pool: without this, such a request was a 502, UND_ERR_DESTROYED.) After
   * the forwarder's close the dispatcher stays destroyed and the request fails.
   */
  private revive(): void {
    const dispatcher = this.redispatcher(this);
    if (dispatcher === undefined) return;
    this.target.dispatcher = dispatcher;
    this.destroyed = false;
  }

  leave(): void {
    if (--this.inFlight === 0 && this.released) this.destroy();
  }

  /** Its snapshot was replaced: destroyed now if idle, else when the last request through it ends. Idempotent. */
  release(): void {
    this.released = true;
    if (this.inFlight === 0) this.destroy();
  }

  /** Closes its connections now. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    // Resolves once every socket is closed; it never rejects for a pool destroyed once.
    this.target.dispatcher.destroy().catch(ignore);
    this.wsAgent.destroy();
    this.onDestroy(this);
  }
}

function upstreamHostname(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** Options of the upstream connection pools. */
export interface PoolsOptions {
  /** Concurrent connections per upstream; further requests queue. */
  readonly connections: number;
  /** An idle keep-alive connection is closed after this long (or the upstream's own Keep-Alive timeout, if shorter). */
  readonly idleMs: number;
}

/** The pools of one Forwarder. */
export class Pools {
  private readonly options: PoolsOptions;
  /** Every pool not yet destroyed, for socketCounts() and close(). */
  private readonly pools = new Set<Pool>();
  private readonly forget = (pool: Pool): void => void this.pools.delete(pool);
  private closed = false;

  constructor(options: PoolsOptions) {
    this.options = options;
  }

  /**
   * Creates the pools of a configuration's routes, one per upstream and TLS settings, reading upstream TLS files
   * now (a missing file fails the start or the reload, not a request). The result is aligned with `routes`; the
   * caller releases each pool (`Pool.release`) when the configuration is replaced.
   */
  provision(routes: readonly Route[]): readonly Pool[] {
    const byKey = new Map<string, Pool>();
    const made: Pool[] = [];
    try {
      return routes.map((route) => this.pool(route, byKey, made));
    } catch (err) {
      for (const pool of made) pool.destroy();
      throw err;
    }
  }

  /** Upstream connections held by the keep-alive pools: `active` (serving a request) and `free` (idle). */
  socketCounts(): { active: number; free: number } {
    let active = 0;
    let free = 0;
    for (const { target } of this.pools) {
      const stats = target.dispatcher.stats;
      active += stats.connected - stats.free;
      free += stats.free;
    }
    return { active, free };
  }

  /** Pools not yet destroyed (those of the configuration in force and of replaced ones still in use). */
  get size(): number {
    return this.pools.size;
  }

  /** Closes every pool's connections. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pool of [...this.pools]) pool.destroy();
  }

  /** Pool.revive's dispatcher maker: none once closed; a revived pool is counted again until destroyed. */
  private revived(origin: string, options: UndiciPool.Options): (pool: Pool) => UndiciPool | undefined {
    return (pool) => {
      if (this.closed) return undefined;
      this.pools.add(pool);
      return new UndiciPoolClass(origin, options);
    };
  }

  private pool(route: Route, byKey: Map<string, Pool>, made: Pool[]): Pool {
    const { upstream } = route;
    const secure = upstream.protocol === 'https:';
    const tls = route.upstreamTls;
    // Routes to the same upstream with the same TLS settings (and file contents: a renewed file makes a new pool)
    // share one pool: 10,000 routes to one app must not mean 10,000 pools of cold connections.
    const tlsOptions = secure ? upstreamTls(route) : undefined;
    const key = tlsOptions ? `${upstream.origin}|${tlsOptions.fingerprint}` : upstream.origin;
    let pool = byKey.get(key);
    if (pool) return pool;
    const hostname = upstreamHostname(upstream.hostname);
    // No connect timeout of undici's own (10 s by default): the route's timeout covers the connection too, as it did.
    let connect: UndiciPool.Options['connect'] = { timeout: 0 };
    let servername = hostname;
    if (tlsOptions) {
      // The server name sent (SNI) and verified is the route's, always: undici would otherwise take it from each
      // request's Host, the client's with preserveHost (an empty name, for an IP address, means none and the
      // certificate is checked against the IP).
      const connector = buildConnector({ ...tlsOptions.options, timeout: 0 });
      const name = tlsOptions.options.servername ?? '';
      connect = (opts, callback) => connector({ ...opts, servername: name }, callback);
      servername = name || hostname;
    }
    const dispatcherOptions: UndiciPool.Options = {
      connections: this.options.connections,
      keepAliveTimeout: this.options.idleMs,
      keepAliveMaxTimeout: this.options.idleMs,
      // The route's timeout (forwarder.ts) is to the response headers; after them a slow body is not cut.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect,
    };
    const dispatcher = new UndiciPoolClass(upstream.origin, dispatcherOptions);
    const wsAgent = tlsOptions ? new https.Agent(tlsOptions.options) : new http.Agent();
    const proxy = createProxyServer({
      target: new URL(upstream.origin),
      agent: wsAgent,
      // Drawbridge sets Host (in web/ws) and X-Forwarded-* (identity-headers.ts) itself.
      changeOrigin: false,
      xfwd: false,
      // req.url is sent as given: no re-parsing through URL (which would re-resolve dot segments) per request.
      toProxy: true,
      prependPath: false,
      secure: !(tls?.insecureSkipVerify ?? false),
    });
    // Per-request state travels on the request, so these shared listeners allocate no closure per request.
    proxy.on('error', onProxyError);
    proxy.on('proxyReqWs', onProxyReqWs);
    // The client went away: the library already destroyed the upstream request; `done` is called on close.
    proxy.on('econnreset', ignore);
    pool = new Pool({ dispatcher, hostHeader: upstream.hostHeader, servername }, proxy, wsAgent, this.forget, this.revived(upstream.origin, dispatcherOptions));
    byKey.set(key, pool);
    made.push(pool);
    this.pools.add(pool);
    return pool;
  }
}
