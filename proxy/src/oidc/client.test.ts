// oidc/client.test.ts — which failures of a token request are an IdP outage (503 at the callback, a kept session
// at a refresh) and which are a refusal (a failed sign-in, an ended session), and what of the IdP's answer is
// logged (with a hint, and whether it is a misconfiguration): errors as openid-client itself raises them, from a real
// HTTP server on loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { idpErrorDetail, idpErrorStatus, isIdpOutage, isIdpRefusal } from './client.js';
import { describeDiscoveryFailure, describeTokenFailure, discoveryStatusFailure, discoveryUrl, failureFields, isIdpMisconfiguration } from './diagnose.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler = (_req, res) => res.writeHead(500).end();
let server: http.Server;
let base: string;

before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** The error openid-client raises for a code exchange whose token endpoint is `tokenEndpoint`, answered by `h`. */
async function exchangeError(h: Handler, tokenEndpoint = `${base}/token`): Promise<unknown> {
  handler = h;
  const config = new oidc.Configuration({ issuer: base, token_endpoint: tokenEndpoint }, 'drawbridge', 'secret');
  oidc.allowInsecureRequests(config);
  config.timeout = 1;
  try {
    await oidc.authorizationCodeGrant(config, new URL(`${base}/cb?code=abc&state=s1`), { expectedState: 's1', pkceCodeVerifier: 'v'.repeat(43) });
  } catch (e) {
    return e;
  }
  throw new Error('the exchange succeeded');
}

/** The error openid-client raises for a refresh-token grant whose token endpoint is answered by `h`. */
async function refreshError(h: Handler): Promise<unknown> {
  handler = h;
  const config = new oidc.Configuration({ issuer: base, token_endpoint: `${base}/token` }, 'drawbridge', 'secret');
  oidc.allowInsecureRequests(config);
  config.timeout = 1;
  try {
    await oidc.refreshTokenGrant(config, 'a-refresh-token');
  } catch (e) {
    return e;
  }
  throw new Error('the refresh succeeded');
}

const answer =
  (status: number, headers: Record<string, string> = {}, body = ''): Handler =>
  (_req, res) =>
    res.writeHead(status, headers).end(body);
const json = { 'content-type': 'application/json' };

test('5xx, 429 and 408 from the token endpoint, whatever the body, are an outage and carry their status', async () => {
  for (const [status, headers, body] of [
    [503, { 'content-type': 'text/html' }, '<h1>down</h1>'],
    [502, {}, ''],
    [500, json, '{"error":"server_error"}'],
    [504, json, '{"error":"temporarily_unavailable"}'],
    [429, json, '{"error":"slow_down"}'],
    [429, { 'content-type': 'text/plain' }, 'too many'],
    [408, { 'content-type': 'text/plain' }, 'request timeout'],
    [408, json, '{"error":"timeout"}'],
    [503, { 'www-authenticate': 'Bearer error="temporarily_unavailable"' }, ''],
  ] as const) {
    const e = await exchangeError(answer(status, headers, body));
    assert.equal(idpErrorStatus(e), status, `${status} ${body}: ${String(e)}`);
    assert.equal(isIdpOutage(e), true, `${status} ${body}`);
    assert.equal(isIdpRefusal(e), false, `${status} ${body}`);
  }
});

test('a refusal is not an outage: 400 invalid_grant, 401 invalid_client, a challenge; a malformed 200 is neither', async () => {
  const refused = await exchangeError(answer(400, json, '{"error":"invalid_grant"}'));
  assert.ok(refused instanceof oidc.ResponseBodyError);
  assert.equal(idpErrorStatus(refused), 400);
  assert.equal(isIdpOutage(refused), false);
  assert.equal(isIdpRefusal(refused), true);
  const client = await exchangeError(answer(401, json, '{"error":"invalid_client"}'));
  assert.equal(idpErrorStatus(client), 401);
  assert.equal(isIdpOutage(client), false);
  assert.equal(isIdpRefusal(client), true);
  const challenge = await exchangeError(answer(401, { 'www-authenticate': 'Basic realm="idp"' }));
  assert.equal(idpErrorStatus(challenge), 401);
  assert.equal(isIdpOutage(challenge), false);
  assert.equal(isIdpRefusal(challenge), true);
  // A 200 that is not a token response: no verdict of the IdP's (no status), and not an outage either.
  const malformed = await exchangeError(answer(200, json, '{"nope":true}'));
  assert.equal(idpErrorStatus(malformed), undefined);
  assert.equal(isIdpOutage(malformed), false);
  assert.equal(isIdpRefusal(malformed), false);
});

test('no answer at all is an outage: connection refused, and a token endpoint that hangs past the timeout', { timeout: 10_000 }, async () => {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const closed = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const refused = await exchangeError(answer(200), `http://127.0.0.1:${closed}/token`);
  assert.equal(isIdpOutage(refused), true, String(refused));
  assert.equal(isIdpRefusal(refused), false);
  const hung = await exchangeError(() => {
    /* never answers */
  });
  assert.equal((hung as { code?: string }).code, 'OAUTH_TIMEOUT', String(hung));
  assert.equal(isIdpOutage(hung), true);
  assert.equal(isIdpRefusal(hung), false);
});

