// e2e/idp.test.ts — the dev IdP over real sockets, with openid-client as the relying party and a
// cookie-jar client on the forms: discovery, sign-in, OTP, step-up, refresh, logout, signing helpers.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { startDevIdp, type DevIdp } from './idp/dev-idp.js';
import { findLoginForm, findOtpForm, signInAtIdp, type SignInOptions } from './idp/sign-in.js';
import { CookieJarClient, parseForms } from './support/http-client.js';

const CLIENT_ID = 'drawbridge-test';
const CLIENT_SECRET = 'a-client-secret-that-is-long-enough-0123456789';
// Nothing listens on port 9: the flows stop before following the redirect to the relying party.
const REDIRECT_URI = 'http://127.0.0.1:9/.drawbridge/callback';
const POST_LOGOUT_URI = 'http://127.0.0.1:9/signed-out';
const ACCESS_TOKEN_TTL = 120;
const LIMIT = { timeout: 20_000 };
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface Receiver {
  url: string;
  tokens: string[];
  status: number;
  close(): Promise<void>;
}

let idp: DevIdp;
let receiver: Receiver;
let rpPost: oidc.Configuration;
let rpBasic: oidc.Configuration;

before(async () => {
  receiver = await startLogoutReceiver();
  idp = await startDevIdp({
    accessTokenTtl: ACCESS_TOKEN_TTL,
    clients: [
      {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUris: [REDIRECT_URI],
        postLogoutRedirectUris: [POST_LOGOUT_URI],
        backchannelLogoutUri: receiver.url,
      },
    ],
  });
  const insecure = { execute: [oidc.allowInsecureRequests] };
  rpPost = await oidc.discovery(new URL(idp.issuer), CLIENT_ID, undefined, oidc.ClientSecretPost(CLIENT_SECRET), insecure);
  rpBasic = await oidc.discovery(new URL(idp.issuer), CLIENT_ID, undefined, oidc.ClientSecretBasic(CLIENT_SECRET), insecure);
});

after(async () => {
  await idp?.close();
  await receiver?.close();
});

/** One authorization-code + PKCE round: forms driven by `jar`, code exchanged by openid-client. */
async function authorize(jar: CookieJarClient, signIn: Omit<SignInOptions, 'stopAt'>, params: Record<string, string> = {}, rp = rpPost) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  const result = await signInAtIdp(jar, url, { ...signIn, stopAt: REDIRECT_URI });
  const location = result.response.location;
  assert.ok(location && location.startsWith(REDIRECT_URI), `expected a redirect to the RP, got ${result.response.status} ${location ?? result.response.body.slice(0, 200)}`);
  const tokens = await oidc.authorizationCodeGrant(rp, new URL(location), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    ...(params.max_age ? { maxAge: Number(params.max_age) } : {}),
  });
  const claims = tokens.claims();
  assert.ok(claims);
  return { ...result, tokens, claims };
}

test('discovery advertises what Drawbridge relies on', LIMIT, async () => {
  const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
  assert.equal(response.status, 200);
  const meta = (await response.json()) as Record<string, any>;
  assert.equal(meta.issuer, idp.issuer);
  assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(idp.issuer, `http://127.0.0.1:${idp.port}`);
  assert.deepEqual(meta.acr_values_supported, ['pwd', 'mfa']);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.equal(meta.backchannel_logout_supported, true);
  assert.equal(meta.backchannel_logout_session_supported, true);
  assert.ok(meta.end_session_endpoint);
  for (const method of ['client_secret_basic', 'client_secret_post']) assert.ok(meta.token_endpoint_auth_methods_supported.includes(method));
  for (const grant of ['authorization_code', 'refresh_token']) assert.ok(meta.grant_types_supported.includes(grant));
  for (const claim of ['sub', 'preferred_username', 'name', 'email', 'email_verified', 'groups', 'sid', 'amr', 'acr', 'auth_time']) {
    assert.ok(meta.claims_supported.includes(claim), `claims_supported lacks ${claim}`);
  }
  const jwks = (await (await fetch(meta.jwks_uri)).json()) as { keys: Array<Record<string, unknown>> };
  assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
  assert.ok(jwks.keys.every((k) => k.d === undefined && typeof k.kid === 'string'), 'the JWKS publishes public keys with kids only');
  assert.deepEqual(jwks, idp.jwks);
});

