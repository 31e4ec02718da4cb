// admission/admit.ts — the second half of admission (SPEC §3 steps 4–5): authenticate (session cookie or bearer
// token) → decide (the route's policy) → the identity and the signed assertion to pass on. One function answers
// "may this request through, and as whom?" for every front door: the proxy, WebSocket upgrades, forward-auth and
// explain/test. A session the memory store holds is read without a promise (no microtask hop per request): the
// answer is then an Admission, else a promise of one (Redis, a due refresh, a bearer token).
import { sha256Base64url } from '../digest.js';
import { decide, type Decision } from '../policy/evaluate.js';
import type { DeviceCertificate, Identity, PolicyInput } from '../policy/input.js';
import { SESSION_DEVICE_REQUIRED, agentFamily, type SessionContext } from '../policy/context.js';
import type { RequestContext, SessionContexts } from './session-context.js';
import type { CompiledConfig, Route } from '../routes/compile.js';
import { signInStartUrl } from '../pages/paths.js';
import { verifyBearer } from '../oidc/bearer.js';
import { IdentityClaimTooLongError } from '../oidc/claims.js';
import type { JwksCache } from '../oidc/jwks.js';
import type { AssertionSubject, RouteTokens } from '../forward/assertion.js';
import type { LoadResult, SessionLimits } from '../session/sessions.js';
import type { SessionRecord } from '../session/store.js';
import { Sessions } from '../session/sessions.js';
import type { Config } from '../schema/config.js';
import { acrValuesFor, signInNeedQuery, stepUpQuery } from '../signin/step-up.js';
import { decideWithGrant, grantMayApply, type GrantLookup } from '../access/access.js';

/** Who a request acts as: a session, a verified bearer token, or (explain/test) an identity given outright. */
export interface Principal {
  readonly identity: Identity;
  /** Changes whenever the identity may have changed, so a cached assertion is never stale. */
  readonly cacheKey: string;
  /** The assertion's `sid`: a hash, never the session id. */
  readonly sid: string;
  readonly accessToken?: string;
  /** The session record, when the principal is a session's (its bound context and risk signals). */
  readonly record?: SessionRecord;
}

// The principals of the frozen records a store shares with every reader (MemoryStore.getNow): a record read again
// gives the same principal, its cache key and sid hash built once rather than per request. Weak: a principal goes
// with its record, which a write replaces (a new record, a new principal).
const PRINCIPALS = new WeakMap<SessionRecord, Principal>();

/** The principal of a session record (the same object for the same frozen record). */
export function sessionPrincipal(record: SessionRecord): Principal {
  if (!Object.isFrozen(record)) return principalOf(record);
  let principal = PRINCIPALS.get(record);
  if (principal === undefined) PRINCIPALS.set(record, (principal = Object.freeze(principalOf(record))));
  return principal;
}

function principalOf(record: SessionRecord): Principal {
  return {
    identity: record.identity,
    record,
    cacheKey: `${record.id}:${record.tokens.refreshAt ?? record.tokens.accessTokenExpiresAt ?? 0}:${record.identity.authTime ?? 0}`,
    sid: Sessions.sidHash(record.id),
    ...(record.tokens.accessToken ? { accessToken: record.tokens.accessToken } : {}),
  };
}

/** The principal of an identity given outright (explain/test): no session, no token. */
export function givenPrincipal(identity: Identity): Principal {
  return { identity, cacheKey: `given:${identity.sub}`, sid: '' };
}

/** One request to admit: a classified route request, its credentials (read before stripping), and when. */
export interface AdmitRequest {
  /** The configuration snapshot the request classified against. */
  readonly compiled: CompiledConfig;
  readonly route: Route;
  readonly method: string;
  /** The normalized path and query (sign-in comes back to them). */
  readonly path: string;
  readonly query: string;
  /** scheme://host[:port] the client addressed (normalized): sign-in starts, and comes back, there. */
  readonly origin: string;
  /** The client address; undefined when unknown (no `ip` rule matches it). */
  readonly ip: string | undefined;
  /** ms since epoch. */
  readonly now: number;
  /** For the log lines admission writes (store failure, invalid token). */
  readonly requestId: string;
  /** The session id the cookie carries for `origin` (Sessions.readId), when any. */
  readonly sessionId?: string | undefined;
  /** The bearer token of a `bearer` route, when the request carried one (it wins over a cookie). */
  readonly bearer?: string | undefined;
  /** The request's verified device certificate (runtime/device.ts), when there is one. */
  readonly device?: DeviceCertificate | undefined;
  /** explain/test: the principal itself (no session, no token). */
  readonly principal?: Principal | undefined;
  /** Evaluate every rule (explain/test): the decision carries its trace. */
  readonly trace?: boolean;
  /** The User-Agent header: its family is compared with the session's (the `context` rule). */
  readonly userAgent?: string | undefined;
  /** explain/test: the session side given outright (the `context` and `risk` rules). */
  readonly session?: SessionContext | undefined;
  /** The route's assertion cache slot in the snapshot (`RouteState.assertions`); absent: the signer finds one. */
  readonly assertions?: RouteTokens | undefined;
}