test('a refresh-token grant: every 4xx but 408 and 429, whatever its form, is a refusal; the rest is not', async () => {
  const cases: [number, Record<string, string>, string, boolean][] = [
    [401, { 'www-authenticate': 'Basic error="invalid_client", error_description="client authentication failed"' }, '', true],
    [401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'text/plain' }, 'unauthorized', true],
    [400, { 'content-type': 'text/plain' }, 'Bad Request', true],
    [403, { 'content-type': 'text/html' }, '<h1>Forbidden</h1>', true],
    [400, json, '{"error":"invalid_grant","error_description":"grant request is invalid"}', true],
    [404, json, '{"message":"no such route"}', true],
    [429, { 'content-type': 'text/plain' }, 'Too Many Requests', false],
    [408, { 'content-type': 'text/plain' }, 'Request Timeout', false],
    [503, { 'content-type': 'text/plain' }, 'Service Unavailable', false],
    [500, json, '{"error":"server_error"}', false],
  ];
  for (const [status, headers, body, refused] of cases) {
    const e = await refreshError(answer(status, headers, body));
    assert.equal(idpErrorStatus(e), status, `${status} ${body}: ${String(e)}`);
    assert.equal(isIdpRefusal(e), refused, `${status} ${JSON.stringify(headers)} ${body}: refusal`);
    assert.equal(isIdpOutage(e), !refused, `${status} ${JSON.stringify(headers)} ${body}: outage`);
  }
});

test('what the IdP said is kept for the log: status, OAuth error from the body or the challenge, description', async () => {
  const challenge = await refreshError(answer(401, { 'www-authenticate': 'Basic realm="idp", error="invalid_client", error_description="client authentication failed"' }));
  assert.ok(challenge instanceof oidc.WWWAuthenticateChallengeError);
  assert.deepEqual(idpErrorDetail(challenge), { idpStatus: 401, idpError: 'invalid_client', idpErrorDescription: 'client authentication failed' });
  // The challenge with an error wins over one without.
  const two = await refreshError(answer(401, { 'www-authenticate': 'Basic realm="idp", Bearer error="invalid_token"' }));
  assert.deepEqual(idpErrorDetail(two), { idpStatus: 401, idpError: 'invalid_token' });
  const grant = await refreshError(answer(400, json, '{"error":"invalid_grant","error_description":"grant request is invalid"}'));
  assert.deepEqual(idpErrorDetail(grant), { idpStatus: 400, idpError: 'invalid_grant', idpErrorDescription: 'grant request is invalid' });
  assert.deepEqual(idpErrorDetail(await refreshError(answer(400, { 'content-type': 'text/plain' }, 'Bad Request'))), { idpStatus: 400 });
  assert.deepEqual(idpErrorDetail(await refreshError(answer(503))), { idpStatus: 503 });
  // IdP text is bounded and kept on one line.
  const long = await refreshError(answer(400, json, JSON.stringify({ error: 'invalid_grant', error_description: `line one\nline two ${'x'.repeat(500)}` })));
  const description = idpErrorDetail(long).idpErrorDescription!;
  assert.equal(description.length, 200);
  assert.ok(description.startsWith('line one line two '), description);
  assert.deepEqual(idpErrorDetail(new Error('fetch failed')), {});
  assert.deepEqual(idpErrorDetail(undefined), {});
});

test('errors that did not come from the IdP are neither an outage nor a refusal', () => {
  assert.equal(isIdpOutage(new Error('unexpected JWT claim value encountered')), false);
  assert.equal(isIdpOutage(undefined), false);
  assert.equal(isIdpRefusal(new Error('unexpected JWT claim value encountered')), false);
  assert.equal(isIdpRefusal(undefined), false);
  assert.equal(idpErrorStatus(new Error('x')), undefined);
});

