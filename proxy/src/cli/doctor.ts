// cli/doctor.ts — `drawbridge doctor --config FILE`: talks to the configured IdP the way `serve` will (discovery, JWKS,
// the token endpoint with and without the client's credentials, the redirect and post-logout URIs) and prints what it
// found and what to fix. Exit 0 when nothing is wrong (warnings allowed), 1 otherwise. Sends no user's data anywhere.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as oidc from 'openid-client';
import { loadConfigFile } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import type { Config } from '../schema/config.js';
import { chooseAuthMethod, clientAuthentication, loadClientKey, type ClientKey, type TokenEndpointAuthMethod } from '../oidc/client-auth.js';
import { clean, describeTokenFailure, discoveryStatusFailure, discoveryUrl, oauthErrorHint } from '../oidc/diagnose.js';
import { idTokenAlgorithms } from '../oidc/id-token.js';
import { PATHS } from '../pages/paths.js';
import type { CliIo, Command } from './io.js';

const TIMEOUT_MS = 10_000;
/** A code no IdP issued: the token endpoint's answer to it shows whether the client authenticated. */
const PROBE_CODE = 'drawbridge-doctor-probe-not-a-real-code';
const PROBE_VERIFIER = 'drawbridge-doctor-probe-verifier-0123456789abcdef';

type Level = 'ok' | 'warn' | 'FAIL';

/** Collects the findings and prints each as it comes: `ok`, `warn` or `FAIL`, what, and for the last two a fix. */
class Report {
  failures = 0;
  warnings = 0;
  passed = 0;
  constructor(private readonly io: CliIo) {}

  line(level: Level, what: string, fix?: string): void {
    if (level === 'FAIL') this.failures++;
    else if (level === 'warn') this.warnings++;
    else this.passed++;
    this.io.stdout.write(`${level.padEnd(5)} ${what}\n${fix ? `      fix: ${fix}\n` : ''}`);
  }

  info(text: string): void {
    this.io.stdout.write(`      ${text}\n`);
  }
}

type Metadata = oidc.ServerMetadata & Record<string, unknown>;

export const doctor: Command = async (args, io) => {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string', short: 'c' } } });
  const file = values.config ?? positionals[0] ?? io.env.DRAWBRIDGE_CONFIG;
  if (!file) {
    io.stderr.write('usage: drawbridge doctor --config FILE\n');
    return 2;
  }
  const loaded = loadConfigFile(file, io.env);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr.write(`${formatIssue(e)}\n`);
    io.stderr.write(`drawbridge doctor: ${file} is invalid (drawbridge validate ${file} lists the same errors)\n`);
    return 1;
  }
  const report = new Report(io);
  io.stdout.write(`Checking the identity provider of ${file}: ${loaded.config.idp.issuer}\n`);
  await checkIdp(loaded.config, report);
  io.stdout.write(`\n${report.passed} ok, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}, ${report.failures} problem${report.failures === 1 ? '' : 's'}\n`);
  return report.failures > 0 ? 1 : 0;
};

