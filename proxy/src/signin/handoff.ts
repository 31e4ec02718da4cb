// signin/handoff.ts — the hand-off: a session made on publicUrl carried to a route host by a one-time code, minted
// at the end of a sign-in (completeSignIn) and redeemed on the route host (GET /.drawbridge/handoff).
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { isServedOrigin, safeReturnTarget } from '../routes/return-target.js';
import { handoffCookieName, parseCookieHeader, serializeCookie } from '../session/cookie.js';
import { bindingMatches, type HandoffTicket } from '../session/handoff-binding.js';
import type { SessionRecord } from '../session/store.js';
import { answerProblem } from '../runtime/problem.js';
import { redirect } from '../runtime/respond.js';
import { getExchange, requestOrigin } from '../runtime/runtime.js';
import { PATHS, signInStartUrl } from '../pages/paths.js';
import { signInErrorPage } from '../pages/views.js';
import type { SignInContext, SignInHandler } from './context.js';

/**
 * Sends the browser on to `rd`: directly on publicUrl's origin; elsewhere through a one-time hand-off code bound
 * to the ticket's browser and origin (without a ticket for rd's origin, the browser restarts on that route host,
 * which makes one: no code is minted then).
 */
export async function completeSignIn(cx: SignInContext, res: ServerResponse, session: SessionRecord, rd: string, ticket: HandoffTicket | undefined): Promise<void> {
  const cfg = cx.cfg();
  const target = new URL(rd);
  if (target.origin === cfg.publicOrigin) return redirect(res, target.href);
  if (!ticket || ticket.origin !== target.origin || !isServedOrigin(target.origin, cfg)) return redirect(res, signInStartUrl(target.href, cfg.publicOrigin));
  const code = randomBytes(32).toString('base64url');
  const stored = await cx.once.handoffs.put(code, { sid: session.id, origin: target.origin, cookieId: ticket.cookieId, binding: ticket.binding });
  if (!stored) throw new Error('hand-off code collision');
  redirect(res, `${target.origin}${PATHS.handoff}?code=${code}&rd=${encodeURIComponent(target.href)}`);
}

/**
 * GET /.drawbridge/handoff?code=&rd= — gives this route host its own cookie for a session made on publicUrl: the
 * code is spent on first sight, and works only on the origin it was minted for, in the browser that asked for it
 * there (its binding cookie), while that origin is still served exactly.
 */
export function handoff(cx: SignInContext): SignInHandler {
  const { rt } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const query = new URLSearchParams(x.query);
    const code = query.get('code') ?? '';
    const origin = requestOrigin(x);
    const cookies: string[] = [];
    const refuse = (why: string) => {
      x.decision = 'handoff-refused';
      rt.logger.warn({ event: 'handoff', result: 'failure', requestId: x.id, reason: why });
      answerProblem(req, res, 'DRB_HANDOFF_INVALID', {
        page: (requestId) => signInErrorPage({ message: 'This sign-in link is invalid, expired, was already used or was not started in this browser. Please start again.', requestId, retryUrl: signInStartUrl(`${origin}/`, cx.cfg().publicOrigin), status: 400 }),
        ...(cookies.length ? { headers: { 'set-cookie': cookies } } : {}),
      });
    };
    if (!/^[A-Za-z0-9_-]{43}$/.test(code)) return refuse('malformed code');
    let session: SessionRecord | undefined;
    try {
      const handoff = await cx.once.handoffs.take(code);
      if (!handoff) return refuse('unknown, expired or replayed code');
      if (handoff.origin !== origin) return refuse(`code meant for ${handoff.origin}`);
      const bindingCookie = handoffCookieName(cx.cfg().config.session.cookieName, cx.secure(x), handoff.cookieId);
      cookies.push(serializeCookie(bindingCookie, '', { secure: cx.secure(x), maxAgeSec: 0 }));
      if (!isServedOrigin(origin, cx.cfg())) return refuse(`no route serves ${origin} exactly any more`);
      if (!bindingMatches(rt.sessions.keys.handoffBinding, handoff, parseCookieHeader(req.headers.cookie).get(bindingCookie))) {
        return refuse('hand-off not started in this browser (binding cookie missing or wrong)');
      }
      let loaded = await rt.sessions.load(handoff.sid, rt.now());
      if (loaded.state !== 'valid') {
        const successor = await cx.once.replacedSessions.take(handoff.sid);
        if (successor) loaded = await rt.sessions.load(successor, rt.now());
      }
      if (loaded.state !== 'valid') return refuse('session ended');
      session = loaded.record;
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    x.identity = session.identity;
    x.decision = 'handoff';
    const rd = safeReturnTarget(query.get('rd'), cx.cfg(), origin);
    const target = new URL(rd).origin === origin ? rd : `${origin}/`;
    redirect(res, target, { 'set-cookie': [...cookies, rt.sessions.setCookie(session, cx.secure(x), rt.now(), origin)] });
  };
}
