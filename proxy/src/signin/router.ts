// signin/router.ts — the Express 5 app behind every reserved path /.drawbridge/*: wires the sign-in
// flow's steps (start, callback, hand-off, sign-out, back-channel logout, me, JWKS, access requests). Never on the proxied path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import { answerProblem } from '../runtime/problem.js';
import { hstsFor, SECURITY_HEADERS } from '../runtime/respond.js';
import { getExchange, type Runtime } from '../runtime/runtime.js';
import { PATHS } from '../pages/paths.js';
import { notFoundPage } from '../pages/views.js';
import { backchannelLogout } from './backchannel.js';
import { callback } from './callback.js';
import { signInContext } from './context.js';
import { handoff } from './handoff.js';
import { jwks } from './jwks.js';
import { me } from './me.js';
import { askAccess, decideRequest, listRequests } from './requests.js';
import { signOut, signOutPage } from './signout.js';
import { signInStart } from './start.js';
import { switchUser } from './switch-user.js';
import { http2Pages } from './express-h2.js';

/** Builds the pages handler. Express routes see the normalized path (set by the pipeline). */
export function createPagesApp(rt: Runtime): (req: IncomingMessage, res: ServerResponse) => void {
  const app = express();
  app.disable('x-powered-by');
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('etag', false);
  app.use((req, res, next) => {
    const x = getExchange(req);
    // The one set of security headers of Drawbridge's own responses (runtime/respond.ts), HSTS over HTTPS; every
    // page sets its own strict CSP (with the IdP's origin in form-action, see signin/context.ts).
    res.setHeaders(new Map(Object.entries(SECURITY_HEADERS)));
    const hsts = hstsFor(req);
    if (hsts !== undefined) res.setHeader('strict-transport-security', hsts);
    res.setHeader('x-request-id', x.id);
    res.setHeader('cache-control', 'no-store');
    next();
  });

  const cx = signInContext(rt);
  app.get(PATHS.signIn, signInStart(cx));
  app.get(PATHS.callback, callback(cx));
  app.get(PATHS.handoff, handoff(cx));
  app.get(PATHS.signOut, signOutPage(cx));
  app.post(PATHS.signOut, express.urlencoded({ extended: false, limit: '8kb' }), signOut(cx));
  app.post(PATHS.switchUser, express.urlencoded({ extended: false, limit: '8kb' }), switchUser(cx));
  app.get(PATHS.me, me(cx));
  app.get(PATHS.requests, listRequests(cx));
  app.post(PATHS.requests, express.urlencoded({ extended: false, limit: '8kb' }), askAccess(cx));
  app.post(PATHS.requestsDecide, express.urlencoded({ extended: false, limit: '8kb' }), decideRequest(cx));
  app.get(PATHS.jwks, jwks(cx));
  app.post(PATHS.backchannelLogout, express.urlencoded({ extended: false, limit: '16kb' }), backchannelLogout(cx));

  // Anything else under /.drawbridge/: 404, never forwarded.
  app.use((req: Request, res: Response) => {
    const x = getExchange(req);
    x.decision = 'no-route';
    answerProblem(req, res, 'DRB_NO_ROUTE', { page: (requestId) => notFoundPage({ host: x.host ?? '', path: x.path ?? '', requestId }) });
  });

  app.use((err: Error, req: Request, res: Response, _next: (e?: unknown) => void) => {
    const x = getExchange(req);
    x.decision = 'error';
    rt.logger.error({ event: 'internal-error', requestId: x.id, error: err.message });
    if ((err as { type?: string }).type === 'entity.too.large' || (err as { status?: number }).status === 400) {
      // Only the back-channel logout endpoint parses a body: what it could not parse is no logout token.
      return answerProblem(req, res, 'DRB_LOGOUT_TOKEN_INVALID', { format: 'json' });
    }
    answerProblem(req, res, 'DRB_INTERNAL', { format: 'json' });
  });

  const h2 = http2Pages(app);
  return (req, res) => {
    const x = getExchange(req);
    // Express routes on the normalized path, never on the raw one.
    req.url = `${x.path}${x.query ? `?${x.query}` : ''}`;
    if (req.httpVersionMajor === 2) h2(req, res);
    else app(req as Request, res as Response);
  };
}
