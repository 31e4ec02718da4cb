// signin/requests.ts — just-in-time access endpoints (docs/access-requests.md): POST /.drawbridge/requests asks
// (the 403 page's form), GET /.drawbridge/requests lists what the signed-in user may approve, POST
// /.drawbridge/requests/decide approves or denies. Every POST is CSRF-checked; the approvers policy is checked at
// the moment of approval (a step-up when it needs a fresher sign-in); nobody approves their own request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { durationText, type AccessRequestRecord } from '../access/access.js';
import { decide, type Decision } from '../policy/evaluate.js';
import type { Identity } from '../policy/input.js';
import { REASONS } from '../policy/reasons.js';
import type { Route } from '../routes/compile.js';
import { safeReturnTarget } from '../routes/return-target.js';
import type { SessionRecord } from '../session/store.js';
import { answerProblem } from '../runtime/problem.js';
import { isBrowser, sendJson, sendPage } from '../runtime/respond.js';
import { getExchange, requestOrigin, type Exchange } from '../runtime/runtime.js';
import { accessRequestedPage, requestsPage, type PendingItem } from '../pages/access-views.js';
import { PATHS, signInStartUrl } from '../pages/paths.js';
import { pageUser } from '../pages/page-user.js';
import { signInErrorPage } from '../pages/views.js';
import { STORE_DOWN, type SignInContext, type SignInHandler } from './context.js';
import { stepUpQuery } from './step-up.js';

const MAX_REASON = 500;

/** The route named `name` in force, when it takes access requests. */
function requestRoute(cx: SignInContext, name: unknown): (Route & { requests: NonNullable<Route['requests']> }) | undefined {
  if (typeof name !== 'string') return undefined;
  const route = cx.cfg().table.routes.find((r) => r.name === name);
  return route?.requests !== undefined ? (route as Route & { requests: NonNullable<Route['requests']> }) : undefined;
}

/** The route's own decision on this user now (its rules only, no grant), as the proxy would take it on its prefix. */
function routeDecision(route: Route, identity: Identity, x: Exchange, now: number): Decision {
  return decide(route, { identity, method: 'GET', path: route.prefix, ip: x.client.ip, now });
}

/** The approvers policy's decision on this user now: `allow` may approve; `step-up` may after a fresher sign-in. */
function approverDecision(route: Route & { requests: NonNullable<Route['requests']> }, identity: Identity, x: Exchange, now: number): Decision {
  return decide({ policy: route.requests.approvers }, { identity, method: 'POST', path: PATHS.requestsDecide, ip: x.client.ip, now });
}

/** The sign-in that brings what the approvers policy asks for, back to the requests page on this host. */
function stepUpUrl(cx: SignInContext, x: Exchange, decision: Decision): string {
  return signInStartUrl(`${requestOrigin(x)}${PATHS.requests}`, cx.cfg().publicOrigin, decision.stepUp ? stepUpQuery(decision.stepUp) : '');
}

/** The signed-in session, or an answer already sent (store down: 503; none: sign in, back to the requests page). */
async function signedIn(cx: SignInContext, req: IncomingMessage, res: ServerResponse, x: Exchange): Promise<SessionRecord | undefined> {
  const session = await cx.sessionOr503(req, res, x);
  if (session === STORE_DOWN) return undefined;
  if (!session) {
    const signIn = signInStartUrl(`${requestOrigin(x)}${PATHS.requests}`, cx.cfg().publicOrigin);
    answerProblem(req, res, 'DRB_UNAUTHENTICATED', { signIn, headers: { 'www-authenticate': `Bearer realm="${cx.cfg().publicOrigin}"` } });
    return undefined;
  }
  x.identity = session.identity;
  return session;
}

/** Whether the answer should be a page: the form posts of a browser accept HTML. */
function wantsPage(req: IncomingMessage): boolean {
  return isBrowser(req) || String(req.headers.accept ?? '').includes('text/html');
}

function csrfRefused(cx: SignInContext, req: IncomingMessage, res: ServerResponse, x: Exchange, session: SessionRecord, action: string): void {
  x.decision = 'csrf-refused';
  cx.rt.logger.warn({ event: 'access-request', action, result: 'csrf-refused', requestId: x.id, user: session.identity.user });
  answerProblem(req, res, 'DRB_CSRF', { ...(wantsPage(req) ? { format: 'html' as const } : {}), page: (requestId) => signInErrorPage({ message: 'This form has expired. Please try again.', requestId, retryUrl: PATHS.requests, status: 403 }) });
}

function invalid(req: IncomingMessage, res: ServerResponse, x: Exchange, detail: string): void {
  x.decision = 'access-request-invalid';
  answerProblem(req, res, 'DRB_ACCESS_REQUEST_INVALID', { ...(wantsPage(req) ? { format: 'html' as const } : {}), json: { detail }, page: (requestId) => signInErrorPage({ message: `Your access request was not sent: ${detail}.`, requestId, retryUrl: '/', status: 400 }) });
}

