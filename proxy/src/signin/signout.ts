// signin/signout.ts — GET /.drawbridge/sign_out (the confirm page, or "signed out") and POST (CSRF-checked: ends the
// session everywhere and at the IdP), with the return target checked both times.
import type { IncomingMessage } from 'node:http';
import { safeReturnTarget } from '../routes/return-target.js';
import { parseCookieHeader, serializeCookie, signedOutCookieName } from '../session/cookie.js';
import { answerProblem } from '../runtime/problem.js';
import { redirect, sendPage } from '../runtime/respond.js';
import { getExchange, requestOrigin, type Exchange } from '../runtime/runtime.js';
import { PATHS, signInStartUrl } from '../pages/paths.js';
import { pageUser } from '../pages/page-user.js';
import { openReturnState, sealReturnState } from '../pages/return-state.js';
import { signInErrorPage, signOutConfirmPage, signedOutPage } from '../pages/views.js';
import { STORE_DOWN, type SignInContext, type SignInHandler } from './context.js';

/**
 * GET /.drawbridge/sign_out — confirm page (or "signed out" when there is no session: also where the IdP sends the
 * browser after its end-session, with the `state` that carries the return target).
 */
export function signOutPage(cx: SignInContext): SignInHandler {
  const { rt } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const session = await cx.sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    const headers = { 'content-security-policy': cx.csp() };
    const query = new URLSearchParams(x.query);
    const rd = query.get('rd');
    if (!session) {
      const returned = signOutTarget(cx, x, openReturnState(query.get('state'), rt.sessions.keys.signOutReturn));
      const target = returned ?? signOutTarget(cx, x, rd);
      const never = notSignedIn(cx, req, x, returned !== undefined);
      return sendPage(res, 200, signedOutPage({ signInUrl: signInAgainUrl(cx, target, `${requestOrigin(x)}/`), ...never }), {
        ...headers,
        'set-cookie': signedOutCookies(cx, x, !never.notSignedIn),
      });
    }
    x.identity = session.identity;
    // The same check as the POST's: a relative `rd` on a host that is no route's is dropped (Cancel then stays on this host).
    const returnTo = signOutTarget(cx, x, rd);
    sendPage(res, 200, signOutConfirmPage({ user: pageUser(session.identity), action: PATHS.signOut, csrfToken: rt.sessions.csrfToken(session.id), ...(returnTo !== undefined ? { returnTo } : {}) }), headers);
  };
}

/**
 * POST /.drawbridge/sign_out — CSRF-checked; ends the session everywhere and at the IdP. The form's `rd` (checked
 * again here) is where the signed-out page's "Sign in again" leads.
 */
export function signOut(cx: SignInContext): SignInHandler {
  const { rt, secure } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const session = await cx.sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const target = signOutTarget(cx, x, body.rd);
    if (!session) {
      const never = notSignedIn(cx, req, x, false);
      return sendPage(res, 200, signedOutPage({ signInUrl: signInAgainUrl(cx, target, `${requestOrigin(x)}/`), ...never }), {
        'set-cookie': signedOutCookies(cx, x, !never.notSignedIn),
      });
    }
    x.identity = session.identity;
    if (!rt.sessions.checkCsrf(session.id, body.csrf)) {
      x.decision = 'csrf-refused';
      rt.logger.warn({ event: 'sign-out', result: 'csrf-refused', requestId: x.id, user: session.identity.user });
      const retryUrl = `${PATHS.signOut}${target ? `?rd=${encodeURIComponent(target)}` : ''}`;
      return answerProblem(req, res, 'DRB_CSRF', { page: (requestId) => signInErrorPage({ message: 'This sign-out form has expired. Please try again.', requestId, retryUrl, status: 403 }) });
    }
    try {
      await rt.sessions.store.delete(session.id);
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    rt.websockets.endSession(session.id);
    x.decision = 'signed-out';
    rt.logger.info({ event: 'sign-out', result: 'success', requestId: x.id, user: session.identity.user, email: session.identity.email ?? '' });
    // The IdP comes back to exactly the registered post-logout URI; the return target rides in `state`, MACed.
    const state = target ? sealReturnState(target, rt.sessions.keys.signOutReturn) : undefined;
    const end = rt.oidc.endSessionUrl(session.tokens.idToken, `${cx.cfg().publicOrigin}${PATHS.signOut}`, state);
    const cookie = { 'set-cookie': rt.sessions.clearCookie(secure(x)) };
    // The IdP sends the browser back to publicUrl's signed-out page: this cookie (when the sign-out was on publicUrl)
    // or publicUrl's own session cookie, now of an ended session (when it was on a route host), says a session ended.
    if (end) return redirect(res, end.href, { 'set-cookie': signedOutCookies(cx, x, true) });
    sendPage(res, 200, signedOutPage({ signInUrl: signInAgainUrl(cx, target, undefined) }), cookie);
  };
}

/** How long the signed-out marker outlives a sign-out (an IdP's end-session page may ask the user to confirm). */
const SIGNED_OUT_MARKER_SEC = 600;

/**
 * `{ notSignedIn: true }` when this browser shows no sign of a session that ended: no session cookie for this host
 * (a valid one would have been found; one that opens is of an ended session), no signed-out marker, no sign-out
 * state of ours back from the IdP. Someone who was never signed in is not told that their session ended.
 */
function notSignedIn(cx: SignInContext, req: IncomingMessage, x: Exchange, returnedFromIdp: boolean): { notSignedIn?: true } {
  if (returnedFromIdp) return {};
  if (cx.rt.sessions.readId(req.headers.cookie, cx.secure(x), requestOrigin(x)) !== undefined) return {};
  if (parseCookieHeader(req.headers.cookie).has(signedOutCookieName(cx.cfg().config.session.cookieName, cx.secure(x)))) return {};
  return { notSignedIn: true };
}

/**
 * Clears the session cookie; after a session ended (`ended`), sets the signed-out marker in its place, so that the
 * page says the same when it is reloaded (for ten minutes).
 */
function signedOutCookies(cx: SignInContext, x: Exchange, ended: boolean): string[] {
  const clear = cx.rt.sessions.clearCookie(cx.secure(x));
  if (!ended) return [clear];
  return [clear, serializeCookie(signedOutCookieName(cx.cfg().config.session.cookieName, cx.secure(x)), '1', { secure: cx.secure(x), maxAgeSec: SIGNED_OUT_MARKER_SEC })];
}

/**
 * The sign-out's return target: `rd` when it is a safe one (safeReturnTarget: a route origin or publicUrl), else
 * undefined — the default applies (a foreign or malformed `rd` is ignored, never followed).
 */
function signOutTarget(cx: SignInContext, x: Exchange, rd: unknown): string | undefined {
  if (typeof rd !== 'string' || rd === '') return undefined;
  const target = safeReturnTarget(rd, cx.cfg(), requestOrigin(x));
  // A relative `rd` resolves against the host asked, which answers /.drawbridge/* whatever its name: the result
  // must still be a route origin or publicUrl on its own.
  if (target === `${cx.cfg().publicOrigin}/` || safeReturnTarget(target, cx.cfg()) !== target) return undefined;
  return target;
}

/** The "Sign in again" link of the signed-out page: back to `target`, or to the default. */
function signInAgainUrl(cx: SignInContext, target: string | undefined, fallback: string | undefined): string {
  const rd = target ?? fallback;
  return rd ? signInStartUrl(rd, cx.cfg().publicOrigin) : `${cx.cfg().publicOrigin}${PATHS.signIn}`;
}