async function get(url: string, init: RequestInit = {}): Promise<{ res: Response; text: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { res, text: await res.text() };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** An error in one line, with what fetch hides in its cause (ECONNREFUSED, a TLS verification code...). */
function reason(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return `${clean((e as Error)?.message ?? String(e))}${detail ? ` (${clean(detail)})` : ''}`;
}

async function checkIdp(config: Config, report: Report): Promise<void> {
  const idp = config.idp;
  const publicOrigin = new URL(config.publicUrl).origin;
  const redirectUri = `${publicOrigin}${PATHS.callback}`;
  const postLogoutUri = `${publicOrigin}${PATHS.signOut}`;

  // 1. Discovery.
  const url = discoveryUrl(idp.issuer);
  let metadata: Metadata;
  try {
    const { res, text } = await get(url, { headers: { accept: 'application/json' } });
    if (!res.ok) {
      const failure = discoveryStatusFailure(url, res.status);
      return report.line('FAIL', `discovery: ${url} answered HTTP ${res.status}`, failure.hint);
    }
    const body = parseJson(text);
    if (!body || typeof body !== 'object' || Array.isArray(body)) return report.line('FAIL', `discovery: ${url} answered, but not with JSON`, 'idp.issuer must be the issuer identifier (Drawbridge appends /.well-known/openid-configuration)');
    metadata = body as Metadata;
  } catch (e) {
    return report.line('FAIL', `discovery: ${url} cannot be reached: ${reason(e)}`, 'check idp.issuer, DNS, the network path and (https) that Node trusts the certificate (NODE_EXTRA_CA_CERTS)');
  }
  // Compared as openid-client compares them (URL-normalized: https://sso.example.com equals https://sso.example.com/).
  if (!sameIssuer(metadata.issuer, idp.issuer)) {
    report.line('FAIL', `issuer: the IdP announces ${JSON.stringify(metadata.issuer)}, idp.issuer is ${JSON.stringify(idp.issuer)}`, `set idp.issuer to exactly ${JSON.stringify(metadata.issuer)} (every character counts, a trailing slash too)`);
  } else {
    report.line('ok', `discovery: ${url} (issuer ${idp.issuer})`);
  }

  // 2. What the document announces.
  for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    if (typeof metadata[key] !== 'string') report.line('FAIL', `the discovery document has no ${key}`, 'this IdP cannot do the OpenID Connect authorization code flow as published: check idp.issuer');
  }
  const insecure = Object.entries(metadata).filter(([k, v]) => k.endsWith('_endpoint') || k === 'jwks_uri' ? typeof v === 'string' && v.startsWith('http:') : false);
  if (insecure.length > 0 && !idp.allowInsecureHttp) report.line('FAIL', `the IdP publishes http:// endpoints (${insecure.map(([k]) => k).join(', ')})`, 'use the IdP over https (idp.allowInsecureHttp is for a local development IdP only)');
  const responseTypes = metadata.response_types_supported;
  if (Array.isArray(responseTypes) && !responseTypes.includes('code')) report.line('FAIL', `the IdP does not announce the code response type (response_types_supported: ${responseTypes.join(', ')})`, 'enable the authorization code flow at the IdP');
  const pkce = metadata.code_challenge_methods_supported;
  if (Array.isArray(pkce) && !pkce.includes('S256')) report.line('FAIL', `the IdP does not announce PKCE S256 (code_challenge_methods_supported: ${pkce.join(', ')})`, 'enable PKCE with S256 at the IdP: Drawbridge always sends it');
  const scopes = metadata.scopes_supported;
  if (Array.isArray(scopes)) {
    const missing = idp.scopes.filter((s) => !scopes.includes(s));
    if (missing.length > 0) report.line('warn', `idp.scopes asks for ${missing.join(', ')}, which the IdP does not list in scopes_supported`, 'check idp.scopes (the IdP may ignore or refuse them)');
  }
  if (typeof metadata.end_session_endpoint !== 'string') {
    report.line('warn', 'the IdP announces no end_session_endpoint', 'sign-out ends the Drawbridge session only; the user stays signed in at the IdP');
  }
  if (metadata.backchannel_logout_supported === true) report.line('ok', `back-channel logout supported: register ${publicOrigin}${PATHS.backchannelLogout} as the client's back-channel logout URI`);

  // 3. Client authentication and ID token algorithms.
  const choice = chooseAuthMethod(idp.tokenEndpointAuthMethod, metadata.token_endpoint_auth_methods_supported);
  if (choice.warning) report.line('warn', `client authentication: ${choice.warning}`, 'set idp.tokenEndpointAuthMethod to the method the client is registered with');
  else report.line('ok', `client authentication: ${choice.method}${idp.tokenEndpointAuthMethod ? '' : ' (the default for what the IdP lists)'}`);
  let clientKey: ClientKey | undefined;
  if (idp.privateKeyFile) {
    try {
      clientKey = await loadClientKey(readFileSync(idp.privateKeyFile, 'utf8'));
      report.line('ok', `client key ${idp.privateKeyFile}: ${clientKey.alg}, kid ${clientKey.kid}; register this public key at the IdP (the client's JWKS):`);
      report.info(JSON.stringify({ keys: [clientKey.publicJwk] }));
      const algs = metadata.token_endpoint_auth_signing_alg_values_supported;
      if (Array.isArray(algs) && !algs.includes(clientKey.alg)) report.line('FAIL', `the IdP does not accept ${clientKey.alg} client assertions (token_endpoint_auth_signing_alg_values_supported: ${algs.join(', ')})`, 'use a key of an algorithm the IdP lists');
    } catch (e) {
      report.line('FAIL', `idp.privateKeyFile ${idp.privateKeyFile}: ${reason(e)}`, 'a PEM private key: RSA (2048 bits or more), EC P-256/384/521 or Ed25519');
    }
  }
  const announced = metadata.id_token_signing_alg_values_supported;
  const algorithms = idTokenAlgorithms(announced, idp.clientSecret);
  const usable = [...algorithms.asymmetric, ...algorithms.hmac];
  if (usable.length === 0) {
    report.line('FAIL', `no ID token algorithm Drawbridge verifies is announced (id_token_signing_alg_values_supported: ${(announced ?? []).join(', ') || 'none'})`, 'have the IdP sign ID tokens with RS256 or ES256 (HS256 only with idp.clientSecret)');
  } else {
    report.line('ok', `ID token signatures verified with ${usable.join(', ')}${algorithms.hmac.length ? ' (HMAC with idp.clientSecret)' : ''}`);
  }

  // 4. The keys.
  if (typeof metadata.jwks_uri === 'string') await checkJwks(metadata.jwks_uri, algorithms.asymmetric, report);

  // 5. The token endpoint, without then with the client's credentials.
  if (typeof metadata.token_endpoint === 'string') {
    await probeTokenEndpoint(metadata.token_endpoint, idp.clientId, redirectUri, report);
    const canAuthenticate = choice.method === 'private_key_jwt' ? clientKey !== undefined : idp.clientSecret !== undefined;
    if (canAuthenticate) await probeClientCredentials(config, metadata, choice.method, clientKey, redirectUri, report);
  }

  // 6. The redirect URI and the post-logout redirect URI, as the IdP judges them.
  if (typeof metadata.authorization_endpoint === 'string') await probeAuthorization(metadata.authorization_endpoint, idp, redirectUri, report);
  if (typeof metadata.end_session_endpoint === 'string') await probeEndSession(metadata.end_session_endpoint, idp.clientId, postLogoutUri, report);
}