/** POST /.drawbridge/requests — asks for access to a route that denied the signed-in user (the 403 page's form). */
export function askAccess(cx: SignInContext): SignInHandler {
  const { rt } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const session = await signedIn(cx, req, res, x);
    if (!session) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!rt.sessions.checkCsrf(session.id, body.csrf)) return csrfRefused(cx, req, res, x, session, 'ask');
    const route = requestRoute(cx, body.route);
    if (!route) return invalid(req, res, x, 'this route does not take access requests');
    const now = rt.now();
    const identity = session.identity;
    const current = routeDecision(route, identity, x, now);
    if (current.outcome === 'allow') return invalid(req, res, x, 'you already have access to this route');
    const first = current.reasons[0]?.code;
    if (first === 'deny-matched' || first === 'deny-undecided') return invalid(req, res, x, 'a rule that refuses access applies to you, and no approval can change that');
    const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
    if (route.requests.reasonRequired && reason === '') return invalid(req, res, x, 'a reason is required');
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
    if (reason.length > MAX_REASON || /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(reason)) return invalid(req, res, x, `the reason must be plain text of at most ${MAX_REASON} characters`);
    const seconds = typeof body.duration === 'string' && /^[1-9][0-9]{0,7}$/.test(body.duration) ? Number(body.duration) : NaN;
    if (!(seconds >= 60 && seconds * 1000 <= route.requests.maxDurationMs)) return invalid(req, res, x, `the duration must be between 1 minute and ${durationText(route.requests.maxDurationMs / 1000)}`);
    const auto = route.requests.autoApprove !== undefined && decide({ policy: route.requests.autoApprove }, { identity, method: 'POST', path: PATHS.requests, ip: x.client.ip, now }).outcome === 'allow';
    let result;
    try {
      result = await rt.access.ask({ route: route.name, identity, reason, durationMs: seconds * 1000, requestId: x.id, deniedBy: current.reasons.map((r) => r.code), autoApprove: auto });
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    if (result.kind === 'rate-limited') {
      x.decision = 'access-request-limited';
      return answerProblem(req, res, 'DRB_ACCESS_REQUEST_LIMITED', { ...(wantsPage(req) ? { format: 'html' as const } : {}), page: (requestId) => signInErrorPage({ message: 'You asked for access moments ago. Please wait a few seconds and try again.', requestId, retryUrl: '/', status: 429 }) });
    }
    x.decision = `access-request-${result.kind}`;
    const back = safeReturnTarget(typeof body.rd === 'string' ? body.rd : '/', cx.cfg(), requestOrigin(x));
    const status = result.kind === 'duplicate' ? 409 : result.kind === 'granted' ? 200 : 202;
    if (!wantsPage(req)) {
      return sendJson(res, status, {
        status: result.kind,
        route: route.name,
        ...(result.kind !== 'duplicate' ? { id: result.request.id } : {}),
        ...(result.kind === 'granted' ? { grant: result.grant.id, expiresAt: new Date(result.grant.expiresAt).toISOString() } : {}),
      });
    }
    sendPage(
      res,
      status,
      accessRequestedPage({ route: route.name, outcome: result.kind, duration: durationText(seconds), backUrl: back, ...(result.kind === 'granted' ? { expiresAt: result.grant.expiresAt } : {}), requestId: x.id }),
      { 'content-security-policy': cx.csp() },
    );
  };
}

/** The pending requests as the signed-in user sees them: those they may approve (or could after a step-up), and their own. */
async function visibleRequests(cx: SignInContext, x: Exchange, identity: Identity): Promise<Array<{ request: AccessRequestRecord; item: PendingItem }>> {
  const now = cx.rt.now();
  const out: Array<{ request: AccessRequestRecord; item: PendingItem }> = [];
  for (const request of await cx.rt.access.pending()) {
    const route = requestRoute(cx, request.route);
    if (!route) continue;
    const own = request.sub === identity.sub || request.user === identity.user;
    let can: PendingItem['can'] = 'own';
    let stepUp: string | undefined;
    if (!own) {
      const d = approverDecision(route, identity, x, now);
      if (d.outcome === 'allow') can = 'approve';
      else if (d.outcome === 'step-up') [can, stepUp] = ['step-up', stepUpUrl(cx, x, d)];
      else continue;
    }
    const item: PendingItem = {
      id: request.id,
      route: request.route,
      user: { user: request.user, ...(request.email ? { email: request.email } : {}), ...(request.name ? { name: request.name } : {}) },
      reason: request.reason,
      duration: durationText(request.durationSeconds),
      createdAt: request.createdAt,
      can,
      ...(stepUp !== undefined ? { stepUpUrl: stepUp } : {}),
    };
    out.push({ request, item });
  }
  return out;
}

