// oidc/client.ts — the IdP as Drawbridge uses it, through openid-client: discovery (retried with
// backoff, never blocking start), client authentication (basic, post, private_key_jwt), authorization URLs, the code
// exchange and refresh (every ID token's signature checked against the IdP's JWKS), end-session, and a periodic probe
// that /readyz reports. Every failure is logged with the URL, the IdP's status and error, and a hint.
import * as oidc from 'openid-client';
import { DrawbridgeError, wrap } from '../errors.js';
import type { Config } from '../schema/config.js';
import type { Logger } from '../telemetry/logger.js';
import { chooseAuthMethod, clientAuthentication, type ClientKey, type TokenEndpointAuthMethod } from './client-auth.js';
import { clean, describeDiscoveryFailure, oauthError, describeTokenFailure, discoveryStatusFailure, discoveryUrl, failureFields, type IdpFailure } from './diagnose.js';
import { idTokenAlgorithms, IdTokenRejected, verifyIdTokenSignature, type IdTokenAlgorithms } from './id-token.js';
import { JwksCache } from './jwks.js';

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

export interface OidcClientOptions {
  /** The clock token expiry times are computed with: the one sessions and refresh use (tests move it). */
  now?: () => number;
  /** idp.privateKeyFile, loaded (private_key_jwt). */
  clientKey?: ClientKey;
  /** How often the IdP is probed (discovery document and JWKS) for /readyz; default 30 s. */
  probeIntervalMs?: number;
}

/** What /readyz says about the IdP. */
export interface IdpHealth {
  ready: boolean;
  /** The latest failure while not ready (discovery or probe). */
  problem?: IdpFailure;
}

const MAX_BACKOFF_MS = 30_000;
const REACHABLE_FOR_MS = 2_000;
const PROBE_TIMEOUT_MS = 2_000;
/** Each request of the periodic probe. */
const HEALTH_PROBE_TIMEOUT_MS = 5_000;
export const DEFAULT_PROBE_INTERVAL_MS = 30_000;

/** One IdP. `start()` returns at once; `ready` turns true when discovery succeeded. */
export class OidcClient {
  /**
   * The IdP's keys, one cache per kind of token verified with them: an unknown `kid` in a bearer token (anyone can
   * send one) refetches and cools down the bearer cache only, never the one back-channel logouts or sign-ins use.
   */
  readonly jwks = Object.freeze({ idTokens: new JwksCache(), logout: new JwksCache(), bearer: new JwksCache() });
  private config?: oidc.Configuration;
  private timer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  private closed = false;
  private lastContact = 0;
  private attempts = 0;
  private firstAttempt?: Promise<void>;
  private auth?: oidc.ClientAuth;
  private method?: TokenEndpointAuthMethod;
  private algorithms: IdTokenAlgorithms = { asymmetric: [], hmac: [] };
  /** The latest probe (or discovery) succeeded, at `probedAt` (Date.now). */
  private probeOk = false;
  private probedAt = 0;
  private probing?: Promise<boolean>;
  private problem?: IdpFailure;
  private readonly now: () => number;
  private readonly clientKey: ClientKey | undefined;
  private readonly probeIntervalMs: number;

  constructor(
    private readonly idp: Config['idp'],
    readonly redirectUri: string,
    private readonly logger: Logger,
    options: OidcClientOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.clientKey = options.clientKey;
    this.probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  }

  get ready(): boolean {
    return this.config !== undefined;
  }

  get issuer(): string {
    return this.config?.serverMetadata().issuer ?? this.idp.issuer;
  }

  /** The token endpoint authentication in use (after discovery). */
  get tokenEndpointAuthMethod(): TokenEndpointAuthMethod | undefined {
    return this.method;
  }

