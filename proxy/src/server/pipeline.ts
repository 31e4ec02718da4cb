// server/pipeline.ts — the lean proxied path (SPEC §3): classify (normalize → reserved path → match once,
// admission/classify.ts) → strip → admit (authenticate → authorize → assertion, admission/admit.ts) → forward, and one
// log line per request; the same for WebSocket upgrades, and /.drawbridge/auth handed to forward-auth. No Express here.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Decision } from '../policy/evaluate.js';
import { REASONS } from '../policy/reasons.js';
import type { Reason } from '../policy/rule.js';
import type { Route } from '../routes/compile.js';
import { setIdentityHeaders } from '../forward/identity-headers.js';
import { stripClientHeaders } from '../forward/strip.js';
import { upstreamPath, type ForwardResult, type UpstreamProblem } from '../forward/forwarder.js';
import { plainTarget } from '../routes/rewrite.js';
import { pageRoute } from '../routes/route-at.js';
import { isForwardAuthPath, isForwardAuthTarget, PATHS } from '../pages/paths.js';
import { badRequestPage, contextChangedPage, deviceRequiredPage, forbiddenPage, methodNotAllowedPage, notFoundPage } from '../pages/views.js';
import { requestAccessForm } from '../pages/access-views.js';
import { durationChoices } from '../access/access.js';
import { pageUser } from '../pages/page-user.js';
import { bearerToken } from '../oidc/bearer.js';
import { admit, type Admission, type AdmitContext, type Principal } from '../admission/admit.js';
import { SessionContexts } from '../admission/session-context.js';
import { classify, type Classification } from '../admission/classify.js';
import { Refresher } from './refresh.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { clientInfo, hasDuplicateHost } from '../runtime/client-info.js';
import { requestId } from '../runtime/request-id.js';
import { answerProblem, type ProblemDetails } from '../runtime/problem.js';
import { hstsFor, isBrowser } from '../runtime/respond.js';
import { getExchange, requestOrigin, setExchange, type Exchange, type Runtime } from '../runtime/runtime.js';
import { createForwardAuth } from './forward-auth.js';
import { h2Refusal } from './h2.js';
import type { RequestLogFields } from '../telemetry/logger.js';

export type PageHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Copies what admission found onto the exchange, for the log line (SPEC §8). */
function recordAdmission(x: Exchange, a: Admission): void {
  if (a.decision !== undefined) {
    x.decision = a.decision.outcome;
    x.reasons = a.decision.reasons;
  }
  if (a.principal !== undefined) x.identity = a.principal.identity;
}

