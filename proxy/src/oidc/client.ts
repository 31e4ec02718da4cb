// oidc/client.ts — the IdP as Drawbridge uses it, through openid-client: discovery (retried with
// backoff, never blocking start), authorization URLs, the code exchange, refresh and end-session.
import * as oidc from 'openid-client';
import { DrawbridgeError, wrap } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../telemetry/logger.js';

export interface AuthorizationRequest {
  state: string;
  nonce: string;
  codeChallenge: string;
  maxAge?: number;
  prompt?: 'login';
  acrValues?: readonly string[];
}

export interface TokenSet {
  /** The ID token's claims; a refresh response may carry no ID token (then undefined). */
  claims?: Record<string, unknown>;
  idToken?: string;
  accessToken?: string;
  refreshToken?: string;
  /** ms since epoch. */
  accessTokenExpiresAt?: number;
  /** ms since epoch: when to refresh (80% of the access token's life). */
  refreshAt?: number;
}

const MAX_BACKOFF_MS = 30_000;
const REACHABLE_FOR_MS = 2_000;
const PROBE_TIMEOUT_MS = 2_000;

/** One IdP. `start()` returns at once; `ready` turns true when discovery succeeded. */
export class OidcClient {
  private config?: oidc.Configuration;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private lastContact = 0;
  private attempts = 0;
  private firstAttempt?: Promise<void>;

  constructor(
    private readonly idp: Config['idp'],
    readonly redirectUri: string,
    private readonly logger: Logger,
    /** The clock token expiry times are computed with: the one sessions and refresh use (tests move it). */
    private readonly now: () => number = Date.now,
  ) {}

  get ready(): boolean {
    return this.config !== undefined;
  }

  get issuer(): string {
    return this.config?.serverMetadata().issuer ?? this.idp.issuer;
  }

  /** Starts discovery in the background; resolves after the first attempt (success or not). */
  start(): Promise<void> {
    this.firstAttempt ??= this.discover();
    return this.firstAttempt;
  }