async function showRequests(cx: SignInContext, req: IncomingMessage, res: ServerResponse, x: Exchange, session: SessionRecord, message?: string): Promise<void> {
  let visible;
  try {
    visible = await visibleRequests(cx, x, session.identity);
  } catch (e) {
    return cx.storeUnavailable(req, res, x, e);
  }
  if (!wantsPage(req)) {
    return sendJson(res, 200, {
      ...(message !== undefined ? { message } : {}),
      requests: visible.map(({ request, item }) => ({ id: request.id, route: request.route, user: request.user, reason: request.reason, durationSeconds: request.durationSeconds, createdAt: new Date(request.createdAt).toISOString(), can: item.can })),
    });
  }
  sendPage(
    res,
    200,
    requestsPage({ user: pageUser(session.identity), items: visible.map((v) => v.item), action: PATHS.requestsDecide, csrfToken: cx.rt.sessions.csrfToken(session.id), ...(message !== undefined ? { message } : {}) }),
    { 'content-security-policy': cx.csp() },
  );
}

/** GET /.drawbridge/requests — the pending requests the signed-in user may approve (and their own). */
export function listRequests(cx: SignInContext): SignInHandler {
  return async (req, res) => {
    const x = getExchange(req);
    const session = await signedIn(cx, req, res, x);
    if (!session) return;
    await showRequests(cx, req, res, x, session);
  };
}

/** POST /.drawbridge/requests/decide — approves or denies one pending request, as an approver at this moment. */
export function decideRequest(cx: SignInContext): SignInHandler {
  const { rt } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const session = await signedIn(cx, req, res, x);
    if (!session) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!rt.sessions.checkCsrf(session.id, body.csrf)) return csrfRefused(cx, req, res, x, session, 'decide');
    const approve = body.decision === 'approve';
    if (!approve && body.decision !== 'deny') return invalid(req, res, x, 'the decision must be approve or deny');
    const identity = session.identity;
    let request: AccessRequestRecord | undefined;
    try {
      request = typeof body.id === 'string' ? (await rt.access.pending()).find((r) => r.id === body.id) : undefined;
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    const gone = () => {
      x.decision = 'access-request-gone';
      answerProblem(req, res, 'DRB_ACCESS_REQUEST_GONE', { ...(wantsPage(req) ? { format: 'html' as const } : {}), page: (requestId) => signInErrorPage({ message: 'This access request was already decided, or has expired.', requestId, retryUrl: PATHS.requests, status: 409 }) });
    };
    const route = request ? requestRoute(cx, request.route) : undefined;
    if (!request || !route) return gone();
    const refuse = (why: 'own-request' | 'not-an-approver', reasons: Decision['reasons'] = []) => {
      x.decision = 'approver-refused';
      rt.logger.warn({ event: 'access-request', action: 'refused', id: request.id, route: request.route, subject: request.user, actor: identity.user, why, requestId: x.id });
      rt.metrics.access('access-request', 'refused', request.route);
      const words = why === 'own-request' ? 'Nobody approves their own access request.' : 'You are not one of the approvers of this route at the moment.';
      answerProblem(req, res, 'DRB_ACCESS_APPROVER_REFUSED', {
        ...(wantsPage(req) ? { format: 'html' as const } : {}),
        json: { why, reasons: reasons.map((r) => ({ code: r.code, text: REASONS[r.code] })) },
        page: (requestId) => signInErrorPage({ message: words, requestId, retryUrl: PATHS.requests, status: 403 }),
      });
    };
    // Nobody decides their own request, whatever the approvers policy says.
    if (request.sub === identity.sub || request.user === identity.user) return refuse('own-request');
    const d = approverDecision(route, identity, x, rt.now());
    if (d.outcome === 'step-up') {
      // The approvers policy wants a fresher or stronger sign-in: get it, then come back to the list.
      x.decision = 'step-up';
      return answerProblem(req, res, 'DRB_STEP_UP', { ...(wantsPage(req) ? { format: 'html' as const } : {}), signIn: stepUpUrl(cx, x, d) });
    }
    if (d.outcome !== 'allow') return refuse('not-an-approver', d.reasons);
    let result;
    try {
      result = await rt.access.decide(request.id, approve, identity);
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    if (result.kind === 'self') return refuse('own-request');
    if (result.kind === 'gone') return gone();
    x.decision = `access-request-${result.kind}`;
    const message = result.kind === 'approved' ? `Approved: ${request.user} has access to ${request.route} for ${durationText(request.durationSeconds)}.` : `Denied: ${request.user}'s request for ${request.route}.`;
    await showRequests(cx, req, res, x, session, message);
  };
}