function sameIssuer(announced: unknown, configured: string): boolean {
  try {
    return typeof announced === 'string' && new URL(announced).href === new URL(configured).href;
  } catch {
    return false;
  }
}

async function checkJwks(uri: string, asymmetric: readonly string[], report: Report): Promise<void> {
  try {
    const { res, text } = await get(uri, { headers: { accept: 'application/json' } });
    const keys = (parseJson(text) as { keys?: unknown } | undefined)?.keys;
    if (!res.ok) return report.line('FAIL', `jwks_uri ${uri} answered HTTP ${res.status}`, 'the IdP must publish its signing keys: ID tokens cannot be verified without them');
    if (!Array.isArray(keys)) return report.line('FAIL', `jwks_uri ${uri} does not serve a JWK Set`, 'check the IdP');
    const signing = (keys as Array<Record<string, unknown>>).filter((k) => k.use !== 'enc');
    const fits = (k: Record<string, unknown>, alg: string) =>
      typeof k.alg === 'string' ? k.alg === alg : (k.kty === 'RSA' && /^(RS|PS)/.test(alg)) || (k.kty === 'EC' && alg.startsWith('ES')) || (k.kty === 'OKP' && (alg === 'EdDSA' || alg === 'Ed25519'));
    const covered = asymmetric.filter((alg) => signing.some((k) => fits(k, alg)));
    if (asymmetric.length > 0 && covered.length === 0) {
      return report.line('FAIL', `jwks_uri ${uri}: ${keys.length} key(s), none for ${asymmetric.join(', ')}`, 'the IdP publishes no key for the algorithms it announces');
    }
    report.line('ok', `jwks_uri ${uri}: ${keys.length} key(s)${covered.length ? ` for ${covered.join(', ')}` : ''}`);
  } catch (e) {
    report.line('FAIL', `jwks_uri ${uri} cannot be fetched: ${reason(e)}`, 'the IdP must publish its signing keys: ID tokens cannot be verified without them');
  }
}

