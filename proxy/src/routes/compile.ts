// routes/compile.ts — validated Config → an immutable route table. All heavy work (parsing `from`,
// compiling policies and regexes, indexing hosts and prefixes) happens here, once; match() only reads.
import type { Config, RouteConfig } from '../schema/config.js';
import { OVERRIDE_HEADERS } from '../schema/constants.js';
import { parseDuration } from '../policy/duration.js';
import { compilePolicies, type CompiledPolicy } from '../policy/evaluate.js';
import type { PolicyConfig } from '../policy/schema.js';
import type { MfaMethods } from '../policy/rule.js';
import { RFC8176_MFA_AMR } from '../policy/rules/mfa.js';
import { parseFrom } from './from.js';
import { parseHeaderTemplate, type HeaderTemplate } from './header-template.js';
import { compileRewrite, type PathRewrite } from './rewrite.js';
import { EXACT, HostIndex, WILD, type IndexedHost } from './host-index.js';
// A constants file without imports: the header names Drawbridge reads and sets.
import { ACCESS_TOKEN_HEADER, DEFAULT_IDENTITY_HEADERS } from '../header-names.js';

/** Default names of the identity headers (SPEC §6), renameable per route; defined once in header-names.ts. */
export { DEFAULT_IDENTITY_HEADERS };

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
  /** How the authorized path becomes the upstream path (routes/rewrite.ts `rewritePath`); undefined: unchanged. */
  readonly rewrite: PathRewrite | undefined;
  /** `upstreamAuth.basic`, its user parsed; the password file is read by forward/identity-headers.ts at start and reload. */
  readonly basicAuth: { readonly user: HeaderTemplate; readonly passwordFile: string } | undefined;
  readonly identityHeaders: IdentityHeaderNames | false;
  readonly passAccessToken: boolean;
  readonly setRequestHeaders: readonly (readonly [string, string])[];
  /** Lower-case names. */
  readonly removeRequestHeaders: readonly string[];
  /** The override headers (schema/config.ts OVERRIDE_HEADERS) this route forwards, lower-case; undefined for none. */
  readonly keepRequestHeaders: ReadonlySet<string> | undefined;
  readonly preserveHost: boolean;
  readonly websockets: boolean;
  readonly timeoutMs: number;
  readonly upstreamTls?: RouteConfig['upstreamTls'];
  readonly sessionIdleMs: number;
  readonly sessionMaxMs: number;
  /** A wildcard route whose hosts may receive hand-offs (see RouteTable.servesExactly). */
  readonly wildcardHandoff: boolean;
  /** The source configuration of this route (for explain and docs). */
  readonly config: RouteConfig;
  /** `requests:` compiled (access/): who approves temporary access to this route, and for how long; undefined: none. */
  readonly requests?: RouteRequests | undefined;
}

/** A route's `requests:` (schema/config.ts accessRequestsSchema), compiled. */
export interface RouteRequests {
  /** Checked against the approver when they approve (never the requester: nobody approves their own request). */
  readonly approvers: CompiledPolicy;
  /** A requester it allows is granted at once. */
  readonly autoApprove: CompiledPolicy | undefined;
  readonly maxDurationMs: number;
  readonly defaultDurationMs: number;
  readonly reasonRequired: boolean;
  /** The block as written (the route's own, or its named policy's), for explain. */
  readonly source: NonNullable<RouteConfig['requests']>;
}

/** Sentinels returned by match() when no route serves the request. */
export const NO_ROUTE = Object.freeze({ status: 404 as const });
export const METHOD_NOT_ALLOWED = Object.freeze({ status: 405 as const });
export type MatchResult = Route | typeof NO_ROUTE | typeof METHOD_NOT_ALLOWED;

/** One host's routes (the prefix routes already with those it inherits from its host on any port). */
class HostEntry {
  readonly prefixes = new Map<string, Route>();
  readonly regexRoutes: Route[] = [];
}

/** The compiled, frozen route table. */
export class RouteTable {
  readonly routes: readonly Route[];
  /** Exact hosts by `hostname` and `hostname:port`. */
  private readonly exact = new Map<string, HostEntry>();
  /** Wildcard hosts by their suffix with its dot (`.example.com`, `.example.com:8443`). */
  private readonly wild = new Map<string, HostEntry>();
  /** The lookup of `match` (routes/host-index.ts), and each of its hosts' entry by host id (for the regex routes). */
  private readonly index: HostIndex;
  private readonly entries: HostEntry[] = [];

