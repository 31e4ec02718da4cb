// signin/context.ts — what every step of the sign-in flow shares: the configuration in force, the one-time records,
// the session of this host's cookie, the attempt-binding MAC and the answers for an unavailable IdP or store.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { CompiledConfig } from '../routes/compile.js';
import { loginCookieName } from '../session/cookie.js';
import { LOGIN_ATTEMPT, oneTimeRecords } from '../session/one-time.js';
import { StartBudget } from './start-budget.js';
import type { SessionRecord } from '../session/store.js';
import { answerProblem } from '../runtime/problem.js';
import { requestOrigin, type Exchange, type Runtime } from '../runtime/runtime.js';
import { pageCsp } from '../pages/views.js';

/** Returned by sessionOr503 when the store failed and the 503 was already sent. */
export const STORE_DOWN = Symbol('store-down');

/** One step of the flow, as Express calls it. */
export type SignInHandler = (req: Request, res: Response) => void | Promise<void>;

/** The shared part of the sign-in flow, made once per pages app. */
export interface SignInContext {
  readonly rt: Runtime;
  readonly once: ReturnType<typeof oneTimeRecords>;
  /** Sign-ins started per client network (limits.signInsPerNetwork), per process. */
  readonly starts: StartBudget;
  cfg(): CompiledConfig;
  secure(x: Exchange): boolean;
  attemptCookieName(x: Exchange, state: string): string;
  /** The pages' CSP (with the IdP's origins in form-action); `localTime`: /me's, which allows its one local-time script. */
  csp(options?: { localTime?: boolean }): string;
  bindingMac(value: string): string;
  /** The session of this host's cookie, if valid; STORE_DOWN when the store failed (a 503 was sent). */
  sessionOr503(req: IncomingMessage, res: ServerResponse, x: Exchange): Promise<SessionRecord | undefined | typeof STORE_DOWN>;
  idpUnavailable(req: IncomingMessage, res: ServerResponse, x: Exchange): void;
  /** The IdP refuses Drawbridge itself: the page says an administrator must fix it (no Retry-After); the log says what. */
  idpMisconfigured(req: IncomingMessage, res: ServerResponse, x: Exchange): void;
  storeUnavailable(req: IncomingMessage, res: ServerResponse, x: Exchange, e: unknown): void;
}

/** Builds the flow's shared part over the runtime's services. */
export function signInContext(rt: Runtime): SignInContext {
  const cfg = () => rt.snapshot().compiled;
  const secure = (x: Exchange) => x.client.scheme === 'https';
  const cx: SignInContext = {
    rt,
    once: oneTimeRecords(rt.sessions.store),
    starts: new StartBudget(LOGIN_ATTEMPT.ttlMs),
    cfg,
    secure,
    attemptCookieName: (x, state) => loginCookieName(cfg().config.session.cookieName, secure(x), state),
    // The IdP sends the signed-out browser on to publicUrl (post_logout_redirect_uri); Chromium checks that hop against form-action too.
    csp: (options = {}) => pageCsp([...rt.oidc.formActionOrigins(), cfg().publicOrigin], options),
    bindingMac: (value) => createHmac('sha256', rt.sessions.keys.loginBinding).update(value).digest('base64url'),

    async sessionOr503(req, res, x) {
      try {
        const loaded = await rt.sessions.load(rt.sessions.readId(req.headers.cookie, secure(x), requestOrigin(x)), rt.now());
        return loaded.state === 'valid' ? loaded.record : undefined;
      } catch (e) {
        cx.storeUnavailable(req, res, x, e);
        return STORE_DOWN;
      }
    },

    idpUnavailable(req, res, x) {
      // Discovery keeps failing for a reason retrying cannot fix (issuer mismatch, no discovery document there).
      if (rt.oidc.misconfiguration) return cx.idpMisconfigured(req, res, x);
      x.decision = 'idp-unavailable';
      rt.metrics.signIn('idp-unavailable');
      answerProblem(req, res, 'DRB_IDP_UNAVAILABLE');
    },

    idpMisconfigured(req, res, x) {
      x.decision = 'idp-misconfigured';
      rt.metrics.signIn('idp-misconfigured');
      answerProblem(req, res, 'DRB_IDP_MISCONFIGURED');
    },

    storeUnavailable(req, res, x, e) {
      rt.logger.error({ event: 'session-store', error: (e as Error).message, requestId: x.id });
      x.decision = 'store-unavailable';
      answerProblem(req, res, 'DRB_STORE_UNAVAILABLE');
    },
  };
  return cx;
}

/** Constant-time string equality. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