/** Why no decision could be made, or a bearer token's failure (answered with its own status). */
export type ProblemCode =
  /** The session store failed: 503, never allow. */
  | 'store-unavailable'
  /** A bearer token came while the IdP (its keys) is unknown: 503. */
  | 'idp-unavailable'
  /** The bearer token does not verify: 401 `invalid_token` (`detail` says why). */
  | 'invalid-token'
  /** A valid bearer token lacks what the route needs (a step-up an API client cannot do): 401 with `challenge`. */
  | 'insufficient-authentication';

/**
 * The answer of admission, one of:
 * - `allow`: forward, as `principal` (undefined on a public route or an anonymous allow), with `assertion`;
 * - `sign-in` / `step-up`: send the browser to `signIn` (`challenge` is the WWW-Authenticate for API clients);
 * - `deny`: 403, with `decision.reasons`;
 * - `problem`: no decision could be made, or a bearer token failed (`code`).
 * Every kind but a store/IdP problem carries the policy's `decision`.
 */
export type Admission =
  | { readonly kind: 'allow'; readonly route: Route; readonly decision: Decision; readonly principal: Principal | undefined; readonly assertion: string | undefined }
  | { readonly kind: 'sign-in'; readonly route: Route; readonly decision: Decision; readonly principal: Principal | undefined; readonly signIn: string; readonly challenge: string }
  | { readonly kind: 'step-up'; readonly route: Route; readonly decision: Decision; readonly principal: Principal | undefined; readonly signIn: string; readonly challenge: string }
  | { readonly kind: 'deny'; readonly route: Route; readonly decision: Decision; readonly principal: Principal | undefined }
  | {
      readonly kind: 'problem';
      readonly route: Route;
      readonly code: ProblemCode;
      readonly detail?: string;
      readonly decision?: Decision;
      readonly principal?: Principal;
      readonly challenge?: string;
    };

/** The long-lived services admission reads (the server's Runtime has them all). */
export interface AdmitContext {
  readonly sessions: {
    loadNow(id: string, now: number, limits?: SessionLimits): LoadResult | undefined;
    loadShared(id: string, now: number, limits?: SessionLimits): Promise<LoadResult>;
    touchIfDue(record: SessionRecord, now: number): Promise<void> | undefined;
  };
  readonly refresher: {
    due(record: SessionRecord, now: number): boolean;
    refresh(record: SessionRecord, requestId: string): Promise<{ state: 'valid'; record: SessionRecord } | { state: 'ended' }>;
  };
  readonly oidc: { readonly ready: boolean; readonly issuer: string; jwksUri(): URL; readonly jwks: { readonly bearer: JwksCache } };
  readonly identities: { bearer(claims: Record<string, unknown>, idp: Config['idp'], now: number, requestId?: string): Identity };
  /** Absent (explain/test): no assertion is signed. */
  readonly signer?: { sign(subject: AssertionSubject): string };
  readonly logger: { warn(fields: Record<string, unknown>): void; error(fields: Record<string, unknown>): void };
  /** Sessions' contexts and risk signals (absent in explain/test: the request's `session` is used as given). */
  readonly contexts?: SessionContexts;
  /** Access grants (access/): read only when the route takes requests and its rules refused a signed-in user. */
  readonly grants?: GrantLookup;
}

/** What a session read gives: a principal, undefined (anonymous or expired), or 'unavailable' (store down). */
type SessionAuth = Principal | undefined | 'unavailable';
/** What a bearer token gives: a principal, the reason it is invalid, or 'idp-unavailable'. */
type BearerAuth = Principal | { invalid: string } | 'idp-unavailable';
type Authenticated = SessionAuth | BearerAuth;

/** Marks a session alive but beyond the route's own timeouts: its sign-in must not reuse it (`fresh=1`). */
interface Scratch {
  freshSignIn: boolean;
}

/**
 * Admits one request: authenticate → decide → identity and assertion. Synchronous when the store reads
 * synchronously, no refresh is due and no bearer token is verified; else a promise. Never throws a denial.
 */
