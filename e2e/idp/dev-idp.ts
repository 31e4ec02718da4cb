// e2e/idp/dev-idp.ts — the development OpenID Provider (oidc-provider@9) used by tests, the demo and
// the browser suite: test accounts, password + one-time-code sign-in, refresh, RP and back-channel logout.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK, JWTPayload } from 'jose';
import Provider, { interactionPolicy, type KoaContext, type Next } from 'oidc-provider';
import { AccountStore, defaultAccounts, type DevAccount, type NewAccount } from './accounts.js';
import { createInteractionHandler, requestsMfa } from './interactions.js';
import { signingKeys, signWith, type SignJwtOptions } from './keys.js';
import { createMemoryAdapter } from './memory-adapter.js';
import { errorPage, layout, signedOutPage } from './views.js';

export type { AccountClaims, DevAccount, NewAccount } from './accounts.js';
export { DEV_OTP } from './accounts.js';
export type { ForeignKey, SignJwtOptions, SigningAlg } from './keys.js';

/** A relying party registered at the dev IdP (confidential, code flow, client_secret_basic or _post). */
export interface DevIdpClient {
  clientId: string;
  /** Not needed by a private_key_jwt client. */
  clientSecret?: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Where back-channel logout tokens are POSTed (with `sid`: backchannel_logout_session_required). */
  backchannelLogoutUri?: string;
  // Client and token personas (issue 13).
  /**
   * The one way this client may authenticate at the token endpoint, as most IdPs enforce it: any other is answered
   * 401 `unauthorized_client`. Unset: registered as client_secret_basic, and client_secret_post works too
   * (oidc-provider treats them alike). `private_key_jwt` needs `jwks`.
   */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** The client's public keys (private_key_jwt client assertions). */
  jwks?: { keys: JWK[] };
  /** `id_token_signed_response_alg` (HS256: signed with the client secret; needs it in `idTokenSigningAlgs`). Default RS256. */
  idTokenSignedResponseAlg?: string;
}

/** Options of {@link startDevIdp}. */
export interface DevIdpOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  clients: DevIdpClient[];
  /** Access token lifetime in seconds (default 300); set it short to force refreshes. */
  accessTokenTtl?: number;
  /** ID token lifetime in seconds (default: the access token's). */
  idTokenTtl?: number;
  /** Accounts added to (or replacing, by login) the default ones. */
  accounts?: NewAccount[];
  /**
   * Where grants, sessions and tokens are kept (default: a fresh `createMemoryAdapter()`). Pass the same one to an
   * IdP restarted on the same port and its refresh tokens stay valid, as with an IdP backed by a database.
   */
  adapter?: ReturnType<typeof createMemoryAdapter>;
  /** Default true. false: no RP-initiated logout — the discovery document names no end_session_endpoint. */
  endSession?: boolean;
  // Client and token personas (issue 13).
  /** ID token algorithms the IdP may use and announces (e.g. add HS256); default RS256 and ES256 (its keys). */
  idTokenSigningAlgs?: string[];
  /** Rewrites the discovery document before it is served (announce other algorithms or auth methods, drop a list). */
  discoveryDocument?: (document: Record<string, unknown>) => Record<string, unknown>;
  /**
   * Rewrites each successful token endpoint answer before it is sent: a broken or malicious token endpoint (a forged
   * `id_token`, say). Called for every grant; return the body unchanged to pass it through.
   */
  tokenResponse?: (body: Record<string, unknown>, context: { grantType: string; clientId: string }) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Back-channel logout tokens as the drafts (and many deployed IdPs) make them: `typ: JWT` and no `exp`. */
  draftLogoutTokens?: boolean;
  /** How ID tokens and refresh answers are shaped, to mimic a real provider's conventions (see {@link ClaimShapeOptions}). */
  claimShape?: ClaimShapeOptions;
}

/**
 * Claim-shape personas: the conventions of real providers that a relying party must cope with. Each option changes
 * what the dev IdP issues, nothing else.
 */
