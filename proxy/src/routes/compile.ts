// routes/compile.ts — validated Config → an immutable route table. All heavy work (parsing `from`,
// compiling policies and regexes, indexing hosts and prefixes) happens here, once; match() only reads.
import type { Config, RouteConfig } from '../config/schema.js';
import { parseDuration } from '../policy/duration.js';
import { compilePolicies, type CompiledPolicy } from '../policy/evaluate.js';
import { parseFrom } from './from.js';

/** Default names of the identity headers (SPEC §6), renameable per route. */
export const DEFAULT_IDENTITY_HEADERS = Object.freeze({
  user: 'X-Forwarded-User',
  email: 'X-Forwarded-Email',
  groups: 'X-Forwarded-Groups',
  name: 'X-Forwarded-Name',
});

export interface IdentityHeaderNames {
  readonly user: string;
  readonly email: string;
  readonly groups: string;
  readonly name: string;
}

export interface Upstream {
  /** `http:` or `https:`. */
  readonly protocol: string;
  readonly hostname: string;
  readonly port: number;
  /** scheme://host:port of the upstream. */
  readonly origin: string;
  /** The path of `to` without a trailing slash ('' for none); prepended to the forwarded path. */
  readonly basePath: string;
  /** Host header value for the upstream (unless preserveHost). */
  readonly hostHeader: string;
}

/** One compiled route: the object matched once per request and used to authorize AND forward. */
export interface Route {
  readonly index: number;
  readonly name: string;
  readonly from: string;
  readonly scheme: 'http' | 'https';
  readonly hostname: string;
  readonly wildcard: boolean;
  readonly port?: number;
  readonly prefix: string;
  readonly regex?: RegExp;
  readonly methods?: ReadonlySet<string>;
  /** The route's origin (assertion `aud`), e.g. https://wiki.example.com. */
  readonly origin: string;
  readonly public: boolean;
  readonly policy?: CompiledPolicy;
  /** false, or the accepted audiences of bearer tokens. */
  readonly bearer: false | { readonly audiences: readonly string[] };
  readonly upstream: Upstream;
  readonly identityHeaders: IdentityHeaderNames | false;
  readonly passAccessToken: boolean;
  readonly setRequestHeaders: readonly (readonly [string, string])[];
  /** Lower-case names. */
  readonly removeRequestHeaders: readonly string[];
  readonly preserveHost: boolean;
  readonly websockets: boolean;
  readonly timeoutMs: number;
  readonly upstreamTls?: RouteConfig['upstreamTls'];
  readonly sessionIdleMs: number;
  readonly sessionMaxMs: number;
  /** The source configuration of this route (for explain and docs). */
  readonly config: RouteConfig;
}

/** Sentinels returned by match() when no route serves the request. */
export const NO_ROUTE = Object.freeze({ status: 404 as const });
export const METHOD_NOT_ALLOWED = Object.freeze({ status: 405 as const });
export type MatchResult = Route | typeof NO_ROUTE | typeof METHOD_NOT_ALLOWED;

interface HostEntry {
  readonly prefixes: Map<string, Route>;
  readonly regexRoutes: Route[];
}

/** The compiled, frozen route table. */
export class RouteTable {
  readonly routes: readonly Route[];
  private readonly hosts: Map<string, HostEntry>;

  constructor(routes: Route[]) {
    this.routes = Object.freeze(routes);
    this.hosts = new Map();
    for (const route of routes) {
      const key = hostKey(route.wildcard ? `*.${route.hostname}` : route.hostname, route.port);
      let entry = this.hosts.get(key);
      if (!entry) this.hosts.set(key, (entry = { prefixes: new Map(), regexRoutes: [] }));
      if (route.regex) entry.regexRoutes.push(route);
      else entry.prefixes.set(route.prefix, route);
    }
    // A route without a port serves its host on every port: a port-specific entry inherits those
    // routes (its own prefixes win), so one lookup per request still finds everything.
    for (const [key, entry] of this.hosts) {
      const colon = key.lastIndexOf(':');
      if (colon < 0 || key.endsWith(']')) continue;
      const anyPort = this.hosts.get(key.slice(0, colon));
      if (!anyPort) continue;
      for (const [prefix, route] of anyPort.prefixes) if (!entry.prefixes.has(prefix)) entry.prefixes.set(prefix, route);
      entry.regexRoutes.push(...anyPort.regexRoutes.filter((r) => !entry.regexRoutes.includes(r)));
      entry.regexRoutes.sort((a, b) => a.index - b.index);
    }
  }

  /**
   * Finds the one route for a normalized host, path and method: host (exact with port, exact, wildcard
   * with port, wildcard), then the longest segment-aware prefix, then regex routes in file order. A method
   * the best route does not accept is 405, never a fall-through to a shorter prefix.
   */
  match(hostname: string, port: number | undefined, path: string, method: string): MatchResult {
    const entry = this.hostEntry(hostname, port);
    if (!entry) return NO_ROUTE;
    const route = longestPrefix(entry.prefixes, path) ?? entry.regexRoutes.find((r) => r.regex!.test(path));
    if (!route) return NO_ROUTE;
    if (route.methods && !route.methods.has(method)) return METHOD_NOT_ALLOWED;
    return route;
  }