test('alice signs in with code + PKCE and gets every claim in the ID token', LIMIT, async () => {
  const jar = new CookieJarClient();
  const { claims, tokens, askedPassword, askedOtp } = await authorize(jar, { login: 'alice' }, {}, rpBasic);
  assert.equal(askedPassword, true);
  assert.equal(askedOtp, false);
  assert.equal(claims.iss, idp.issuer);
  assert.equal(claims.aud, CLIENT_ID);
  assert.equal(claims.sub, 'alice-sub');
  assert.equal(claims.preferred_username, 'alice');
  assert.equal(claims.name, 'Alice Example');
  assert.equal(claims.email, 'alice@example.com');
  assert.equal(claims.email_verified, true);
  assert.deepEqual(claims.groups, ['engineering']);
  assert.deepEqual(claims.amr, ['pwd']);
  assert.equal(claims.acr, 'pwd');
  assert.equal(typeof claims.sid, 'string');
  assert.ok(Math.abs((claims.auth_time ?? 0) - Date.now() / 1000) < 30);
  assert.ok(tokens.refresh_token, 'a refresh token is always issued');
  assert.ok(tokens.expires_in && tokens.expires_in <= ACCESS_TOKEN_TTL && tokens.expires_in > ACCESS_TOKEN_TTL - 10);
  const header = decodeProtectedHeader(tokens.id_token!);
  assert.equal(header.alg, 'RS256');
  assert.ok(idp.jwks.keys.some((k) => k.kid === header.kid));
  const userinfo = await oidc.fetchUserInfo(rpBasic, tokens.access_token, 'alice-sub');
  assert.deepEqual(userinfo.groups, ['engineering']);
});