export function admit(ctx: AdmitContext, req: AdmitRequest): Admission | Promise<Admission> {
  const route = req.route;
  if (route.public) return conclude(ctx, req, undefined, false);
  if (req.principal !== undefined) return conclude(ctx, req, req.principal, false);
  const scratch: Scratch = { freshSignIn: false };
  const auth = req.bearer !== undefined ? authenticateBearer(ctx, req, req.bearer) : authenticateSession(ctx, req, scratch);
  if (auth instanceof Promise) return auth.then((a) => concludeAuth(ctx, req, a, scratch));
  return concludeAuth(ctx, req, auth, scratch);
}

function concludeAuth(ctx: AdmitContext, req: AdmitRequest, auth: Authenticated, scratch: Scratch): Admission | Promise<Admission> {
  if (auth === 'unavailable') return { kind: 'problem', route: req.route, code: 'store-unavailable' };
  if (auth === 'idp-unavailable') return { kind: 'problem', route: req.route, code: 'idp-unavailable' };
  if (auth !== undefined && 'invalid' in auth) return { kind: 'problem', route: req.route, code: 'invalid-token', detail: auth.invalid };
  return conclude(ctx, req, auth, scratch.freshSignIn);
}

function conclude(ctx: AdmitContext, req: AdmitRequest, principal: Principal | undefined, freshSignIn: boolean): Admission | Promise<Admission> {
  const route = req.route;
  const record = principal?.record;
  // A session started with a device certificate never works without that same certificate, whatever the route's policy.
  if (record?.binding?.device !== undefined && req.device?.fingerprint256 !== record.binding.device) {
    ctx.contexts?.denied(record, contextOf(req));
    return { kind: 'deny', route, decision: SESSION_DEVICE_REQUIRED, principal };
  }
  const session = record === undefined ? req.session : sessionContext(ctx, record, req);
  const input: PolicyInput = { identity: principal?.identity, method: req.method, path: req.path, ip: req.ip, now: req.now };
  if (req.device !== undefined) input.device = req.device;
  if (session !== undefined) input.session = session;
  const options = req.trace ? { trace: true } : undefined;
  const decision = decide(route, input, options);
  // An access grant may turn this refusal into an allow: one store read, only then (the hot path never reads it).
  if (ctx.grants !== undefined && grantMayApply(route, principal?.identity, decision)) {
    return decideWithGrant(ctx.grants, route, input, decision, options).then(
      (d) => answer(ctx, req, principal, freshSignIn, d),
      (e: Error): Admission => {
        storeFailed(ctx, req, e);
        return { kind: 'problem', route, code: 'store-unavailable' };
      },
    );
  }
  return answer(ctx, req, principal, freshSignIn, decision);
}

function answer(ctx: AdmitContext, req: AdmitRequest, principal: Principal | undefined, freshSignIn: boolean, decision: Decision): Admission {
  const route = req.route;
  const record = principal?.record;
  const mfaAcrValues = req.compiled.config.idp.mfaAcrValues;
  switch (decision.outcome) {
    case 'allow': {
      const assertion = principal && ctx.signer ? ctx.signer.sign({ sessionKey: principal.cacheKey, route, tokens: req.assertions, identity: principal.identity, sidHash: principal.sid, ...(req.device ? { deviceFingerprint: req.device.fingerprint256 } : {}) }) : undefined;
      return { kind: 'allow', route, decision, principal, assertion };
    }
    case 'deny':
      if (record !== undefined) ctx.contexts?.denied(record, contextOf(req));
      return { kind: 'deny', route, decision, principal };
    default:
      // A valid token that lacks what the route needs: an API client cannot step up through a browser redirect.
      if (req.bearer !== undefined && principal !== undefined) return { kind: 'problem', route, code: 'insufficient-authentication', decision, principal, challenge: stepUpChallenge(decision, mfaAcrValues) };
      if (decision.outcome === 'step-up') return { kind: 'step-up', route, decision, principal, signIn: signInUrl(req, decision, freshSignIn), challenge: stepUpChallenge(decision, mfaAcrValues) };
      return { kind: 'sign-in', route, decision, principal, signIn: signInUrl(req, decision, freshSignIn), challenge: `Bearer realm="${req.compiled.publicOrigin}"` };
  }
}

function contextOf(req: AdmitRequest): RequestContext {
  return { ip: req.ip, userAgent: req.userAgent, device: req.device, now: req.now, requestId: req.requestId, route: req.route.name };
}

/** The session side of the request: recorded and logged by `ctx.contexts`, or read as it is (no context service). */
function sessionContext(ctx: AdmitContext, record: SessionRecord, req: AdmitRequest): SessionContext {
  if (ctx.contexts) return ctx.contexts.context(record, contextOf(req));
  return { bound: record.binding, agent: agentFamily(req.userAgent), signals: record.signals ?? [] };
}

