// cli/simulate.ts — runs one imagined request through the same pure steps the server runs
// (normalize → match → decide), for `explain` and `test`. No sockets, no IdP.
import { compileConfig, type CompiledConfig, type Route } from '../routes/compile.js';
import { normalizeHost, normalizeTarget } from '../routes/normalize.js';
import { decide, type Decision } from '../policy/evaluate.js';
import type { Identity } from '../policy/input.js';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../policy/duration.js';
import { parseIp } from '../policy/cidr.js';

/** A described identity, as `explain` flags and test files write it. */
export interface IdentitySpec {
  user?: string;
  email?: string;
  emailVerified?: boolean;
  groups?: string[];
  name?: string;
  claims?: Record<string, unknown>;
  amr?: string[];
  acr?: string;
  /** How long ago the user signed in, e.g. "5m". */
  authAge?: string;
}

export interface SimulatedRequest {
  url: string;
  method?: string;
  ip?: string;
  /** ms since epoch. */
  now: number;
  identity?: IdentitySpec;
}

export type Simulation =
  | { kind: 'bad-request'; reason: string }
  | { kind: 'no-route'; host: string; path: string }
  | { kind: 'method-not-allowed'; host: string; path: string }
  | { kind: 'decided'; route: Route; path: string; query: string; decision: Decision };

/** Builds an Identity the way the server does from ID token claims; undefined when anonymous. */
export function identityFromSpec(spec: IdentitySpec | undefined, now: number): Identity | undefined {
  if (!spec || (spec.user === undefined && spec.email === undefined && spec.claims === undefined)) return undefined;
  const user = spec.user ?? spec.email ?? 'unknown';
  const identity: Identity = {
    sub: user,
    user,
    groups: spec.groups ?? [],
    amr: spec.amr ?? [],
    claims: { ...(spec.claims ?? {}) },
    emailVerified: spec.emailVerified ?? true,
  };
  if (spec.email !== undefined) identity.email = spec.email;
  if (spec.name !== undefined) identity.name = spec.name;
  if (spec.acr !== undefined) identity.acr = spec.acr;
  identity.authTime = Math.floor((now - (spec.authAge !== undefined ? parseDuration(spec.authAge) : 0)) / 1000);
  return identity;
}

/** The client address a simulated request comes from when none is given. */
export const DEFAULT_CLIENT_IP = '127.0.0.1';

/**
 * Checks a client address given to `explain --ip` or a test's `request.ip`: an IPv4 or IPv6 address, or `unknown`
 * (a client whose address is unknown). Anything else would make every `ip` rule undecided, so a deny test would pass
 * for the wrong reason: refused.
 */
export function checkClientIp(ip: string): string | undefined {
  if (ip === 'unknown' || parseIp(ip) !== undefined) return undefined;
  return `"${ip}" is not an IPv4 or IPv6 address (use "unknown" for a client whose address is unknown)`;
}

/**
 * A claim value as written on a command line: JSON when it parses (`3`, `true`, `["a","b"]`), else the text itself.
 * Quote a number to keep it a string: `level='"3"'`.
 */
export function parseClaimValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Compiles once and simulates many requests against it. */
export class Simulator {
  readonly compiled: CompiledConfig;
  constructor(config: Config) {
    this.compiled = compileConfig(config);
  }

  run(req: SimulatedRequest): Simulation {
    const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(req.url);
    if (!m) return { kind: 'bad-request', reason: `expected an absolute http(s) URL, got "${req.url}"` };
    const scheme = m[1].toLowerCase() as 'http' | 'https';
    const host = normalizeHost(m[2], scheme);
    if (!host.ok) return { kind: 'bad-request', reason: host.reason };
    const target = normalizeTarget(m[3] === '' ? '/' : m[3]);
    if (!target.ok) return { kind: 'bad-request', reason: target.reason };
    const method = (req.method ?? 'GET').toUpperCase();
    const match = this.compiled.table.match(host.hostname, host.port, target.path, method);
    if ('status' in match) return { kind: match.status === 404 ? 'no-route' : 'method-not-allowed', host: host.host, path: target.path };
    const decision = decide(match, { identity: identityFromSpec(req.identity, req.now), method, path: target.path, ip: req.ip ?? DEFAULT_CLIENT_IP, now: req.now }, { trace: true });
    return { kind: 'decided', route: match, path: target.path, query: target.query, decision };
  }
}
