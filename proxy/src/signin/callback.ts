// signin/callback.ts — GET /.drawbridge/callback, the OIDC redirect URI: one login attempt, bound to this browser,
// used once; the IdP's answer verified, the identity built, a new session made and the browser sent on.
import { bindingOf } from '../policy/context.js';
import type { SessionRecord } from '../session/store.js';
import { isIdpMisconfiguration, isMisconfigurationError, oauthErrorHint, clean } from '../oidc/diagnose.js';
import { idpErrorStatus, isIdpOutage } from '../oidc/client.js';
import { SubjectMismatchError } from '../oidc/identity.js';
import { IdentityClaimTooLongError } from '../oidc/claims.js';
import { isIdTokenRejected } from '../oidc/id-token.js';
import { pageRoute, routeAt } from '../routes/route-at.js';
import { parseCookieHeader, serializeCookie } from '../session/cookie.js';
import { tokenFields } from '../session/sessions.js';
import type { LoginAttempt } from '../session/one-time.js';
import { answerProblem } from '../runtime/problem.js';
import { getExchange, requestOrigin } from '../runtime/runtime.js';
import { PATHS } from '../pages/paths.js';
import { pageUser } from '../pages/page-user.js';
import { signInErrorPage, stepUpFailedPage } from '../pages/views.js';
import { safeEqual, type SignInContext, type SignInHandler } from './context.js';
import { completeSignIn } from './handoff.js';
import { unmetStepUp } from './step-up.js';
import { askUserSwitch } from './switch-user.js';

/** The step-up page names the route the user was going to (its return target) by the route's title. */
function stepUpRoute(cx: SignInContext, rd: string): { route?: ReturnType<typeof pageRoute> } {
  const route = routeAt(cx.cfg().table, rd);
  return route ? { route: pageRoute(route) } : {};
}

