// server/forward-auth.ts — the forward-auth front door (docs/forward-auth.md): nginx `auth_request`, Traefik
// `ForwardAuth`, Caddy `forward_auth` and Envoy `ext_authz` ask `/.drawbridge/auth` whether the ORIGINAL request may
// through and as whom. It is classified and admitted by exactly the functions the proxy uses (admission/), for the
// original origin (so the route host's cookie verifies), and answered 2xx with the identity headers and the assertion
// to copy upstream, 401 with the sign-in location, or 403. Only a trusted proxy (`trustedProxies`) may ask.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { admit, type Admission, type AdmitContext } from '../admission/admit.js';
import { absoluteUrlInput, classify, type ClassifyInput } from '../admission/classify.js';
import { setIdentityHeaders } from '../forward/identity-headers.js';
import { HEADERS } from '../header-names.js';
import { bearerToken } from '../oidc/bearer.js';
import { PATHS } from '../pages/paths.js';
import { forbidden } from './pipeline.js';
import { answerProblem } from '../runtime/problem.js';
import type { ErrorCode } from '../errors.js';
import type { Exchange, Runtime } from '../runtime/runtime.js';

/** The request headers that carry the original request, by front proxy (read from trusted peers only). */
export const ORIGINAL_REQUEST_HEADERS = Object.freeze({
  /** nginx (`$scheme://$http_host$request_uri`): the whole original URL. */
  url: 'x-original-url',
  /** nginx (`$request_method`). */
  method: 'x-original-method',
  /** Traefik, Caddy: the original request-target; host and scheme from X-Forwarded-Host/-Proto. */
  uri: 'x-forwarded-uri',
  /** Traefik, Caddy. */
  forwardedMethod: 'x-forwarded-method',
});

/** Asks for a 302 instead of a 401 for browser navigations (as `?redirect=1` does). */
export const REDIRECT_HEADER = 'x-drawbridge-auth-redirect';

const METHOD = /^[A-Z]{1,20}$/;

/**
 * The value of a header sent exactly once; undefined when absent, null when sent more than once (ambiguous: node
 * would join the copies with ", ").
 */
function single(req: IncomingMessage, name: string): string | undefined | null {
  const raw = req.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== name.length || raw[i]!.toLowerCase() !== name) continue;
    if (value !== undefined) return null;
    value = raw[i + 1]!;
  }
  return value;
}

/**
 * The original request a front proxy asks about, in the order: `X-Original-URL` (absolute); `X-Forwarded-Uri` with
 * the host and scheme of the request (Host, or the trusted X-Forwarded-Host/-Proto); the path under
 * `/.drawbridge/auth/` (Envoy's `path_prefix`). The method: `X-Original-Method`, `X-Forwarded-Method`, else the
 * request's own. A string says why there is none.
 */
export function originalRequest(req: IncomingMessage, x: Exchange): ClassifyInput | string {
  const names = ORIGINAL_REQUEST_HEADERS;
  const values = [single(req, names.url), single(req, names.method), single(req, names.uri), single(req, names.forwardedMethod)];
  if (values.includes(null)) return 'an original-request header was sent more than once';
  const [url, originalMethod, uri, forwardedMethod] = values as (string | undefined)[];
  const method = originalMethod ?? forwardedMethod ?? req.method ?? 'GET';
  if (!METHOD.test(method)) return `the original method "${method.slice(0, 20)}" is not one`;
  if (url !== undefined) return absoluteUrlInput(url, method);
  const scheme = x.client.scheme;
  if (uri !== undefined) return { scheme, rawHost: x.client.rawHost, target: uri, method };
  const own = req.url ?? '';
  // Envoy appends the original :path to path_prefix: the raw suffix is the original target (never normalized here,
  // so its dot segments cannot climb out of the prefix).
  if (own.startsWith(`${PATHS.auth}/`)) return { scheme, rawHost: x.client.rawHost, target: own.slice(PATHS.auth.length), method };
  return `no original request: send X-Original-URL, or X-Forwarded-Uri, or ask ${PATHS.auth}/<original path>`;
}

/** A browser navigation, judged on the original method and the client's own headers (front proxies pass them on). */
function browserNavigation(req: IncomingMessage, method: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const accept = req.headers.accept;
  if (typeof accept !== 'string' || !accept.includes('text/html')) return false;
  return String(req.headers['x-requested-with'] ?? '').toLowerCase() !== 'xmlhttprequest';
}

/** The headers the front proxy copies upstream: identity, assertion, access token and the route's own edits. */
export function admittedHeaders(rt: Runtime, x: Exchange, a: Extract<Admission, { kind: 'allow' }>): Record<string, string> {
  const headers: IncomingHttpHeaders = {};
  setIdentityHeaders(headers, x.snap.routes[a.route.index]!.headers, a.principal?.identity, {
    assertion: a.assertion !== undefined ? { name: x.snap.compiled.config.assertion.header, value: a.assertion } : undefined,
    accessToken: a.principal?.accessToken || undefined,
    requestId: x.id,
    clientIp: '',
    proto: x.client.scheme,
    host: x.host ?? '',
  });
  // The front proxy writes its own forwarding headers.
  delete headers[HEADERS.forwardedFor];
  delete headers[HEADERS.forwardedProto];
  delete headers[HEADERS.forwardedHost];
  delete headers[HEADERS.requestId];
  return headers as Record<string, string>;
}

