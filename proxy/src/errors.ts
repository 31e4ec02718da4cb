// errors.ts — the one error type of Drawbridge and the DRB_* problem catalog: for each code, the HTTP status a
// client gets, the `error` slug of the JSON body, the title of the browser page and the headers every answer of it
// carries. runtime/problem.ts `answerProblem` answers from it; docs/errors.md is checked against it by a test.

/** One entry of the catalog. */
export interface ProblemSpec {
  /** The HTTP status when the problem reaches a client (500 for the process-level codes a client never sees). */
  readonly status: number;
  /** The `error` of the JSON body API clients get (stable: clients match on it). */
  readonly slug: string;
  /** The browser page's title (its dedicated view in pages/views.ts has the same one; a test holds them equal). */
  readonly title: string;
  /** One line for the operator: what happened (docs/errors.md shows it verbatim). */
  readonly meaning: string;
  /** Headers every answer of this problem carries. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The catalog. */
export const ERROR_CODES = {
  DRB_CONFIG_INVALID: { status: 500, slug: 'config_invalid', title: 'Configuration error', meaning: 'The configuration file has errors; each is reported as FILE:LINE:COL: message.' },
  DRB_CONFIG_READ: { status: 500, slug: 'config_read', title: 'Configuration error', meaning: 'The configuration file could not be read.' },
  DRB_LISTEN_FAILED: { status: 500, slug: 'listen_failed', title: 'Listener error', meaning: 'A listener (the proxy, the admin one, or the port-80 listener of tls.acme) could not bind its address: in use, or a privileged port without permission.' },
  DRB_BAD_REQUEST: { status: 400, slug: 'bad_request', title: 'Bad request', meaning: 'The request path, host or headers are malformed or ambiguous and were refused before matching.' },
  DRB_NO_ROUTE: { status: 404, slug: 'not_found', title: 'Page not found', meaning: 'No route serves this host and path.' },
  DRB_METHOD_NOT_ALLOWED: { status: 405, slug: 'method_not_allowed', title: 'Request not allowed', meaning: 'A route serves this path but not with this method.' },
  DRB_UNAUTHENTICATED: { status: 401, slug: 'unauthenticated', title: 'Sign-in needed', meaning: 'The request needs a signed-in user or a valid bearer token.' },
  DRB_STEP_UP: { status: 401, slug: 'insufficient_user_authentication', title: 'Stronger sign-in needed', meaning: 'The route needs a fresher or stronger sign-in than the session has.' },
  DRB_STEP_UP_FAILED: { status: 401, slug: 'step_up_failed', title: 'Stronger sign-in needed', meaning: 'A step-up sign-in completed, but the IdP still did not deliver what the route needs (MFA, an acr, a recent sign-in).' },
  DRB_STEP_UP_OTHER_USER: { status: 409, slug: 'other_user', title: 'Signed in as someone else', meaning: 'A step-up sign-in came back as another user than the session\'s: nothing changes until the browser that asked chooses to continue as that user or to go back.' },
  DRB_USER_SWITCH_INVALID: { status: 400, slug: 'user_switch_invalid', title: 'Sign-in failed', meaning: 'A "continue as" choice after a step-up as another user was unknown, expired, already made, or not made in the browser that was shown it.' },
  DRB_FORBIDDEN: { status: 403, slug: 'forbidden', title: 'Access denied', meaning: 'The policy of the route denies this request.' },
  DRB_DEVICE_REQUIRED: { status: 403, slug: 'device_certificate_required', title: 'Device certificate needed', meaning: 'tls.clientCert is required and the request came with no verified device certificate: none, one of a CA not in tls.clientCa, an expired or a revoked one.' },
  DRB_BAD_TOKEN: { status: 401, slug: 'invalid_token', title: 'Invalid token', meaning: 'The bearer token is invalid: bad signature, wrong issuer or audience, expired or not yet valid.' },
  DRB_IDP_UNAVAILABLE: { status: 503, slug: 'idp_unavailable', title: 'Sign-in unavailable', meaning: 'The identity provider cannot be reached, or answers 5xx, 429 or 408 (e.g. to the code exchange of a sign-in); new sign-ins are refused until it is back.', headers: { 'retry-after': '10' } },
  DRB_IDP_MISCONFIGURED: { status: 502, slug: 'idp_misconfigured', title: 'Sign-in is not set up correctly', meaning: 'The identity provider refuses Drawbridge itself (invalid_client, unauthorized_client, an unsupported grant or response type, an invalid scope), announces another issuer, or serves no discovery document at idp.issuer: a configuration error only an administrator can fix.' },
  DRB_ID_TOKEN_INVALID: { status: 400, slug: 'sign_in_failed', title: 'Sign-in failed', meaning: 'An ID token failed signature verification: unsigned, an algorithm the IdP does not announce, HMAC with a secret other than idp.clientSecret, or a key not in the IdP\'s JWKS.' },
  DRB_SIGN_IN_LIMITED: { status: 429, slug: 'sign_in_limited', title: 'Too many sign-ins', meaning: 'The client\'s network (its IPv4 address, or IPv6 /64) started more sign-ins than limits.signInsPerNetwork allows per ten minutes; each holds a login attempt in the session store until it ends or expires.', headers: { 'retry-after': '60' } },
  DRB_STORE_UNAVAILABLE: { status: 503, slug: 'session_store_unavailable', title: 'Sessions unavailable', meaning: 'The session store cannot be reached; requests that need a session are refused.', headers: { 'retry-after': '5' } },
  DRB_SIGN_IN_FAILED: { status: 400, slug: 'sign_in_failed', title: 'Sign-in failed', meaning: 'The sign-in callback was invalid: unknown or replayed state, bad code, or an ID token that failed verification.' },
  DRB_CSRF: { status: 403, slug: 'csrf', title: 'Sign-in failed', meaning: 'A state-changing request to Drawbridge carried no valid CSRF token.' },
  DRB_ACCESS_REQUEST_INVALID: { status: 400, slug: 'access_request_invalid', title: 'Access request refused', meaning: 'An access request named no route that takes requests, lacked a required reason, asked for a duration beyond the route\'s maxDuration, or came from a user the route already admits.' },
  DRB_ACCESS_REQUEST_LIMITED: { status: 429, slug: 'access_request_limited', title: 'Access request refused', meaning: 'The user asked for access moments ago: one new access request per user every ten seconds.', headers: { 'retry-after': '10' } },
  DRB_ACCESS_APPROVER_REFUSED: { status: 403, slug: 'approver_refused', title: 'Approval refused', meaning: 'The signed-in user may not decide this access request: the route\'s approvers policy does not allow them now, or it is their own request.' },
  DRB_ACCESS_REQUEST_GONE: { status: 409, slug: 'access_request_gone', title: 'Access request already decided', meaning: 'The access request was already approved or denied, or has expired.' },
  DRB_HANDOFF_INVALID: { status: 400, slug: 'handoff_invalid', title: 'Sign-in failed', meaning: 'A session hand-off was unknown, expired, replayed, meant for another host, not started in this browser, or asked for on an address no route serves exactly.' },
  DRB_LOGOUT_TOKEN_INVALID: { status: 400, slug: 'invalid_request', title: 'Bad request', meaning: 'A back-channel logout token failed validation.' },
  DRB_UPSTREAM_UNAVAILABLE: { status: 502, slug: 'upstream_unavailable', title: 'Application unavailable', meaning: 'The upstream application refused the connection or failed (its TLS certificate included).' },
  DRB_UPSTREAM_TIMEOUT: { status: 504, slug: 'upstream_timeout', title: 'Application too slow', meaning: 'The upstream application did not answer in time.' },
  DRB_HEADERS_TOO_LARGE: { status: 431, slug: 'headers_too_large', title: 'Request headers too large', meaning: 'The request headers are larger than the configured limit.' },
  DRB_INTERNAL: { status: 500, slug: 'internal_error', title: 'Something went wrong', meaning: 'An unexpected error in Drawbridge; the request id finds it in the log.' },
} as const satisfies Record<string, ProblemSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A coded error. `step` names what was being done ("discovering issuer") so wrapped errors read as a path. */
export class DrawbridgeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DrawbridgeError';
    this.code = code;
    this.status = options?.status ?? ERROR_CODES[code].status;
  }
}

/** Wraps any error with the step that failed: `wrap('discovering issuer', e)` → "discovering issuer: <cause>". */
export function wrap(step: string, cause: unknown, code: ErrorCode = 'DRB_INTERNAL'): DrawbridgeError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const inner = cause instanceof DrawbridgeError ? cause.code : code;
  return new DrawbridgeError(inner, `${step}: ${message}`, { cause });
}
