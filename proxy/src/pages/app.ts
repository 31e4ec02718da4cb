// pages/app.ts — the Express 5 app (with helmet) behind every reserved path /.drawbridge/*:
// sign-in, callback, hand-off, sign-out, me, JWKS and back-channel logout. Never on the proxied path.
import { randomBytes, createHmac, timingSafeEqual } from 'node:crypto';
import { sha256Base64url as sha256 } from '../digest.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import helmet from 'helmet';
import * as oidc from 'openid-client';
import { idpErrorStatus, isIdpOutage } from '../oidc/client.js';
import { SubjectMismatchError } from '../oidc/identity.js';
import { isIdpMisconfiguration, isMisconfigurationError, oauthErrorHint, clean } from '../oidc/diagnose.js';
import { verifyLogoutToken } from '../oidc/logout-token.js';
import { isServedOrigin, safeReturnTarget } from '../routes/return-target.js';
import { handoffCookieName, loginCookieName, parseCookieHeader, serializeCookie } from '../session/cookie.js';
import { bindingMatches, HANDOFF_TICKET_TTL_MS, newHandoffBinding, openHandoffTicket, type HandoffTicket } from '../session/handoff-binding.js';
import type { StepUpNeed } from '../policy/rule.js';
import type { SessionRecord } from '../session/store.js';
import { tokenFields } from '../session/sessions.js';
import { acrValuesFor, parseSignInNeed, parseStepUp, unmetStepUp } from '../server/step-up.js';
import { isBrowser, redirect, sendJson, sendPage } from '../server/respond.js';
import { getExchange, requestOrigin, type Exchange, type Runtime } from '../server/runtime.js';
import { answer, pageUser } from '../server/pipeline.js';
import { PATHS, signInStartUrl } from './paths.js';
import { openReturnState, sealReturnState } from './return-state.js';
import { idpMisconfiguredPage, mePage, notFoundPage, pageCsp, signInErrorPage, signOutConfirmPage, signedOutPage, stepUpFailedPage, unavailablePage } from './views.js';

/** A login attempt, kept server-side under its `state` until the callback consumes it (once). */
interface LoginAttempt {
  verifier: string;
  nonce: string;
  rd: string;
  binding: string;
  stepUp?: StepUpNeed;
  maxAge?: number;
  /** For a return target on a route host: the route host's binding of the hand-off to this browser. */
  handoff?: HandoffTicket;
}

/** A hand-off code's record: the session, the one origin that may redeem it, and the browser binding there. */
interface HandoffRecord {
  sid: string;
  origin: string;
  cookieId: string;
  binding: string;
}

const LOGIN_TTL_MS = 10 * 60_000;
/** Returned by sessionOr503 when the store failed and the 503 was already sent. */
const STORE_DOWN = Symbol('store-down');
const HANDOFF_TTL_MS = 60_000;
// Longer than a logout token is ever accepted (oidc/logout-token.ts: iat at most 300 s old, 30 s skew), with or without exp.
const JTI_TTL_MS = 10 * 60_000;