  constructor(routes: Route[]) {
    this.routes = Object.freeze(routes);
    const hosts = new Map<string, HostEntry>();
    for (const route of routes) {
      const key = hostKey(route.wildcard ? `*.${route.hostname}` : route.hostname, route.port);
      let entry = hosts.get(key);
      if (!entry) hosts.set(key, (entry = new HostEntry()));
      if (route.regex) entry.regexRoutes.push(route);
      else entry.prefixes.set(route.prefix, route);
    }
    // A route without a port serves its host on every port: a port-specific entry inherits those
    // routes (its own prefixes win), so one lookup per request still finds everything.
    for (const [key, entry] of hosts) {
      const colon = key.lastIndexOf(':');
      if (colon < 0 || key.endsWith(']')) continue;
      const anyPort = hosts.get(key.slice(0, colon));
      if (!anyPort) continue;
      for (const [prefix, route] of anyPort.prefixes) if (!entry.prefixes.has(prefix)) entry.prefixes.set(prefix, route);
      entry.regexRoutes.push(...anyPort.regexRoutes.filter((r) => !entry.regexRoutes.includes(r)));
      entry.regexRoutes.sort((a, b) => a.index - b.index);
    }
    const indexed: IndexedHost[] = [];
    for (const [key, entry] of hosts) {
      const wild = key.startsWith('*.');
      if (wild) this.wild.set(key.slice(1), entry);
      else this.exact.set(key, entry);
      const colon = key.endsWith(']') ? -1 : key.lastIndexOf(':');
      const name = colon < 0 ? key : key.slice(0, colon);
      indexed.push({
        kind: wild ? WILD : EXACT,
        name: wild ? name.slice(1) : name,
        port: colon < 0 ? undefined : Number(key.slice(colon + 1)),
        prefixes: new Map([...entry.prefixes].map(([prefix, route]) => [prefix, route.index])),
        hasRegex: entry.regexRoutes.length > 0,
      });
      this.entries.push(entry);
    }
    this.index = new HostIndex(indexed);
  }

  /**
   * Finds the one route for a normalized host, path and method: host (exact with port, exact, wildcard
   * with port, wildcard), then the longest segment-aware prefix, then regex routes in file order. A method
   * the best route does not accept is 405, never a fall-through to a shorter prefix. TRACE is refused unless the
   * route's `methods` names it: an upstream that implements it echoes the request back, identity headers and
   * the signed assertion included (cross-site tracing).
   */
  match(hostname: string, port: number | undefined, path: string, method: string): MatchResult {
    const host = this.index.host(hostname, port);
    if (host < 0) return NO_ROUTE;
    const prefixRoute = this.index.longestPrefix(host, path);
    const route = prefixRoute >= 0 ? this.routes[prefixRoute] : this.index.hasRegex(host) ? this.entries[host]!.regexRoutes.find((r) => r.regex!.test(path)) : undefined;
    if (!route) return NO_ROUTE;
    if (route.methods ? !route.methods.has(method) : method === 'TRACE') return METHOD_NOT_ALLOWED;
    return route;
  }

  /**
   * True when a route serves exactly this origin, so that a browser may be sent there with authority (a hand-off
   * code) or back after sign-in and sign-out: a route whose `from` names this scheme and host and
   *   - names this port, or
   *   - names no port, and the origin is on the scheme's default port (no port) or on one of `ownPorts` (the ports
   *     Drawbridge itself is reached on: its listener's and publicUrl's);
   * a wildcard `from` only when the route says `wildcardHandoff: true` (every name under it resolves to
   * Drawbridge). Anything else, a port-less route's host on another port included, is not served exactly.
   */
  servesExactly(scheme: string, hostname: string, port: number | undefined, ownPorts: ReadonlySet<number>): boolean {
    const fits = (r: Route, wild: boolean): boolean =>
      r.scheme === scheme && (!wild || r.wildcardHandoff) && (r.port !== undefined ? r.port === port : port === undefined || ownPorts.has(port));
    const any = (entry: HostEntry | undefined, wild: boolean): boolean => {
      if (entry === undefined) return false;
      for (const r of entry.prefixes.values()) if (fits(r, wild)) return true;
      return entry.regexRoutes.some((r) => fits(r, wild));
    };
    if (any(this.exact.get(hostKey(hostname, port)), false) || any(this.exact.get(hostname), false)) return true;
    const dot = hostname.indexOf('.');
    if (dot <= 0 || this.exact.has(hostname) || this.exact.has(hostKey(hostname, port))) return false;
    const suffix = hostname.slice(dot);
    return any(this.wild.get(hostKey(suffix, port)), true) || any(this.wild.get(suffix), true);
  }
}

