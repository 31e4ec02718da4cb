// runtime/runtime.ts — what the request pipeline and Drawbridge's pages share: the configuration
// snapshot in force (swapped atomically on reload) and the long-lived services.
import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../errors.js';
import type { Cidr } from '../policy/cidr.js';
import type { Identity } from '../policy/input.js';
import type { Reason } from '../policy/rule.js';
import type { CompiledConfig, Route } from '../routes/compile.js';
import type { AssertionSigner } from '../forward/assertion.js';
import type { Forwarder } from '../forward/forwarder.js';
import type { Stripper } from '../forward/strip.js';
import type { OidcClient } from '../oidc/client.js';
import type { IdentitySource } from '../oidc/identity.js';
import type { Sessions } from '../session/sessions.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { RouteState } from './route-state.js';
import type { ClientInfo } from './client-info.js';
import type { DeviceSettings } from './device.js';
import type { WebSockets } from './websockets.js';
import type { AccessRecords } from '../access/access.js';

/** A route's run-time state (runtime/route-state.ts), by `route.index` in its snapshot, and on the exchange once matched. */
export type { RouteState } from './route-state.js';

/** Everything derived from one configuration file. A request keeps the snapshot it started with. */
export interface Snapshot {
  readonly compiled: CompiledConfig;
  readonly stripper: Stripper;
  readonly trusted: readonly Cidr[];
  /** The Strict-Transport-Security value sent over HTTPS (server/hsts.ts from `tls.hsts`); undefined: none. */
  readonly hsts: string | undefined;
  /** Device certificates (tls.clientCa, forwardedClientCert; runtime/device.ts); undefined: none configured. */
  readonly device?: DeviceSettings | undefined;

  /** Each route's run-time state, by `route.index` (the snapshot's own routes only). */
  readonly routes: readonly RouteState[];
}

export interface Runtime {
  snapshot(): Snapshot;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly sessions: Sessions;
  readonly oidc: OidcClient;
  /** Identities from the IdP's answers (ID token, userinfo, bearer token claims). */
  readonly identities: IdentitySource;
  readonly signer: AssertionSigner;
  readonly forwarder: Forwarder;
  /** The open WebSockets, closed when their session ends or the policy no longer admits them. */
  readonly websockets: WebSockets;
  /** ms since epoch; injectable so tests can move time. */
  now(): number;
  /** Access requests and grants (access/), in the session store. */
  readonly access: AccessRecords;
}

/** One request's story, filled step by step and written as one log line when it ends (SPEC §8). */
export interface Exchange {
  readonly id: string;
  readonly t0: number;
  readonly snap: Snapshot;
  readonly client: ClientInfo;
  host?: string;
  hostname?: string;
  port?: number;
  path?: string;
  query?: string;
  route?: Route;
  /** The matched route's run-time state (`snap.routes[route.index]`), set with `route`: looked up once per request. */
  state?: RouteState;
  identity?: Identity;
  decision?: string;
  reasons?: readonly Reason[];
  /** Why a malformed request was refused: the 400 page's text, logged as `reason`. */
  refusal?: string;
  upstreamMs?: number;
  /** The session is alive but beyond this route's own timeouts: sign-in must not reuse it. */
  freshSignIn?: boolean;
  /** Set when the request was answered by Drawbridge's own pages. */
  page?: string;
  /** The DRB_* code Drawbridge answered with (runtime/problem.ts), logged as `errorCode`. */
  errorCode?: ErrorCode;
  /** Node's code for what caused it (an upstream's ECONNREFUSED, a TLS verification error), logged as `cause`. */
  errorCause?: string;
  /** Forward-auth: the front door that answered, and the original request's method (logged instead of its own). */
  frontDoor?: 'forward-auth';
  method?: string;
  /** Handed to the forwarder, whose completion callback writes the request log line (not the close listener). */
  forwarded?: boolean;
  /** The session id the cookie carried, on a route that takes access requests: the 403 page's form gets its CSRF token. */
  sessionId?: string;
}

const EXCHANGE = Symbol('drawbridge.exchange');

export function setExchange(req: IncomingMessage, x: Exchange): void {
  (req as unknown as Record<symbol, Exchange>)[EXCHANGE] = x;
}

export function getExchange(req: IncomingMessage): Exchange {
  const x = (req as unknown as Record<symbol, Exchange | undefined>)[EXCHANGE];
  if (!x) throw new Error('request without a Drawbridge exchange');
  return x;
}

/** The request id, when the request has an exchange (undefined otherwise). */
export function peekExchangeId(req: IncomingMessage): string | undefined {
  return (req as unknown as Record<symbol, Exchange | undefined>)[EXCHANGE]?.id;
}

/** The exchange of a request, when it has one (undefined otherwise). */
export function peekExchange(req: IncomingMessage): Exchange | undefined {
  return (req as unknown as Record<symbol, Exchange | undefined>)[EXCHANGE];
}

// The last origin made, by its parts: a host's requests come in runs, and each asks for its origin more than once (the
// cookie check, admission), so the same flat string serves them rather than a new one per call.
let originScheme = '';
let originHost = '';
let lastOrigin = '';

/** The origin a request was addressed to (scheme://host[:port]), normalized. */
export function requestOrigin(x: Exchange): string {
  const scheme = x.client.scheme;
  const host = x.host ?? '';
  if (host !== originHost || scheme !== originScheme) {
    originScheme = scheme;
    originHost = host;
    lastOrigin = `${scheme}://${host}`;
  }
  return lastOrigin;
}
