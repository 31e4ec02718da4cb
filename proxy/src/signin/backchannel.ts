// signin/backchannel.ts — POST /.drawbridge/backchannel_logout: OpenID Connect Back-Channel Logout 1.0. A verified
// logout token ends the sessions of its `sid` (or `sub`), once: its jti is recorded before anything ends.
import { verifyLogoutToken } from '../oidc/logout-token.js';
import { answerProblem } from '../runtime/problem.js';
import { getExchange } from '../runtime/runtime.js';
import type { SignInContext, SignInHandler } from './context.js';

/** POST /.drawbridge/backchannel_logout — OpenID Connect Back-Channel Logout 1.0. */
export function backchannelLogout(cx: SignInContext): SignInHandler {
  const { rt, cfg } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const token = (req.body as Record<string, unknown> | undefined)?.logout_token;
    const bad = (why: string) => {
      x.decision = 'logout-token-refused';
      rt.logger.warn({ event: 'backchannel-logout', result: 'failure', requestId: x.id, reason: why });
      answerProblem(req, res, 'DRB_LOGOUT_TOKEN_INVALID', { format: 'json', json: { error_description: why } });
    };
    if (typeof token !== 'string' || token === '') return bad('missing logout_token');
    if (!rt.oidc.ready) return answerProblem(req, res, 'DRB_IDP_UNAVAILABLE', { format: 'json' });
    let claims;
    try {
      claims = await verifyLogoutToken(token, { jwks: rt.oidc.jwks.logout, jwksUri: rt.oidc.jwksUri(), issuer: rt.oidc.issuer, audience: cfg().config.idp.clientId, now: rt.now() });
    } catch (e) {
      return bad((e as Error).message);
    }
    // The jti is recorded first, in one atomic step: a replayed token is refused before it ends anything (a user's
    // new sessions must not die from an old token). If ending the sessions then fails, the record is taken back so
    // that the IdP's retry of the same token still works.
    const jti = `${claims.iss}\0${claims.jti}`;
    try {
      if (!(await cx.once.logoutJtis.put(jti, true))) return bad('logout token replayed (jti already used)');
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    try {
      let ended = 0;
      if (claims.sid) ended += await rt.sessions.store.deleteWhere({ idpSid: claims.sid, ...(claims.sub ? { sub: claims.sub } : {}) });
      else if (claims.sub) ended += await rt.sessions.store.deleteWhere({ sub: claims.sub });
      void rt.websockets.sweep('session-ended');
      x.decision = 'logout';
      rt.logger.info({ event: 'backchannel-logout', result: 'success', requestId: x.id, sessionsEnded: ended, bySid: Boolean(claims.sid) });
    } catch (e) {
      await cx.once.logoutJtis.take(jti).catch(() => undefined);
      return cx.storeUnavailable(req, res, x, e);
    }
    res.status(200).end();
  };
}