  /**
   * Whether the IdP answered its latest probe, made at most a few intervals ago (the discovery document and the JWKS,
   * every probeIntervalMs): what /readyz reports. False before discovery.
   */
  health(): IdpHealth {
    const fresh = Date.now() - this.probedAt <= 3 * this.probeIntervalMs + 2 * HEALTH_PROBE_TIMEOUT_MS;
    const ready = this.config !== undefined && this.probeOk && fresh;
    if (ready) return { ready };
    const problem = this.problem ?? (this.config && !fresh ? { error: 'the IdP has not been probed recently', hint: 'the event loop is blocked, or the probe hangs', permanent: false } : undefined);
    return { ready, ...(problem ? { problem } : {}) };
  }

  /**
   * The configuration error that keeps discovery failing (issuer mismatch, no discovery document at idp.issuer, an
   * untrusted certificate): sign-in pages then say an administrator must fix it instead of "try again later".
   */
  get misconfiguration(): IdpFailure | undefined {
    return !this.config && this.problem?.permanent ? this.problem : undefined;
  }

  /** Starts discovery in the background; resolves after the first attempt (success or not). */
  start(): Promise<void> {
    this.firstAttempt ??= this.discover();
    return this.firstAttempt;
  }

  private async discover(): Promise<void> {
    if (this.closed) return;
    this.attempts++;
    const url = discoveryUrl(this.idp.issuer);
    try {
      const options: oidc.DiscoveryRequestOptions = { timeout: 5 };
      if (this.idp.allowInsecureHttp) options.execute = [oidc.allowInsecureRequests];
      const metadata: Partial<oidc.ClientMetadata> = { redirect_uris: [this.redirectUri] };
      if (this.idp.clientSecret) metadata.client_secret = this.idp.clientSecret;
      // The method is chosen from the discovery document, which this call fetches: the authentication is looked up
      // at each token request.
      const authenticate: oidc.ClientAuth = (as, client, body, headers) => {
        if (!this.auth) throw new DrawbridgeError('DRB_IDP_UNAVAILABLE', 'the identity provider has not been discovered yet');
        return this.auth(as, client, body, headers);
      };
      const config = await oidc.discovery(new URL(this.idp.issuer), this.idp.clientId, metadata, authenticate, options);
      if (this.closed) return;
      const meta = config.serverMetadata();
      const choice = chooseAuthMethod(this.idp.tokenEndpointAuthMethod, meta.token_endpoint_auth_methods_supported);
      this.auth = clientAuthentication(choice.method, this.idp.clientSecret, this.clientKey);
      this.method = choice.method;
      this.algorithms = idTokenAlgorithms(meta.id_token_signing_alg_values_supported, this.idp.clientSecret);
      this.config = config;
      this.lastContact = Date.now();
      this.probeOk = true;
      this.probedAt = Date.now();
      this.problem = undefined;
      this.logger.info({
        event: 'idp-discovery',
        result: 'success',
        issuer: this.idp.issuer,
        url,
        attempts: this.attempts,
        tokenEndpointAuthMethod: choice.method,
        idTokenAlgorithms: [...this.algorithms.asymmetric, ...this.algorithms.hmac],
      });
      if (choice.warning) this.logger.warn({ event: 'idp-config-warning', url, error: choice.warning, hint: 'set idp.tokenEndpointAuthMethod to a method the client is registered with at the IdP' });
      if (this.algorithms.asymmetric.length + this.algorithms.hmac.length === 0) {
        this.logger.error({
          event: 'idp-config-warning',
          url,
          error: `the IdP announces no ID token algorithm Drawbridge verifies (id_token_signing_alg_values_supported: ${(meta.id_token_signing_alg_values_supported ?? []).join(', ')}): every sign-in will fail`,
          hint: 'have the IdP sign ID tokens with RS256 or ES256 (HS256 only with idp.clientSecret)',
        });
      }
      this.scheduleProbe();
    } catch (e) {
      const failure = describeDiscoveryFailure(e, url, this.idp.issuer);
      this.problem = failure;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempts - 1, 6));
      this.logger.log(failure.permanent ? 'error' : 'warn', { event: 'idp-discovery', result: 'failure', issuer: this.idp.issuer, ...failureFields(failure), retryInMs: delay });
      if (!this.closed) {
        this.timer = setTimeout(() => void this.discover(), delay);
        this.timer.unref();
      }
    }
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = setTimeout(() => void this.probe().finally(() => this.scheduleProbe()), this.probeIntervalMs);
    this.probeTimer.unref();
  }

  /**
   * Asks the IdP for its discovery document and its JWKS now (one probe at a time; concurrent callers share it) and
   * records the outcome for /readyz. Logs when the IdP stops or starts answering. Resolves true when it answered.
   */
  probe(): Promise<boolean> {
    this.probing ??= this.runProbe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async runProbe(): Promise<boolean> {
    const config = this.config;
    if (!config) return false;
    const url = discoveryUrl(this.idp.issuer);
    let failure: IdpFailure | undefined;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(HEALTH_PROBE_TIMEOUT_MS), headers: { accept: 'application/json' } });
      const body = (await res.json().catch(() => undefined)) as { issuer?: unknown; jwks_uri?: unknown } | undefined;
      const expected = config.serverMetadata().issuer;
      if (!res.ok) failure = discoveryStatusFailure(url, res.status);
      else if (body?.issuer !== expected) {
        const advertised = typeof body?.issuer === 'string' ? clean(body.issuer) : undefined;
        failure = { url, status: res.status, error: `the IdP now announces issuer ${JSON.stringify(advertised ?? '?')}, not ${JSON.stringify(expected)}`, ...(advertised ? { advertisedIssuer: advertised } : {}), hint: 'the IdP was reconfigured: set idp.issuer to the issuer it announces and restart', permanent: true };
      } else {
        const jwksUri = config.serverMetadata().jwks_uri;
        if (jwksUri) {
          const keys = await fetch(jwksUri, { signal: AbortSignal.timeout(HEALTH_PROBE_TIMEOUT_MS), headers: { accept: 'application/json' } });
          const jwks = (await keys.json().catch(() => undefined)) as { keys?: unknown } | undefined;
          if (!keys.ok) failure = { url: jwksUri, status: keys.status, error: `HTTP ${keys.status}`, hint: 'the IdP\u2019s jwks_uri does not answer: ID tokens cannot be verified, sign-ins fail', permanent: keys.status < 500 && keys.status !== 429 && keys.status !== 408 };
          else if (!Array.isArray(jwks?.keys)) failure = { url: jwksUri, status: keys.status, error: 'not a JWKS', hint: 'the IdP\u2019s jwks_uri does not serve a JWK Set', permanent: true };
        }
      }
    } catch (e) {
      failure = describeDiscoveryFailure(e, url, this.idp.issuer);
    }
    if (this.closed) return false;
    this.probedAt = Date.now();
    const wasOk = this.probeOk;
    if (failure) {
      this.probeOk = false;
      const changed = wasOk || this.problem?.error !== failure.error;
      this.problem = failure;
      if (changed) this.logger.log(failure.permanent ? 'error' : 'warn', { event: 'idp-probe', result: 'failure', ...failureFields(failure) });
      return false;
    }
    this.probeOk = true;
    this.problem = undefined;
    this.lastContact = Date.now();
    if (!wasOk) this.logger.info({ event: 'idp-probe', result: 'success', url });
    return true;
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
      const res = await fetch(discoveryUrl(this.idp.issuer), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
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

  /** The authorization endpoint, for log lines about what it answered. */
  authorizationEndpoint(): string | undefined {
    return this.config?.serverMetadata().authorization_endpoint;
  }

  /**
   * Exchanges the callback's code; verifies state, nonce, PKCE, the ID token's claims and (when asked) max_age
   * (openid-client), then the ID token's signature (the IdP's JWKS, its announced algorithms).
   */
  async exchange(callbackUrl: URL, checks: { state: string; nonce: string; codeVerifier: string; maxAge?: number }, context: { requestId?: string } = {}): Promise<TokenSet> {
    const config = this.requireConfig();
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
        ...(checks.maxAge !== undefined ? { maxAge: checks.maxAge } : {}),
      });
    } catch (e) {
      this.tokenFailure('code', e, context.requestId);
      throw e;
    }
    this.lastContact = Date.now();
    const set = toTokenSet(tokens, this.now());
    if (!set.claims || !set.idToken) throw wrap('reading the ID token', new Error('the token response has no ID token'), 'DRB_SIGN_IN_FAILED');
    await this.verifyIdToken(set.idToken, 'authorization_code', context.requestId);
    return set;
  }

  /** Uses a refresh token; rejects when the IdP refuses it (the caller ends the session) or its ID token is refused. */
  async refresh(refreshToken: string, context: { requestId?: string } = {}): Promise<TokenSet> {
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.refreshTokenGrant(this.requireConfig(), refreshToken);
    } catch (e) {
      this.tokenFailure('refresh', e, context.requestId);
      throw e;
    }
    this.lastContact = Date.now();
    const set = toTokenSet(tokens, this.now());
    if (set.idToken) await this.verifyIdToken(set.idToken, 'refresh_token', context.requestId);
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

  /** The signature check of every ID token; logs what was refused, or that the keys could not be fetched. */
  private async verifyIdToken(idToken: string, grant: string, requestId: string | undefined): Promise<void> {
    const jwksUri = this.jwksUri();
    try {
      await verifyIdTokenSignature(idToken, { jwks: this.jwks.idTokens.keys(jwksUri), jwksUri, algorithms: this.algorithms, clientSecret: this.idp.clientSecret });
    } catch (e) {
      if (e instanceof IdTokenRejected) {
        this.logger.error({ event: 'idp-id-token-error', grant, ...(requestId ? { requestId } : {}), url: jwksUri.href, error: e.message, alg: e.alg ?? '', kid: e.kid ?? '', hint: e.hint });
      } else {
        this.logger.warn({ event: 'idp-jwks-error', grant, ...(requestId ? { requestId } : {}), url: jwksUri.href, error: (e as Error).message, hint: 'the IdP\u2019s keys (jwks_uri) could not be fetched: the ID token cannot be verified until they can' });
      }
      throw e;
    }
  }

  /** Logs a failed token request: URL, status, OAuth error, description and a hint (error level for a misconfiguration). */
  private tokenFailure(step: 'code' | 'refresh', e: unknown, requestId: string | undefined): void {
    const failure = describeTokenFailure(e, step, this.config?.serverMetadata().token_endpoint);
    // A refused refresh token is the IdP ending a user's session, not a failure of the IdP or of the configuration.
    const level = failure.permanent ? 'error' : step === 'refresh' && failure.error === 'invalid_grant' ? 'info' : 'warn';
    this.logger.log(level, {
      event: 'idp-token-error',
      grant: step === 'code' ? 'authorization_code' : 'refresh_token',
      ...(requestId ? { requestId } : {}),
      ...(this.method ? { tokenEndpointAuthMethod: this.method } : {}),
      ...failureFields(failure),
    });
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

  /** The IdP's jwks_uri (ID tokens, bearer tokens, logout tokens). */
  jwksUri(): URL {
    const uri = this.requireConfig().serverMetadata().jwks_uri;
    if (!uri) throw new DrawbridgeError('DRB_IDP_UNAVAILABLE', 'the identity provider publishes no jwks_uri');
    return new URL(uri);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
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
  // The IdP's keys could not be fetched to check an ID token (oidc/id-token.ts).
  if (e instanceof DrawbridgeError) return e.code === 'DRB_IDP_UNAVAILABLE';
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

export function idpErrorDetail(e: unknown): IdpErrorDetail {
  const detail: IdpErrorDetail = {};
  const status = idpErrorStatus(e);
  if (status !== undefined) detail.idpStatus = status;
  // Text from the IdP: bounded, one line (diagnose.ts clean).
  const { error, description } = oauthError(e);
  if (error) detail.idpError = error;
  if (description) detail.idpErrorDescription = description;
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
