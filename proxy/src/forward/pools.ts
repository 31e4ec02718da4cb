// forward/pools.ts — the upstream connection pools: a keep-alive agent (with the route's upstream TLS options) and
// the http-proxy-3 instance bound to it, per upstream, in generations (a reload starts a new one; older pools are
// destroyed once idle).
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import { DrawbridgeError } from '../errors.js';
import type { Route } from '../routes/compile.js';
import { ignore, onProxyError } from './flight.js';
import { relay, type RelayTarget } from './relay.js';
import { onProxyReqWs } from './websocket.js';

/**
 * One upstream's connection pool and the http-proxy-3 instance bound to it. The target and agent are the
 * instance's own options rather than per-call options: http-proxy merges per-call options into a fresh object on
 * every request, and measured end to end that costs ~15% of the CPU of a proxied request; the instance's own
 * options are merged by a plain clone.
 */
export interface Pool {
  readonly agent: http.Agent;
  readonly proxy: ProxyServer;
}

function upstreamHostname(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/**
 * A route's pool, kept on the route (`route.runtime.pool`) so a request finds it without a map lookup. `owner`
 * is the Pools (of a Forwarder) it belongs to: several may share a process (and a compiled route), and each has its own pools.
 * `route` is the route it was chosen for: a copy of a route (`{ ...route, upstream }`) shares its runtime object.
 */
interface PoolSlot {
  readonly owner: Pools;
  readonly route: Route;
  readonly pool: Pool;
}

function poolSlot(route: Route): PoolSlot | undefined {
  return route.runtime.pool as PoolSlot | undefined;
}

function setPoolSlot(route: Route, slot: PoolSlot): void {
  route.runtime.pool = slot;
}

/** The pools of one Forwarder. */
export class Pools {
  private readonly agentOptions: http.AgentOptions;
  /** Pools of the current configuration by upstream and TLS settings; `prepare` starts a new generation. */
  private generation = new Map<string, Pool>();
  /** Every pool not yet destroyed, for close(); pools of earlier generations are dropped once idle. */
  private readonly pools = new Set<Pool>();
  private closed = false;

  constructor(agentOptions: http.AgentOptions) {
    this.agentOptions = agentOptions;
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

  /** The route's pool: the one `prepare` gave it, else (a route `prepare` never saw) one of the current generation. */
  entry(route: Route): Pool {
    const slot = poolSlot(route);
    if (slot !== undefined && slot.owner === this && slot.route === route) return slot.pool;
    // Not prepared here (or prepared by another Forwarder of this process, whose pool is not this one's).
    const pool = this.pool(route, this.generation);
    setPoolSlot(route, { owner: this, route, pool });
    return pool;
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

  private pool(route: Route, generation: Map<string, Pool>): Pool {
    const { upstream } = route;
    const secure = upstream.protocol === 'https:';
    const tls = route.upstreamTls;
    // Routes to the same upstream with the same TLS settings share one pool: 10,000 routes to one app must not
    // mean 10,000 pools of cold connections.
    const key = secure ? `${upstream.origin}|${tls?.caFile ?? ''}|${tls?.certFile ?? ''}|${tls?.keyFile ?? ''}|${tls?.serverName ?? ''}|${tls?.insecureSkipVerify === true}` : upstream.origin;
    let pool = generation.get(key);
    if (pool) return pool;
    const agent = secure ? this.httpsAgent(route) : new http.Agent(this.agentOptions);
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
    pool = { agent, proxy };
    generation.set(key, pool);
    this.pools.add(pool);
    return pool;
  }

  private httpsAgent(route: Route): https.Agent {
    const tls = route.upstreamTls;
    const read = (field: 'caFile' | 'certFile' | 'keyFile'): Buffer | undefined => {
      const file = tls?.[field];
      if (file === undefined) return undefined;
      try {
        return readFileSync(file);
      } catch (cause) {
        throw new DrawbridgeError('DRB_CONFIG_READ', `route "${route.name}" upstreamTls.${field}: ${(cause as Error).message}`, { cause });
      }
    };
    const ca = read('caFile');
    const cert = read('certFile');
    const key = read('keyFile');
    const { hostname } = route.upstream;
    const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    return new https.Agent({
      ...this.agentOptions,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      // Always explicit: left unset, node derives SNI from the Host header, i.e. the client's host with preserveHost.
      servername: tls?.serverName ?? (isIP(bare) ? '' : hostname),
      rejectUnauthorized: !(tls?.insecureSkipVerify ?? false),
    });
  }
}
