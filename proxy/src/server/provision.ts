// server/provision.ts — Provision and Cleanup of a configuration snapshot (Caddy's model): each route's header plan
// (one shared by routes with the same), upstream pool, metric children, assertion and cookie slots are built when the
// snapshot is made (one RouteState object per route, runtime/route-state.ts), and released when a reload replaces it. A
// request only reads them: `snapshot.routes[route.index]`, looked up once and kept on its exchange (`x.state`).
import { headerPlans } from '../forward/identity-headers.js';
import { sentHeaderNames, teachUndiciHeaderNames } from '../forward/undici-names.js';
import type { Forwarder } from '../forward/forwarder.js';
import type { Metrics } from '../telemetry/metrics.js';
import { RouteState } from '../runtime/route-state.js';
import type { Snapshot } from '../runtime/runtime.js';

/** What provisioning builds from. */
export interface ProvisionServices {
  readonly forwarder: Forwarder;
  readonly metrics: Metrics;
}

/**
 * The snapshot with its routes' run-time state. Reads every route's files now (upstream TLS, Basic password): a
 * file that cannot be read fails the start or the reload (DRB_CONFIG_READ), never a request, and nothing of the
 * failed snapshot is left behind.
 */
export function provisionSnapshot(base: Omit<Snapshot, 'routes'>, services: ProvisionServices): Snapshot {
  const routes = base.compiled.table.routes;
  const headers = headerPlans(routes);
  // The names Drawbridge adds to every forwarded request: checked once here rather than by undici on every request.
  teachUndiciHeaderNames(sentHeaderNames(new Set(headers), base.compiled.config.assertion.header));
  const pools = services.forwarder.provision(routes);
  // Each route's name copied here, one after another: the request log line reads it (RouteState `name`), and so it
  // sits with the other routes' names, not among what the configuration's parse left around the original.
  const names = routes.map((route) => JSON.parse(JSON.stringify(route.name)) as string);
  const states = routes.map((route, i) => new RouteState({ name: names[i]!, origin: route.origin }, headers[i]!, pools[i]!, services.metrics.route(route)));
  return Object.freeze({ ...base, routes: Object.freeze(states) });
}

/**
 * Cleanup of `old` once `next` is in force: its pools are destroyed when the requests and WebSockets still going
 * through them end, and the series of routes `next` no longer has (by name) are dropped.
 */
export function releaseSnapshot(old: Snapshot, next: Snapshot | undefined): void {
  const names = new Set(next?.compiled.table.routes.map((r) => r.name));
  for (const state of old.routes) {
    state.pool.release();
    if (!names.has(state.metrics.route.name)) state.metrics.remove();
  }
}
