// errors.ts — the one error type of Drawbridge and the DRB_* code catalog.
// Every code is documented in docs/errors.md; a test keeps the two in step.

/** The catalog: code → [HTTP status used when the error reaches a client, one-line meaning]. */
export const ERROR_CODES = {
  DRB_CONFIG_INVALID: [500, 'The configuration file has errors; each is reported as FILE:LINE:COL: message.'],
  DRB_CONFIG_READ: [500, 'The configuration file could not be read.'],
  DRB_ENV_MISSING: [500, 'A ${NAME} reference names an environment variable that is not set.'],
  DRB_LISTEN_FAILED: [500, 'A listener (the proxy, the admin one, or the port-80 listener of tls.acme) could not bind its address: in use, or a privileged port without permission.'],
  DRB_BAD_REQUEST: [400, 'The request path, host or headers are malformed or ambiguous and were refused before matching.'],
  DRB_NO_ROUTE: [404, 'No route serves this host and path.'],
  DRB_METHOD_NOT_ALLOWED: [405, 'A route serves this path but not with this method.'],
  DRB_UNAUTHENTICATED: [401, 'The request needs a signed-in user or a valid bearer token.'],
  DRB_STEP_UP: [401, 'The route needs a fresher or stronger sign-in than the session has.'],
  DRB_FORBIDDEN: [403, 'The policy of the route denies this request.'],
  DRB_BAD_TOKEN: [401, 'The bearer token is invalid: bad signature, wrong issuer or audience, expired or not yet valid.'],
  DRB_IDP_UNAVAILABLE: [503, 'The identity provider cannot be reached, or answers 5xx or 429 (e.g. to the code exchange of a sign-in); new sign-ins are refused until it is back.'],
  DRB_IDP_MISCONFIGURED: [502, 'The identity provider refuses Drawbridge itself (invalid_client, unauthorized_client, an unsupported grant or response type, an invalid scope), announces another issuer, or serves no discovery document at idp.issuer: a configuration error only an administrator can fix.'],
  DRB_ID_TOKEN_INVALID: [400, 'An ID token failed signature verification: unsigned, an algorithm the IdP does not announce, HMAC with a secret other than idp.clientSecret, or a key not in the IdP\'s JWKS.'],
  DRB_STORE_UNAVAILABLE: [503, 'The session store cannot be reached; requests that need a session are refused.'],
  DRB_SIGN_IN_FAILED: [400, 'The sign-in callback was invalid: unknown or replayed state, bad code, or an ID token that failed verification.'],
  DRB_CSRF: [403, 'A state-changing request to Drawbridge carried no valid CSRF token.'],
  DRB_HANDOFF_INVALID: [400, 'A session hand-off was unknown, expired, replayed, meant for another host, not started in this browser, or asked for on an address no route serves exactly.'],
  DRB_LOGOUT_TOKEN_INVALID: [400, 'A back-channel logout token failed validation.'],
  DRB_UPSTREAM_UNAVAILABLE: [502, 'The upstream application refused the connection or failed.'],
  DRB_UPSTREAM_TIMEOUT: [504, 'The upstream application did not answer in time.'],
  DRB_HEADERS_TOO_LARGE: [431, 'The request headers are larger than the configured limit.'],
  DRB_INTERNAL: [500, 'An unexpected error in Drawbridge; the request id finds it in the log.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A coded error. `step` names what was being done ("discovering issuer") so wrapped errors read as a path. */
export class DrawbridgeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DrawbridgeError';
    this.code = code;
    this.status = options?.status ?? ERROR_CODES[code][0];
  }
}

/** Wraps any error with the step that failed: `wrap('discovering issuer', e)` → "discovering issuer: <cause>". */
export function wrap(step: string, cause: unknown, code: ErrorCode = 'DRB_INTERNAL'): DrawbridgeError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const inner = cause instanceof DrawbridgeError ? cause.code : code;
  return new DrawbridgeError(inner, `${step}: ${message}`, { cause });
}
