// runtime/route-state.ts — a route's run-time state in one object, built with its configuration snapshot
// (server/provision.ts) and released when a reload replaces it: what a request reads about its route besides the
// compiled route itself. One object rather than several small ones pointing to each other: with thousands of routes
// visited in turn, none of them is in the CPU caches, and each object a request follows costs a cache miss.
import { RouteTokens } from '../forward/assertion.js';
import type { HeaderPlan } from '../forward/identity-headers.js';
import type { Pool } from '../forward/pools.js';
import type { RouteCookie } from '../session/sessions.js';
import type { RouteMetrics, RouteMetricsAt } from '../telemetry/metrics.js';

/**
 * The route's run-time state. Its own slots are inline: the route's cached signed assertions (it is the route's
 * `RouteTokens`, forward/assertion.ts) and its last verified session cookie (`RouteCookie`, session/sessions.ts
 * `readId`), both empty at first, so a reload starts them afresh; the rest is shared with the snapshot's other routes
 * (header plan, pool) or the route's children of the per-request series.
 */
export class RouteState extends RouteTokens implements RouteCookie, RouteMetricsAt {
  verifiedCookie = '';
  /** `metrics.block` and `metrics.stamp`, here so that counting a request does not read the children object. */
  readonly metricsBlock: number;
  readonly metricsStamp: number;

  constructor(
    route: { readonly name: string; readonly origin: string },
    /** What `setIdentityHeaders` sets on the route's requests (Basic password read). */
    readonly headers: HeaderPlan,
    /** The upstream's connection pool, shared by the snapshot's routes to the same upstream and TLS settings. */
    readonly pool: Pool,
    /** The route's children of the per-request series. */
    readonly metrics: RouteMetrics,
  ) {
    super(route);
    this.metricsBlock = metrics.block;
    this.metricsStamp = metrics.stamp;
  }
}