function hostKey(hostname: string, port: number | undefined): string {
  return port === undefined ? hostname : `${hostname}:${port}`;
}

/** Everything derived from one configuration; swapped atomically on reload. */
export interface CompiledConfig {
  readonly config: Config;
  readonly table: RouteTable;
  /** Every identity header name any route uses, plus the assertion header (for stripping). */
  readonly identityHeaderNames: readonly string[];
  /** The origin of publicUrl (sign-in, callback). */
  readonly publicOrigin: string;
  /** The ports Drawbridge is reached on directly: the listener's and publicUrl's (RouteTable.servesExactly). */
  readonly ownPorts: ReadonlySet<number>;
  /** What counts as multi-factor (`idp.mfa`, its acr defaulting to `idp.mfaAcrValues`): the `mfa` rule and the step-up check. */
  readonly mfa: MfaMethods;
}

/** `idp.mfa` with its defaults: the RFC 8176 second factors, and `idp.mfaAcrValues` as acr. */
export function mfaMethods(idp: Config['idp']): MfaMethods {
  return Object.freeze({ amr: Object.freeze([...(idp.mfa?.amr ?? RFC8176_MFA_AMR)]), acr: Object.freeze([...(idp.mfa?.acr ?? idp.mfaAcrValues)]) });
}

/** The override headers a route keeps, lower-case; only names of OVERRIDE_HEADERS count (the schema allows no other). */
function keepSet(names: readonly string[]): ReadonlySet<string> | undefined {
  const kept = names.map((n) => n.toLowerCase()).filter((n) => OVERRIDE_HEADERS.includes(n));
  return kept.length === 0 ? undefined : new Set(kept);
}

/** A parsed header value of a validated configuration (config/semantic.ts reports a bad one first). */
function template(value: string, where: string): HeaderTemplate {
  const t = parseHeaderTemplate(value);
  if ('error' in t) throw new Error(`${where}: ${t.error}`);
  return t;
}

/** A route's `requests:`: its own, else its named policy's (`policy: NAME` with `requests:` under `policies.NAME`). */
function requestsOf(rc: RouteConfig, config: Config, policies: ReturnType<typeof compilePolicies>): RouteRequests | undefined {
  const own = rc.requests ?? (typeof rc.policy === 'string' ? config.policies[rc.policy]?.requests : undefined);
  return own === undefined ? undefined : compileRequests(own, policies);
}

function compileRequests(rc: NonNullable<RouteConfig['requests']>, policies: ReturnType<typeof compilePolicies>): RouteRequests {
  const policy = (p: string | PolicyConfig) => (typeof p === 'string' ? policies.named.get(p)! : policies.compile(p));
  return Object.freeze({
    approvers: policy(rc.approvers),
    autoApprove: rc.autoApprove === undefined ? undefined : policy(rc.autoApprove),
    maxDurationMs: parseDuration(rc.maxDuration),
    defaultDurationMs: Math.min(parseDuration(rc.defaultDuration), parseDuration(rc.maxDuration)),
    reasonRequired: rc.reason === 'required',
    source: rc,
  });
}