test('the forms are labelled, and a wrong password shows the form again with an error', LIMIT, async () => {
  const jar = new CookieJarClient();
  const url = oidc.buildAuthorizationUrl(rpPost, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const page = await jar.get(url, { redirect: 'follow', stopAt: REDIRECT_URI });
  assert.equal(page.status, 200);
  assert.match(page.url, /\/interaction\/[\w-]+$/);
  assert.match(page.body, /<label for="login">Username<\/label>/);
  assert.match(page.body, /<label for="password">Password<\/label>/);
  assert.match(page.body, /<button type="submit">Sign in<\/button>/);
  assert.doesNotMatch(page.body, /<script/i);
  const form = findLoginForm(page);
  assert.ok(form);
  assert.equal(form.method, 'POST');
  const wrong = await jar.post(form.action, { form: { login: 'alice', password: 'not-alice' }, redirect: 'follow', stopAt: REDIRECT_URI });
  assert.equal(wrong.status, 200);
  assert.match(wrong.body, /role="alert"[^>]*>Wrong username or password/);
  assert.ok(findLoginForm(wrong));
  const right = await jar.post(form.action, { form: { login: 'alice', password: 'alice' }, redirect: 'follow', stopAt: REDIRECT_URI });
  assert.ok(right.location?.startsWith(`${REDIRECT_URI}?code=`));
});

test('carol always answers the one-time code: amr [pwd, otp], acr mfa', LIMIT, async () => {
  const jar = new CookieJarClient();
  const url = oidc.buildAuthorizationUrl(rpPost, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const login = findLoginForm(await jar.get(url, { redirect: 'follow' }));
  assert.ok(login);
  const otpPage = await jar.post(login.action, { form: { login: 'carol', password: 'carol' }, redirect: 'follow', stopAt: REDIRECT_URI });
  assert.match(otpPage.body, /<label for="otp">One-time code<\/label>/);
  assert.match(otpPage.body, /123456/);
  assert.match(otpPage.body, /<button type="submit">Verify<\/button>/);
  const otp = findOtpForm(otpPage);
  assert.ok(otp);
  const wrong = await jar.post(otp.action, { form: { otp: '000000' }, redirect: 'follow', stopAt: REDIRECT_URI });
  assert.match(wrong.body, /Wrong code/);

  const { claims, askedOtp } = await authorize(new CookieJarClient(), { login: 'carol' });
  assert.equal(askedOtp, true);
  assert.deepEqual(claims.amr, ['pwd', 'otp']);
  assert.equal(claims.acr, 'mfa');
  assert.deepEqual(claims.groups, ['wiki-admins']);
});

test('acr_values=mfa makes alice answer the one-time code, also with a password session', LIMIT, async () => {
  const jar = new CookieJarClient();
  const first = await authorize(jar, { login: 'alice' });
  assert.equal(first.claims.acr, 'pwd');
  const stepUp = await authorize(jar, { login: 'alice' }, { acr_values: 'mfa' });
  assert.equal(stepUp.askedOtp, true);
  assert.deepEqual(stepUp.claims.amr, ['pwd', 'otp']);
  assert.equal(stepUp.claims.acr, 'mfa');
  const again = await authorize(jar, { login: 'alice' }, { acr_values: 'mfa' });
  assert.equal(again.askedPassword, false, 'an mfa session satisfies acr_values=mfa');
  assert.equal(again.claims.acr, 'mfa');
});

test('a live session is reused; prompt=login and max_age ask for the password again', LIMIT, async () => {
  const jar = new CookieJarClient();
  const first = await authorize(jar, { login: 'alice' });
  const reused = await authorize(jar, { login: 'alice' });
  assert.equal(reused.askedPassword, false);
  assert.equal(reused.claims.auth_time, first.claims.auth_time);
  const relogin = await authorize(jar, { login: 'alice' }, { prompt: 'login' });
  assert.equal(relogin.askedPassword, true);
  const fresh = await authorize(jar, { login: 'alice' }, { max_age: '300' });
  assert.equal(fresh.askedPassword, false, 'a sign-in younger than max_age is reused');
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const old = await authorize(jar, { login: 'alice' }, { max_age: '1' });
  assert.equal(old.askedPassword, true, 'a sign-in older than max_age is not');
  assert.ok((old.claims.auth_time ?? 0) > (first.claims.auth_time ?? 0));
});

test('a refresh returns an ID token with the account’s current claims', LIMIT, async () => {
  const { tokens, claims } = await authorize(new CookieJarClient(), { login: 'bob' });
  idp.updateAccount('bob', { groups: ['sales', 'wiki-admins'], name: undefined });
  try {
    const refreshed = await oidc.refreshTokenGrant(rpPost, tokens.refresh_token!);
    const now = refreshed.claims();
    assert.ok(now);
    assert.deepEqual(now.groups, ['sales', 'wiki-admins']);
    assert.equal(now.name, undefined, 'a claim patched to undefined is gone');
    assert.equal(now.sid, claims.sid);
    assert.equal(now.auth_time, claims.auth_time);
    assert.deepEqual(now.amr, ['pwd']);
    idp.updateAccount('bob', { groups: [] });
    const again = await oidc.refreshTokenGrant(rpPost, refreshed.refresh_token ?? tokens.refresh_token!);
    assert.deepEqual(again.claims()?.groups, []);
  } finally {
    idp.updateAccount('bob', { groups: ['sales'], name: 'Bob Example' });
  }
  assert.throws(() => idp.updateAccount('nobody', {}), /no account/);
});

test('RP-initiated logout ends the IdP session in one redirect, revokes the grant and notifies back-channel', LIMIT, async () => {
  const jar = new CookieJarClient();
  const { tokens, claims } = await authorize(jar, { login: 'alice' });
  receiver.tokens.length = 0;
  const endSession = oidc.buildEndSessionUrl(rpPost, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT_URI, state: 'bye' });
  const response = await jar.get(endSession, { redirect: 'manual' });
  assert.equal(response.status, 303);
  assert.equal(response.location, `${POST_LOGOUT_URI}?state=bye`);
  assert.equal(jar.cookies(idp.issuer).idp_session, undefined, 'the IdP session cookie is cleared');
  assert.equal(receiver.tokens.length, 1);
  assert.equal(decodeJwt(receiver.tokens[0]!).sid, claims.sid);
  await assert.rejects(oidc.refreshTokenGrant(rpPost, tokens.refresh_token!), (error: { error?: string }) => error.error === 'invalid_grant');
  const again = await jar.get(endSession, { redirect: 'manual' });
  assert.equal(again.status, 303, 'signing out without an IdP session still lands on post_logout_redirect_uri');
  assert.equal(again.location, `${POST_LOGOUT_URI}?state=bye`);
  const next = await authorize(jar, { login: 'alice' });
  assert.equal(next.askedPassword, true, 'the next authorization asks for the password again');
});

test('signing in as another account in the same browser ends the first session on its own', LIMIT, async () => {
  const jar = new CookieJarClient();
  await authorize(jar, { login: 'alice' });
  const bob = await authorize(jar, { login: 'bob' }, { prompt: 'login' });
  assert.equal(bob.claims.sub, 'bob-sub');
  const reused = await authorize(jar, { login: 'alice' });
  assert.equal(reused.askedPassword, false);
  assert.equal(reused.claims.sub, 'bob-sub', 'the browser is now signed in as bob');
});

test('backchannelLogout POSTs a verifiable logout token to the client', LIMIT, async () => {
  const { claims } = await authorize(new CookieJarClient(), { login: 'alice' });
  receiver.tokens.length = 0;
  assert.deepEqual(await idp.backchannelLogout('alice'), [200]);
  assert.equal(receiver.tokens.length, 1);
  const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(receiver.tokens[0]!, jwks, { issuer: idp.issuer, audience: CLIENT_ID, typ: 'logout+jwt' });
  assert.equal(payload.sub, 'alice-sub');
  assert.equal(payload.sid, claims.sid);
  assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} });
  assert.equal(typeof payload.jti, 'string');
  assert.equal(payload.nonce, undefined);
  assert.ok(protectedHeader.kid);

  receiver.tokens.length = 0;
  assert.deepEqual(await idp.backchannelLogout('alice', { sid: 'given-sid' }), [200]);
  assert.equal(decodeJwt(receiver.tokens[0]!).sid, 'given-sid');

  receiver.tokens.length = 0;
  receiver.status = 400;
  try {
    assert.deepEqual(await idp.backchannelLogout('bob', { sid: null }), [400]);
    const subOnly = decodeJwt(receiver.tokens[0]!);
    assert.equal(subOnly.sub, 'bob-sub');
    assert.equal(subOnly.sid, undefined, 'sid: null sends sub only');
  } finally {
    receiver.status = 200;
  }
  await assert.rejects(idp.backchannelLogout('nobody'), /no account/);
});

