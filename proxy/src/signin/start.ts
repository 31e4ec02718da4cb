// signin/start.ts — GET /.drawbridge/sign_in?rd=URL: starts a sign-in (always on publicUrl), or reuses the session
// there; on a route host, first binds the coming hand-off to this browser.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as oidc from 'openid-client';
import { networkOf } from '../policy/context.js';
import { isServedOrigin, safeReturnTarget } from '../routes/return-target.js';
import { handoffCookieName, serializeCookie } from '../session/cookie.js';
import { HANDOFF_TICKET_TTL_MS, newHandoffBinding, openHandoffTicket, type HandoffTicket } from '../session/handoff-binding.js';
import { LOGIN_ATTEMPT, type LoginAttempt } from '../session/one-time.js';
import { answerProblem } from '../runtime/problem.js';
import { redirect } from '../runtime/respond.js';
import { getExchange, requestOrigin, type Exchange } from '../runtime/runtime.js';
import { PATHS, signInStartUrl } from '../pages/paths.js';
import { signInErrorPage } from '../pages/views.js';
import { STORE_DOWN, type SignInContext, type SignInHandler } from './context.js';
import { completeSignIn } from './handoff.js';
import { acrValuesFor, parseSignInNeed, parseStepUp } from './step-up.js';

/** GET /.drawbridge/sign_in?rd=URL — starts a sign-in (always on publicUrl), or reuses the session there. */
export function signInStart(cx: SignInContext): SignInHandler {
  const { rt, cfg, secure } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const query = new URLSearchParams(x.query);
    const origin = requestOrigin(x);
    if (origin !== cfg().publicOrigin) return startOnRouteHost(cx, req, res, x, origin, query);
    const rd = safeReturnTarget(query.get('rd'), cfg(), cfg().publicOrigin);
    const rdOrigin = new URL(rd).origin;
    let ticket: HandoffTicket | undefined;
    if (rdOrigin !== cfg().publicOrigin) {
      // A route host's session comes through a hand-off, which the browser must have asked for on that host.
      if (!query.has('hb')) return redirect(res, signInStartUrl(rd, cfg().publicOrigin, onwardParams(query)));
      ticket = openHandoffTicket(rt.sessions.keys.handoffBinding, query.get('hb'), rt.now());
      if (!ticket || ticket.origin !== rdOrigin) {
        x.decision = 'sign-in-refused';
        rt.logger.warn({ event: 'sign-in', result: 'failure', requestId: x.id, reason: ticket ? `hand-off ticket made for ${ticket.origin}, not ${rdOrigin}` : 'hand-off ticket invalid or expired' });
        return answerProblem(req, res, 'DRB_HANDOFF_INVALID', {
          page: (requestId) => signInErrorPage({ message: 'This sign-in link is invalid or has expired. Please start again.', requestId, retryUrl: signInStartUrl(rd, cfg().publicOrigin), status: 400 }),
        });
      }
    }
    const stepUp = parseStepUp(query);
    // What the route demands of every sign-in it lets in (an anonymous request to an MFA route): asked of the IdP now.
    const need = stepUp ? undefined : parseSignInNeed(query);
    const fresh = query.get('fresh') === '1';
    const session = await cx.sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    // A session on publicUrl is reused even when it lacks `need`: the route then asks for a step-up (one IdP trip).
    if (session && !stepUp && !fresh) {
      x.identity = session.identity;
      x.decision = 'session-reused';
      return completeSignIn(cx, res, session, rd, ticket);
    }
    if (!rt.oidc.ready || !(await rt.oidc.reachable())) return cx.idpUnavailable(req, res, x);
    // Every start stores a login attempt for ten minutes, and anyone may start one: a budget per client network.
    const network = networkOf(x.client.ip, 32, 64) ?? x.client.ip ?? 'unknown';
    const budget = cx.starts.take(network, cfg().config.limits.signInsPerNetwork, rt.now());
    if (!budget.ok) {
      x.decision = 'sign-in-limited';
      rt.metrics.signIn('limited');
      rt.logger.warn({ event: 'sign-in', result: 'limited', requestId: x.id, network, reason: `more than limits.signInsPerNetwork (${cfg().config.limits.signInsPerNetwork}) sign-ins started from this network in ten minutes` });
      return answerProblem(req, res, 'DRB_SIGN_IN_LIMITED', {
        headers: { 'retry-after': String(budget.retryAfterSec) },
        page: (requestId) => signInErrorPage({ message: `Too many sign-ins were started from your network. Please wait ${budget.retryAfterSec === 1 ? 'a second' : `${budget.retryAfterSec} seconds`} and try again.`, requestId, retryUrl: signInStartUrl(rd, cfg().publicOrigin), status: 429 }),
      });
    }

    const state = oidc.randomState();
    const binding = randomBytes(32).toString('base64url');
    const attempt: LoginAttempt = { verifier: oidc.randomPKCECodeVerifier(), nonce: oidc.randomNonce(), rd, binding: cx.bindingMac(binding), ...(ticket ? { handoff: ticket } : {}) };
    const params: Parameters<typeof rt.oidc.authorizationUrl>[0] = { state, nonce: attempt.nonce, codeChallenge: await oidc.calculatePKCECodeChallenge(attempt.verifier) };
    if (stepUp) {
      attempt.stepUp = stepUp;
      if (session) {
        const id = session.identity;
        attempt.stepUpOf = { sid: session.id, sub: id.sub, user: id.user, ...(id.email ? { email: id.email } : {}), ...(id.name ? { name: id.name } : {}) };
      }
      params.prompt = 'login';
      const acr = acrValuesFor(stepUp, cfg().config.idp.mfaAcrValues);
      if (acr) params.acrValues = acr;
      if (stepUp.maxAge !== undefined) params.maxAge = attempt.maxAge = stepUp.maxAge;
    } else {
      if (fresh) params.prompt = 'login';
      // No prompt=login here: an IdP session that already brings the need is fine. Nothing is verified at the
      // callback either: the route's policy decides, and asks for a step-up if the IdP did not deliver.
      const acr = need ? acrValuesFor(need, cfg().config.idp.mfaAcrValues) : undefined;
      if (acr) params.acrValues = acr;
      if (need?.maxAge !== undefined) params.maxAge = attempt.maxAge = need.maxAge;
    }
    try {
      await cx.once.loginAttempts.put(state, attempt);
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    x.decision = stepUp ? 'step-up-started' : 'sign-in-started';
    redirect(res, rt.oidc.authorizationUrl(params).href, {
      'set-cookie': serializeCookie(cx.attemptCookieName(x, state), binding, { secure: secure(x), maxAgeSec: LOGIN_ATTEMPT.ttlMs / 1000 }),
    });
  };
}

