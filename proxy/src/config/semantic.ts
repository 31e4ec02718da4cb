// config/semantic.ts — the checks a schema cannot express (SPEC §2): duplicate names and
// host+prefix pairs, routes no request can reach, policy references and cycles, regexes, upstream schemes,
// secrets, https.
import { checkPolicies } from '../policy/evaluate.js';
import { acmeHosts } from './acme-hosts.js';
import { parseDuration } from '../policy/duration.js';
import { parseFrom } from '../routes/from.js';
import { findUnreachable, type RouteShape } from '../routes/reachability.js';
import { NO_PLACEHOLDER_HEADERS, parseHeaderTemplate } from '../routes/header-template.js';
import { isCanonicalPath, parseReplacement } from '../routes/rewrite.js';
import type { Config, RouteConfig } from '../schema/config.js';

export interface SemanticIssue {
  path: (string | number)[];
  message: string;
  /** Point at the key rather than its value (e.g. a route that has no policy at all). */
  key?: boolean;
}

const MIN_SECRET_BYTES = 32;

type Loose<T> = { [K in keyof T]?: T[K] extends (infer E)[] ? Loose<E>[] : T[K] extends object ? Loose<T[K]> : T[K] };

const str = (v: unknown): v is string => typeof v === 'string';

/**
 * Every semantic error, in file order. Runs on the validated config, and also on the raw data of a
 * file that failed the schema (every access is guarded), so that one run reports all the problems.
 */
