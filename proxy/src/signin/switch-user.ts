// signin/switch-user.ts — a step-up that came back as another user than the session's does not switch the session
// silently: the callback asks (askUserSwitch, a page naming both users), and only the browser that got that page —
// its switch cookie and the page's one-time code, in a POST — may continue as the new user (POST /.drawbridge/switch_user).
import { bindingOf } from '../policy/context.js';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookieHeader, serializeCookie, switchCookieName } from '../session/cookie.js';
import { USER_SWITCH, type UserSwitch } from '../session/one-time.js';
import type { SessionRecord } from '../session/store.js';
import { answerProblem } from '../runtime/problem.js';
import { getExchange, requestOrigin, type Exchange } from '../runtime/runtime.js';
import { PATHS } from '../pages/paths.js';
import { pageUser } from '../pages/page-user.js';
import { signInErrorPage, userSwitchPage } from '../pages/views.js';
import { safeEqual, type SignInContext, type SignInHandler } from './context.js';
import { completeSignIn } from './handoff.js';

/**
 * Keeps the new sign-in aside under a one-time code (in the page's form) bound to this browser (a cookie), and answers
 * the page that offers "continue as <new user>" or "go back" (the session stays as it is; the code expires unused).
 */
export async function askUserSwitch(cx: SignInContext, req: IncomingMessage, res: ServerResponse, x: Exchange, pending: Omit<UserSwitch, 'binding'>): Promise<void> {
  const { rt } = cx;
  const code = randomBytes(32).toString('base64url');
  const nonce = randomBytes(32).toString('base64url');
  try {
    if (!(await cx.once.userSwitches.put(code, { ...pending, binding: cx.bindingMac(nonce) }))) throw new Error('user-switch code collision');
  } catch (e) {
    return cx.storeUnavailable(req, res, x, e);
  }
  const { sid: _sid, sub: _sub, ...previous } = pending.previous;
  x.decision = 'step-up-other-user';
  rt.logger.warn({ event: 'step-up', result: 'other-user', requestId: x.id, user: pending.previous.user, signedInAs: pending.identity.user });
  const earlier = res.getHeader('set-cookie');
  const cookie = serializeCookie(switchCookieName(cx.cfg().config.session.cookieName, cx.secure(x)), nonce, { secure: cx.secure(x), maxAgeSec: USER_SWITCH.ttlMs / 1000 });
  answerProblem(req, res, 'DRB_STEP_UP_OTHER_USER', {
    page: () => userSwitchPage({ current: previous, signedIn: pageUser(pending.identity), action: PATHS.switchUser, code, backUrl: pending.rd }),
    headers: { 'set-cookie': [...(earlier === undefined ? [] : Array.isArray(earlier) ? earlier : [String(earlier)]), cookie] },
  });
}

/**
 * POST /.drawbridge/switch_user — continue as the user the step-up signed in: a new session for them replaces the one
 * the step-up was asked of. The code is spent on first sight, whoever presents it.
 */
export function switchUser(cx: SignInContext): SignInHandler {
  const { rt, secure } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const cookieName = switchCookieName(cx.cfg().config.session.cookieName, secure(x));
    const clear = serializeCookie(cookieName, '', { secure: secure(x), maxAgeSec: 0 });
    const refuse = (status: number, why: string) => {
      x.decision = 'user-switch-refused';
      rt.logger.warn({ event: 'step-up', result: 'user-switch-refused', requestId: x.id, reason: why });
      answerProblem(req, res, 'DRB_USER_SWITCH_INVALID', {
        status,
        page: (requestId) => signInErrorPage({ message: 'This choice has expired, was already made or was not made in this browser. Please start again.', requestId, retryUrl: `${cx.cfg().publicOrigin}/`, status }),
        headers: { 'set-cookie': clear },
      });
    };
    const code = body.code;
    if (typeof code !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(code)) return refuse(400, 'malformed code');
    let pending: UserSwitch | undefined;
    try {
      pending = await cx.once.userSwitches.take(code);
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    if (!pending) return refuse(400, 'unknown, expired or used code');
    const given = parseCookieHeader(req.headers.cookie).get(cookieName);
    // Not the browser that got the page (or a cross-site form: a Lax cookie stays home): the code is spent, unused.
    if (!given || !safeEqual(cx.bindingMac(given), pending.binding)) return refuse(403, 'switch cookie missing or wrong');
    let session: SessionRecord;
    try {
      session = await rt.sessions.create(pending.identity, pending.tokens, pending.idpSid, rt.now(), bindingOf(x.client.ip, req.headers['user-agent'], x.client.device));
      await rt.sessions.store.delete(pending.previous.sid);
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    rt.websockets.endSession(pending.previous.sid);
    const identity = pending.identity;
    x.identity = identity;
    x.decision = 'step-up-success';
    rt.metrics.signIn('success');
    rt.logger.info({ event: 'step-up', result: 'success', requestId: x.id, user: identity.user, email: identity.email ?? '', sub: identity.sub, amr: identity.amr, acr: identity.acr ?? '', ip: x.client.ip ?? '', replacedUser: pending.previous.user });
    res.setHeader('set-cookie', [clear, rt.sessions.setCookie(session, secure(x), rt.now(), requestOrigin(x))]);
    await completeSignIn(cx, res, session, pending.rd, pending.handoff);
  };
}