/** The forward-auth handler; `x` is the exchange of the request to `/.drawbridge/auth`. */
export function createForwardAuth(rt: Runtime, ctx: AdmitContext) {
  return function forwardAuth(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    x.frontDoor = 'forward-auth';
    const refuse = (code: ErrorCode, decision: string, reason: string) => {
      x.decision = decision;
      x.refusal = reason;
      answerProblem(req, res, code, { format: 'json', json: { reason } });
    };
    // Anyone else could ask about any URL with any original-request headers, and read the identity and assertion
    // of the cookie they send: refused, never evaluated.
    if (!x.client.trustedPeer) {
      rt.logger.warn({ event: 'forward-auth', result: 'untrusted-peer', requestId: x.id, peer: req.socket.remoteAddress ?? '' });
      return refuse('DRB_FORBIDDEN', 'untrusted-peer', 'forward-auth answers trusted proxies only (trustedProxies)');
    }
    const input = originalRequest(req, x);
    if (typeof input === 'string') return refuse('DRB_BAD_REQUEST', 'bad-request', input);
    x.method = input.method;
    const c = classify(x.snap.compiled.table, input);
    if (c.kind === 'bad-request') {
      if (c.path !== undefined) {
        x.path = c.path;
        x.query = c.query;
      }
      return refuse('DRB_BAD_REQUEST', 'bad-request', c.reason);
    }
    x.host = c.host;
    x.hostname = c.hostname;
    if (c.port !== undefined) x.port = c.port;
    else delete x.port;
    x.path = c.path;
    x.query = c.query;
    if (c.kind === 'reserved') return refuse('DRB_NO_ROUTE', 'reserved', `Drawbridge answers ${c.path} itself: route /.drawbridge/ to Drawbridge, not through forward-auth`);
    if (c.kind === 'no-route') return refuse('DRB_NO_ROUTE', 'no-route', 'no route serves this host and path');
    if (c.kind === 'method-not-allowed') return refuse('DRB_METHOD_NOT_ALLOWED', 'method-not-allowed', 'the route does not accept this method');
    const route = c.route;
    x.route = route;
    const state = x.snap.routes[route.index]!;
    x.state = state;
    // The cookie is read for the ORIGINAL origin: a session cookie is bound to the route host it was issued on.
    const origin = `${input.scheme}://${c.host}`;
    const bearer = route.bearer ? bearerToken(req.headers.authorization) : undefined;
    const sessionId = route.public || bearer !== undefined ? undefined : rt.sessions.readId(req.headers.cookie, input.scheme === 'https', origin, state);
    const a = admit(ctx, {
      compiled: x.snap.compiled,
      route,
      method: input.method,
      path: c.path,
      query: c.query,
      origin,
      ip: x.client.ip,
      now: rt.now(),
      requestId: x.id,
      sessionId,
      bearer,
      userAgent: req.headers['user-agent'],
      device: x.client.device,
      assertions: state,
    });
    const browser = browserNavigation(req, input.method);
    // `?redirect=1` (Traefik, Caddy: they pass a refusal to the client as it is) or `X-Drawbridge-Auth-Redirect: 1`
    // (Envoy, whose path carries the original): browsers get the 302 itself.
    const redirects =
      single(req, REDIRECT_HEADER) === '1' || ((req.url ?? '').startsWith(`${PATHS.auth}?`) && new URLSearchParams((req.url ?? '').slice(PATHS.auth.length + 1)).get('redirect') === '1');
    if (a instanceof Promise) {
      a.then((admitted) => answer(admitted, browser, redirects)).catch((e: Error) => {
        rt.logger.error({ event: 'internal-error', requestId: x.id, error: e.message, stack: e.stack });
        x.decision = 'error';
        answerProblem(req, res, 'DRB_INTERNAL', { format: 'json' });
      });
      return;
    }
    answer(a, browser, redirects);

    function answer(a: Admission, browser: boolean, redirects: boolean): void {
      if (a.decision !== undefined) {
        x.decision = a.decision.outcome;
        x.reasons = a.decision.reasons;
      }
      if (a.principal !== undefined) x.identity = a.principal.identity;
      switch (a.kind) {
        case 'allow':
          res.writeHead(200, { ...admittedHeaders(rt, x, a), 'cache-control': 'no-store', 'content-length': 0, 'x-request-id': x.id });
          res.end();
          return;
        case 'sign-in':
        case 'step-up':
          if (browser && redirects) {
            res.writeHead(302, { location: a.signIn, 'cache-control': 'no-store', 'content-length': 0, 'x-request-id': x.id });
            res.end();
            return;
          }
          return answerProblem(req, res, a.kind === 'step-up' ? 'DRB_STEP_UP' : 'DRB_UNAUTHENTICATED', { format: 'json', signIn: a.signIn, headers: { location: a.signIn, 'www-authenticate': a.challenge } });
        case 'deny':
          return answerProblem(req, res, 'DRB_FORBIDDEN', { ...forbidden(x, a.route, a.decision), format: browser ? 'html' : 'json' });
        case 'problem':
          switch (a.code) {
            case 'store-unavailable':
              x.decision = 'store-unavailable';
              return answerProblem(req, res, 'DRB_STORE_UNAVAILABLE', { format: 'json' });
            case 'idp-unavailable':
              x.decision = 'idp-unavailable';
              return answerProblem(req, res, 'DRB_IDP_UNAVAILABLE', { format: 'json' });
            case 'invalid-token':
              x.decision = 'invalid-token';
              return answerProblem(req, res, 'DRB_BAD_TOKEN', { format: 'json', json: { error_description: a.detail }, headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${a.detail}"` } });
            case 'insufficient-authentication':
              return answerProblem(req, res, 'DRB_STEP_UP', { format: 'json', headers: { 'www-authenticate': a.challenge! } });
          }
      }
    }
  };
}
