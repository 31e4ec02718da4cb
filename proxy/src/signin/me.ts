// signin/me.ts — GET /.drawbridge/me: who am I, as HTML or JSON; never tokens.
import { answerProblem } from '../runtime/problem.js';
import { isBrowser, sendJson, sendPage } from '../runtime/respond.js';
import { getExchange, requestOrigin } from '../runtime/runtime.js';
import { PATHS, signInStartUrl } from '../pages/paths.js';
import { pageUser } from '../pages/page-user.js';
import { mePage } from '../pages/views.js';
import { grantsSection } from '../pages/access-views.js';
import { remainingText } from '../access/access.js';
import { STORE_DOWN, type SignInContext, type SignInHandler } from './context.js';

/** GET /.drawbridge/me — who am I, as HTML or JSON; never tokens. */
export function me(cx: SignInContext): SignInHandler {
  const { cfg } = cx;
  return async (req, res) => {
    const x = getExchange(req);
    const session = await cx.sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    if (!session) {
      const signIn = signInStartUrl(`${requestOrigin(x)}${PATHS.me}`, cfg().publicOrigin);
      return answerProblem(req, res, 'DRB_UNAUTHENTICATED', { signIn, headers: { 'www-authenticate': `Bearer realm="${cfg().publicOrigin}"` } });
    }
    x.identity = session.identity;
    const id = session.identity;
    const now = cx.rt.now();
    let grants;
    try {
      // One read per route that takes access requests (never a scan of the store).
      const found = await Promise.all(cfg().table.routes.filter((r) => r.requests !== undefined).map((r) => cx.rt.access.grantFor(r.name, id.sub, now)));
      grants = found.filter((g) => g !== undefined);
    } catch (e) {
      return cx.storeUnavailable(req, res, x, e);
    }
    const times = { createdAt: session.createdAt, lastSeenAt: session.lastSeenAt, expiresAt: session.expiresAt, idleExpiresAt: session.lastSeenAt + session.idleTimeoutMs };
    if (!isBrowser(req)) {
      return sendJson(res, 200, {
        user: id.user,
        sub: id.sub,
        email: id.email ?? null,
        emailVerified: id.emailVerified ?? null,
        name: id.name ?? null,
        groups: id.groups,
        amr: id.amr,
        acr: id.acr ?? null,
        authTime: id.authTime ?? null,
        session: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, new Date(v).toISOString()])),
        grants: grants.map((g) => ({ id: g.id, route: g.route, expiresAt: new Date(g.expiresAt).toISOString(), remainingSeconds: Math.max(0, Math.ceil((g.expiresAt - now) / 1000)), approver: g.approver, reason: g.reason })),
      });
    }
    sendPage(res, 200, mePage({ identity: { ...pageUser(id), groups: id.groups, amr: id.amr, ...(id.acr ? { acr: id.acr } : {}), ...(id.authTime !== undefined ? { authTime: id.authTime } : {}) }, session: times, signOutUrl: PATHS.signOut, grants: grantsSection(grants.map((g) => ({ route: g.route, expiresAt: g.expiresAt, approver: g.approver, left: remainingText(g.expiresAt, now) }))) }), { 'content-security-policy': cx.csp({ localTime: true }) });
  };
}
