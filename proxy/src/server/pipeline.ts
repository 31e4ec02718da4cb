// server/pipeline.ts — the lean proxied path (SPEC §3): normalize → match once → strip →
// authenticate → authorize → forward, and one log line per request. No Express on this path.
import { randomUUID } from 'node:crypto';
import { sha256Base64url } from '../digest.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { decide, type Decision } from '../policy/evaluate.js';
import type { Identity } from '../policy/input.js';
import { REASONS } from '../policy/reasons.js';
import type { Route } from '../routes/compile.js';
import { dropUnderscoreHeaders, normalizeHost, normalizeTarget } from '../routes/normalize.js';
import { setIdentityHeaders } from '../forward/identity-headers.js';
import { stripClientHeaders } from '../forward/strip.js';
import { upstreamPath } from '../forward/forwarder.js';
import { plainTarget } from '../routes/rewrite.js';
import { isReservedPath, PATHS, signInStartUrl } from '../pages/paths.js';
import { badRequestPage, forbiddenPage, methodNotAllowedPage, notFoundPage, unavailablePage, upstreamErrorPage } from '../pages/views.js';
import { bearerToken, verifyBearer } from '../oidc/bearer.js';
import { Sessions, type LoadResult } from '../session/sessions.js';
import type { SessionRecord } from '../session/store.js';
import { Refresher } from './refresh.js';
import { clientInfo, hasDuplicateHost } from './client-info.js';
import { isBrowser, redirect, sendJson, sendPage } from './respond.js';
import { getExchange, requestOrigin, setExchange, type Exchange, type Runtime } from './runtime.js';
import { acrValuesFor, signInNeedQuery, stepUpQuery } from './step-up.js';
import type { RequestLogFields } from '../telemetry/logger.js';

export type PageHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Builds the request and upgrade handlers of the proxy listener. `pages` serves /.drawbridge/*. */
/** Who a request acts as: a session or a verified bearer token. */
interface Principal {
  identity: Identity;
  /** Changes whenever the identity may have changed, so a cached assertion is never stale. */
  cacheKey: string;
  /** The assertion's `sid`: a hash, never the session id. */
  sid: string;
  accessToken?: string;
}

function sessionPrincipal(record: SessionRecord): Principal {
  return {
    identity: record.identity,
    cacheKey: `${record.id}:${record.tokens.refreshAt ?? record.tokens.accessTokenExpiresAt ?? 0}:${record.identity.authTime ?? 0}`,
    sid: Sessions.sidHash(record.id),
    ...(record.tokens.accessToken ? { accessToken: record.tokens.accessToken } : {}),
  };
}

/** What a session read gives: a principal, undefined (anonymous or expired), or 'unavailable' (store down). */
type SessionAuth = Principal | undefined | 'unavailable';
/** What a bearer token gives: a principal, the reason it is invalid, or 'idp-unavailable'. */
type BearerAuth = Principal | { invalid: string } | 'idp-unavailable';
type Authenticated = SessionAuth | BearerAuth;

/** RFC 9470: what an API client must bring to satisfy a step-up (an `mfa` need names the configured MFA acr values). */
function stepUpChallenge(decision: Decision, mfaAcrValues: readonly string[]): string {
  const need = decision.stepUp;
  const acr = need ? acrValuesFor(need, mfaAcrValues) : undefined;
  return `Bearer error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required"${acr?.length ? `, acr_values="${acr.join(' ')}"` : ''}${need?.maxAge !== undefined ? `, max_age=${need.maxAge}` : ''}`;
}

