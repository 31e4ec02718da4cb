// oidc/diagnose.ts — what went wrong with the IdP, in words an operator can act on: for every failed request to
// it (discovery, token endpoint, keys, the readiness probe) the URL, the HTTP status, the OAuth error and its
// description, a hint, and whether it is a misconfiguration (an administrator must fix it) or an outage (it passes).
import * as oidc from 'openid-client';

/** One failed exchange with the IdP, as logged (`url`, `status`, `error`, `errorDescription`, `hint`). */
export interface IdpFailure {
  /** The URL Drawbridge asked. */
  url?: string;
  /** The IdP's HTTP status, when it answered. */
  status?: number;
  /** The OAuth `error` code when the IdP sent one (`invalid_client`), else what failed, in words. */
  error: string;
  /** The IdP's `error_description`, bounded to one line. */
  errorDescription?: string;
  /** What to check or change. */
  hint: string;
  /** A configuration error (retrying does not help), not an outage. */
  permanent: boolean;
  /** Discovery only: the issuer the IdP's document announces, when it is not idp.issuer. */
  advertisedIssuer?: string;
}

/** The fields of an IdP failure log line (no `permanent`: the level says it). */
export function failureFields(f: IdpFailure): Record<string, unknown> {
  return {
    ...(f.url !== undefined ? { url: f.url } : {}),
    ...(f.status !== undefined ? { status: f.status } : {}),
    error: f.error,
    ...(f.errorDescription !== undefined ? { errorDescription: f.errorDescription } : {}),
    ...(f.advertisedIssuer !== undefined ? { advertisedIssuer: f.advertisedIssuer } : {}),
    hint: f.hint,
  };
}