/** RFC 9470: what an API client must bring to satisfy a step-up (an `mfa` need names the configured MFA acr values). */
export function stepUpChallenge(decision: Decision, mfaAcrValues: readonly string[]): string {
  const need = decision.stepUp;
  const acr = need ? acrValuesFor(need, mfaAcrValues) : undefined;
  return `Bearer error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required"${acr?.length ? `, acr_values="${acr.join(' ')}"` : ''}${need?.maxAge !== undefined ? `, max_age=${need.maxAge}` : ''}`;
}

/** Where this request's browser starts signing in: on its own origin, which binds the hand-off to it (signin/start.ts). */
function signInUrl(req: AdmitRequest, decision: Decision, freshSignIn: boolean): string {
  const back = `${req.origin}${req.path}${req.query ? `?${req.query}` : ''}`;
  // A step-up names what the session lacks. A first sign-in asks at once for what the route demands of every
  // sign-in it lets in (MFA, acr, a recent sign-in), so one trip to the IdP is enough (policy/evaluate.ts signInNeed).
  const extra = decision.stepUp ? stepUpQuery(decision.stepUp) : `${freshSignIn ? '&fresh=1' : ''}${decision.signInNeed ? signInNeedQuery(decision.signInNeed) : ''}`;
  return signInStartUrl(back, req.compiled.publicOrigin, extra);
}

/**
 * Reads the session: a principal, undefined (anonymous or expired), or 'unavailable' (store down). Refreshes when
 * due. Synchronous when the store reads synchronously and no refresh is due, else a promise.
 */
function authenticateSession(ctx: AdmitContext, req: AdmitRequest, scratch: Scratch): SessionAuth | Promise<SessionAuth> {
  const id = req.sessionId;
  if (id === undefined) return undefined;
  let loaded: LoadResult | undefined;
  try {
    loaded = ctx.sessions.loadNow(id, req.now, req.route);
  } catch (e) {
    return storeFailed(ctx, req, e as Error);
  }
  if (loaded !== undefined) return loadedSession(ctx, req, loaded, scratch);
  return ctx.sessions.loadShared(id, req.now, req.route).then(
    (l) => loadedSession(ctx, req, l, scratch),
    (e: Error) => storeFailed(ctx, req, e),
  );
}

function loadedSession(ctx: AdmitContext, req: AdmitRequest, loaded: LoadResult, scratch: Scratch): SessionAuth | Promise<SessionAuth> {
  if (loaded.state !== 'valid') {
    if (loaded.state === 'expired' && loaded.routeLimit) scratch.freshSignIn = true;
    return undefined;
  }
  const record = loaded.record;
  if (!ctx.refresher.due(record, req.now)) return sessionInUse(ctx, req, record);
  return ctx.refresher.refresh(record, req.requestId).then(
    (refreshed) => (refreshed.state === 'ended' ? undefined : sessionInUse(ctx, req, refreshed.record)),
    (e: Error) => storeFailed(ctx, req, e),
  );
}

function storeFailed(ctx: AdmitContext, req: AdmitRequest, e: Error): 'unavailable' {
  ctx.logger.error({ event: 'session-store', error: e.message, requestId: req.requestId });
  return 'unavailable';
}

/** The principal of a valid session; moves its idle clock when due (in the background). */
function sessionInUse(ctx: AdmitContext, req: AdmitRequest, record: SessionRecord): Principal {
  ctx.sessions.touchIfDue(record, req.now)?.catch((e: Error) => ctx.logger.warn({ event: 'session-touch', error: e.message, requestId: req.requestId }));
  return sessionPrincipal(record);
}

/** Verifies a bearer token against the IdP's keys; its claims feed the same policy. */
async function authenticateBearer(ctx: AdmitContext, req: AdmitRequest, token: string): Promise<BearerAuth> {
  const route = req.route;
  if (!ctx.oidc.ready || route.bearer === false) return 'idp-unavailable';
  const result = await verifyBearer(token, { jwks: ctx.oidc.jwks.bearer, jwksUri: ctx.oidc.jwksUri(), issuer: ctx.oidc.issuer, audiences: route.bearer.audiences, now: req.now });
  if (!result.ok) {
    ctx.logger.warn({ event: 'bearer', result: 'invalid', requestId: req.requestId, route: route.name, reason: result.reason });
    return { invalid: result.reason };
  }
  let identity;
  try {
    identity = ctx.identities.bearer(result.claims, req.compiled.config.idp, req.now, req.requestId);
  } catch (e) {
    if (!(e instanceof IdentityClaimTooLongError)) throw e;
    ctx.logger.warn({ event: 'bearer', result: 'invalid', requestId: req.requestId, route: route.name, reason: e.message });
    return { invalid: e.message };
  }
  const digest = sha256Base64url(token);
  return { identity, cacheKey: `bearer:${digest}`, sid: digest.slice(0, 22), ...(route.passAccessToken ? { accessToken: token } : {}) };
}