export interface ClaimShapeOptions {
  /** Refresh answers carry no ID token (OIDC Core §12.2 allows it; many providers do so). */
  noIdTokenOnRefresh?: boolean;
  /** Claims released at the userinfo endpoint only, never in an ID token (e.g. `['groups']`, as Okta's default). */
  userinfoOnlyClaims?: string[];
  /** More claim names released with the `profile` scope (e.g. `realm_access`, `https://example.com/groups`). */
  releaseClaims?: string[];
  /** Replaces `auth_time` in every ID token (`0`, as some providers send); `null` leaves it out. */
  authTime?: number | null;
  /** The `amr` of a password sign-in, instead of `['pwd']` (e.g. `['pwd', 'webauthn']`). */
  passwordAmr?: string[];
  /** acr_values are ignored (never a one-time code asked for them) and ID tokens carry no `acr`. */
  ignoreAcrValues?: boolean;
}

/** Options of `backchannelLogout`. */
export interface BackchannelLogoutOptions {
  /** The token's `sid`; default: the sid of the account's latest sign-in at that client, if any; `null`: sub only. */
  sid?: string | null;
  /** Only this client. */
  clientId?: string;
}

/** A running dev IdP. */
export interface DevIdp {
  /** `http://127.0.0.1:PORT`, also the URL it listens on. */
  issuer: string;
  port: number;
  /** Closes the server and every socket; safe to call twice. */
  close(): Promise<void>;
  /** Live accounts by login. */
  accounts: ReadonlyMap<string, DevAccount>;
  /** Changes an account's claims (undefined removes one); the next ID token, refresh or userinfo shows it. */
  updateAccount(login: string, patch: Record<string, unknown>): DevAccount;
  addAccount(account: NewAccount): DevAccount;
  /** Sends a real logout token (sub, plus sid) for the account to each client with a backchannelLogoutUri; resolves with their HTTP statuses (0: unreachable). */
  backchannelLogout(login: string, options?: BackchannelLogoutOptions): Promise<number[]>;
  /** Signs `payload` as given with the IdP's published key (RS256 default, ES256), or as told. */
  signJwt(payload: JWTPayload, options?: SignJwtOptions): Promise<string>;
  /** A logout token with defaults (iss, aud = first client, iat, exp, jti, events; typ logout+jwt) overridden by `claims`; `undefined` removes a claim. */
  signLogoutToken(claims?: Record<string, unknown>, options?: SignJwtOptions): Promise<string>;
  /** The public JWKS published at the IdP's jwks_uri. */
  jwks: { keys: JWK[] };
  /** Every logout token `backchannelLogout` sent, oldest first (tests replay them). */
  logoutTokensSent: string[];
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
// One cookie key per process: IdPs restarted within a test run still accept their earlier cookies.
const COOKIE_KEYS = [randomBytes(32).toString('base64url')];
const DAY = 24 * 60 * 60;

/** Starts a dev IdP listening on `host:port` with the default accounts (alice, bob, carol, dave, eve, frank, grace). */
export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const host = options.host ?? '127.0.0.1';
  const keys = await signingKeys();
  const accounts = new AccountStore([...defaultAccounts(), ...(options.accounts ?? [])]);
  const sockets = new Set<Socket>();
  let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${issuerHost(host)}:${port}`;

  // sub → clientId → sids handed out in ID tokens, so a back-channel logout can name the sessions.
  const knownSids = new Map<string, Map<string, Set<string>>>();
  const provider = new Provider(issuer, configuration(options, accounts, keys.map((k) => k.privateJwk)));
  // Every ID token carries `sid` (oidc-provider only adds it for clients registered for back-channel logout).
  provider.Client.prototype.includeSid = () => true;
  applyClaimShape(provider, options.claimShape);
  provider.use(endSessionWithoutConfirmation(issuer));
  provider.use(personaMiddleware(options));
  provider.on('authorization.success', (ctx: KoaContext) => {
    const { session, client } = ctx.oidc;
    const sid = client && session.sidFor(client.clientId);
    if (!session.accountId || !client || !sid) return;
    const byClient = knownSids.get(session.accountId) ?? new Map<string, Set<string>>();
    const sids = byClient.get(client.clientId) ?? new Set<string>();
    sids.delete(sid); // re-added last: the latest sign-in's sid is the one a logout names by default
    knownSids.set(session.accountId, byClient.set(client.clientId, sids.add(sid)));
  });
  provider.on('end_session.success', (ctx: KoaContext) => {
    const { session } = ctx.oidc;
    const byClient = session.accountId ? knownSids.get(session.accountId) : undefined;
    for (const [clientId, { sid }] of Object.entries(session.authorizations ?? {})) if (sid) byClient?.get(clientId)?.delete(sid);
  });
  provider.on('server_error', (_ctx: KoaContext, error: Error) => console.error('dev IdP: server error:', error));

  const interactions = createInteractionHandler(provider, accounts, {
    ...(options.claimShape?.passwordAmr ? { passwordAmr: options.claimShape.passwordAmr } : {}),
    ...(options.claimShape?.ignoreAcrValues ? { ignoreAcrValues: true } : {}),
  });
  const callback = provider.callback();
  handle = (req, res) => {
    interactions(req, res)
      .then((handled) => (handled ? undefined : callback(req, res)))
      .catch((error: unknown) => {
        console.error('dev IdP: request failed:', error);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end(errorPage({ error: 'server error' }));
        else res.destroy();
      });
  };

  async function issueLogoutToken(clientId: string, sub: string, sid: string | undefined): Promise<string> {
    const client = await provider.Client.find(clientId);
    if (!client) throw new Error(`backchannelLogout: unknown client ${clientId}`);
    if (options.draftLogoutTokens) {
      const payload = { iss: issuer, aud: clientId, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), sub, events: { [BACKCHANNEL_EVENT]: {} }, ...(sid ? { sid } : {}) };
      return signWith(keys, payload, { typ: 'JWT' });
    }
    const token = new provider.IdToken({ sub }, { client });
    token.mask = { sub: null };
    token.set('events', { [BACKCHANNEL_EVENT]: {} });
    token.set('jti', randomUUID());
    if (sid) token.set('sid', sid);
    return token.issue({ use: 'logout' });
  }

  let closing: Promise<void> | undefined;
  const logoutTokensSent: string[] = [];
  return {
    issuer,
    logoutTokensSent,
    port,
    accounts: accounts.accounts,
    jwks: { keys: keys.map((k) => k.publicJwk) },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
    updateAccount: (login, patch) => accounts.update(login, patch),
    addAccount: (account) => accounts.add(account),
    async backchannelLogout(login, logoutOptions = {}) {
      const account = accounts.accounts.get(login);
      if (!account) throw new Error(`backchannelLogout: no account ${JSON.stringify(login)}`);
      const { sub } = account.claims;
      const statuses: number[] = [];
      for (const client of options.clients) {
        if (!client.backchannelLogoutUri || (logoutOptions.clientId && logoutOptions.clientId !== client.clientId)) continue;
        const known = knownSids.get(sub)?.get(client.clientId);
        const latest = known ? [...known].at(-1) : undefined;
        const sid = logoutOptions.sid === null ? undefined : (logoutOptions.sid ?? latest);
        const logoutToken = await issueLogoutToken(client.clientId, sub, sid);
        logoutTokensSent.push(logoutToken);
        statuses.push(await postLogoutToken(client.backchannelLogoutUri, logoutToken));
        if (sid) known?.delete(sid);
      }
      return statuses;
    },
    signJwt: (payload, signOptions) => signWith(keys, payload, signOptions),
    signLogoutToken(claims = {}, signOptions = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        iss: issuer,
        aud: options.clients[0]?.clientId,
        iat: now,
        exp: now + 120,
        jti: randomUUID(),
        events: { [BACKCHANNEL_EVENT]: {} },
        ...claims,
      };
      for (const [claim, value] of Object.entries(payload)) if (value === undefined) delete payload[claim];
      return signWith(keys, payload, { ...signOptions, typ: signOptions.typ === undefined ? 'logout+jwt' : signOptions.typ });
    },
  };
}

function configuration(options: DevIdpOptions, accounts: AccountStore, privateJwks: JWK[]) {
  const accessTokenTtl = options.accessTokenTtl ?? 300;
  const policy = interactionPolicy.base();
  // `acr_values=mfa` (voluntary in OIDC) is honoured like an essential request: no mfa session, no skipping the forms.
  if (!options.claimShape?.ignoreAcrValues) {
    policy.get('login')?.checks.add(
      new interactionPolicy.Check('acr_mfa', 'a multi-factor sign-in was requested', (ctx) => requestsMfa(ctx.oidc.params.acr_values) && ctx.oidc.acr !== 'mfa'),
    );
  }
  return {
    adapter: options.adapter ?? createMemoryAdapter(),
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      ...(client.clientSecret !== undefined ? { client_secret: client.clientSecret } : {}),
      redirect_uris: client.redirectUris,
      post_logout_redirect_uris: client.postLogoutRedirectUris ?? [],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: client.tokenEndpointAuthMethod === 'private_key_jwt' ? 'private_key_jwt' : 'client_secret_basic',
      ...(client.jwks ? { jwks: client.jwks } : {}),
      ...(client.idTokenSignedResponseAlg ? { id_token_signed_response_alg: client.idTokenSignedResponseAlg } : {}),
      require_auth_time: true,
      ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    })),
    jwks: { keys: privateJwks },
    cookies: {
      names: { session: 'idp_session', interaction: 'idp_interaction', resume: 'idp_interaction_resume' },
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
      keys: COOKIE_KEYS,
    },
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups', 'given_name', 'family_name', 'nickname', 'picture', 'locale', 'zoneinfo', 'updated_at', 'department', 'roles', ...(options.claimShape?.releaseClaims ?? [])],
    },
    conformIdTokenClaims: false,
    ...(options.idTokenSigningAlgs ? { enabledJWA: { idTokenSigningAlgValues: options.idTokenSigningAlgs } } : {}),
    acrValues: ['pwd', 'mfa'],
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      resourceIndicators: { enabled: false },
      revocation: { enabled: true, allowedPolicy: async (_ctx: KoaContext, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId },
      rpInitiatedLogout: {
        enabled: options.endSession !== false,
        // Only reached when the automatic confirmation below failed: a plain button still signs out.
        async logoutSource(ctx: KoaContext, form: string) {
          ctx.type = 'html';
          ctx.body = layout('Sign out', `<h1>Sign out</h1>\n${form}\n<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
        },
        async postLogoutSuccessSource(ctx: KoaContext) {
          ctx.type = 'html';
          ctx.body = signedOutPage();
        },
      },
    },
    pkce: { required: () => true },
    issueRefreshToken: async () => true,
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: options.idTokenTtl ?? accessTokenTtl,
      RefreshToken: 14 * DAY,
      Interaction: 60 * 60,
      Session: 14 * DAY,
      Grant: 14 * DAY,
    },
    interactions: { policy, url: (_ctx: KoaContext, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    clientBasedCORS: () => false,
    // The relying parties of a dev IdP live on loopback, which oidc-provider's SSRF guard (its own
    // dispatcher refusing special-use addresses) would block for back-channel logout calls.
    fetch: (url: string | URL, init: RequestInit & { dispatcher?: unknown }) => {
      const { dispatcher: _ssrfGuard, ...rest } = init;
      return fetch(url, rest);
    },
    async renderError(ctx: KoaContext, out: Record<string, unknown>) {
      ctx.type = 'html';
      ctx.body = errorPage(out);
    },
    findAccount(_ctx: KoaContext, sub: string) {
      const account = accounts.bySub(sub);
      const userinfoOnly = options.claimShape?.userinfoOnlyClaims ?? [];
      // Claims are read at issue time, so updateAccount shows in the next token.
      return (
        account && {
          accountId: sub,
          claims: (use: string) => {
            const claims: Record<string, unknown> = { ...account.claims };
            if (use === 'id_token') for (const claim of userinfoOnly) delete claims[claim];
            return claims;
          },
        }
      );
    },
    // Every client is first-party here: grant whatever OIDC scopes and claims it asks for, so there is no consent page.
    async loadExistingGrant(ctx: KoaContext) {
      const { session, client, result, provider } = ctx.oidc;
      if (!session.accountId || !client) return undefined;
      const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const existing = grantId ? await provider.Grant.find(grantId) : undefined;
      const grant = existing?.accountId === session.accountId ? existing : new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
  };
}

/** Applies {@link ClaimShapeOptions} that act on what oidc-provider issues (ID token payloads, token answers). */
function applyClaimShape(provider: Provider, shape: ClaimShapeOptions | undefined): void {
  if (!shape) return;
  if (shape.authTime !== undefined || shape.ignoreAcrValues) {
    // auth_time and acr come from the IdP's session, not the account: rewritten in the payload of each ID token.
    const idToken = provider.IdToken.prototype as { payload(): Promise<Record<string, unknown>> };
    const payload = idToken.payload;
    idToken.payload = async function shapedPayload(this: unknown) {
      const claims = await payload.call(this);
      if ('auth_time' in claims && shape.authTime !== undefined) {
        if (shape.authTime === null) delete claims.auth_time;
        else claims.auth_time = shape.authTime;
      }
      if (shape.ignoreAcrValues) delete claims.acr;
      return claims;
    };
  }
  if (shape.noIdTokenOnRefresh) {
    provider.use(async (ctx: KoaContext, next: Next) => {
      await next();
      const body = ctx.body as Record<string, unknown> | undefined;
      if (ctx.oidc?.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token' && body && typeof body === 'object' && 'id_token' in body) delete body.id_token;
    });
  }
}

// Routes where oidc-provider answers with a sign-out confirmation page: RP-initiated logout, and the
// resumed authorization of a browser that signed in as another account (old session ends first).
const CONFIRMING_ROUTES = new Set(['end_session', 'resume']);

/**
 * Sign-out without the confirmation click: when oidc-provider renders its confirmation step (a button,
 * or a form auto-submitted by script), this posts the confirmation (xsrf + logout=yes) to the IdP
 * itself with the browser's cookies and returns its answer instead (303 to post_logout_redirect_uri or
 * back to the authorization, cleared session cookie). Works for cookie-jar clients and under any CSP.
 */
function endSessionWithoutConfirmation(issuer: string) {
  return async function autoConfirmLogout(ctx: KoaContext, next: Next): Promise<void> {
    await next();
    if (ctx.method !== 'GET' || !CONFIRMING_ROUTES.has(ctx.oidc?.route) || ctx.status !== 200) return;
    const secret = ctx.oidc.session?.state?.secret;
    if (!secret) return;
    const cookies = new Map<string, string>();
    for (const part of String(ctx.headers.cookie ?? '').split(';')) addCookie(cookies, part);
    const setCookie = ctx.response.get('set-cookie');
    for (const header of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) addCookie(cookies, header.split(';')[0] ?? '');
    const confirm = await fetch(`${issuer}/session/end/confirm`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
      body: new URLSearchParams({ xsrf: secret, logout: 'yes' }),
    });
    await confirm.arrayBuffer();
    const location = confirm.headers.get('location');
    if (confirm.status !== 303 || !location) {
      console.error(`dev IdP: automatic logout confirmation answered ${confirm.status}; showing the sign-out button instead`);
      return;
    }
    ctx.set('set-cookie', confirm.headers.getSetCookie());
    ctx.status = 303;
    ctx.redirect(location);
  };
}

/**
 * The client and token personas: a client held to one authentication method (answered 401 unauthorized_client
 * otherwise, after oidc-provider, which takes basic and post alike, has run), the discovery document and token
 * answers rewritten as options say.
 */
function personaMiddleware(options: DevIdpOptions) {
  const strict = new Map(options.clients.filter((c) => c.tokenEndpointAuthMethod).map((c) => [c.clientId, c.tokenEndpointAuthMethod!]));
  return async function persona(ctx: KoaContext, next: Next): Promise<void> {
    await next();
    const route = ctx.oidc?.route;
    if (route === 'discovery' && options.discoveryDocument && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = options.discoveryDocument({ ...(ctx.body as Record<string, unknown>) });
      return;
    }
    if (route !== 'token') return;
    const clientId: string | undefined = ctx.oidc.client?.clientId;
    const required = clientId ? strict.get(clientId) : undefined;
    const params = (ctx.oidc.params ?? {}) as Record<string, unknown>;
    const used = ctx.headers.authorization ? 'client_secret_basic' : params.client_secret ? 'client_secret_post' : params.client_assertion ? 'private_key_jwt' : 'none';
    if (required && used !== required) {
      ctx.status = 401;
      ctx.type = 'json';
      ctx.body = { error: 'unauthorized_client', error_description: `client authentication method ${used} is not allowed for this client (it is registered for ${required})` };
      return;
    }
    if (options.tokenResponse && ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && clientId) {
      ctx.body = await options.tokenResponse({ ...(ctx.body as Record<string, unknown>) }, { grantType: String(params.grant_type ?? ''), clientId });
    }
  };
}

function addCookie(cookies: Map<string, string>, pair: string): void {
  const eq = pair.indexOf('=');
  if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
}

async function postLogoutToken(uri: string, logoutToken: string): Promise<number> {
  try {
    const response = await fetch(uri, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: logoutToken }),
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

function issuerHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