/** The discovery document's URL for an issuer (OIDC Discovery §4: the issuer, then /.well-known/openid-configuration). */
export function discoveryUrl(issuer: string): string {
  return new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`).href;
}

const MAX_TEXT = 200;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** Text from the IdP (or an error about it), for the log: one line, bounded. */
export function clean(text: string): string {
  return text.replace(CONTROL_CHARACTERS, ' ').slice(0, MAX_TEXT);
}

/** OAuth errors (token or authorization endpoint) that say Drawbridge's client is set up wrong at the IdP or in idp:. */
const MISCONFIGURATION_ERRORS: ReadonlySet<string> = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type', 'unsupported_response_type', 'invalid_scope']);

const CREDENTIALS_HINT =
  'check idp.clientSecret and idp.tokenEndpointAuthMethod (the method the client is registered with at the IdP; with private_key_jwt, idp.privateKeyFile and the public key registered there), and idp.clientId';

const OUTAGE_HINT = 'the IdP is unreachable or overloaded: this passes by itself (sessions are kept, sign-ins get the 503 page); if it lasts, check the IdP and the network path to it';

const TLS_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The hint for an OAuth error code at a step. */
export function oauthErrorHint(error: string, step: 'authorization' | 'code' | 'refresh' | 'probe'): string {
  switch (error) {
    case 'invalid_client':
      return CREDENTIALS_HINT;
    case 'unauthorized_client':
      return step === 'authorization'
        ? 'the IdP does not allow this client the authorization code flow: enable it (and the refresh_token grant) for idp.clientId at the IdP'
        : `the IdP does not let this client do this: ${CREDENTIALS_HINT}; and allow the authorization_code and refresh_token grants for it`;
    case 'unsupported_grant_type':
      return 'allow the authorization_code and refresh_token grants for the client at the IdP';
    case 'unsupported_response_type':
      return 'allow the authorization code flow (response type "code") for the client at the IdP';
    case 'invalid_scope':
      return 'check idp.scopes against the scopes the client may ask for at the IdP';
    case 'invalid_grant':
      return step === 'refresh'
        ? 'the IdP refused the refresh token (revoked, expired, or the user was disabled): the session ends and the user signs in again'
        : 'the IdP refused the authorization code: harmless once (expired, used twice); for every sign-in, check that the redirect URI registered at the IdP is exactly publicUrl + /.drawbridge/callback, and the clocks';
    case 'invalid_request':
      return 'the IdP refused the request as malformed: see errorDescription and the IdP\u2019s log';
    case 'access_denied':
      return 'the user or the IdP refused the sign-in; if every user gets it, check which users and groups the IdP assigns to the client';
    case 'temporarily_unavailable':
    case 'server_error':
      return OUTAGE_HINT;
    default:
      return 'see errorDescription and the IdP\u2019s log';
  }
}

/** True for an OAuth error code that only an administrator can fix. */
export function isMisconfigurationError(error: string | undefined | null): boolean {
  return typeof error === 'string' && MISCONFIGURATION_ERRORS.has(error);
}

function statusOf(e: unknown): number | undefined {
  if (e instanceof oidc.ResponseBodyError || e instanceof oidc.WWWAuthenticateChallengeError) return e.status;
  if (e instanceof oidc.ClientError) {
    const status = (e.cause as { status?: unknown } | undefined)?.status;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

function urlOf(e: unknown): string | undefined {
  const response = e instanceof oidc.ResponseBodyError || e instanceof oidc.WWWAuthenticateChallengeError ? e.response : e instanceof oidc.ClientError ? e.cause : undefined;
  const url = (response as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' && url !== '' ? url : undefined;
}

/** The OAuth `error` and `error_description` an IdP answered (JSON body or WWW-Authenticate challenge), cleaned. */
export function oauthError(e: unknown): { error?: string; description?: string } {
  let error: unknown;
  let description: unknown;
  if (e instanceof oidc.ResponseBodyError) {
    error = e.error;
    description = e.error_description;
  } else if (e instanceof oidc.WWWAuthenticateChallengeError) {
    const challenge = e.cause.find((c) => c.parameters.error !== undefined) ?? e.cause[0];
    error = challenge?.parameters.error;
    description = challenge?.parameters.error_description;
  }
  return {
    ...(typeof error === 'string' && error !== '' ? { error: clean(error) } : {}),
    ...(typeof description === 'string' && description !== '' ? { description: clean(description) } : {}),
  };
}

/** The network-level code of a failed fetch (ECONNREFUSED, a TLS verification code...), when there is one. */
function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('OAUTH_')) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function isUnavailableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** A failure that did not come with an HTTP answer: the connection, TLS, a timeout, DNS. */
function transportFailure(e: unknown, url: string | undefined): IdpFailure {
  const code = networkCode(e);
  const message = clean((e as Error)?.message ?? String(e));
  if (code && TLS_CODES.has(code)) {
    return { ...(url ? { url } : {}), error: `TLS: ${code}`, hint: 'the IdP\u2019s TLS certificate is not trusted: fix its name or expiry, or give Node its CA with NODE_EXTRA_CA_CERTS', permanent: true };
  }
  if (code === 'ENOTFOUND') {
    return { ...(url ? { url } : {}), error: `${message} (${code})`, hint: 'the host name of idp.issuer does not resolve: check idp.issuer and DNS', permanent: false };
  }
  return { ...(url ? { url } : {}), error: code ? `${message} (${code})` : message, hint: OUTAGE_HINT, permanent: false };
}

/** A failed request to the token endpoint (code exchange or refresh). */
export function describeTokenFailure(e: unknown, step: 'code' | 'refresh' | 'probe', tokenEndpoint: string | undefined): IdpFailure {
  const status = statusOf(e);
  const url = urlOf(e) ?? tokenEndpoint;
  if (status === undefined) return transportFailure(e, url);
  const { error, description } = oauthError(e);
  const base = { ...(url ? { url } : {}), status, ...(description !== undefined ? { errorDescription: description } : {}) };
  if (isUnavailableStatus(status)) return { ...base, error: error ?? `HTTP ${status}`, hint: OUTAGE_HINT, permanent: false };
  if (error) return { ...base, error, hint: oauthErrorHint(error, step), permanent: isMisconfigurationError(error) };
  if (status === 401) return { ...base, error: 'HTTP 401 (no OAuth error)', hint: CREDENTIALS_HINT, permanent: true };
  if (status === 404 || status === 405) return { ...base, error: `HTTP ${status}`, hint: 'the token endpoint of the discovery document does not answer token requests: check idp.issuer', permanent: true };
  return { ...base, error: `HTTP ${status} (no OAuth error)`, hint: 'see the IdP\u2019s log for this request', permanent: false };
}

/** True when the token endpoint refused Drawbridge's client itself (a misconfiguration, not this user's sign-in). */
export function isIdpMisconfiguration(e: unknown): boolean {
  return statusOf(e) !== undefined && describeTokenFailure(e, 'code', undefined).permanent;
}

/** openid-client's codes for an answer that is not a usable discovery document. */
const NOT_A_DOCUMENT_CODES: ReadonlySet<string> = new Set(['OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_INVALID_RESPONSE', 'OAUTH_PARSE_ERROR', 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED']);

/** A failed discovery (or probe of the discovery document) of `issuer` at `url`. */
export function describeDiscoveryFailure(e: unknown, url: string, issuer: string): IdpFailure {
  if (e instanceof oidc.ClientError && e.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
    const cause = e.cause as { attribute?: unknown; body?: { issuer?: unknown } } | undefined;
    const advertised = typeof cause?.body?.issuer === 'string' ? clean(cause.body.issuer) : undefined;
    if (cause?.attribute === 'issuer') {
      return {
        url,
        status: 200,
        error: `issuer mismatch: the IdP announces ${JSON.stringify(advertised ?? '?')}, idp.issuer is ${JSON.stringify(issuer)}`,
        ...(advertised !== undefined ? { advertisedIssuer: advertised } : {}),
        hint: advertised !== undefined ? `set idp.issuer to exactly ${JSON.stringify(advertised)} (every character counts, a trailing slash too)` : 'set idp.issuer to exactly the issuer the IdP announces',
        permanent: true,
      };
    }
  }
  const status = statusOf(e);
  if (status === undefined) {
    // An answer that is no discovery document (not JSON, no issuer...) is a configuration error; a timeout or a
    // connection failure (OAUTH_TIMEOUT, fetch failed) is not.
    const code = (e as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && NOT_A_DOCUMENT_CODES.has(code)) {
      return { url, error: clean((e as Error).message), hint: `${url} does not serve an OpenID Connect discovery document: check idp.issuer`, permanent: true };
    }
    return transportFailure(e, url);
  }
  if (status >= 400) return discoveryStatusFailure(url, status);
  return { url, status, error: clean((e as Error).message), hint: `${url} does not serve an OpenID Connect discovery document: check idp.issuer`, permanent: true };
}

/** The discovery document's URL answered `status` (4xx or 5xx). */
export function discoveryStatusFailure(url: string, status: number): IdpFailure {
  if (isUnavailableStatus(status)) return { url, status, error: `HTTP ${status}`, hint: OUTAGE_HINT, permanent: false };
  return {
    url,
    status,
    error: `HTTP ${status}`,
    hint: 'no discovery document at this URL: idp.issuer must be the issuer identifier itself (Drawbridge appends /.well-known/openid-configuration), e.g. https://sso.example.com/realms/NAME for Keycloak',
    permanent: true,
  };
}