/** Compiles a validated configuration. Synchronous and without I/O (files named in it are read at start). */
export function compileConfig(config: Config): CompiledConfig {
  const mfa = mfaMethods(config.idp);
  const policies = compilePolicies(config.policies, { mfa });
  const globalIdle = parseDuration(config.session.idleTimeout);
  const globalMax = parseDuration(config.session.maxLifetime);
  const headerNames = new Set<string>([config.assertion.header, ...Object.values(DEFAULT_IDENTITY_HEADERS), ACCESS_TOKEN_HEADER]);

  // Routes share what they have in common (policies, method sets, prefix strings, upstreams): one copy each, so a request
  // to any of thousands of routes finds most of what it reads already in the CPU caches.
  const prefixes = new Map<string, string>();
  const methodSets = new Map<string, ReadonlySet<string>>();
  const upstreams = new Map<string, Upstream>();
  const shared = <T>(cache: Map<string, T>, key: string, make: () => T): T => {
    let value = cache.get(key);
    if (value === undefined) cache.set(key, (value = make()));
    return value;
  };

  const routes = config.routes.map((rc, index): Route => {
    const from = parseFrom(rc.from);
    if ('error' in from) throw new Error(`routes[${index}].from: ${from.error}`);
    const to = new URL(rc.to);
    const port = to.port ? Number(to.port) : to.protocol === 'https:' ? 443 : 80;
    const basePath = to.pathname.endsWith('/') ? to.pathname.slice(0, -1) : to.pathname;
    const identityHeaders = rc.identityHeaders === false ? false : Object.freeze({ ...DEFAULT_IDENTITY_HEADERS, ...rc.identityHeaders });
    if (identityHeaders) for (const n of Object.values(identityHeaders)) headerNames.add(n);
    // A header that carries identity through a placeholder is an identity header: stripped from every client request.
    for (const [n, v] of Object.entries(rc.setRequestHeaders)) if (template(v, `routes[${index}].setRequestHeaders.${n}`).dynamic) headerNames.add(n);
    const basic = rc.upstreamAuth?.basic;
    const policy = rc.public ? undefined : typeof rc.policy === 'string' ? policies.named.get(rc.policy) : rc.policy ? policies.compile(rc.policy) : undefined;
    // Every route has every field, in one order (absent ones undefined): one hidden class, so the request path reads
    // routes monomorphically. The fields a proxied request reads (match, credentials, admission, assertion, forwarding)
    // come first, on the object's first three cache lines of five: with thousands of routes none of them is cached.
    const route: Route = {
      methods: rc.methods ? shared(methodSets, rc.methods.join(' '), () => new Set(rc.methods)) : undefined,
      public: rc.public,
      policy,
      bearer: rc.bearer === false ? false : { audiences: Object.freeze(rc.bearer === true ? (config.idp.audiences ?? [config.idp.clientId]) : rc.bearer.audiences) },
      keepRequestHeaders: keepSet(rc.keepRequestHeaders),
      sessionIdleMs: rc.session?.idleTimeout ? Math.min(parseDuration(rc.session.idleTimeout), globalIdle) : globalIdle,
      sessionMaxMs: rc.session?.maxLifetime ? Math.min(parseDuration(rc.session.maxLifetime), globalMax) : globalMax,
      requests: rc.public ? undefined : requestsOf(rc, config, policies),
      index,
      name: rc.name,
      origin: from.origin,
      rewrite: rc.regex === undefined ? compileRewrite(from.prefix, rc.stripPrefix, rc.rewrite) : compileRewrite('/', false, rc.rewrite),
      upstream: shared(upstreams, rc.to, () => Object.freeze({ protocol: to.protocol, hostname: to.hostname, port, origin: to.origin, basePath, hostHeader: to.host })),
      preserveHost: rc.preserveHost,
      timeoutMs: parseDuration(rc.timeout),
      prefix: shared(prefixes, from.prefix, () => from.prefix),
      regex: rc.regex !== undefined ? new RegExp(rc.regex) : undefined,
      from: rc.from,
      scheme: from.scheme,
      hostname: from.hostname,
      wildcard: from.wildcard,
      port: from.port,
      basicAuth: basic ? Object.freeze({ user: template(basic.user, `routes[${index}].upstreamAuth.basic.user`), passwordFile: basic.passwordFile }) : undefined,
      identityHeaders,
      passAccessToken: rc.passAccessToken,
      setRequestHeaders: Object.freeze(Object.entries(rc.setRequestHeaders).map(([k, v]) => Object.freeze([k, v] as const))),
      removeRequestHeaders: Object.freeze(rc.removeRequestHeaders.map((h) => h.toLowerCase())),
      websockets: rc.websockets,
      upstreamTls: rc.upstreamTls,
      wildcardHandoff: from.wildcard && rc.wildcardHandoff === true,
      config: rc,
    };
    return Object.freeze(route);
  });

  const publicUrl = new URL(config.publicUrl);
  const ownPorts = new Set<number>([Number(config.listen.slice(config.listen.lastIndexOf(':') + 1))]);
  if (publicUrl.port !== '') ownPorts.add(Number(publicUrl.port));
  return Object.freeze({
    config,
    table: new RouteTable(routes),
    identityHeaderNames: Object.freeze([...headerNames]),
    publicOrigin: publicUrl.origin,
    ownPorts: Object.freeze(ownPorts),
    mfa,
  });
}