function probeBody(clientId: string, redirectUri: string): URLSearchParams {
  return new URLSearchParams({ grant_type: 'authorization_code', code: PROBE_CODE, redirect_uri: redirectUri, code_verifier: PROBE_VERIFIER, client_id: clientId });
}

/** Without credentials: the endpoint must answer with an OAuth error (it is there, it speaks OAuth). */
async function probeTokenEndpoint(tokenEndpoint: string, clientId: string, redirectUri: string, report: Report): Promise<void> {
  try {
    const { res, text } = await get(tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: probeBody(clientId, redirectUri) });
    const body = parseJson(text) as { error?: unknown } | undefined;
    const error = typeof body?.error === 'string' ? clean(body.error) : undefined;
    if (res.status >= 500 || res.status === 429) return report.line('FAIL', `token endpoint ${tokenEndpoint} answered HTTP ${res.status}`, 'the IdP is failing or rate-limiting: check it');
    if (res.ok) return report.line('FAIL', `token endpoint ${tokenEndpoint} accepted a made-up code without client credentials`, 'this is not an OAuth token endpoint that can be trusted: check idp.issuer');
    if (!error) return report.line('FAIL', `token endpoint ${tokenEndpoint} answered HTTP ${res.status} without an OAuth error`, res.status === 404 || res.status === 405 ? 'nothing serves token requests there: check idp.issuer' : 'check what answers for the IdP at this URL (a proxy, a login page)');
    report.line('ok', `token endpoint ${tokenEndpoint} answers OAuth errors (without credentials: HTTP ${res.status} ${error})`);
  } catch (e) {
    report.line('FAIL', `token endpoint ${tokenEndpoint} cannot be reached: ${reason(e)}`, 'check the network path to the IdP');
  }
}

/** The error the token endpoint answers a made-up code with, authenticating as `method`. */
async function grantError(config: Config, metadata: Metadata, method: TokenEndpointAuthMethod, key: ClientKey | undefined, redirectUri: string): Promise<unknown> {
  const clientMetadata: Partial<oidc.ClientMetadata> = { redirect_uris: [redirectUri] };
  if (config.idp.clientSecret) clientMetadata.client_secret = config.idp.clientSecret;
  const configuration = new oidc.Configuration(metadata, config.idp.clientId, clientMetadata, clientAuthentication(method, config.idp.clientSecret, key));
  if (config.idp.allowInsecureHttp) oidc.allowInsecureRequests(configuration);
  configuration.timeout = TIMEOUT_MS / 1000;
  try {
    await oidc.genericGrantRequest(configuration, 'authorization_code', { code: PROBE_CODE, redirect_uri: redirectUri, code_verifier: PROBE_VERIFIER });
    return undefined;
  } catch (e) {
    return e;
  }
}

/** What a made-up code tells about the credentials: invalid_grant means the client authenticated, invalid_client not. */
function verdict(e: unknown): 'authenticated' | 'refused' | 'unclear' {
  const f = describeTokenFailure(e, 'probe', undefined);
  if (f.error === 'invalid_grant') return 'authenticated';
  if (f.error === 'invalid_client' || f.error === 'unauthorized_client' || f.status === 401) return 'refused';
  return 'unclear';
}