export function createPipeline(rt: Runtime, pages: PageHandler) {
  const refresher = new Refresher(rt);
  // Connections answered 400 and being closed: node still emits the requests pipelined behind the bad one.
  const refusedSockets = new WeakSet<object>();

  /** The request log line of a response Drawbridge answered itself (`this` is the response; close is emitted once). */
  function onResponseClose(this: ServerResponse): void {
    const x = getExchange(this.req);
    if (!x.forwarded) logRequest(rt, this.req, this, x);
  }

  /** Step 1 (and the log hook): the exchange, or the reason the request is refused with 400. */
  function begin(req: IncomingMessage, res: ServerResponse | undefined): Exchange | string {
    const snap = rt.snapshot();
    const x: Exchange = { id: randomUUID(), t0: performance.now(), snap, client: clientInfo(req, snap.trusted) };
    setExchange(req, x);
    if (res) res.on('close', onResponseClose);
    if (refusedSockets.has(req.socket)) return 'request pipelined behind a refused request';
    // Node accepts any coding list ending in chunked ("identity, chunked"); an upstream may frame such a body
    // differently (request smuggling), so only plain chunked is forwarded.
    const te = req.headers['transfer-encoding'];
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return 'unsupported Transfer-Encoding (only "chunked")';
    const target = normalizeTarget(req.url ?? '');
    if (!target.ok) return target.reason;
    x.path = target.path;
    x.query = target.query;
    if (hasDuplicateHost(req)) return 'more than one Host header';
    const host = normalizeHost(x.client.rawHost, x.client.scheme);
    if (!host.ok) return `host: ${host.reason}`;
    x.host = host.host;
    x.hostname = host.hostname;
    if (host.port !== undefined) x.port = host.port;
    dropUnderscoreHeaders(req.headers as Record<string, unknown>);
    return x;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = begin(req, res);
    if (typeof started === 'string') {
      const x = getExchange(req);
      x.decision = 'bad-request';
      x.refusal = started;
      // A client that sent a malformed request may be out of step with us: nothing more is read from it.
      refusedSockets.add(req.socket);
      return sendPage(res, 400, badRequestPage({ reason: started, requestId: x.id }), { connection: 'close' });
    }
    const x = started;
    if (isReservedPath(x.path!)) {
      x.page = x.path;
      if (req.headers.expect !== undefined) res.writeContinue();
      return pages(req, res);
    }
    const match = x.snap.compiled.table.match(x.hostname!, x.port, x.path!, req.method ?? 'GET');
    if ('status' in match && match.status === 404) {
      x.decision = 'no-route';
      return answer(req, res, 404, notFoundPage({ host: x.host!, path: x.path!, requestId: x.id }), { error: 'not_found', requestId: x.id });
    }
    if ('status' in match) {
      x.decision = 'method-not-allowed';
      return answer(req, res, 405, methodNotAllowedPage({ method: req.method ?? '', requestId: x.id }), { error: 'method_not_allowed', requestId: x.id });
    }
    const route: Route = match;
    x.route = route;
    // Credentials are read first: stripping removes the cookie (and a consumed bearer token) from what the upstream sees.
    const bearer = route.bearer ? bearerToken(req.headers.authorization) : undefined;
    const sessionId = route.public || bearer !== undefined ? undefined : rt.sessions.readId(req.headers.cookie, x.client.scheme === 'https', requestOrigin(x));
    stripClientHeaders(req, x.snap.stripper, { trustedPeer: x.client.trustedPeer, cookieBase: rt.sessions.cookieBase, consumedBearer: bearer !== undefined, keep: route.keepRequestHeaders });

    const now = rt.now();
    if (route.public) return authorize(req, res, x, route, undefined, undefined, now);
    // A session the memory store holds is read without a promise (no microtask hop per request); a Redis read,
    // a refresh or a bearer token continues asynchronously.
    const auth = bearer !== undefined ? authenticateBearer(bearer, route, x, now) : authenticate(sessionId, x, route, now);
    if (auth instanceof Promise) {
      auth.then((a) => authorize(req, res, x, route, bearer, a, now)).catch((e: Error) => internalError(rt, req, res, e));
      return;
    }
    authorize(req, res, x, route, bearer, auth, now);
  }

  /** Steps 4–5 after authentication: the policy's decision, then forward or refuse. */
  function authorize(req: IncomingMessage, res: ServerResponse, x: Exchange, route: Route, bearer: string | undefined, auth: Authenticated, now: number): void {
    let principal: Principal | undefined;
    if (!route.public) {
      if (auth === 'unavailable') return storeUnavailable(req, res, x);
      if (auth === 'idp-unavailable') return answer(req, res, 503, unavailablePage({ what: 'idp', requestId: x.id, retryAfterSec: 10 }), { error: 'idp_unavailable', requestId: x.id }, { 'retry-after': '10' });
      if (typeof auth === 'object' && 'invalid' in auth) {
        x.decision = 'invalid-token';
        return sendJson(res, 401, { error: 'invalid_token', error_description: auth.invalid, requestId: x.id }, { 'www-authenticate': `Bearer error="invalid_token", error_description="${auth.invalid}"` });
      }
      principal = auth;
    }
    const decision = decide(route, { identity: principal?.identity, method: req.method ?? 'GET', path: x.path!, ip: x.client.ip, now });
    x.decision = decision.outcome;
    x.reasons = decision.reasons;
    if (principal) x.identity = principal.identity;
    if (decision.outcome === 'allow') return forward(req, res, x, route, principal);
    if (bearer !== undefined && decision.outcome !== 'deny') {
      // A valid token that lacks what the route needs: an API client cannot step up through a browser redirect.
      return sendJson(res, 401, { error: 'insufficient_user_authentication', requestId: x.id }, { 'www-authenticate': stepUpChallenge(decision, x.snap.compiled.config.idp.mfaAcrValues) });
    }
    return refuse(req, res, x, route, decision);
  }

  /**
   * Reads the session: a principal, undefined (anonymous or expired), or 'unavailable' (store down). Refreshes when
   * due. Synchronous when the store reads synchronously and no refresh is due, else a promise.
   */
  function authenticate(id: string | undefined, x: Exchange, route: Route, now: number): SessionAuth | Promise<SessionAuth> {
    if (id === undefined) return undefined;
    let loaded: LoadResult | undefined;
    try {
      loaded = rt.sessions.loadNow(id, now, route);
    } catch (e) {
      return storeFailed(x, e as Error);
    }
    if (loaded !== undefined) return loadedSession(loaded, x, now);
    return rt.sessions.load(id, now, route).then(
      (l) => loadedSession(l, x, now),
      (e: Error) => storeFailed(x, e),
    );
  }

  function loadedSession(loaded: LoadResult, x: Exchange, now: number): SessionAuth | Promise<SessionAuth> {
    if (loaded.state !== 'valid') {
      if (loaded.state === 'expired' && loaded.routeLimit) x.freshSignIn = true;
      return undefined;
    }
    const record = loaded.record;
    if (!refresher.due(record, now)) return sessionInUse(record, x, now);
    return refresher.refresh(record, x.id).then(
      (refreshed) => (refreshed.state === 'ended' ? undefined : sessionInUse(refreshed.record, x, now)),
      (e: Error) => storeFailed(x, e),
    );
  }

  function storeFailed(x: Exchange, e: Error): 'unavailable' {
    rt.logger.error({ event: 'session-store', error: e.message, requestId: x.id });
    return 'unavailable';
  }

  /** The principal of a valid session; moves its idle clock when due (in the background). */
  function sessionInUse(record: SessionRecord, x: Exchange, now: number): Principal {
    rt.sessions.touchIfDue(record, now)?.catch((e: Error) => rt.logger.warn({ event: 'session-touch', error: e.message, requestId: x.id }));
    return sessionPrincipal(record);
  }

  /** Verifies a bearer token against the IdP's keys; its claims feed the same policy. */
  async function authenticateBearer(token: string, route: Route, x: Exchange, now: number): Promise<BearerAuth> {
    if (!rt.oidc.ready || route.bearer === false) return 'idp-unavailable';
    const result = await verifyBearer(token, { jwks: rt.oidc.jwks.bearer, jwksUri: rt.oidc.jwksUri(), issuer: rt.oidc.issuer, audiences: route.bearer.audiences, now });
    if (!result.ok) {
      rt.logger.warn({ event: 'bearer', result: 'invalid', requestId: x.id, route: route.name, reason: result.reason });
      return { invalid: result.reason };
    }
    const identity = rt.identities.bearer(result.claims, x.snap.compiled.config.idp, now, x.id);
    const digest = sha256Base64url(token);
    return { identity, cacheKey: `bearer:${digest}`, sid: digest.slice(0, 22), ...(route.passAccessToken ? { accessToken: token } : {}) };
  }

  /** The assertion for this principal and route: cached (a string) or being signed (a promise). */
  function assertionFor(route: Route, principal: Principal | undefined): string | Promise<string> | undefined {
    if (!principal) return undefined;
    return rt.signer.sign({ sessionKey: principal.cacheKey, route, identity: principal.identity, sidHash: principal.sid });
  }

  /** Step 6 on req.headers, before the proxy library sees the request. */
  function applyIdentity(req: IncomingMessage, x: Exchange, route: Route, principal: Principal | undefined, assertion: string | undefined, url: string): void {
    req.url = url;
    // The upstream's virtual host is the host that was matched and authorized, never the raw header's spelling
    // ("APP.example.com.:443") or a Host the trusted X-Forwarded-Host overrode.
    if (route.preserveHost) req.headers.host = x.host!;
    setIdentityHeaders(req.headers, x.snap.routes[route.index]!.headers, principal?.identity, {
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

  function forward(req: IncomingMessage, res: ServerResponse, x: Exchange, route: Route, principal: Principal | undefined): void {
    const url = targetOf(x, route);
    if (url === undefined) {
      const reason = 'the route’s path rewrite makes no valid application path of this one';
      return answer(req, res, 400, badRequestPage({ reason, requestId: x.id }), { error: 'bad_request', reason, requestId: x.id });
    }
    const assertion = assertionFor(route, principal);
    if (typeof assertion === 'object') {
      assertion.then(
        (value) => finishForward(req, res, x, route, principal, value, url),
        (e: Error) => internalError(rt, req, res, e),
      );
    } else {
      finishForward(req, res, x, route, principal, assertion, url);
    }
  }

  function finishForward(req: IncomingMessage, res: ServerResponse, x: Exchange, route: Route, principal: Principal | undefined, assertion: string | undefined, url: string): void {
    applyIdentity(req, x, route, principal, assertion, url);
    // Authorized: now the client may send the body it announced (see the server's checkContinue listener).
    if (req.headers.expect !== undefined) res.writeContinue();
    // From here the forwarder's completion (on the response's close) writes the log line, with the upstream's time.
    x.forwarded = true;
    const state = x.snap.routes[route.index]!;
    rt.forwarder.web(
      req,
      res,
      route,
      state.pool,
      (r) => {
        x.upstreamMs = r.upstreamMs;
        if (r.error) x.decision = `allow:upstream-${r.error}`;
        rt.metrics.upstream(state.metrics, r.upstreamMs / 1000);
        logRequest(rt, req, res, x);
      },
      (resp, status) => sendPage(resp, status, upstreamErrorPage({ status, requestId: x.id })),
    );
  }

  /** Where this request's browser starts signing in: on its own host, which binds the hand-off to it (pages/app.ts). */
  function signInUrl(x: Exchange, decision?: Decision): string {
    const back = `${requestOrigin(x)}${x.path}${x.query ? `?${x.query}` : ''}`;
    // A step-up names what the session lacks. A first sign-in asks at once for what the route demands of every
    // sign-in it lets in (MFA, acr, a recent sign-in), so one trip to the IdP is enough (policy/evaluate.ts signInNeed).
    const extra = decision?.stepUp
      ? stepUpQuery(decision.stepUp)
      : `${x.freshSignIn ? '&fresh=1' : ''}${decision?.signInNeed ? signInNeedQuery(decision.signInNeed) : ''}`;
    return signInStartUrl(back, x.snap.compiled.publicOrigin, extra);
  }

  function refuse(req: IncomingMessage, res: ServerResponse, x: Exchange, route: Route, decision: Decision): void {
    if (decision.outcome === 'sign-in' || decision.outcome === 'step-up') {
      const url = signInUrl(x, decision);
      if (isBrowser(req)) return redirect(res, url);
      const stepUp = decision.outcome === 'step-up';
      const challenge = stepUp ? stepUpChallenge(decision, x.snap.compiled.config.idp.mfaAcrValues) : `Bearer realm="${x.snap.compiled.publicOrigin}"`;
      return sendJson(res, 401, { error: stepUp ? 'insufficient_user_authentication' : 'unauthenticated', signIn: url, requestId: x.id }, { 'www-authenticate': challenge });
    }
    const reasons = decision.reasons.map((r) => ({ code: r.code, text: REASONS[r.code], ...(r.detail ? { detail: r.detail } : {}) }));
    const signOutUrl = `${PATHS.signOut}`;
    const id = x.identity;
    return answer(
      req,
      res,
      403,
      forbiddenPage({ ...(id ? { user: pageUser(id) } : {}), route: route.name, reasons, requestId: x.id, signOutUrl }),
      { error: 'forbidden', route: route.name, reasons, requestId: x.id },
    );
  }

  function storeUnavailable(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    x.decision = 'store-unavailable';
    answer(req, res, 503, unavailablePage({ what: 'store', requestId: x.id, retryAfterSec: 5 }), { error: 'session_store_unavailable', requestId: x.id }, { 'retry-after': '5' });
  }

  /** WebSocket upgrades: authenticated and authorized exactly like other requests, before the upgrade is forwarded. */
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const started = begin(req, undefined);
    const x = getExchange(req);
    const fail = (status: number, text: string) => {
      x.decision ??= 'refused';
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\nx-request-id: ${x.id}\r\n\r\n${text}`);
      logUpgrade(rt, req, x, status);
    };
    if (typeof started === 'string') return fail(400, 'Bad Request');
    if (isReservedPath(x.path!)) return fail(404, 'Not Found');
    const match = x.snap.compiled.table.match(x.hostname!, x.port, x.path!, req.method ?? 'GET');
    if ('status' in match) return match.status === 404 ? fail(404, 'Not Found') : fail(405, 'Method Not Allowed');
    const route: Route = match;
    x.route = route;
    if (!route.websockets) return fail(403, 'Forbidden');
    const bearer = route.bearer ? bearerToken(req.headers.authorization) : undefined;
    const sessionId = route.public || bearer !== undefined ? undefined : rt.sessions.readId(req.headers.cookie, x.client.scheme === 'https', requestOrigin(x));
    stripClientHeaders(req, x.snap.stripper, { trustedPeer: x.client.trustedPeer, cookieBase: rt.sessions.cookieBase, consumedBearer: bearer !== undefined, keep: route.keepRequestHeaders });
    const now = rt.now();
    let principal: Principal | undefined;
    if (!route.public) {
      const auth = bearer !== undefined ? await authenticateBearer(bearer, route, x, now) : await authenticate(sessionId, x, route, now);
      if (auth === 'unavailable' || auth === 'idp-unavailable') return fail(503, 'Service Unavailable');
      if (typeof auth === 'object' && 'invalid' in auth) return fail(401, 'Unauthorized');
      principal = auth;
    }
    const decision = decide(route, { identity: principal?.identity, method: req.method ?? 'GET', path: x.path!, ip: x.client.ip, now });
    x.decision = decision.outcome;
    x.reasons = decision.reasons;
    if (principal) x.identity = principal.identity;
    if (decision.outcome === 'sign-in' || decision.outcome === 'step-up') return fail(401, 'Unauthorized');
    if (decision.outcome !== 'allow') return fail(403, 'Forbidden');
    const url = targetOf(x, route);
    if (url === undefined) return fail(400, 'Bad Request');
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
      ...(principal ? { identity: principal.identity } : {}),
      ...(principal && bearer !== undefined ? { bearer } : {}),
      ...(principal && bearer === undefined && sessionId !== undefined ? { sessionId } : {}),
    });
    applyIdentity(req, x, route, principal, await assertionFor(route, principal), url);
    const handle = rt.forwarder.ws(req, socket, head, route, x.snap.routes[route.index]!.pool, (r) => {
      x.upstreamMs = r.upstreamMs;
      logUpgrade(rt, req, x, r.status);
    });
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

/** A page for browsers, JSON for everything else. */
export function answer(req: IncomingMessage, res: ServerResponse, status: number, page: string, json: unknown, headers: Record<string, string | string[]> = {}): void {
  if (isBrowser(req)) sendPage(res, status, page, headers);
  else sendJson(res, status, json, headers);
}

export function pageUser(id: Identity): { user: string; email?: string; name?: string; groups?: readonly string[] } {
  return { user: id.user, ...(id.email ? { email: id.email } : {}), ...(id.name ? { name: id.name } : {}), groups: id.groups };
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
  if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', requestId: id });
  else res.destroy();
}

function reasonCode(r: { readonly code: string }): string {
  return r.code;
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
  rt.metrics.request(x.route && x.snap.routes[x.route.index]!.metrics, decision, status, durationMs / 1000);
  const fields: RequestLogFields = {
    event: 'request',
    requestId: x.id,
    route: x.route?.name ?? '',
    method: req.method,
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
    reasons: x.reasons ? x.reasons.map(reasonCode) : [],
  };
  if (x.refusal !== undefined) fields.reason = x.refusal;
  if (x.client.unknownHop !== undefined) fields.ipUnknown = x.client.unknownHop;
  if (flag) fields[flag] = true;
  rt.logger.request(fields);
}