test('every token endpoint failure is described with its URL, status, OAuth error, description and a hint', async () => {
  const token = `${base}/token`;
  const client = describeTokenFailure(await exchangeError(answer(401, json, '{"error":"invalid_client","error_description":"bad secret"}')), 'code', token);
  assert.deepEqual({ ...client, hint: undefined }, { url: token, status: 401, error: 'invalid_client', errorDescription: 'bad secret', hint: undefined, permanent: true });
  assert.match(client.hint, /idp\.clientSecret/);
  assert.match(client.hint, /idp\.tokenEndpointAuthMethod/);
  // The same from a WWW-Authenticate challenge, and from a bare 401.
  assert.equal(describeTokenFailure(await exchangeError(answer(401, { 'www-authenticate': 'Basic error="invalid_client"' })), 'code', token).error, 'invalid_client');
  const bare = describeTokenFailure(await exchangeError(answer(401, { 'content-type': 'text/plain' }, 'no')), 'code', token);
  assert.equal(bare.permanent, true);
  assert.match(bare.hint, /idp\.clientSecret/);
  const unauthorized = describeTokenFailure(await exchangeError(answer(400, json, '{"error":"unauthorized_client"}')), 'code', token);
  assert.equal(unauthorized.permanent, true);
  assert.match(unauthorized.hint, /tokenEndpointAuthMethod/);
  // A refused code is this sign-in's problem, not the configuration's; a refused refresh token ends a session.
  const grant = describeTokenFailure(await exchangeError(answer(400, json, '{"error":"invalid_grant"}')), 'code', token);
  assert.equal(grant.permanent, false);
  assert.match(grant.hint, /redirect URI/);
  assert.match(describeTokenFailure(await refreshError(answer(400, json, '{"error":"invalid_grant"}')), 'refresh', token).hint, /signs in again/);
  const outage = describeTokenFailure(await exchangeError(answer(503, { 'content-type': 'text/html' }, '<h1>down</h1>')), 'code', token);
  assert.deepEqual({ status: outage.status, error: outage.error, permanent: outage.permanent }, { status: 503, error: 'HTTP 503', permanent: false });
  assert.equal(describeTokenFailure(await exchangeError(answer(404, { 'content-type': 'text/plain' }, 'nope')), 'code', token).permanent, true);
  // isIdpMisconfiguration: what the callback answers with the "an administrator must fix it" page.
  assert.equal(isIdpMisconfiguration(await exchangeError(answer(401, json, '{"error":"invalid_client"}'))), true);
  assert.equal(isIdpMisconfiguration(await exchangeError(answer(400, json, '{"error":"unsupported_grant_type"}'))), true);
  assert.equal(isIdpMisconfiguration(await exchangeError(answer(400, json, '{"error":"invalid_grant"}'))), false);
  assert.equal(isIdpMisconfiguration(await exchangeError(answer(503))), false);
  assert.equal(isIdpMisconfiguration(new Error('fetch failed')), false);
  // No answer: the URL asked and what failed.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/token`;
  await new Promise<void>((r) => probe.close(() => r()));
  const down = describeTokenFailure(await exchangeError(answer(200), closed), 'code', closed);
  assert.equal(down.url, closed);
  assert.equal(down.status, undefined);
  assert.equal(down.permanent, false);
  assert.match(down.error, /ECONNREFUSED/);
});

test('a failed discovery names the URL, the status, the issuer the IdP advertised, and whether retrying can help', async () => {
  const discover = async (h: Handler, issuer = base): Promise<unknown> => {
    handler = h;
    try {
      await oidc.discovery(new URL(issuer), 'drawbridge', 'secret', undefined, { execute: [oidc.allowInsecureRequests], timeout: 1 });
    } catch (e) {
      return e;
    }
    throw new Error('discovery succeeded');
  };
  const url = discoveryUrl(base);
  assert.equal(url, `${base}/.well-known/openid-configuration`);
  assert.equal(discoveryUrl(`${base}/realms/x/`), `${base}/realms/x/.well-known/openid-configuration`);
  const mismatch = describeDiscoveryFailure(await discover(answer(200, json, JSON.stringify({ issuer: 'https://elsewhere.example/' }))), url, base);
  assert.equal(mismatch.advertisedIssuer, 'https://elsewhere.example/');
  assert.equal(mismatch.permanent, true);
  assert.match(mismatch.error, /issuer mismatch/);
  assert.match(mismatch.hint, /set idp\.issuer to exactly "https:\/\/elsewhere\.example\/"/);
  const missing = describeDiscoveryFailure(await discover(answer(404, { 'content-type': 'text/plain' }, 'not found')), url, base);
  assert.deepEqual({ url: missing.url, status: missing.status, permanent: missing.permanent }, { url, status: 404, permanent: true });
  assert.match(missing.hint, /issuer identifier/);
  const down = describeDiscoveryFailure(await discover(answer(503)), url, base);
  assert.deepEqual({ status: down.status, permanent: down.permanent }, { status: 503, permanent: false });
  const html = describeDiscoveryFailure(await discover(answer(200, { 'content-type': 'text/html' }, '<html>login</html>')), url, base);
  assert.equal(html.permanent, true);
  assert.match(html.hint, /does not serve an OpenID Connect discovery document/);
  assert.equal(discoveryStatusFailure(url, 429).permanent, false);
  // A discovery document that never comes is an outage, not a configuration error.
  const hung = await discover(() => {
    /* never answers */
  });
  assert.equal((hung as { code?: string }).code, 'OAUTH_TIMEOUT');
  assert.equal(describeDiscoveryFailure(hung, url, base).permanent, false);
  assert.equal(describeDiscoveryFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }), url, base).permanent, false);
  const tls = describeDiscoveryFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) }), url, base);
  assert.equal(tls.permanent, true);
  assert.match(tls.hint, /NODE_EXTRA_CA_CERTS/);
  // What a log line carries.
  assert.deepEqual(Object.keys(failureFields(mismatch)), ['url', 'status', 'error', 'advertisedIssuer', 'hint']);
});
