// cli/simulate.ts — runs one imagined request through exactly the admission the server runs
// (admission/: classify → admit), for `explain` and `test`. No sockets, no IdP, no session store.
import { compileConfig, type CompiledConfig, type Route } from '../routes/compile.js';
import type { Decision } from '../policy/evaluate.js';
import { admit, givenPrincipal, type Admission, type AdmitContext } from '../admission/admit.js';
import { absoluteUrlInput, classify } from '../admission/classify.js';
import type { DeviceCertificate, Identity } from '../policy/input.js';
import type { Config } from '../schema/config.js';
import { parseDuration } from '../policy/duration.js';
import { parseIp } from '../policy/cidr.js';
import { RISK_SIGNAL_KINDS, type RiskSignal, type RiskSignalKind, type SessionContext } from '../policy/context.js';

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
  /** The signed-in identity's session: where it started (default: `ip`) and its risk signals (`context`, `risk` rules). */
  session?: { ip?: string; signals?: RiskSignal[] };
  /** The request's device certificate, taken as verified (`explain --device-cert`: the `device` rule). */
  device?: DeviceCertificate;
}

/**
 * A risk signal as `explain --signal` writes it: `KIND[*COUNT][@AGO]` — `context-change`, `new-network@10m`,
 * `denial*6@30s` (six refusals 30 s before the request). Signals `at` ms since epoch; a string says what is wrong.
 */
export function parseSignals(text: string, now: number): RiskSignal[] | string {
  const m = /^([a-z-]+)(?:\*(\d{1,4}))?(?:@(\S+))?$/.exec(text);
  if (!m || !RISK_SIGNAL_KINDS.includes(m[1] as RiskSignalKind)) return `"${text}" is not KIND[*COUNT][@AGO] with KIND one of ${RISK_SIGNAL_KINDS.join(', ')}`;
  let ago = 0;
  if (m[3] !== undefined) {
    try {
      ago = parseDuration(m[3]);
    } catch {
      return `"${m[3]}" is not a duration like 30s, 10m or 1h`;
    }
  }
  return Array.from({ length: Number(m[2] ?? 1) }, () => ({ kind: m[1] as RiskSignalKind, at: now - ago }));
}

export type Simulation =
  | { kind: 'bad-request'; reason: string }
  | { kind: 'no-route'; host: string; path: string }
  | { kind: 'method-not-allowed'; host: string; path: string }
  /** One of Drawbridge's own paths (`/.drawbridge/...`): Drawbridge answers it itself; no route, no policy. */
  | { kind: 'reserved'; host: string; path: string }
  | { kind: 'decided'; route: Route; path: string; query: string; decision: Decision; admission: Admission };

/**
 * Admission offline: no session id or bearer token is ever given (the identity is), so no store, IdP or signer is
 * reached; each throws rather than answer for one.
 */
const OFFLINE: AdmitContext = {
  sessions: {
    loadNow: offline,
    loadShared: offline,
    touchIfDue: offline,
  },
  refresher: { due: offline, refresh: offline },
  oidc: {
    ready: false,
    issuer: '',
    jwksUri: offline,
    get jwks(): never {
      return offline();
    },
  },
  identities: { bearer: offline },
  logger: { warn: offline, error: offline },
};

function offline(): never {
  throw new Error('explain/test admit offline: no session store, IdP or logger');
}

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

function simulatedSession(ip: string, signals: RiskSignal[]): SessionContext {
  return { bound: { ...(ip !== 'unknown' ? { ip } : {}), agent: 'explain/other' }, agent: 'explain/other', signals };
}

/** Compiles once and simulates many requests against it. */
export class Simulator {
  readonly compiled: CompiledConfig;
  constructor(config: Config) {
    this.compiled = compileConfig(config);
  }

  run(req: SimulatedRequest): Simulation {
    const method = (req.method ?? 'GET').toUpperCase();
    const input = absoluteUrlInput(req.url, method);
    if (typeof input === 'string') return { kind: 'bad-request', reason: input };
    const c = classify(this.compiled.table, input);
    switch (c.kind) {
      case 'bad-request':
        return { kind: 'bad-request', reason: c.reason };
      case 'reserved':
      case 'no-route':
      case 'method-not-allowed':
        return { kind: c.kind, host: c.host, path: c.path };
    }
    const identity = identityFromSpec(req.identity, req.now);
    const admission = admit(OFFLINE, {
      compiled: this.compiled,
      route: c.route,
      method,
      path: c.path,
      query: c.query,
      origin: `${input.scheme}://${c.host}`,
      ip: req.ip ?? DEFAULT_CLIENT_IP,
      now: req.now,
      requestId: 'simulated',
      ...(req.device ? { device: req.device } : {}),
      principal: identity ? givenPrincipal(identity) : undefined,
      trace: true,
      // A session as if started where the request is (or at `session.ip`), in the same browser, with these signals.
      session: identity ? simulatedSession(req.session?.ip ?? req.ip ?? DEFAULT_CLIENT_IP, req.session?.signals ?? []) : undefined,
    });
    // Offline admission never waits (no store, no token): a promise here is a bug, not a decision.
    if (admission instanceof Promise) throw new Error('explain/test: admission did not decide synchronously');
    if (admission.decision === undefined) throw new Error(`explain/test: admission gave no decision (${admission.kind})`);
    return { kind: 'decided', route: c.route, path: c.path, query: c.query, decision: admission.decision, admission };
  }
}