/** Builds the pages handler. Express routes see the normalized path (set by the pipeline). */
export function createPagesApp(rt: Runtime): (req: IncomingMessage, res: ServerResponse) => void {
  const app = express();
  app.disable('x-powered-by');
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('etag', false);
  app.use(
    helmet({
      // Every page sets its own strict CSP (with the IdP's origin in form-action, see below).
      contentSecurityPolicy: false,
      crossOriginEmbedderPolicy: false,
      strictTransportSecurity: { maxAge: 31536000, includeSubDomains: false },
    }),
  );
  app.use((req, res, next) => {
    const x = getExchange(req);
    res.setHeader('x-request-id', x.id);
    res.setHeader('cache-control', 'no-store');
    next();
  });

  const cfg = () => rt.snapshot().compiled;
  const secure = (x: Exchange) => x.client.scheme === 'https';
  const attemptCookieName = (x: Exchange, state: string) => loginCookieName(cfg().config.session.cookieName, secure(x), state);
  // The IdP sends the signed-out browser on to publicUrl (post_logout_redirect_uri); Chromium checks that hop against form-action too.
  const csp = () => pageCsp([...rt.oidc.formActionOrigins(), cfg().publicOrigin]);

  /** The session of this host's cookie, if valid; STORE_DOWN when the store failed (a 503 was sent). */
  async function sessionOr503(req: IncomingMessage, res: ServerResponse, x: Exchange): Promise<SessionRecord | undefined | typeof STORE_DOWN> {
    try {
      const loaded = await rt.sessions.load(rt.sessions.readId(req.headers.cookie, secure(x), requestOrigin(x)), rt.now());
      return loaded.state === 'valid' ? loaded.record : undefined;
    } catch (e) {
      storeUnavailable(req, res, x, e);
      return STORE_DOWN;
    }
  }

  /**
   * Sends the browser on to `rd`: directly on publicUrl's origin; elsewhere through a one-time hand-off code bound
   * to the ticket's browser and origin (without a ticket for rd's origin, the browser restarts on that route host,
   * which makes one: no code is minted then).
   */
  async function complete(res: ServerResponse, session: SessionRecord, rd: string, ticket: HandoffTicket | undefined): Promise<void> {
    const target = new URL(rd);
    if (target.origin === cfg().publicOrigin) return redirect(res, target.href);
    if (!ticket || ticket.origin !== target.origin || !isServedOrigin(target.origin, cfg())) return redirect(res, signInStartUrl(target.href, cfg().publicOrigin));
    const code = randomBytes(32).toString('base64url');
    const record: HandoffRecord = { sid: session.id, origin: target.origin, cookieId: ticket.cookieId, binding: ticket.binding };
    const stored = await rt.sessions.store.putOnce(`handoff:${sha256(code)}`, JSON.stringify(record), HANDOFF_TTL_MS);
    if (!stored) throw new Error('hand-off code collision');
    redirect(res, `${target.origin}${PATHS.handoff}?code=${code}&rd=${encodeURIComponent(target.href)}`);
  }

  /**
   * GET /.drawbridge/sign_in on a route host: binds the coming hand-off to this browser (a cookie on this host with
   * a random nonce) and sends the browser on to publicUrl with a MACed ticket naming this origin and the nonce's MAC.
   * Only an origin the configuration serves exactly gets a ticket (no code ever travels to another port or host).
   */
  function startOnRouteHost(req: IncomingMessage, res: ServerResponse, x: Exchange, origin: string, query: URLSearchParams): void {
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
      return answer(req, res, 400, signInErrorPage({ message: 'Signing in is not available at this address. Use the address your administrator gave you.', requestId: x.id, retryUrl: `${cfg().publicOrigin}/`, status: 400 }), {
        error: 'handoff_invalid',
        requestId: x.id,
      });
    }
    const binding = newHandoffBinding(rt.sessions.keys.handoffBinding, origin, rt.now());
    onward.set('hb', binding.ticket);
    redirect(res, `${cfg().publicOrigin}${PATHS.signIn}?${onward}`, {
      'set-cookie': serializeCookie(handoffCookieName(cfg().config.session.cookieName, secure(x), binding.cookieId), binding.nonce, { secure: secure(x), maxAgeSec: HANDOFF_TICKET_TTL_MS / 1000 }),
    });
  }

  function idpUnavailable(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    // Discovery keeps failing for a reason retrying cannot fix (issuer mismatch, no discovery document there).
    if (rt.oidc.misconfiguration) return idpMisconfigured(req, res, x);
    x.decision = 'idp-unavailable';
    rt.metrics.signIn('idp-unavailable');
    answer(req, res, 503, unavailablePage({ what: 'idp', requestId: x.id, retryAfterSec: 10 }), { error: 'idp_unavailable', requestId: x.id }, { 'retry-after': '10' });
  }

  /** The IdP refuses Drawbridge itself: the page says an administrator must fix it (no Retry-After); the log says what. */
  function idpMisconfigured(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    x.decision = 'idp-misconfigured';
    rt.metrics.signIn('idp-misconfigured');
    answer(req, res, 502, idpMisconfiguredPage({ requestId: x.id }), { error: 'idp_misconfigured', requestId: x.id });
  }

  function storeUnavailable(req: IncomingMessage, res: ServerResponse, x: Exchange, e: unknown): void {
    rt.logger.error({ event: 'session-store', error: (e as Error).message, requestId: x.id });
    x.decision = 'store-unavailable';
    answer(req, res, 503, unavailablePage({ what: 'store', requestId: x.id, retryAfterSec: 5 }), { error: 'session_store_unavailable', requestId: x.id }, { 'retry-after': '5' });
  }

  // GET /.drawbridge/sign_in?rd=URL — starts a sign-in (always on publicUrl), or reuses the session there.
  app.get(PATHS.signIn, async (req: Request, res: Response) => {
    const x = getExchange(req);
    const query = new URLSearchParams(x.query);
    const origin = requestOrigin(x);
    if (origin !== cfg().publicOrigin) return startOnRouteHost(req, res, x, origin, query);
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
        return answer(req, res, 400, signInErrorPage({ message: 'This sign-in link is invalid or has expired. Please start again.', requestId: x.id, retryUrl: signInStartUrl(rd, cfg().publicOrigin), status: 400 }), {
          error: 'handoff_invalid',
          requestId: x.id,
        });
      }
    }
    const stepUp = parseStepUp(query);
    // What the route demands of every sign-in it lets in (an anonymous request to an MFA route): asked of the IdP now.
    const need = stepUp ? undefined : parseSignInNeed(query);
    const fresh = query.get('fresh') === '1';
    const session = await sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    // A session on publicUrl is reused even when it lacks `need`: the route then asks for a step-up (one IdP trip).
    if (session && !stepUp && !fresh) {
      x.identity = session.identity;
      x.decision = 'session-reused';
      return complete(res, session, rd, ticket);
    }
    if (!rt.oidc.ready || !(await rt.oidc.reachable())) return idpUnavailable(req, res, x);

    const state = oidc.randomState();
    const binding = randomBytes(32).toString('base64url');
    const attempt: LoginAttempt = { verifier: oidc.randomPKCECodeVerifier(), nonce: oidc.randomNonce(), rd, binding: bindingMac(binding), ...(ticket ? { handoff: ticket } : {}) };
    const params: Parameters<typeof rt.oidc.authorizationUrl>[0] = { state, nonce: attempt.nonce, codeChallenge: await oidc.calculatePKCECodeChallenge(attempt.verifier) };
    if (stepUp) {
      attempt.stepUp = stepUp;
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
      await rt.sessions.store.putOnce(`login:${state}`, JSON.stringify(attempt), LOGIN_TTL_MS);
    } catch (e) {
      return storeUnavailable(req, res, x, e);
    }
    x.decision = stepUp ? 'step-up-started' : 'sign-in-started';
    redirect(res, rt.oidc.authorizationUrl(params).href, {
      'set-cookie': serializeCookie(attemptCookieName(x, state), binding, { secure: secure(x), maxAgeSec: LOGIN_TTL_MS / 1000 }),
    });
  });

  function bindingMac(value: string): string {
    return createHmac('sha256', rt.sessions.keys.loginBinding).update(value).digest('base64url');
  }

  // GET /.drawbridge/callback — the OIDC redirect URI: one attempt, bound to this browser, used once.
  app.get(PATHS.callback, async (req: Request, res: Response) => {
    const x = getExchange(req);
    const query = new URLSearchParams(x.query);
    const retryUrl = `${cfg().publicOrigin}${PATHS.signIn}`;
    const failSignIn = (status: number, message: string, detail?: string) => {
      x.decision = 'sign-in-failed';
      rt.metrics.signIn('failure');
      rt.logger.warn({ event: 'sign-in', result: 'failure', requestId: x.id, reason: message, ...(detail ? { detail } : {}) });
      answer(req, res, status, signInErrorPage({ message, requestId: x.id, retryUrl, status }), { error: 'sign_in_failed', message, requestId: x.id });
    };
    const state = query.get('state');
    if (!state || state.length > 200) return failSignIn(400, 'This sign-in response has no valid state. Please start again.');
    let raw: string | undefined;
    try {
      raw = await rt.sessions.store.takeOnce(`login:${state}`);
    } catch (e) {
      return storeUnavailable(req, res, x, e);
    }
    if (!raw) return failSignIn(400, 'This sign-in link has expired or was already used. Please start again.');
    const attempt = JSON.parse(raw) as LoginAttempt;
    const cookieName = attemptCookieName(x, state);
    const clear = serializeCookie(cookieName, '', { secure: secure(x), maxAgeSec: 0 });
    res.setHeader('set-cookie', clear);
    const given = parseCookieHeader(req.headers.cookie).get(cookieName);
    if (!given || !safeEqual(bindingMac(given), attempt.binding)) {
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
      if (misconfigured) return idpMisconfigured(req, res, x);
      if (outage) return idpUnavailable(req, res, x);
      return failSignIn(403, 'The identity provider did not sign you in.', `${idpError}: ${description ?? ''}`);
    }
    if (!rt.oidc.ready) return idpUnavailable(req, res, x);

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
        return idpUnavailable(req, res, x);
      }
      // The token endpoint refused Drawbridge's client (invalid_client, unauthorized_client...): no retry fixes that.
      if (isIdpMisconfiguration(e)) {
        rt.logger.error({ event: 'sign-in', result: 'idp-misconfigured', requestId: x.id, error: (e as Error).message });
        return idpMisconfigured(req, res, x);
      }
      return failSignIn(400, 'The sign-in response could not be verified. Please start again.', (e as Error).message);
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
        return idpUnavailable(req, res, x);
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
        return answer(
          req,
          res,
          401,
          stepUpFailedPage({ user: pageUser(identity), needs: missing.join(', '), requestId: x.id, signOutUrl: PATHS.signOut, retryUrl: attempt.rd }),
          { error: 'step_up_failed', missing, requestId: x.id },
        );
      }
    }
    let session: SessionRecord;
    try {
      const previousId = rt.sessions.readId(req.headers.cookie, secure(x), requestOrigin(x));
      const previous = previousId ? await rt.sessions.store.get(previousId) : undefined;
      session = await rt.sessions.create(identity, tokenFields(tokens), typeof claims.sid === 'string' ? claims.sid : undefined, now);
      if (previousId) {
        // Every sign-in gets a new id and the old session ends. Another tab of the same user may still be on its way
        // through a hand-off for the old one: for a minute, that hand-off is given the new session instead.
        await rt.sessions.store.delete(previousId);
        if (previous && previous.identity.sub === identity.sub) await rt.sessions.store.putOnce(`replaced:${sha256(previousId)}`, session.id, HANDOFF_TTL_MS);
      }
    } catch (e) {
      return storeUnavailable(req, res, x, e);
    }
    x.decision = attempt.stepUp ? 'step-up-success' : 'sign-in-success';
    rt.metrics.signIn('success');
    rt.logger.info({ event: attempt.stepUp ? 'step-up' : 'sign-in', result: 'success', requestId: x.id, user: identity.user, email: identity.email ?? '', sub: identity.sub, amr: identity.amr, acr: identity.acr ?? '', ip: x.client.ip ?? '' });
    res.setHeader('set-cookie', [clear, rt.sessions.setCookie(session, secure(x), now, requestOrigin(x))]);
    await complete(res, session, attempt.rd, attempt.handoff);
  });

  // GET /.drawbridge/handoff?code=&rd= — gives this route host its own cookie for a session made on publicUrl: the
  // code is spent on first sight, and works only on the origin it was minted for, in the browser that asked for it
  // there (its binding cookie), while that origin is still served exactly.
  app.get(PATHS.handoff, async (req: Request, res: Response) => {
    const x = getExchange(req);
    const query = new URLSearchParams(x.query);
    const code = query.get('code') ?? '';
    const origin = requestOrigin(x);
    const cookies: string[] = [];
    const refuse = (why: string) => {
      x.decision = 'handoff-refused';
      rt.logger.warn({ event: 'handoff', result: 'failure', requestId: x.id, reason: why });
      answer(req, res, 400, signInErrorPage({ message: 'This sign-in link is invalid, expired, was already used or was not started in this browser. Please start again.', requestId: x.id, retryUrl: signInStartUrl(`${origin}/`, cfg().publicOrigin), status: 400 }), {
        error: 'handoff_invalid',
        requestId: x.id,
      }, cookies.length ? { 'set-cookie': cookies } : {});
    };
    if (!/^[A-Za-z0-9_-]{43}$/.test(code)) return refuse('malformed code');
    let session: SessionRecord | undefined;
    try {
      const raw = await rt.sessions.store.takeOnce(`handoff:${sha256(code)}`);
      if (!raw) return refuse('unknown, expired or replayed code');
      const handoff = JSON.parse(raw) as HandoffRecord;
      if (handoff.origin !== origin) return refuse(`code meant for ${handoff.origin}`);
      const bindingCookie = handoffCookieName(cfg().config.session.cookieName, secure(x), handoff.cookieId);
      cookies.push(serializeCookie(bindingCookie, '', { secure: secure(x), maxAgeSec: 0 }));
      if (!isServedOrigin(origin, cfg())) return refuse(`no route serves ${origin} exactly any more`);
      if (!bindingMatches(rt.sessions.keys.handoffBinding, handoff, parseCookieHeader(req.headers.cookie).get(bindingCookie))) {
        return refuse('hand-off not started in this browser (binding cookie missing or wrong)');
      }
      let loaded = await rt.sessions.load(handoff.sid, rt.now());
      if (loaded.state !== 'valid') {
        const successor = await rt.sessions.store.takeOnce(`replaced:${sha256(handoff.sid)}`);
        if (successor) loaded = await rt.sessions.load(successor, rt.now());
      }
      if (loaded.state !== 'valid') return refuse('session ended');
      session = loaded.record;
    } catch (e) {
      return storeUnavailable(req, res, x, e);
    }
    x.identity = session.identity;
    x.decision = 'handoff';
    const rd = safeReturnTarget(query.get('rd'), cfg(), origin);
    const target = new URL(rd).origin === origin ? rd : `${origin}/`;
    redirect(res, target, { 'set-cookie': [...cookies, rt.sessions.setCookie(session, secure(x), rt.now(), origin)] });
  });

  /**
   * The sign-out's return target: `rd` when it is a safe one (safeReturnTarget: a route origin or publicUrl), else
   * undefined — the default applies (a foreign or malformed `rd` is ignored, never followed).
   */
  function signOutTarget(x: Exchange, rd: unknown): string | undefined {
    if (typeof rd !== 'string' || rd === '') return undefined;
    const target = safeReturnTarget(rd, cfg(), requestOrigin(x));
    // A relative `rd` resolves against the host asked, which answers /.drawbridge/* whatever its name: the result
    // must still be a route origin or publicUrl on its own.
    if (target === `${cfg().publicOrigin}/` || safeReturnTarget(target, cfg()) !== target) return undefined;
    return target;
  }

  /** The "Sign in again" link of the signed-out page: back to `target`, or to the default. */
  function signInAgainUrl(target: string | undefined, fallback: string | undefined): string {
    const rd = target ?? fallback;
    return rd ? signInStartUrl(rd, cfg().publicOrigin) : `${cfg().publicOrigin}${PATHS.signIn}`;
  }

  // GET /.drawbridge/sign_out — confirm page (or "signed out" when there is no session: also where the IdP sends the
  // browser after its end-session, with the `state` that carries the return target).
  app.get(PATHS.signOut, async (req: Request, res: Response) => {
    const x = getExchange(req);
    const session = await sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    const headers = { 'content-security-policy': csp() };
    const query = new URLSearchParams(x.query);
    const rd = query.get('rd');
    if (!session) {
      const target = signOutTarget(x, openReturnState(query.get('state'), rt.sessions.keys.signOutReturn)) ?? signOutTarget(x, rd);
      return sendPage(res, 200, signedOutPage({ signInUrl: signInAgainUrl(target, `${requestOrigin(x)}/`) }), {
        ...headers,
        'set-cookie': rt.sessions.clearCookie(secure(x)),
      });
    }
    x.identity = session.identity;
    // The same check as the POST's: a relative `rd` on a host that is no route's is dropped (Cancel then stays on this host).
    const returnTo = signOutTarget(x, rd);
    sendPage(res, 200, signOutConfirmPage({ user: pageUser(session.identity), action: PATHS.signOut, csrfToken: rt.sessions.csrfToken(session.id), ...(returnTo !== undefined ? { returnTo } : {}) }), headers);
  });

  // POST /.drawbridge/sign_out — CSRF-checked; ends the session everywhere and at the IdP. The form's `rd` (checked
  // again here) is where the signed-out page's "Sign in again" leads.
  app.post(PATHS.signOut, express.urlencoded({ extended: false, limit: '8kb' }), async (req: Request, res: Response) => {
    const x = getExchange(req);
    const session = await sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const target = signOutTarget(x, body.rd);
    if (!session) {
      return sendPage(res, 200, signedOutPage({ signInUrl: signInAgainUrl(target, `${requestOrigin(x)}/`) }), {
        'set-cookie': rt.sessions.clearCookie(secure(x)),
      });
    }
    x.identity = session.identity;
    if (!rt.sessions.checkCsrf(session.id, body.csrf)) {
      x.decision = 'csrf-refused';
      rt.logger.warn({ event: 'sign-out', result: 'csrf-refused', requestId: x.id, user: session.identity.user });
      const retryUrl = `${PATHS.signOut}${target ? `?rd=${encodeURIComponent(target)}` : ''}`;
      return answer(req, res, 403, signInErrorPage({ message: 'This sign-out form has expired. Please try again.', requestId: x.id, retryUrl, status: 403 }), { error: 'csrf', requestId: x.id });
    }
    try {
      await rt.sessions.store.delete(session.id);
    } catch (e) {
      return storeUnavailable(req, res, x, e);
    }
    rt.websockets.endSession(session.id);
    x.decision = 'signed-out';
    rt.logger.info({ event: 'sign-out', result: 'success', requestId: x.id, user: session.identity.user, email: session.identity.email ?? '' });
    // The IdP comes back to exactly the registered post-logout URI; the return target rides in `state`, MACed.
    const state = target ? sealReturnState(target, rt.sessions.keys.signOutReturn) : undefined;
    const end = rt.oidc.endSessionUrl(session.tokens.idToken, `${cfg().publicOrigin}${PATHS.signOut}`, state);
    const cookie = { 'set-cookie': rt.sessions.clearCookie(secure(x)) };
    if (end) return redirect(res, end.href, cookie);
    sendPage(res, 200, signedOutPage({ signInUrl: signInAgainUrl(target, undefined) }), cookie);
  });

  // GET /.drawbridge/me — who am I, as HTML or JSON; never tokens.
  app.get(PATHS.me, async (req: Request, res: Response) => {
    const x = getExchange(req);
    const session = await sessionOr503(req, res, x);
    if (session === STORE_DOWN) return;
    if (!session) {
      const signIn = signInStartUrl(`${requestOrigin(x)}${PATHS.me}`, cfg().publicOrigin);
      if (isBrowser(req)) return redirect(res, signIn);
      return sendJson(res, 401, { error: 'unauthenticated', signIn, requestId: x.id }, { 'www-authenticate': `Bearer realm="${cfg().publicOrigin}"` });
    }
    x.identity = session.identity;
    const id = session.identity;
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
      });
    }
    sendPage(res, 200, mePage({ identity: { ...pageUser(id), groups: id.groups, amr: id.amr, ...(id.acr ? { acr: id.acr } : {}), ...(id.authTime !== undefined ? { authTime: id.authTime } : {}) }, session: times, signOutUrl: PATHS.signOut }), { 'content-security-policy': csp() });
  });

  // GET /.drawbridge/jwks.json — the assertion signer's public keys (current and previous).
  app.get(PATHS.jwks, (_req: Request, res: Response) => {
    res.setHeader('cache-control', 'public, max-age=300');
    res.json(rt.signer.jwks());
  });

  // POST /.drawbridge/backchannel_logout — OpenID Connect Back-Channel Logout 1.0.
  app.post(PATHS.backchannelLogout, express.urlencoded({ extended: false, limit: '16kb' }), async (req: Request, res: Response) => {
    const x = getExchange(req);
    const token = (req.body as Record<string, unknown> | undefined)?.logout_token;
    const bad = (why: string) => {
      x.decision = 'logout-token-refused';
      rt.logger.warn({ event: 'backchannel-logout', result: 'failure', requestId: x.id, reason: why });
      sendJson(res, 400, { error: 'invalid_request', error_description: why });
    };
    if (typeof token !== 'string' || token === '') return bad('missing logout_token');
    if (!rt.oidc.ready) return sendJson(res, 503, { error: 'temporarily_unavailable' });
    let claims;
    try {
      claims = await verifyLogoutToken(token, { jwks: rt.oidc.jwks.logout, jwksUri: rt.oidc.jwksUri(), issuer: rt.oidc.issuer, audience: cfg().config.idp.clientId, now: rt.now() });
    } catch (e) {
      return bad((e as Error).message);
    }
    // The jti is recorded first, in one atomic step: a replayed token is refused before it ends anything (a user's
    // new sessions must not die from an old token). If ending the sessions then fails, the record is taken back so
    // that the IdP's retry of the same token still works.
    const jtiKey = `jti:${sha256(`${claims.iss}\0${claims.jti}`)}`;
    try {
      if (!(await rt.sessions.store.putOnce(jtiKey, '1', JTI_TTL_MS))) return bad('logout token replayed (jti already used)');
    } catch (e) {
      return storeUnavailable(req, res, x, e);
    }
    try {
      let ended = 0;
      if (claims.sid) ended += await rt.sessions.store.deleteWhere({ idpSid: claims.sid, ...(claims.sub ? { sub: claims.sub } : {}) });
      else if (claims.sub) ended += await rt.sessions.store.deleteWhere({ sub: claims.sub });
      void rt.websockets.sweep('session-ended');
      x.decision = 'logout';
      rt.logger.info({ event: 'backchannel-logout', result: 'success', requestId: x.id, sessionsEnded: ended, bySid: Boolean(claims.sid) });
    } catch (e) {
      await rt.sessions.store.takeOnce(jtiKey).catch(() => undefined);
      return storeUnavailable(req, res, x, e);
    }
    res.status(200).end();
  });

  // Anything else under /.drawbridge/: 404, never forwarded.
  app.use((req: Request, res: Response) => {
    const x = getExchange(req);
    x.decision = 'no-route';
    answer(req, res, 404, notFoundPage({ host: x.host ?? '', path: x.path ?? '', requestId: x.id }), { error: 'not_found', requestId: x.id });
  });

  app.use((err: Error, req: Request, res: Response, _next: (e?: unknown) => void) => {
    const x = getExchange(req);
    x.decision = 'error';
    rt.logger.error({ event: 'internal-error', requestId: x.id, error: err.message });
    if ((err as { type?: string }).type === 'entity.too.large' || (err as { status?: number }).status === 400) {
      return sendJson(res, 400, { error: 'invalid_request', requestId: x.id });
    }
    sendJson(res, 500, { error: 'internal_error', requestId: x.id });
  });

  return (req, res) => {
    const x = getExchange(req);
    // Express routes on the normalized path, never on the raw one.
    req.url = `${x.path}${x.query ? `?${x.query}` : ''}`;
    app(req as Request, res as Response);
  };
}

/** The sign-in query's parameters other than `rd` and `hb`, as `&name=value...` (step-up demands, `fresh`). */
function onwardParams(query: URLSearchParams): string {
  const rest = new URLSearchParams(query);
  rest.delete('rd');
  rest.delete('hb');
  const text = rest.toString();
  return text ? `&${text}` : '';
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