  /** True when some route serves this scheme, host and port (return targets, hand-off targets). */
  servesOrigin(scheme: string, hostname: string, port: number | undefined): boolean {
    const entry = this.hostEntry(hostname, port);
    if (!entry) return false;
    for (const r of entry.prefixes.values()) if (r.scheme === scheme) return true;
    return entry.regexRoutes.some((r) => r.scheme === scheme);
  }

  private hostEntry(hostname: string, port: number | undefined): HostEntry | undefined {
    const h = this.hosts;
    let e = (port !== undefined ? h.get(hostKey(hostname, port)) : undefined) ?? h.get(hostname);
    if (e) return e;
    const dot = hostname.indexOf('.');
    if (dot <= 0) return undefined;
    const wild = `*${hostname.slice(dot)}`;
    e = (port !== undefined ? h.get(hostKey(wild, port)) : undefined) ?? h.get(wild);
    return e;
  }
}

function hostKey(hostname: string, port: number | undefined): string {
  return port === undefined ? hostname : `${hostname}:${port}`;
}

/** Walks the path's own prefixes from longest to shortest: cost grows with depth, not with route count. */
function longestPrefix(prefixes: Map<string, Route>, path: string): Route | undefined {
  if (prefixes.size === 0) return undefined;
  let end = path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
  for (;;) {
    const candidate = end === 0 ? '/' : path.slice(0, end);
    const route = prefixes.get(candidate);
    if (route) return route;
    if (end === 0) return undefined;
    end = path.lastIndexOf('/', end - 1);
  }
}

/** Everything derived from one configuration; swapped atomically on reload. */
export interface CompiledConfig {
  readonly config: Config;
  readonly table: RouteTable;
  /** Every identity header name any route uses, plus the assertion header (for stripping). */
  readonly identityHeaderNames: readonly string[];
  /** The origin of publicUrl (sign-in, callback). */
  readonly publicOrigin: string;
}

/** Compiles a validated configuration. Synchronous and without I/O (files named in it are read at start). */
export function compileConfig(config: Config): CompiledConfig {
  const policies = compilePolicies(config.policies);
  const globalIdle = parseDuration(config.session.idleTimeout);
  const globalMax = parseDuration(config.session.maxLifetime);
  const headerNames = new Set<string>([config.assertion.header, ...Object.values(DEFAULT_IDENTITY_HEADERS), 'X-Forwarded-Access-Token']);

  const routes = config.routes.map((rc, index): Route => {
    const from = parseFrom(rc.from);
    if ('error' in from) throw new Error(`routes[${index}].from: ${from.error}`);
    const to = new URL(rc.to);
    const port = to.port ? Number(to.port) : to.protocol === 'https:' ? 443 : 80;
    const basePath = to.pathname.endsWith('/') ? to.pathname.slice(0, -1) : to.pathname;
    const identityHeaders = rc.identityHeaders === false ? false : Object.freeze({ ...DEFAULT_IDENTITY_HEADERS, ...rc.identityHeaders });
    if (identityHeaders) for (const n of Object.values(identityHeaders)) headerNames.add(n);
    const policy = rc.public ? undefined : typeof rc.policy === 'string' ? policies.named.get(rc.policy) : rc.policy ? policies.compile(rc.policy) : undefined;
    const route: Route = {
      index,
      name: rc.name,
      from: rc.from,
      scheme: from.scheme,
      hostname: from.hostname,
      wildcard: from.wildcard,
      ...(from.port !== undefined ? { port: from.port } : {}),
      prefix: from.prefix,
      ...(rc.regex !== undefined ? { regex: new RegExp(rc.regex) } : {}),
      ...(rc.methods ? { methods: new Set(rc.methods) } : {}),
      origin: from.origin,
      public: rc.public,
      ...(policy ? { policy } : {}),
      bearer: rc.bearer === false ? false : { audiences: Object.freeze(rc.bearer === true ? (config.idp.audiences ?? [config.idp.clientId]) : rc.bearer.audiences) },
      upstream: Object.freeze({ protocol: to.protocol, hostname: to.hostname, port, origin: to.origin, basePath, hostHeader: to.host }),
      identityHeaders,
      passAccessToken: rc.passAccessToken,
      setRequestHeaders: Object.freeze(Object.entries(rc.setRequestHeaders).map(([k, v]) => Object.freeze([k, v] as const))),
      removeRequestHeaders: Object.freeze(rc.removeRequestHeaders.map((h) => h.toLowerCase())),
      preserveHost: rc.preserveHost,
      websockets: rc.websockets,
      timeoutMs: parseDuration(rc.timeout),
      ...(rc.upstreamTls ? { upstreamTls: rc.upstreamTls } : {}),
      sessionIdleMs: rc.session?.idleTimeout ? Math.min(parseDuration(rc.session.idleTimeout), globalIdle) : globalIdle,
      sessionMaxMs: rc.session?.maxLifetime ? Math.min(parseDuration(rc.session.maxLifetime), globalMax) : globalMax,
      config: rc,
    };
    return Object.freeze(route);
  });

  return Object.freeze({
    config,
    table: new RouteTable(routes),
    identityHeaderNames: Object.freeze([...headerNames]),
    publicOrigin: new URL(config.publicUrl).origin,
  });
}