test('signJwt and signLogoutToken sign with the published keys, and can make defective tokens', LIMIT, async () => {
  const jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
  const now = Math.floor(Date.now() / 1000);
  for (const alg of ['RS256', 'ES256'] as const) {
    const token = await idp.signJwt({ iss: idp.issuer, aud: 'api', sub: 'alice-sub', exp: now + 60 }, { alg });
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: idp.issuer, audience: 'api' });
    assert.equal(payload.sub, 'alice-sub');
    assert.equal(protectedHeader.alg, alg);
  }
  assert.equal(decodeProtectedHeader(await idp.signJwt({ a: 1 })).alg, 'RS256');
  assert.equal(decodeProtectedHeader(await idp.signJwt({ a: 1 }, { typ: 'at+jwt' })).typ, 'at+jwt');
  await assert.rejects(jwtVerify(await idp.signJwt({ a: 1 }, { kid: 'unknown' }), jwks), /no applicable key|JWKSNoMatchingKey/i);
  const unsigned = await idp.signJwt({ sub: 'x' }, { alg: 'none' });
  assert.ok(unsigned.endsWith('.'));
  await assert.rejects(jwtVerify(unsigned, jwks));
  const foreign = await generateKeyPair('ES256');
  await assert.rejects(jwtVerify(await idp.signJwt({ sub: 'x' }, { alg: 'ES256', key: foreign.privateKey }), jwks));

  const logout = await idp.signLogoutToken({ sub: 'alice-sub', sid: 's-1' });
  const { payload, protectedHeader } = await jwtVerify(logout, jwks, { issuer: idp.issuer, audience: CLIENT_ID, typ: 'logout+jwt' });
  assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} });
  assert.equal(payload.sid, 's-1');
  assert.equal(typeof payload.jti, 'string');
  assert.ok(payload.iat && payload.exp && payload.exp > payload.iat);
  assert.equal(protectedHeader.alg, 'RS256');
  const defective = decodeJwt(await idp.signLogoutToken({ sub: 'alice-sub', events: undefined, nonce: 'n', aud: 'someone-else' }));
  assert.equal(defective.events, undefined);
  assert.equal(defective.nonce, 'n');
  assert.equal(defective.aud, 'someone-else');
  assert.equal(decodeProtectedHeader(await idp.signLogoutToken({}, { typ: 'JWT', alg: 'ES256' })).typ, 'JWT');
});