/** GET /.drawbridge/callback — the OIDC redirect URI: one attempt, bound to this browser, used once. */
export function callback(cx: SignInContext): SignInHandler {
  const { rt, cfg, secure } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const query = new URLSearchParams(x.query);
    const retryUrl = `${cfg().publicOrigin}${PATHS.signIn}`;
    const failSignIn = (status: number, message: string, detail?: string, code: 'DRB_SIGN_IN_FAILED' | 'DRB_ID_TOKEN_INVALID' = 'DRB_SIGN_IN_FAILED') => {
      x.decision = 'sign-in-failed';
      rt.metrics.signIn('failure');
      rt.logger.warn({ event: 'sign-in', result: 'failure', requestId: x.id, reason: message, ...(detail ? { detail } : {}) });
      answerProblem(req, res, code, { status, page: (requestId) => signInErrorPage({ message, requestId, retryUrl, status }), json: { message } });
    };
    const state = query.get('state');
    if (!state || state.length > 200) return failSignIn(400, 'This sign-in response has no valid state. Please start again.');
    let attempt: LoginAttempt | undefined;
    try {
      attempt = await cx.once.loginAttempts.take(state);
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    if (!attempt) return failSignIn(400, 'This sign-in link has expired or was already used. Please start again.');
    const cookieName = cx.attemptCookieName(x, state);
    const clear = serializeCookie(cookieName, '', { secure: secure(x), maxAgeSec: 0 });
    res.setHeader('set-cookie', clear);
    const given = parseCookieHeader(req.headers.cookie).get(cookieName);
    if (!given || !safeEqual(cx.bindingMac(given), attempt.binding)) {
      return failSignIn(400, 'This sign-in was started in another browser. Please start again here.', 'binding cookie missing or wrong');
    }
    const idpError = query.get('error');
    if (idpError) {
      // What the authorization endpoint answered: a refusal of this user, of Drawbridge's client, or an outage.
      const description = query.get('error_description');
      const url = rt.oidc.authorizationEndpoint();
      const misconfigured = isMisconfigurationError(idpError);
      const outage = idpError === 'temporarily_unavailable' || idpError === 'server_error';
      rt.logger.log(misconfigured ? 'error' : 'warn', {
        event: 'idp-authorization-error',
        requestId: x.id,
        ...(url ? { url } : {}),
        error: clean(idpError),
        ...(description ? { errorDescription: clean(description) } : {}),
        hint: oauthErrorHint(idpError, 'authorization'),
      });
      if (misconfigured) return cx.idpMisconfigured(req, res, x);
      if (outage) return cx.idpUnavailable(req, res, x);
      return failSignIn(403, 'The identity provider did not sign you in.', `${idpError}: ${description ?? ''}`);
    }
    if (!rt.oidc.ready) return cx.idpUnavailable(req, res, x);

    let tokens;
    try {
      const callbackUrl = new URL(`${cfg().publicOrigin}${PATHS.callback}?${x.query}`);
      // No maxAge here: openid-client would refuse an `auth_time` of 0 or none as "too old" (the user told "please start
      // again", forever). A step-up's max_age is checked below (unmetStepUp, which names a missing auth_time); a first
      // sign-in's is the route's policy's to judge, which asks for a step-up.
      tokens = await rt.oidc.exchange(callbackUrl, { state, nonce: attempt.nonce, codeVerifier: attempt.verifier }, { requestId: x.id });
    } catch (e) {
      // The IdP unreachable, or its token endpoint answering 5xx / 429 / 408: an outage, not a bad sign-in response.
      // Still no session (fail closed); the browser gets the 503 page and may start again once the IdP is back.
      if (isIdpOutage(e)) {
        const status = idpErrorStatus(e);
        rt.logger.error({ event: 'sign-in', result: 'idp-unavailable', requestId: x.id, error: (e as Error).message, ...(status !== undefined ? { idpStatus: status } : {}) });
        return cx.idpUnavailable(req, res, x);
      }
      // The token endpoint refused Drawbridge's client (invalid_client, unauthorized_client...): no retry fixes that.
      if (isIdpMisconfiguration(e)) {
        rt.logger.error({ event: 'sign-in', result: 'idp-misconfigured', requestId: x.id, error: (e as Error).message });
        return cx.idpMisconfigured(req, res, x);
      }
      return failSignIn(400, 'The sign-in response could not be verified. Please start again.', (e as Error).message, isIdTokenRejected(e) ? 'DRB_ID_TOKEN_INVALID' : undefined);
    }
    const now = rt.now();
    const claims = tokens.claims ?? {};
    if (typeof claims.sub !== 'string' || !claims.sub) return failSignIn(400, 'The identity provider sent no subject.');
    let identity;
    try {
      identity = await rt.identities.signIn(tokens, cfg().config.idp, now, x.id);
    } catch (e) {
      // The userinfo endpoint (idp.userinfo): unavailable is an outage like the token endpoint's; anything else refuses.
      if (isIdpOutage(e)) {
        const status = idpErrorStatus(e);
        rt.logger.error({ event: 'sign-in', result: 'idp-unavailable', step: 'userinfo', requestId: x.id, error: (e as Error).message, ...(status !== undefined ? { idpStatus: status } : {}) });
        return cx.idpUnavailable(req, res, x);
      }
      if (e instanceof IdentityClaimTooLongError) {
        return failSignIn(502, `The identity provider sent ${e.sent}, which Drawbridge does not accept. Ask your administrator.`, e.message);
      }
      return failSignIn(e instanceof SubjectMismatchError ? 403 : 502, 'The identity provider did not confirm who you are (its userinfo answer was refused).', (e as Error).message);
    }
    x.identity = identity;
    if (attempt.stepUp) {
      const missing = unmetStepUp(attempt.stepUp, identity, Math.floor(now / 1000), cfg().mfa);
      if (missing.length > 0) {
        x.decision = 'step-up-failed';
        rt.metrics.signIn('step-up-failed');
        rt.logger.warn({ event: 'step-up', result: 'failure', requestId: x.id, user: identity.user, email: identity.email ?? '', missing });
        return answerProblem(req, res, 'DRB_STEP_UP_FAILED', {
          page: (requestId) => stepUpFailedPage({ user: pageUser(identity), needs: missing.join(', '), requestId, signOutUrl: PATHS.signOut, retryUrl: attempt.rd, ...stepUpRoute(cx, attempt.rd) }),
          json: { missing },
        });
      }
    }
    const idpSid = typeof claims.sid === 'string' ? claims.sid : undefined;
    let session: SessionRecord;
    try {
      const previousId = rt.sessions.readId(req.headers.cookie, secure(x), requestOrigin(x));
      const previous = previousId ? await rt.sessions.store.get(previousId) : undefined;
      // A step-up is asked of the session's user: another user's sign-in must not take the session over unasked (the
      // IdP may even have ended that session already, by back-channel logout, when the other user signed in there).
      if (attempt.stepUp && attempt.stepUpOf && attempt.stepUpOf.sub !== identity.sub) {
        return await askUserSwitch(cx, req, res, x, { previous: attempt.stepUpOf, identity, tokens: tokenFields(tokens), ...(idpSid ? { idpSid } : {}), rd: attempt.rd, ...(attempt.handoff ? { handoff: attempt.handoff } : {}) });
      }
      session = await rt.sessions.create(identity, tokenFields(tokens), idpSid, now, bindingOf(x.client.ip, req.headers['user-agent'], x.client.device));
      if (previousId) {
        // Every sign-in gets a new id and the old session ends. Another tab of the same user may still be on its way
        // through a hand-off for the old one: for a minute, that hand-off is given the new session instead.
        await rt.sessions.store.delete(previousId);
        if (previous && previous.identity.sub === identity.sub) await cx.once.replacedSessions.put(previousId, session.id);
      }
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    x.decision = attempt.stepUp ? 'step-up-success' : 'sign-in-success';
    rt.metrics.signIn('success');
    rt.logger.info({ event: attempt.stepUp ? 'step-up' : 'sign-in', result: 'success', requestId: x.id, user: identity.user, email: identity.email ?? '', sub: identity.sub, amr: identity.amr, acr: identity.acr ?? '', ip: x.client.ip ?? '' });
    res.setHeader('set-cookie', [clear, rt.sessions.setCookie(session, secure(x), now, requestOrigin(x))]);
    await completeSignIn(cx, res, session, attempt.rd, attempt.handoff);
  };
}