async function probeClientCredentials(config: Config, metadata: Metadata, method: TokenEndpointAuthMethod, key: ClientKey | undefined, redirectUri: string, report: Report): Promise<void> {
  const e = await grantError(config, metadata, method, key, redirectUri);
  if (e === undefined) return report.line('FAIL', 'the token endpoint accepted a made-up code', 'this is not an OAuth token endpoint that can be trusted: check idp.issuer');
  const failure = describeTokenFailure(e, 'probe', metadata.token_endpoint);
  const answered = `HTTP ${failure.status ?? '-'} ${failure.error}${failure.errorDescription ? ` (${failure.errorDescription})` : ''}`;
  const judged = verdict(e);
  if (judged === 'authenticated') return report.line('ok', `client credentials accepted with ${method} (a made-up code got ${answered}: the client authenticated)`);
  if (judged === 'unclear') {
    if (failure.status === undefined) return report.line('FAIL', `token endpoint: ${failure.error}`, failure.hint);
    return report.line('warn', `client credentials: cannot tell (a made-up code got ${answered})`, oauthErrorHint(failure.error, 'probe'));
  }
  // Refused: would another method the configuration allows have worked?
  const others = (['client_secret_basic', 'client_secret_post'] as const).filter((m) => m !== method && config.idp.clientSecret !== undefined);
  for (const other of others) {
    if (verdict(await grantError(config, metadata, other, key, redirectUri)) === 'authenticated') {
      return report.line('FAIL', `client authentication ${method} refused: ${answered}`, `the IdP accepts this client with ${other}: set idp.tokenEndpointAuthMethod: ${other}`);
    }
  }
  report.line('FAIL', `client credentials refused with ${method}: ${answered}`, failure.hint);
}

/** The authorization endpoint's verdict on client_id and redirect_uri (it shows a sign-in form, or an error). */
async function probeAuthorization(endpoint: string, idp: Config['idp'], redirectUri: string, report: Report): Promise<void> {
  const url = new URL(endpoint);
  const params = {
    response_type: 'code',
    client_id: idp.clientId,
    redirect_uri: redirectUri,
    scope: idp.scopes.join(' '),
    state: 'drawbridge-doctor',
    nonce: 'drawbridge-doctor',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  try {
    const { res, text } = await get(url.href, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const target = new URL(location, url);
      const error = target.searchParams.get('error');
      if (`${target.origin}${target.pathname}` === redirectUri && error) {
        const level = error === 'login_required' || error === 'interaction_required' || error === 'consent_required' ? 'ok' : 'FAIL';
        return report.line(level, `authorization endpoint: redirect URI ${redirectUri} accepted; it answered error=${clean(error)}`, level === 'FAIL' ? oauthErrorHint(error, 'authorization') : undefined);
      }
      return report.line('ok', `authorization endpoint accepts client ${idp.clientId} with redirect URI ${redirectUri}`);
    }
    if (res.status >= 500) return report.line('FAIL', `authorization endpoint answered HTTP ${res.status}`, 'the IdP is failing: check it');
    if (res.status >= 400) {
      const mentionsRedirect = /redirect_uri|redirect uri/i.test(text);
      return report.line(
        'FAIL',
        `authorization endpoint refused the sign-in request (HTTP ${res.status})${mentionsRedirect ? ': it names the redirect_uri' : ''}`,
        `register ${redirectUri} exactly as a redirect URI of client ${idp.clientId} at the IdP (and check idp.clientId)`,
      );
    }
    report.line('ok', `authorization endpoint accepts client ${idp.clientId} with redirect URI ${redirectUri}`);
  } catch (e) {
    report.line('FAIL', `authorization endpoint ${endpoint} cannot be reached: ${reason(e)}`, 'browsers must reach it too: check the IdP');
  }
}

async function probeEndSession(endpoint: string, clientId: string, postLogoutUri: string, report: Report): Promise<void> {
  const url = new URL(endpoint);
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('post_logout_redirect_uri', postLogoutUri);
  try {
    const { res } = await get(url.href, { redirect: 'manual' });
    if (res.status >= 400 && res.status < 500) {
      return report.line('FAIL', `end_session_endpoint refused the post-logout redirect URI (HTTP ${res.status})`, `register ${postLogoutUri} exactly as a post-logout redirect URI of client ${clientId} at the IdP`);
    }
    if (res.status >= 500) return report.line('warn', `end_session_endpoint answered HTTP ${res.status}`, 'sign-out at the IdP may fail: check it');
    report.line('ok', `end_session_endpoint accepts the post-logout redirect URI ${postLogoutUri}`);
  } catch (e) {
    report.line('warn', `end_session_endpoint ${endpoint} cannot be reached: ${reason(e)}`, 'sign-out at the IdP may fail');
  }
}
