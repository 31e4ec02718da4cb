// forward/pools.ts — the upstream connection pools: a keep-alive agent (with the route's upstream TLS options) and
// the http-proxy-3 instance bound to it, per upstream, provisioned with a configuration snapshot and destroyed once
// a reload has replaced it and nothing forwarded through them is left.
import * as http from 'node:http';
import * as https from 'node:https';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Route } from '../routes/compile.js';
import { upstreamTls } from '../tls/upstream.js';
import { ignore, onProxyError } from './flight.js';
import { relay, type RelayTarget } from './relay.js';
import { onProxyReqWs } from './websocket.js';

/**
 * One upstream's connection pool and the http-proxy-3 instance bound to it. The target and agent are the
 * instance's own options rather than per-call options: http-proxy merges per-call options into a fresh object on
 * every request, and measured end to end that costs ~15% of the CPU of a proxied request; the instance's own
 * options are merged by a plain clone. A pool belongs to the snapshot it was provisioned for (server/provision.ts);
 * once that snapshot is replaced (`release`), its agent is destroyed as soon as no request or WebSocket it
 * carries is left.
 */
export class Pool {
  /** Requests and WebSockets forwarded through this pool that have not ended yet. */
  private inFlight = 0;
  private released = false;
  private destroyed = false;

  constructor(
    readonly agent: http.Agent,
    readonly proxy: ProxyServer,
    private readonly onDestroy: (pool: Pool) => void,
  ) {}

  /** A request or upgrade starts through this pool (the forwarder calls `leave` once when it ends). */
  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    if (--this.inFlight === 0 && this.released) this.destroy();
  }

  /** Its snapshot was replaced: destroyed now if idle, else when the last request through it ends. Idempotent. */
  release(): void {
    this.released = true;
    if (this.inFlight === 0) this.destroy();
  }

  /** Destroys the agent and its connections now. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.agent.destroy();
    this.onDestroy(this);
  }
}

function upstreamHostname(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** The pools of one Forwarder. */
export class Pools {
  private readonly agentOptions: http.AgentOptions;
  /** Every pool not yet destroyed, for socketCounts() and close(). */
  private readonly pools = new Set<Pool>();
  private readonly forget = (pool: Pool): void => void this.pools.delete(pool);
  private closed = false;

  constructor(agentOptions: http.AgentOptions) {
    this.agentOptions = agentOptions;
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

  /** Pools not yet destroyed (those of the configuration in force and of replaced ones still in use). */
  get size(): number {
    return this.pools.size;
  }

  /** Destroys every agent (and their pooled connections). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pool of [...this.pools]) pool.destroy();
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
    proxy.on('error', onProxyError);
    proxy.on('proxyReqWs', onProxyReqWs);
    // The client went away: the library already destroyed the upstream request; `done` is called on close.
    proxy.on('econnreset', ignore);
    pool = new Pool(agent, proxy, this.forget);
    byKey.set(key, pool);
    made.push(pool);
    this.pools.add(pool);
    return pool;
  }
}