  private async discover(): Promise<void> {
    if (this.closed) return;
    this.attempts++;
    try {
      const options: oidc.DiscoveryRequestOptions = { timeout: 5 };
      if (this.idp.allowInsecureHttp) options.execute = [oidc.allowInsecureRequests];
      const config = await oidc.discovery(new URL(this.idp.issuer), this.idp.clientId, { client_secret: this.idp.clientSecret, redirect_uris: [this.redirectUri] }, undefined, options);
      if (this.closed) return;
      this.config = config;
      this.lastContact = Date.now();
      this.logger.info({ event: 'idp-discovery', result: 'success', issuer: this.idp.issuer, attempts: this.attempts });
    } catch (e) {
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempts - 1, 6));
      this.logger.warn({ event: 'idp-discovery', result: 'failure', issuer: this.idp.issuer, error: (e as Error).message, retryInMs: delay });
      if (!this.closed) {
        this.timer = setTimeout(() => void this.discover(), delay);
        this.timer.unref();
      }
    }
  }

  private requireConfig(): oidc.Configuration {
    if (!this.config) throw new DrawbridgeError('DRB_IDP_UNAVAILABLE', 'the identity provider has not been discovered yet');
    return this.config;
  }

  /** True when the IdP answered recently or answers its discovery document now (before sending a browser there). */
  async reachable(): Promise<boolean> {
    if (!this.config) return false;
    if (Date.now() - this.lastContact < REACHABLE_FOR_MS) return true;
    try {
      const url = new URL('.well-known/openid-configuration', this.idp.issuer.endsWith('/') ? this.idp.issuer : `${this.idp.issuer}/`);
      const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await res.arrayBuffer();
      if (!res.ok) return false;
      this.lastContact = Date.now();
      return true;
    } catch {
      return false;
    }
  }

  /** The URL to send the browser to (authorization code flow, PKCE S256). */
  authorizationUrl(req: AuthorizationRequest): URL {
    const params: Record<string, string> = {
      redirect_uri: this.redirectUri,
      scope: this.idp.scopes.join(' '),
      response_type: 'code',
      state: req.state,
      nonce: req.nonce,
      code_challenge: req.codeChallenge,
      code_challenge_method: 'S256',
    };
    if (req.maxAge !== undefined) params.max_age = String(req.maxAge);
    if (req.prompt) params.prompt = req.prompt;
    if (req.acrValues && req.acrValues.length > 0) params.acr_values = req.acrValues.join(' ');
    return oidc.buildAuthorizationUrl(this.requireConfig(), params);
  }

  /** Exchanges the callback's code; verifies state, nonce, PKCE, the ID token and (when asked) max_age. */
  async exchange(callbackUrl: URL, checks: { state: string; nonce: string; codeVerifier: string; maxAge?: number }): Promise<TokenSet> {
    const config = this.requireConfig();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      pkceCodeVerifier: checks.codeVerifier,
      idTokenExpected: true,
      ...(checks.maxAge !== undefined ? { maxAge: checks.maxAge } : {}),
    });
    this.lastContact = Date.now();
    const set = toTokenSet(tokens, this.now());
    if (!set.claims) throw wrap('reading the ID token', new Error('the token response has no ID token'), 'DRB_SIGN_IN_FAILED');
    return set;
  }

  /** Uses a refresh token; rejects when the IdP refuses it (the caller ends the session). */
  async refresh(refreshToken: string): Promise<TokenSet> {
    const tokens = await oidc.refreshTokenGrant(this.requireConfig(), refreshToken);
    this.lastContact = Date.now();
    const set = toTokenSet(tokens, this.now());
    if (!set.refreshToken) set.refreshToken = refreshToken;
    return set;
  }

  /** True when the IdP's discovery document names a userinfo endpoint. */
  get hasUserinfo(): boolean {
    return this.config?.serverMetadata().userinfo_endpoint !== undefined;
  }

  /**
   * The userinfo endpoint's claims for this access token (a JSON answer; a signed one only when the client is
   * registered for it). Whether its `sub` is the expected one is the caller's check (oidc/identity.ts).
   */
  async userinfo(accessToken: string): Promise<Record<string, unknown>> {
    const claims = await oidc.fetchUserInfo(this.requireConfig(), accessToken, oidc.skipSubjectCheck);
    this.lastContact = Date.now();
    return { ...claims };
  }

  /**
   * The IdP's end_session_endpoint URL with id_token_hint, or undefined when the IdP has none. `state` (RP-Initiated
   * Logout 1.0) comes back as a query parameter of `postLogoutRedirectUri`, which itself must stay exactly the
   * registered URI.
   */
  endSessionUrl(idTokenHint: string | undefined, postLogoutRedirectUri: string, state?: string): URL | undefined {
    const config = this.config;
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    const params: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri, client_id: this.idp.clientId };
    if (idTokenHint) params.id_token_hint = idTokenHint;
    if (state) params.state = state;
    return oidc.buildEndSessionUrl(config, params);
  }

  /** Origins the sign-out form's POST may be redirected to (CSP form-action): the IdP's end-session endpoint. */
  formActionOrigins(): string[] {
    const end = this.config?.serverMetadata().end_session_endpoint;
    return [end ? new URL(end).origin : new URL(this.idp.issuer).origin];
  }

  /** The IdP's jwks_uri (bearer tokens, logout tokens). */
  jwksUri(): URL {
    const uri = this.requireConfig().serverMetadata().jwks_uri;
    if (!uri) throw new DrawbridgeError('DRB_IDP_UNAVAILABLE', 'the identity provider publishes no jwks_uri');
    return new URL(uri);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/**
 * The HTTP status of the IdP answer an openid-client error was made from, when it was made from one. openid-client 6
 * (oauth4webapi) reports a non-200 token endpoint answer as: `ResponseBodyError` (a 4xx with a JSON OAuth error
 * body, `status`); `WWWAuthenticateChallengeError` (any answer with a `WWW-Authenticate` challenge, `status`);
 * `ClientError` code `OAUTH_RESPONSE_IS_NOT_JSON` (a 4xx whose body is not JSON, e.g. a gateway's plain-text 429)
 * or else code `OAUTH_RESPONSE_IS_NOT_CONFORM` (every 5xx whatever its body, a 4xx without an OAuth error), both
 * with the fetch `Response` as `cause`.
 */
export function idpErrorStatus(e: unknown): number | undefined {
  if (e instanceof oidc.ResponseBodyError || e instanceof oidc.WWWAuthenticateChallengeError) return e.status;
  if (e instanceof oidc.ClientError && (e.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || e.code === 'OAUTH_RESPONSE_IS_NOT_JSON')) {
    const status = (e.cause as { status?: unknown } | undefined)?.status;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/**
 * An HTTP status with which the IdP (or a proxy in front of it) says "not now" rather than "no": every 5xx, 429 (rate
 * limited) and 408 (it timed out reading the request). The one rule for the callback (`isIdpOutage`) and the refresh
 * (`isIdpRefusal`).
 */
function isUnavailableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * True when a request to the IdP failed because the IdP is unavailable, not because it refused what was sent: the
 * connection failed or timed out, or the IdP (or a proxy in front of it) answered 5xx, 429 or 408. Such a failure is
 * an outage (503, try again later), never a verdict on the sign-in; anything else is.
 */
export function isIdpOutage(e: unknown): boolean {
  if (e === null || typeof e !== 'object') return false;
  const status = idpErrorStatus(e);
  if (status !== undefined) return isUnavailableStatus(status);
  const err = e as { code?: unknown; cause?: { code?: unknown; name?: unknown }; name?: unknown; message?: unknown };
  const code = err.cause?.code ?? err.code ?? '';
  return (
    (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) ||
    // openid-client wraps its own request timeout (a DOMException TimeoutError) as ClientError OAUTH_TIMEOUT.
    err.code === 'OAUTH_TIMEOUT' ||
    err.name === 'TimeoutError' ||
    err.cause?.name === 'TimeoutError' ||
    /fetch failed/i.test(typeof err.message === 'string' ? err.message : '')
  );
}

/**
 * True when the IdP answered and refused what was sent: a 4xx other than 408 and 429, whatever its form (a JSON
 * OAuth error such as `invalid_grant`, a `WWW-Authenticate` challenge such as a 401 `invalid_client`, a plain-text or
 * HTML body). Connection failures, timeouts, 5xx, 408 and 429 are not (`isIdpOutage`); neither is an error that
 * carries no HTTP status (a 200 that failed validation, a bug), which is neither a refusal nor an outage.
 */
export function isIdpRefusal(e: unknown): boolean {
  const status = idpErrorStatus(e);
  return status !== undefined && status >= 400 && status < 500 && !isUnavailableStatus(status);
}

/** What the IdP said in a failed answer, for the log: its status and OAuth error code and description when it gave them. */
export interface IdpErrorDetail {
  idpStatus?: number;
  /** From the JSON body (`error`) or the `WWW-Authenticate` challenge's `error` parameter, e.g. `invalid_client`. */
  idpError?: string;
  idpErrorDescription?: string;
}

const MAX_LOGGED_DESCRIPTION = 200;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

export function idpErrorDetail(e: unknown): IdpErrorDetail {
  const detail: IdpErrorDetail = {};
  const status = idpErrorStatus(e);
  if (status !== undefined) detail.idpStatus = status;
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
  // Text from the IdP: bounded, one line.
  const clean = (v: string) => v.replace(CONTROL_CHARACTERS, ' ').slice(0, MAX_LOGGED_DESCRIPTION);
  if (typeof error === 'string' && error) detail.idpError = clean(error);
  if (typeof description === 'string' && description) detail.idpErrorDescription = clean(description);
  return detail;
}

const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function toTokenSet(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, now: number): TokenSet {
  const claims = tokens.claims();
  const set: TokenSet = claims ? { claims: { ...claims } } : {};
  if (tokens.id_token) set.idToken = tokens.id_token;
  if (tokens.access_token) set.accessToken = tokens.access_token;
  if (tokens.refresh_token) set.refreshToken = tokens.refresh_token;
  const expiresIn = tokens.expiresIn();
  if (expiresIn !== undefined) {
    set.accessTokenExpiresAt = now + expiresIn * 1000;
    set.refreshAt = now + expiresIn * 800;
  }
  return set;
}