/** Builds the request and upgrade handlers of the proxy listener. `pages` serves /.drawbridge/*. */
export function createPipeline(rt: Runtime, pages: PageHandler) {
  const refresher = new Refresher(rt);
  const contexts = new SessionContexts(rt.sessions.store, rt.logger, () => rt.sessions.maxLifetimeMs);
  const ctx: AdmitContext = { sessions: rt.sessions, refresher, oidc: rt.oidc, identities: rt.identities, signer: rt.signer, logger: rt.logger, contexts, grants: rt.access };
  // Connections answered 400 and being closed: node still emits the requests pipelined behind the bad one.
  const refusedSockets = new WeakSet<object>();

  /** The request log line of a response Drawbridge answered itself (`this` is the response; close is emitted once). */
  function onResponseClose(this: ServerResponse): void {
    const x = getExchange(this.req);
    if (!x.forwarded) logRequest(rt, this.req, this, x);
  }

  /** The exchange of a new request (and the log hook of its response). */
  function begin(req: IncomingMessage, res: ServerResponse | undefined): Exchange {
    const snap = rt.snapshot();
    // Every field from the start (undefined until a step fills it): one object of one shape, not one grown per step.
    const x: Exchange = {
      id: requestId(),
      t0: performance.now(),
      snap,
      client: clientInfo(req, snap.trusted, snap.device && { settings: snap.device, now: rt.now() }),
      host: undefined,
      hostname: undefined,
      port: undefined,
      path: undefined,
      query: undefined,
      route: undefined,
      state: undefined,
      identity: undefined,
      decision: undefined,
      reasons: undefined,
      refusal: undefined,
      upstreamMs: undefined,
      freshSignIn: undefined,
      page: undefined,
      errorCode: undefined,
      errorCause: undefined,
      frontDoor: undefined,
      method: undefined,
      forwarded: undefined,
      sessionId: undefined,
    };
    setExchange(req, x);
    if (res) res.on('close', onResponseClose);
    return x;
  }

  /** Steps 1–2: what the request is (admission/classify.ts), its normalized parts kept on the exchange. */
  function classifyRequest(req: IncomingMessage, x: Exchange): Classification {
    if (refusedSockets.has(req.socket)) return { kind: 'bad-request', reason: 'request pipelined behind a refused request' };
    // HTTP/2: what server/h2.ts found malformed when it reshaped the request (:authority and Host disagree...).
    const h2 = req.httpVersionMajor === 2 ? h2Refusal(req) : undefined;
    if (h2 !== undefined) return { kind: 'bad-request', reason: h2 };
    // Node accepts any coding list ending in chunked ("identity, chunked"); an upstream may frame such a body
    // differently (request smuggling), so only plain chunked is forwarded.
    const te = req.headers['transfer-encoding'];
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return { kind: 'bad-request', reason: 'unsupported Transfer-Encoding (only "chunked")' };
    const c = classify(x.snap.compiled.table, { scheme: x.client.scheme, rawHost: x.client.rawHost, target: req.url ?? '', method: req.method ?? 'GET', duplicateHost: hasDuplicateHost(req) });
    if (c.kind === 'bad-request') {
      if (c.path !== undefined) {
        x.path = c.path;
        x.query = c.query;
      }
      return c;
    }
    x.path = c.path;
    x.query = c.query;
    x.host = c.host;
    x.hostname = c.hostname;
    if (c.port !== undefined) x.port = c.port;
    return c;
  }

  /** Step 3, and the credentials read first: stripping removes the cookie (and a consumed bearer token). */
  function credentials(req: IncomingMessage, x: Exchange, route: Route): { bearer: string | undefined; sessionId: string | undefined } {
    const bearer = route.bearer ? bearerToken(req.headers.authorization) : undefined;
    const sessionId = route.public || bearer !== undefined ? undefined : rt.sessions.readId(req.headers.cookie, x.client.scheme === 'https', requestOrigin(x), x.state);
    stripClientHeaders(req, x.snap.stripper, { trustedPeer: x.client.trustedPeer, cookieBase: rt.sessions.cookieBase, consumedBearer: bearer !== undefined, keep: route.keepRequestHeaders });
    return { bearer, sessionId };
  }

  /** Steps 4–5 (admission/admit.ts) for a classified route request. */
  function admitRequest(req: IncomingMessage, x: Exchange, route: Route, bearer: string | undefined, sessionId: string | undefined): Admission | Promise<Admission> {
    return admit(ctx, {
      compiled: x.snap.compiled,
      route,
      method: req.method ?? 'GET',
      path: x.path!,
      query: x.query!,
      origin: requestOrigin(x),
      ip: x.client.ip,
      now: rt.now(),
      requestId: x.id,
      sessionId,
      bearer,
      userAgent: req.headers['user-agent'],
      device: x.client.device,
      assertions: x.state,
    });
  }

  const forwardAuth = createForwardAuth(rt, ctx);

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const x = begin(req, res);
    if (isForwardAuthTarget(req.url ?? '') && !refusedSockets.has(req.socket) && (req.httpVersionMajor !== 2 || h2Refusal(req) === undefined)) return forwardAuth(req, res, x);
    if (x.snap.device?.required && !x.client.device) return deviceRequired(req, res, x);
    const c = classifyRequest(req, x);
    if (c.kind === 'bad-request') {
      x.decision = 'bad-request';
      x.refusal = c.reason;
      // A client that sent a malformed request may be out of step with us: nothing more is read from it. (HTTP/2
      // frames its requests: only this stream is refused, and HTTP/2 has no Connection header.)
      refusedSockets.add(req.socket);
      return answerProblem(req, res, 'DRB_BAD_REQUEST', { format: 'html', page: (requestId) => badRequestPage({ reason: c.reason, requestId }), headers: req.httpVersionMajor === 2 ? {} : { connection: 'close' } });
    }
    if (c.kind === 'reserved') {
      if (isForwardAuthPath(c.path)) return forwardAuth(req, res, x);
      x.page = c.path;
      if (req.headers.expect !== undefined) res.writeContinue();
      return pages(req, res);
    }
    if (c.kind === 'no-route') {
      x.decision = 'no-route';
      return answerProblem(req, res, 'DRB_NO_ROUTE', { page: (requestId) => notFoundPage({ host: x.host!, path: x.path!, requestId }) });
    }
    if (c.kind === 'method-not-allowed') {
      x.decision = 'method-not-allowed';
      return answerProblem(req, res, 'DRB_METHOD_NOT_ALLOWED', { page: (requestId) => methodNotAllowedPage({ method: req.method ?? '', requestId }) });
    }
    const route = c.route;
    x.route = route;
    x.state = x.snap.routes[route.index];
    const { bearer, sessionId } = credentials(req, x, route);
    if (sessionId !== undefined && route.requests !== undefined) x.sessionId = sessionId;
    const a = admitRequest(req, x, route, bearer, sessionId);
    if (a instanceof Promise) {
      a.then((admitted) => answerAdmission(req, res, x, admitted)).catch((e: Error) => internalError(rt, req, res, e));
      return;
    }
    answerAdmission(req, res, x, a);
  }

  /** The proxy's answer to an admission: forward, or refuse. */
  function answerAdmission(req: IncomingMessage, res: ServerResponse, x: Exchange, a: Admission): void {
    recordAdmission(x, a);
    switch (a.kind) {
      case 'allow':
        return forward(req, res, x, a.route, a.principal, a.assertion);
      case 'sign-in':
      case 'step-up': {
        // A step-up a change of context asked for: browsers are told what changed before they sign in again.
        if (a.kind === 'step-up' && a.principal && isBrowser(req) && a.decision.reasons.some(isContextChange)) return contextChanged(req, res, a.route, a.principal, a.decision, a.signIn, a.challenge);
        return answerProblem(req, res, a.kind === 'step-up' ? 'DRB_STEP_UP' : 'DRB_UNAUTHENTICATED', { signIn: a.signIn, headers: { 'www-authenticate': a.challenge } });
      }
      case 'deny':
        return answerProblem(req, res, 'DRB_FORBIDDEN', forbidden(x, a.route, a.decision, x.sessionId !== undefined ? rt.sessions.csrfToken(x.sessionId) : undefined));
      case 'problem':
        switch (a.code) {
          case 'store-unavailable':
            return storeUnavailable(req, res, x);
          case 'idp-unavailable':
            return answerProblem(req, res, 'DRB_IDP_UNAVAILABLE');
          case 'invalid-token':
            x.decision = 'invalid-token';
            return answerProblem(req, res, 'DRB_BAD_TOKEN', { format: 'json', json: { error_description: a.detail }, headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${a.detail}"` } });
          case 'insufficient-authentication':
            // A valid token that lacks what the route needs: an API client cannot step up through a browser redirect.
            return answerProblem(req, res, 'DRB_STEP_UP', { format: 'json', headers: { 'www-authenticate': a.challenge! } });
        }
    }
  }

  /** Step 6 on req.headers, before the proxy library sees the request. */
  function applyIdentity(req: IncomingMessage, x: Exchange, route: Route, principal: Principal | undefined, assertion: string | undefined, url: string): void {
    req.url = url;
    // The upstream's virtual host is the host that was matched and authorized, never the raw header's spelling
    // ("APP.example.com.:443") or a Host the trusted X-Forwarded-Host overrode.
    if (route.preserveHost) req.headers.host = x.host!;
    setIdentityHeaders(req.headers, x.state!.headers, principal?.identity, {
      assertion: assertion !== undefined ? { name: x.snap.compiled.config.assertion.header, value: assertion } : undefined,
      accessToken: principal?.accessToken || undefined,
      requestId: x.id,
      // The hop that connected (appended to a trusted chain), not the client address derived from that chain.
      clientIp: req.socket.remoteAddress ?? x.client.ip ?? '',
      proto: x.client.scheme,
      host: x.host!,
      forwardedFor: x.client.forwardedFor || undefined,
    });
  }

  /**
   * The upstream request-target of an authorized request (the route's rewrite applied to the path the policy decided
   * on), or undefined when the rewrite makes no canonical path: then logged (`rewrite-refused`, with the details the
   * client is not shown) and refused with 400.
   */
  function targetOf(x: Exchange, route: Route): string | undefined {
    // Most routes rewrite nothing: no result object per request.
    if (route.rewrite === undefined) return plainTarget(route, x.path!, x.query!);
    const target = upstreamPath(route, x.path!, x.query!);
    if (target.ok) return target.path;
    x.decision = 'rewrite-refused';
    rt.logger.warn({ event: 'rewrite-refused', requestId: x.id, route: route.name, path: x.path!, reason: target.reason });
    return undefined;
  }

  function forward(req: IncomingMessage, res: ServerResponse, x: Exchange, route: Route, principal: Principal | undefined, assertion: string | undefined): void {
    const url = targetOf(x, route);
    if (url === undefined) {
      const reason = 'the route’s path rewrite makes no valid application path of this one';
      return answerProblem(req, res, 'DRB_BAD_REQUEST', { page: (requestId) => badRequestPage({ reason, requestId }), json: { reason } });
    }
    applyIdentity(req, x, route, principal, assertion, url);
    // Authorized: now the client may send the body it announced (see the server's checkContinue listener).
    if (req.headers.expect !== undefined) res.writeContinue();
    // From here the forwarder's completion (on the response's close) writes the log line, with the upstream's time.
    x.forwarded = true;
    rt.forwarder.web(req, res, route, x.state!.pool, forwarded, upstreamFailed, hstsFor(req));
  }

  /** The end of a forwarded request: its upstream time and failure, then its log line (one function, no closure per request). */
  function forwarded(r: ForwardResult, req: IncomingMessage, res: ServerResponse | Duplex): void {
    const x = getExchange(req);
    x.upstreamMs = r.upstreamMs;
    if (r.error) x.decision = `allow:upstream-${r.error}`;
    // Also when the answer had started and was cut: the log says what failed.
    if (r.problem) {
      x.errorCode = r.problem.code;
      if (r.problem.cause !== undefined) x.errorCause = r.problem.cause;
    }
    rt.metrics.upstreamAt(x.state!, r.upstreamMs / 1000);
    logRequest(rt, req, res as ServerResponse, x);
  }

  /** tls.clientCert: required, and no verified device certificate: a page that says so, before anything else. */
  function deviceRequired(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    x.decision = 'device-required';
    if (x.client.deviceRefusal !== undefined) x.refusal = `device certificate refused: ${x.client.deviceRefusal}`;
    const presented = x.client.deviceRefusal !== undefined;
    answerProblem(req, res, 'DRB_DEVICE_REQUIRED', { page: (requestId) => deviceRequiredPage({ presented, requestId }), json: { reason: presented ? 'device-certificate-refused' : 'device-certificate-missing' } });
  }

  function storeUnavailable(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    x.decision = 'store-unavailable';
    answerProblem(req, res, 'DRB_STORE_UNAVAILABLE');
  }

  /** WebSocket upgrades: authenticated and authorized exactly like other requests, before the upgrade is forwarded. */
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const x = begin(req, undefined);
    const c = classifyRequest(req, x);
    // A refused upgrade: the catalog's status and its reason phrase as plain text (no page: no browser shows it).
    const fail = (code: ErrorCode) => {
      x.decision ??= 'refused';
      x.errorCode = code;
      const status: number = ERROR_CODES[code].status;
      const text = STATUS_CODES[status] ?? 'Error';
      const hsts = hstsFor(req);
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\nx-request-id: ${x.id}\r\n${hsts !== undefined ? `strict-transport-security: ${hsts}\r\n` : ''}\r\n${text}`);
      logUpgrade(rt, req, x, status);
    };
    if (x.snap.device?.required && !x.client.device) {
      x.decision = 'device-required';
      return fail('DRB_DEVICE_REQUIRED');
    }
    if (c.kind === 'bad-request') return fail('DRB_BAD_REQUEST');
    if (c.kind === 'reserved' || c.kind === 'no-route') return fail('DRB_NO_ROUTE');
    if (c.kind === 'method-not-allowed') return fail('DRB_METHOD_NOT_ALLOWED');
    const route = c.route;
    x.route = route;
    x.state = x.snap.routes[route.index];
    if (!route.websockets) return fail('DRB_FORBIDDEN');
    const { bearer, sessionId } = credentials(req, x, route);
    const a = await admitRequest(req, x, route, bearer, sessionId);
    recordAdmission(x, a);
    switch (a.kind) {
      case 'problem':
        return fail(a.code === 'store-unavailable' ? 'DRB_STORE_UNAVAILABLE' : a.code === 'idp-unavailable' ? 'DRB_IDP_UNAVAILABLE' : a.code === 'invalid-token' ? 'DRB_BAD_TOKEN' : 'DRB_STEP_UP');
      case 'sign-in':
        return fail('DRB_UNAUTHENTICATED');
      case 'step-up':
        return fail('DRB_STEP_UP');
      case 'deny':
        return fail('DRB_FORBIDDEN');
      case 'allow':
        break;
    }
    const principal = a.principal;
    const url = targetOf(x, route);
    if (url === undefined) return fail('DRB_BAD_REQUEST');
    // Admitted: from now on re-admitted by every sweep, and closed once its session ends or the policy refuses it.
    const open = rt.websockets.add({
      socket,
      requestId: x.id,
      route: route.name,
      hostname: x.hostname!,
      ...(x.port !== undefined ? { port: x.port } : {}),
      path: x.path!,
      method: req.method ?? 'GET',
      ip: x.client.ip,
      ...(x.client.device ? { device: x.client.device } : {}),
      ...(x.snap.device ? { upgrade: { request: req, trustedPeer: x.client.trustedPeer } } : {}),
      ...(principal ? { identity: principal.identity } : {}),
      ...(principal && bearer !== undefined ? { bearer } : {}),
      ...(principal && bearer === undefined && sessionId !== undefined ? { sessionId } : {}),
    });
    applyIdentity(req, x, route, principal, a.assertion, url);
    const handle = rt.forwarder.ws(
      req,
      socket,
      head,
      route,
      x.state!.pool,
      (r) => {
        x.upstreamMs = r.upstreamMs;
        if (r.problem) {
          x.errorCode = r.problem.code;
          if (r.problem.cause !== undefined) x.errorCause = r.problem.cause;
        }
        logUpgrade(rt, req, x, r.status);
      },
      hstsFor(req),
    );
    open?.attach(handle);
  }

  return {
    handle(req: IncomingMessage, res: ServerResponse): void {
      try {
        handle(req, res);
      } catch (e) {
        internalError(rt, req, res, e as Error);
      }
    },
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      upgrade(req, socket, head).catch((e: Error) => {
        rt.logger.error({ event: 'internal-error', error: e.message });
        socket.destroy();
      });
    },
  };
}

/** The 403 page and JSON of a denial (the page says who, which rule failed in plain words, and how to sign out). */
/** The reasons of a `context` rule that saw a change (policy/rules/context.ts). */
function isContextChange(r: Reason): boolean {
  return r.code.startsWith('context-') && r.code !== 'context-ok';
}

/** 401 page saying what changed, with the step-up sign-in as its button (views.ts contextChangedPage). */
function contextChanged(req: IncomingMessage, res: ServerResponse, route: Route, principal: Principal, decision: Decision, signIn: string, challenge: string): void {
  const changes = decision.reasons.filter(isContextChange).map((r) => ({ text: REASONS[r.code], ...(r.detail ? { detail: r.detail } : {}) }));
  answerProblem(req, res, 'DRB_STEP_UP', {
    format: 'html',
    page: (requestId) => contextChangedPage({ user: pageUser(principal.identity), changes, signInUrl: signIn, signOutUrl: PATHS.signOut, requestId, route: pageRoute(route) }),
    headers: { 'www-authenticate': challenge },
  });
}

export function forbidden(x: Exchange, route: Route, decision: Decision, csrfToken?: string): ProblemDetails {
  const reasons = decision.reasons.map((r) => ({ code: r.code, text: REASONS[r.code], ...(r.detail ? { detail: r.detail } : {}) }));
  const id = x.identity;
  // A route that takes access requests offers one to a signed-in user its allow rules refused (a deny rule: no
  // approval could change it). API clients get where to ask.
  const first = decision.reasons[0]?.code;
  const r = route.requests;
  const askable = r !== undefined && id !== undefined && first !== 'deny-matched' && first !== 'deny-undecided';
  const form =
    askable && csrfToken !== undefined
      ? requestAccessForm({ action: PATHS.requests, csrfToken, route: route.name, reasonRequired: r.reasonRequired, durations: durationChoices(r.maxDurationMs, r.defaultDurationMs), defaultSeconds: Math.floor(r.defaultDurationMs / 1000), rd: `${requestOrigin(x)}${x.path ?? '/'}${x.query ? `?${x.query}` : ''}` })
      : undefined;
  return {
    page: (requestId) => forbiddenPage({ ...(id ? { user: pageUser(id) } : {}), route: pageRoute(route), reasons, requestId, signOutUrl: PATHS.signOut, ...(form ? { requestAccess: form } : {}) }),
    json: { route: route.name, reasons, ...(askable ? { requestAccess: `${requestOrigin(x)}${PATHS.requests}` } : {}) },
  };
}

/** A forwarded request's upstream failure, answered before its response started: Drawbridge's 502/504. */
function upstreamFailed(res: ServerResponse, problem: UpstreamProblem, req: IncomingMessage): void {
  answerProblem(req, res, problem.code, problem.cause !== undefined ? { cause: problem.cause } : {});
}

function internalError(rt: Runtime, req: IncomingMessage, res: ServerResponse, e: Error): void {
  let id = '';
  try {
    id = getExchange(req).id;
    getExchange(req).decision = 'error';
  } catch {
    // the exchange is created first thing; nothing to add
  }
  rt.logger.error({ event: 'internal-error', requestId: id, error: e.message, stack: e.stack });
  if (!res.headersSent) answerProblem(req, res, 'DRB_INTERNAL', { format: 'json' });
  else res.destroy();
}

function reasonCode(r: { readonly code: string; readonly detail?: string }): string {
  // An access grant is logged with its id (`grant:<id>`), so that the request line names the approval behind it.
  return r.code === 'grant' ? `grant:${r.detail ?? ''}` : r.code;
}

// The codes of the last frozen reasons list logged: a route's requests mostly decide alike, with one shared decision
// object (policy/decide.ts), so its codes are mapped once rather than into a new array per request.
let lastReasons: readonly Reason[] | undefined;
let lastCodes: string[] = [];

/** The log line's `reasons` (reasonCode of each); the same array again for the same frozen list. */
export function reasonCodes(reasons: readonly Reason[]): string[] {
  if (reasons === lastReasons) return lastCodes;
  const codes = reasons.map(reasonCode);
  if (Object.isFrozen(reasons)) {
    lastReasons = reasons;
    lastCodes = codes;
  }
  return codes;
}

/** The one log line of a request (SPEC §8), and its metrics. */
export function logRequest(rt: Runtime, req: IncomingMessage, res: ServerResponse, x: Exchange): void {
  logExchange(rt, req, x, res.headersSent ? res.statusCode : 0, res.writableFinished ? undefined : 'aborted');
}

function logUpgrade(rt: Runtime, req: IncomingMessage, x: Exchange, status: number): void {
  logExchange(rt, req, x, status, 'websocket');
}

function logExchange(rt: Runtime, req: IncomingMessage, x: Exchange, status: number, flag: 'aborted' | 'websocket' | undefined): void {
  const durationMs = performance.now() - x.t0;
  const decision = x.decision ?? (x.page ? 'page' : 'unknown');
  rt.metrics.requestAt(x.state, decision, status, durationMs / 1000);
  const fields: RequestLogFields = {
    event: 'request',
    requestId: x.id,
    // The route state's copy of the name (runtime/route-state.ts): the same text, read where the state already is.
    route: x.state?.name ?? x.route?.name ?? '',
    method: x.method ?? req.method,
    host: x.host ?? '',
    path: x.path ?? '',
    status,
    durationMs: Math.round(durationMs * 1000) / 1000,
    upstreamMs: x.upstreamMs === undefined ? null : Math.round(x.upstreamMs * 1000) / 1000,
    // An unknown client address is logged as '' (never as the trusted proxy's own), with the hop that was unreadable.
    ip: x.client.ip ?? '',
    user: x.identity?.user ?? '',
    email: x.identity?.email ?? '',
    decision,
    reasons: x.reasons ? reasonCodes(x.reasons) : [],
  };
  if (x.refusal !== undefined) fields.reason = x.refusal;
  if (x.client.unknownHop !== undefined) fields.ipUnknown = x.client.unknownHop;
  if (x.errorCode !== undefined) fields.errorCode = x.errorCode;
  if (x.errorCause !== undefined) fields.cause = x.errorCause;
  if (flag) fields[flag] = true;
  if (x.frontDoor !== undefined) fields.frontDoor = x.frontDoor;
  rt.logger.request(fields);
}
