// oidc/client.test.ts — which failures of a token request are an IdP outage (503, try again) and which are a
// refusal (a failed sign-in): errors as openid-client itself raises them, from a real HTTP server on loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { idpErrorStatus, isIdpOutage } from './client.js';

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

const answer =
  (status: number, headers: Record<string, string> = {}, body = ''): Handler =>
  (_req, res) =>
    res.writeHead(status, headers).end(body);
const json = { 'content-type': 'application/json' };

test('5xx and 429 from the token endpoint, whatever the body, are an outage and carry their status', async () => {
  for (const [status, headers, body] of [
    [503, { 'content-type': 'text/html' }, '<h1>down</h1>'],
    [502, {}, ''],
    [500, json, '{"error":"server_error"}'],
    [504, json, '{"error":"temporarily_unavailable"}'],
    [429, json, '{"error":"slow_down"}'],
    [429, { 'content-type': 'text/plain' }, 'too many'],
  ] as const) {
    const e = await exchangeError(answer(status, headers, body));
    assert.equal(idpErrorStatus(e), status, `${status} ${body}: ${String(e)}`);
    assert.equal(isIdpOutage(e), true, `${status} ${body}`);
  }
});

test('a refusal is not an outage: 400 invalid_grant, 401 invalid_client, a challenge, a malformed 200', async () => {
  const refused = await exchangeError(answer(400, json, '{"error":"invalid_grant"}'));
  assert.ok(refused instanceof oidc.ResponseBodyError);
  assert.equal(idpErrorStatus(refused), 400);
  assert.equal(isIdpOutage(refused), false);
  const client = await exchangeError(answer(401, json, '{"error":"invalid_client"}'));
  assert.equal(idpErrorStatus(client), 401);
  assert.equal(isIdpOutage(client), false);
  const challenge = await exchangeError(answer(401, { 'www-authenticate': 'Basic realm="idp"' }));
  assert.equal(idpErrorStatus(challenge), 401);
  assert.equal(isIdpOutage(challenge), false);
  const malformed = await exchangeError(answer(200, json, '{"nope":true}'));
  assert.equal(idpErrorStatus(malformed), undefined);
  assert.equal(isIdpOutage(malformed), false);
});

test('no answer at all is an outage: connection refused, and a token endpoint that hangs past the timeout', { timeout: 10_000 }, async () => {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const closed = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const refused = await exchangeError(answer(200), `http://127.0.0.1:${closed}/token`);
  assert.equal(isIdpOutage(refused), true, String(refused));
  const hung = await exchangeError(() => {
    /* never answers */
  });
  assert.equal((hung as { code?: string }).code, 'OAUTH_TIMEOUT', String(hung));
  assert.equal(isIdpOutage(hung), true);
});

test('errors that did not come from the IdP are not an outage', () => {
  assert.equal(isIdpOutage(new Error('unexpected JWT claim value encountered')), false);
  assert.equal(isIdpOutage(undefined), false);
  assert.equal(idpErrorStatus(new Error('x')), undefined);
});