/**
 * GET /.drawbridge/sign_in on a route host: binds the coming hand-off to this browser (a cookie on this host with
 * a random nonce) and sends the browser on to publicUrl with a MACed ticket naming this origin and the nonce's MAC.
 * Only an origin the configuration serves exactly gets a ticket (no code ever travels to another port or host).
 */
function startOnRouteHost(cx: SignInContext, req: IncomingMessage, res: ServerResponse, x: Exchange, origin: string, query: URLSearchParams): void {
  const { rt, cfg, secure } = cx;
  const asked = query.get('rd');
  const rd = asked ? safeReturnTarget(asked, cfg(), origin) : `${origin}/`;
  const rdOrigin = new URL(rd).origin;
  const onward = new URLSearchParams(query);
  onward.delete('hb');
  onward.set('rd', rd);
  if (rdOrigin !== origin) {
    // The target lives elsewhere (publicUrl, or another route host, which binds its own hand-off).
    return redirect(res, rdOrigin === cfg().publicOrigin ? `${cfg().publicOrigin}${PATHS.signIn}?${onward}` : signInStartUrl(rd, cfg().publicOrigin));
  }
  if (!isServedOrigin(origin, cfg())) {
    x.decision = 'sign-in-refused';
    rt.logger.warn({ event: 'sign-in', result: 'failure', requestId: x.id, reason: `no route serves ${origin} exactly (no hand-off is sent there)` });
    return answerProblem(req, res, 'DRB_HANDOFF_INVALID', {
      page: (requestId) => signInErrorPage({ message: 'Signing in is not available at this address. Use the address your administrator gave you.', requestId, retryUrl: `${cfg().publicOrigin}/`, status: 400 }),
    });
  }
  const binding = newHandoffBinding(rt.sessions.keys.handoffBinding, origin, rt.now());
  onward.set('hb', binding.ticket);
  redirect(res, `${cfg().publicOrigin}${PATHS.signIn}?${onward}`, {
    'set-cookie': serializeCookie(handoffCookieName(cfg().config.session.cookieName, secure(x), binding.cookieId), binding.nonce, { secure: secure(x), maxAgeSec: HANDOFF_TICKET_TTL_MS / 1000 }),
  });
}

/** The sign-in query's parameters other than `rd` and `hb`, as `&name=value...` (step-up demands, `fresh`). */
function onwardParams(query: URLSearchParams): string {
  const rest = new URLSearchParams(query);
  rest.delete('rd');
  rest.delete('hb');
  const text = rest.toString();
  return text ? `&${text}` : '';
}