test('edge-case accounts sign in with their odd claims intact', LIMIT, async () => {
  const dave = await authorize(new CookieJarClient(), { login: 'dave' });
  assert.equal(dave.claims.email_verified, false);
  const eve = await authorize(new CookieJarClient(), { login: 'eve' });
  assert.equal(eve.claims.email, 'eve@evil.com@example.com');
  const frank = await authorize(new CookieJarClient(), { login: 'frank' });
  assert.equal(frank.claims.groups, 'engineering');
  const grace = await authorize(new CookieJarClient(), { login: 'grace' });
  assert.equal((grace.claims.groups as string[]).length, 2000);
  assert.equal((grace.claims.groups as string[])[1999], 'g1999');

  idp.addAccount({ login: 'zoe', claims: { groups: ['ops'], email: 'zoe@example.com', email_verified: true, department: 'it' } });
  const zoe = await authorize(new CookieJarClient(), { login: 'zoe' });
  assert.equal(zoe.claims.sub, 'zoe-sub');
  assert.equal(zoe.claims.preferred_username, 'zoe');
  assert.deepEqual(zoe.claims.groups, ['ops']);
  assert.equal(zoe.claims.department, 'it');
  assert.ok(idp.accounts.get('zoe'));
});

test('close() is idempotent and ends open connections', LIMIT, async () => {
  const other = await startDevIdp({ clients: [] });
  const jar = new CookieJarClient();
  assert.equal((await jar.get(`${other.issuer}/.well-known/openid-configuration`)).status, 200);
  await Promise.all([other.close(), other.close()]);
  await other.close();
  await assert.rejects(jar.get(`${other.issuer}/.well-known/openid-configuration`), /ECONNREFUSED/);
});

test('parseForms reads actions, methods and hidden fields', () => {
  const [form] = parseForms(
    '<form id="f" method="post" action="/x?a=1&amp;b=2"><input type="hidden" name="xsrf" value="t&lt;1"><input name="q"><input type="checkbox" name="c"><button type="submit">Go</button></form>',
    'http://127.0.0.1:1/page',
  );
  assert.deepEqual(form, { id: 'f', action: 'http://127.0.0.1:1/x?a=1&b=2', method: 'POST', fields: { xsrf: 't<1', q: '' } });
});

async function startLogoutReceiver(): Promise<Receiver> {
  const state = { tokens: [] as string[], status: 200 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      state.tokens.push(new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('logout_token') ?? '');
      res.writeHead(state.status, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.drawbridge/backchannel_logout`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