export function checkSemantics(input: Config | Loose<Config>, schemaValid = true): SemanticIssue[] {
  const config = input as Loose<Config>;
  const issues: SemanticIssue[] = [];
  const idp = config.idp ?? {};
  const session = config.session ?? {};
  const insecureOk = idp.allowInsecureHttp === true;

  if (str(config.publicUrl)) {
    if (!/^https:\/\//i.test(config.publicUrl) && !insecureOk) {
      issues.push({ path: ['publicUrl'], message: 'publicUrl must be https:// (set idp.allowInsecureHttp: true only for local development)' });
    }
    if (/^https?:\/\/[^/]+\/./i.test(config.publicUrl) || /[?#]/.test(config.publicUrl)) {
      issues.push({ path: ['publicUrl'], message: 'publicUrl must be an origin (scheme://host[:port]) without path, query or fragment' });
    }
    // Browsers are sent to publicUrl: an https:// one needs Drawbridge itself to speak TLS, or a proxy that does.
    const proxied = Array.isArray(config.trustedProxies) && config.trustedProxies.length > 0;
    if (/^https:\/\//i.test(config.publicUrl) && config.tls === undefined && !proxied) {
      const listen = str(config.listen) ? config.listen : ':8080';
      issues.push({
        path: ['publicUrl'],
        message: `publicUrl is https:// but the listener (listen "${listen}") speaks plain HTTP and no proxy in front is trusted, so sign-in would send browsers to a port that does not answer TLS: add tls (certFile, keyFile) to serve HTTPS, or list the TLS-terminating proxy in front of Drawbridge in trustedProxies, or use an http:// publicUrl (development only, with idp.allowInsecureHttp)`,
      });
    }
  }
  // Device certificates: a revocation list or `required` means nothing without the CAs; a header needs CAs to check it against.
  const tls = config.tls;
  if (tls && !str(tls.clientCa)) {
    if (str(tls.clientCrl)) issues.push({ path: ['tls', 'clientCrl'], message: 'tls.clientCrl needs tls.clientCa (the CAs whose revocation lists these are)' });
    if (tls.clientCert === 'required') issues.push({ path: ['tls', 'clientCert'], message: 'tls.clientCert: required needs tls.clientCa (the CAs that issue device certificates)' });
  }
  const xfcc = config.forwardedClientCert;
  if (xfcc && typeof xfcc === 'object') {
    if (!str(xfcc.caFile) && !str(tls?.clientCa)) issues.push({ path: ['forwardedClientCert'], message: 'forwardedClientCert needs caFile (or tls.clientCa): the device CAs the header\'s certificate is verified against', key: true });
    if (!Array.isArray(config.trustedProxies) || config.trustedProxies.length === 0) issues.push({ path: ['forwardedClientCert'], message: 'forwardedClientCert is read only from trustedProxies: list the TLS-terminating proxy there', key: true });
  }
  if (str(idp.issuer) && !/^https:\/\//i.test(idp.issuer) && !insecureOk) {
    issues.push({ path: ['idp', 'issuer'], message: 'idp.issuer must be https:// (set idp.allowInsecureHttp: true only for a local development IdP)' });
  }
  // Client authentication at the token endpoint: each method needs its credential, and a key file means private_key_jwt.
  const method = idp.tokenEndpointAuthMethod;
  if (method === 'private_key_jwt') {
    if (!str(idp.privateKeyFile)) issues.push({ path: ['idp', 'tokenEndpointAuthMethod'], message: 'tokenEndpointAuthMethod private_key_jwt needs idp.privateKeyFile (the PEM private key whose public key is registered at the IdP)' });
  } else if (config.idp && typeof config.idp === 'object') {
    if (!str(idp.clientSecret)) {
      issues.push({
        path: method === undefined ? ['idp'] : ['idp', 'tokenEndpointAuthMethod'],
        message: `idp.clientSecret is required${method === undefined ? '' : ` with tokenEndpointAuthMethod ${method}`} (or set tokenEndpointAuthMethod: private_key_jwt and idp.privateKeyFile)`,
        ...(method === undefined ? { key: true } : {}),
      });
    }
    if (str(idp.privateKeyFile)) issues.push({ path: ['idp', 'privateKeyFile'], message: 'idp.privateKeyFile is used only with tokenEndpointAuthMethod: private_key_jwt: set that, or remove the key file' });
  }
  if (Array.isArray(idp.scopes) && !idp.scopes.includes('openid')) {
    issues.push({ path: ['idp', 'scopes'], message: 'idp.scopes must include "openid"' });
  }
  if (idp.mfa && Array.isArray(idp.mfa.amr) && idp.mfa.amr.length === 0) {
    const acr = Array.isArray(idp.mfa.acr) ? idp.mfa.acr : Array.isArray(idp.mfaAcrValues) ? idp.mfaAcrValues : [];
    if (acr.length === 0) issues.push({ path: ['idp', 'mfa', 'amr'], message: 'idp.mfa counts no amr and no acr value as multi-factor, so no `mfa` rule could ever pass: list some (or remove idp.mfa for the RFC 8176 defaults)' });
  }
  if (str(session.secret) && Buffer.byteLength(session.secret, 'utf8') < MIN_SECRET_BYTES) {
    issues.push({ path: ['session', 'secret'], message: `session.secret must be at least ${MIN_SECRET_BYTES} bytes (generate one with "drawbridge keygen")` });
  }
  const idleMs = durationOr(session.idleTimeout, '30m');
  const lifeMs = durationOr(session.maxLifetime, '12h');
  if (idleMs > lifeMs) issues.push({ path: ['session', 'idleTimeout'], message: 'session.idleTimeout is longer than session.maxLifetime' });
  // node refuses to create the listener otherwise (a crash at start instead of an error with a line number).
  const limits = config.limits ?? {};
  const requestMs = durationOr(limits.requestTimeout, '60s');
  if (requestMs > 0 && durationOr(limits.headersTimeout, '10s') > requestMs) {
    issues.push({ path: ['limits', 'headersTimeout'], message: 'limits.headersTimeout is longer than limits.requestTimeout' });
  }

  checkTls(config, issues);

  const names = new Map<string, number>();
  const hostPrefixes = new Map<string, number>();
  const shapes: RouteShape[] = [];
  (Array.isArray(config.routes) ? config.routes : []).forEach((route, i) => {
    if (route === null || typeof route !== 'object') return;
    const at = (...rest: (string | number)[]) => ['routes', i, ...rest];
    if (str(route.name)) {
      const first = names.get(route.name);
      if (first !== undefined) issues.push({ path: at('name'), message: `duplicate route name "${route.name}" (first used by routes[${first}])` });
      else names.set(route.name, i);
    }

    let regexOk = route.regex === undefined;
    if (str(route.regex)) {
      try {
        new RegExp(route.regex);
        regexOk = true;
      } catch (e) {
        issues.push({ path: at('regex'), message: `invalid regex: ${(e as Error).message}` });
      }
    }
    const from = str(route.from) ? parseFrom(route.from) : undefined;
    if (!from) {
      // missing or not a string: the schema reports it
    } else if ('error' in from) {
      issues.push({ path: at('from'), message: from.error });
    } else {
      const hostKey = `${from.wildcard ? '*.' : ''}${from.hostname}${from.port === undefined ? '' : `:${from.port}`}`;
      if (route.regex !== undefined) {
        if (from.prefix !== '/') issues.push({ path: at('regex'), message: 'a route has either a path prefix in "from" or a "regex", not both' });
      } else {
        const key = `${hostKey}${from.prefix}`;
        const dup = hostPrefixes.get(key);
        if (dup !== undefined) issues.push({ path: at('from'), message: `routes[${dup}] already serves ${hostKey}${from.prefix === '/' ? '' : from.prefix} (same host and prefix)` });
        else hostPrefixes.set(key, i);
      }
      if (regexOk) {
        const { hostname, wildcard, port, prefix } = from;
        shapes.push({
          index: i,
          name: str(route.name) ? route.name : `#${i}`,
          hostname,
          wildcard,
          ...(port !== undefined ? { port } : {}),
          prefix,
          ...(str(route.regex) ? { regex: route.regex } : {}),
          ...(Array.isArray(route.methods) ? { methods: route.methods.filter(str) } : {}),
        });
      }
    }
    checkUpstreamPath(route, from && !('error' in from) ? from.prefix : undefined, at, issues);
    checkHeaderTemplates(route, at, issues);
    if (route.wildcardHandoff === true && from && !('error' in from) && !from.wildcard) {
      issues.push({ path: at('wildcardHandoff'), message: 'wildcardHandoff applies to wildcard routes (from: scheme://*.example.com) only: remove it' });
    }

    let to: URL | undefined;
    if (str(route.to)) {
      try {
        to = new URL(route.to);
      } catch {
        issues.push({ path: at('to'), message: `"to" is not a URL: "${route.to}"` });
      }
    }
    if (to && to.protocol !== 'http:' && to.protocol !== 'https:') {
      issues.push({ path: at('to'), message: `"to" must be an http:// or https:// URL (got ${to.protocol})` });
    } else if (to && (to.search !== '' || to.hash !== '' || to.username !== '' || to.password !== '')) {
      issues.push({ path: at('to'), message: '"to" must not carry a query, fragment or credentials' });
    }
    if (route.upstreamTls && to?.protocol === 'http:') {
      issues.push({ path: at('upstreamTls'), message: 'upstreamTls is set but "to" is http://' });
    }
    if (route.upstreamTls && typeof route.upstreamTls === 'object') checkUpstreamTls(route.upstreamTls, at, issues);

    if (route.public === true) {
      if (route.policy !== undefined) issues.push({ path: at('policy'), message: 'a public route has no policy (public routes skip sign-in and policy): remove one of them' });
      if (route.bearer !== undefined && route.bearer !== false) issues.push({ path: at('bearer'), message: 'a public route does not read bearer tokens: remove one of them' });
    } else {
      const policy = typeof route.policy === 'string' ? config.policies?.[route.policy] : route.policy;
      if (route.policy === undefined) {
        issues.push({ path: at('name'), message: `route "${route.name}" is not public and has no policy: add policy.allow (deny is the default)` });
      } else if (policy && typeof policy === 'object' && (!Array.isArray(policy.allow) || policy.allow.length === 0)) {
        issues.push({ path: at('policy'), message: `route "${route.name}" has no allow rule, so nobody could ever pass: add policy.allow` });
      }
    }
    const inherited = typeof route.policy === 'string' && route.requests === undefined ? config.policies?.[route.policy]?.requests : undefined;
    if (inherited && route.public === true) issues.push({ path: at('policy'), message: 'a public route lets everyone in: access requests apply to routes with a policy only' });
    if (route.requests && typeof route.requests === 'object') {
      if (route.public === true) issues.push({ path: at('requests'), message: 'a public route lets everyone in: access requests apply to routes with a policy only' });
      checkRequests(route.requests, (...rest) => at('requests', ...rest), config, issues);
    }
    if (route.session && typeof route.session === 'object') {
      for (const key of ['idleTimeout', 'maxLifetime'] as const) {
        const value = route.session[key];
        const global = key === 'idleTimeout' ? idleMs : lifeMs;
        if (str(value) && durationOr(value, '0s') > global) {
          issues.push({ path: at('session', key), message: `route session.${key} (${value}) must not be longer than the global session.${key} (${session[key] ?? 'default'})` });
        }
      }
    }
  });
  // A route no request can reach would silently drop what it was written for (often a stricter policy).
  for (const u of findUnreachable(shapes)) issues.push({ path: ['routes', u.index, 'regex'], message: u.message });

  for (const [name, policy] of Object.entries(config.policies ?? {})) {
    if (policy?.requests && typeof policy.requests === 'object') checkRequests(policy.requests, (...rest) => ['policies', name, 'requests', ...rest], config, issues);
  }

  // Policy references and cycles need well-formed policies: only on a schema-valid file.
  if (schemaValid) {
    const valid = input as Config;
    for (const p of checkPolicies(valid.policies, valid.routes)) issues.push({ path: p.path, message: p.message });
    // An approver or auto-approve policy is checked like a route's (its references, by name or inside it).
    const places: Array<{ at: (string | number)[]; requests: RouteConfig['requests'] }> = [
      ...valid.routes.map((r, i) => ({ at: ['routes', i, 'requests'], requests: r.requests })),
      ...Object.entries(valid.policies).map(([name, p]) => ({ at: ['policies', name, 'requests'], requests: p.requests })),
    ];
    const extra = places.flatMap(({ at, requests }) => (['approvers', 'autoApprove'] as const).flatMap((key) => (requests?.[key] !== undefined ? [{ at: [...at, key], policy: requests[key] }] : [])));
    for (const e of extra) {
      // Only the issues inside this policy: the named policies' own were reported above.
      for (const p of checkPolicies(valid.policies, [{ policy: e.policy }])) if (p.path[0] === 'routes') issues.push({ path: [...e.at, ...p.path.slice(3)], message: p.message });
    }
  }
  return issues;
}

/** A `requests:` block (a route's or a named policy's): durations in order, approvers that allow someone. */
function checkRequests(r: NonNullable<LooseRoute['requests']>, at: At, config: Loose<Config>, issues: SemanticIssue[]): void {
  const max = durationOr(r.maxDuration, '8h');
  const dflt = durationOr(r.defaultDuration, '1h');
  if (dflt > max) issues.push({ path: at('defaultDuration'), message: `requests.defaultDuration (${r.defaultDuration ?? '1h'}) is longer than requests.maxDuration (${r.maxDuration ?? '8h'})` });
  for (const key of ['approvers', 'autoApprove'] as const) {
    const p = typeof r[key] === 'string' ? config.policies?.[r[key] as string] : r[key];
    if (p && typeof p === 'object' && (!Array.isArray(p.allow) || p.allow.length === 0)) issues.push({ path: at(key), message: `requests.${key} has no allow rule, so nobody could ever ${key === 'approvers' ? 'approve' : 'be approved automatically'}: add allow` });
  }
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const BAD_REPLACE = /[?#\\\x00-\x1f\x7f]/;

type LooseRoute = NonNullable<Loose<Config>['routes']>[number];
type At = (...rest: (string | number)[]) => (string | number)[];

/** `stripPrefix` and `rewrite` (routes/rewrite.ts): what they apply to, and a regex and replacement that compile. */
function checkUpstreamPath(route: LooseRoute, prefix: string | undefined, at: At, issues: SemanticIssue[]): void {
  const rewrite = route.rewrite as Record<string, unknown> | undefined;
  const isRegexRoute = route.regex !== undefined;
  if (route.stripPrefix === true) {
    if (rewrite !== undefined) issues.push({ path: at('stripPrefix'), message: 'stripPrefix and rewrite both change the path: keep one (rewrite.prefix: / also strips the prefix)' });
    else if (isRegexRoute) issues.push({ path: at('stripPrefix'), message: 'stripPrefix needs a path prefix in "from"; a regex route rewrites its path with rewrite: { regex, replace }' });
    else if (prefix === '/') issues.push({ path: at('stripPrefix'), message: 'stripPrefix does nothing on a route without a path prefix in "from": remove it' });
  }
  if (rewrite === null || typeof rewrite !== 'object') return;
  if (str(rewrite.prefix)) {
    if (isRegexRoute) issues.push({ path: at('rewrite', 'prefix'), message: 'rewrite.prefix replaces the path prefix of "from"; a regex route has none (use rewrite: { regex, replace })' });
    else if (!isCanonicalPath(rewrite.prefix) || (rewrite.prefix !== '/' && rewrite.prefix.endsWith('/'))) {
      issues.push({ path: at('rewrite', 'prefix'), message: `rewrite.prefix must be a normalized path without a trailing "/" (letters, digits, "-", ".", "_", "~" and "/"; no "//", "." or ".." segment), got "${rewrite.prefix}"` });
    }
  }
  if (str(rewrite.regex)) {
    let regex: RegExp;
    try {
      regex = new RegExp(rewrite.regex);
    } catch (e) {
      issues.push({ path: at('rewrite', 'regex'), message: `invalid regex: ${(e as Error).message}` });
      return;
    }
    if (str(rewrite.replace)) {
      const parsed = parseReplacement(rewrite.replace, regex);
      if ('error' in parsed) issues.push({ path: at('rewrite', 'replace'), message: `rewrite.replace: ${parsed.error}` });
      else if (BAD_REPLACE.test(rewrite.replace)) issues.push({ path: at('rewrite', 'replace'), message: 'rewrite.replace makes a path: it cannot hold "?", "#", "\\" or control characters' });
    }
  }
}

/** Placeholders in `setRequestHeaders` values and `upstreamAuth.basic.user` (routes/header-template.ts). */
function checkHeaderTemplates(route: LooseRoute, at: At, issues: SemanticIssue[]): void {
  const set = route.setRequestHeaders as Record<string, unknown> | undefined;
  if (set && typeof set === 'object') {
    for (const [name, value] of Object.entries(set)) {
      if (!str(value)) continue;
      const t = parseHeaderTemplate(value);
      if ('error' in t) issues.push({ path: at('setRequestHeaders', name), message: `setRequestHeaders.${name}: ${t.error}` });
      else if (t.dynamic && NO_PLACEHOLDER_HEADERS.has(name.toLowerCase())) {
        issues.push({ path: at('setRequestHeaders', name), message: `setRequestHeaders.${name} cannot carry identity placeholders${name.toLowerCase() === 'authorization' ? ' (use upstreamAuth.basic)' : ''}` });
      }
      if (name.toLowerCase() === 'authorization' && route.upstreamAuth !== undefined) {
        issues.push({ path: at('setRequestHeaders', name), message: 'upstreamAuth sets Authorization: remove it from setRequestHeaders' });
      }
    }
  }
  const basic = (route.upstreamAuth as { basic?: { user?: unknown } } | undefined)?.basic;
  if (basic && str(basic.user)) {
    const t = parseHeaderTemplate(basic.user);
    if ('error' in t) issues.push({ path: at('upstreamAuth', 'basic', 'user'), message: `upstreamAuth.basic.user: ${t.error}` });
    else if (t.parts.some((p) => typeof p === 'string' && p.includes(':'))) issues.push({ path: at('upstreamAuth', 'basic', 'user'), message: 'upstreamAuth.basic.user cannot contain ":" (RFC 7617: the first ":" ends the user name)' });
  }
}

/** `tls`: a default file pair is whole, something serves certificates, and ACME has names it can validate. */
function checkTls(config: Loose<Config>, issues: SemanticIssue[]): void {
  const tls = config.tls;
  if (!tls || typeof tls !== 'object') return;
  const hasCert = str(tls.certFile);
  const hasKey = str(tls.keyFile);
  if (hasCert !== hasKey) issues.push({ path: ['tls', hasCert ? 'certFile' : 'keyFile'], message: `tls.${hasCert ? 'certFile' : 'keyFile'} needs tls.${hasCert ? 'keyFile' : 'certFile'}: a certificate and its key go together` });
  const more = Array.isArray(tls.certificates) && tls.certificates.length > 0;
  if (!hasCert && !hasKey && !tls.acme && !more) issues.push({ path: ['tls'], message: 'tls needs certFile and keyFile, or acme (certificates obtained automatically), or tls.certificates (chosen by name)', key: true });
  if (!tls.acme || typeof tls.acme !== 'object') return;
  if (str(config.publicUrl) && !/^https:\/\//i.test(config.publicUrl)) issues.push({ path: ['tls', 'acme'], message: 'tls.acme serves HTTPS: publicUrl must be https://', key: true });
  const acme = tls.acme;
  if (acme.httpListen === false && Array.isArray(acme.challenges) && !acme.challenges.includes('tls-alpn-01')) {
    issues.push({ path: ['tls', 'acme', 'httpListen'], message: 'tls.acme.httpListen is false and tls-alpn-01 is not among tls.acme.challenges: no challenge could be answered' });
  }
  const { hosts, problems } = acmeHosts(config);
  for (const p of problems) issues.push(p);
  if (hosts.length === 0 && problems.length === 0) issues.push({ path: ['tls', 'acme', 'hosts'], message: 'tls.acme has no host name to obtain a certificate for (publicUrl and the routes use IP addresses only): list names in tls.acme.hosts', key: true });
}

function durationOr(value: unknown, fallback: string): number {
  try {
    return parseDuration(str(value) ? value : fallback);
  } catch {
    return parseDuration(fallback);
  }
}

/** `upstreamTls`: a client certificate is a pair; verification is off only when acknowledged, and then alone. */
function checkUpstreamTls(tls: Loose<NonNullable<RouteConfig['upstreamTls']>>, at: (...rest: (string | number)[]) => (string | number)[], issues: SemanticIssue[]): void {
  if (str(tls.certFile) !== str(tls.keyFile)) {
    const [has, missing] = str(tls.certFile) ? ['certFile', 'keyFile'] : ['keyFile', 'certFile'];
    issues.push({ path: at('upstreamTls', has), message: `upstreamTls.${has} without upstreamTls.${missing}: a client certificate needs both (no certificate would be sent and the upstream would refuse)` });
  }
  if (tls.insecureSkipVerify === true) {
    if (!str(tls.acknowledge) || tls.acknowledge.trim() === '') {
      issues.push({ path: at('upstreamTls', 'insecureSkipVerify'), message: 'upstreamTls.insecureSkipVerify: true turns off the verification of the upstream\'s certificate (anyone on the path can read and change the traffic): it is accepted only with upstreamTls.acknowledge: "<why this upstream cannot be verified>"' });
    }
    if (str(tls.caFile)) issues.push({ path: at('upstreamTls', 'caFile'), message: 'upstreamTls.caFile has no effect with insecureSkipVerify: true (nothing is verified): remove one of them' });
  } else if (tls.acknowledge !== undefined) {
    issues.push({ path: at('upstreamTls', 'acknowledge'), message: 'upstreamTls.acknowledge is only for insecureSkipVerify: true: remove it' });
  }
  if (tls.caOnly === true && !str(tls.caFile)) issues.push({ path: at('upstreamTls', 'caOnly'), message: 'upstreamTls.caOnly needs upstreamTls.caFile (it would trust no certificate at all)' });
}
