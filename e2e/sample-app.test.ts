// e2e/sample-app.test.ts — the sample legacy app over real sockets: request recording, the assertion
// verdict (good, bad, missing) with keys from a JWKS server, echo/slow/stream/status, the WebSocket echo.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { WebSocket } from 'ws';
import { startSampleApp, type SampleApp } from './sample-app/sample-app.js';
import { CookieJarClient } from './support/http-client.js';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'https://wiki.example.test';
const KID = 'test-assertion-key';
const LIMIT = { timeout: 15_000 };

let app: SampleApp;
let jwks: { url: string; close(): Promise<void> };
let signingKey: CryptoKey;
const client = new CookieJarClient();

before(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256', use: 'sig' };
  jwks = await startJwksServer({ keys: [publicJwk] });
  app = await startSampleApp({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE });
});

after(async () => {
  await app?.close();
  await jwks?.close();
});

function assertion(claims: Record<string, unknown> = {}, key: CryptoKey = signingKey, kid = KID): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 120, sub: 'alice-sub', user: 'alice', email: 'alice@example.com', groups: ['engineering'], route: 'wiki', ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
}

test('records every request exactly as received', LIMIT, async () => {
  app.requests.length = 0;
  const response = await client.get(`${app.url}/some/path?x=1&y=%20`, { headers: { 'X-Custom': 'one', 'x-forwarded-user': 'alice' } });
  assert.equal(response.status, 200);
  assert.equal(app.requests.length, 1);
  const [recorded] = app.requests;
  assert.equal(recorded?.method, 'GET');
  assert.equal(recorded?.url, '/some/path?x=1&y=%20');
  assert.equal(recorded?.headers['x-custom'], 'one');
  assert.equal(recorded?.headers['x-forwarded-user'], 'alice');
  assert.ok(recorded?.rawHeaders.includes('X-Custom'), 'raw header names keep their case');
  assert.ok(typeof recorded?.time === 'number' && Math.abs(recorded.time - Date.now()) < 10_000);
});

test('the page shows path, query, identity headers and a verified assertion', LIMIT, async () => {
  const token = await assertion();
  const headers = {
    accept: 'text/html',
    'x-forwarded-user': 'alice',
    'x-forwarded-email': 'alice@example.com',
    'x-forwarded-groups': 'engineering,wiki-admins',
    'x-forwarded-name': 'Alice <Example>',
    'x-drawbridge-assertion': token,
  };
  const page = await client.get(`${app.url}/wiki/page?q=a%26b`, { headers });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /<td id="path">\/wiki\/page<\/td>/);
  assert.match(page.body, /<td id="query">\?q=a%26b<\/td>/);
  assert.match(page.body, /<td id="x-forwarded-groups">engineering,wiki-admins<\/td>/);
  assert.match(page.body, /Alice &#60;Example&#62;/, 'header values are escaped');
  assert.match(page.body, />assertion verified</);
  assert.match(page.body, /&#34;route&#34;: &#34;wiki&#34;/);
  assert.doesNotMatch(page.body, /<script|<link|src="http/i, 'self-contained');

  const json = (await client.get(`${app.url}/wiki/page?q=1`, { headers: { ...headers, accept: 'application/json' } })).json();
  assert.equal(json.method, 'GET');
  assert.equal(json.path, '/wiki/page');
  assert.equal(json.url, '/wiki/page?q=1');
  assert.equal(json.headers['x-forwarded-user'], 'alice');
  assert.equal(json.assertion.verified, true);
  assert.equal(json.assertion.claims.sub, 'alice-sub');
  assert.deepEqual(json.assertion.claims.groups, ['engineering']);
  assert.equal(json.assertion.error, undefined);
});

test('a bad or missing assertion is reported with its reason', LIMIT, async () => {
  const json = { accept: 'application/json' };
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['missing', {}, /no X-Drawbridge-Assertion header/],
    ['garbage', { 'x-drawbridge-assertion': 'not.a.jwt' }, /.+/],
    ['wrong audience', { 'x-drawbridge-assertion': await assertion({ aud: 'https://other.example.test' }) }, /aud/],
    ['wrong key', { 'x-drawbridge-assertion': await assertion({}, (await generateKeyPair('ES256')).privateKey) }, /signature/],
    ['unknown kid', { 'x-drawbridge-assertion': await assertion({}, signingKey, 'other-kid') }, /no applicable key|matching/i],
    ['expired', { 'x-drawbridge-assertion': await assertion({ exp: Math.floor(Date.now() / 1000) - 600 }) }, /exp/],
  ];
  for (const [name, headers, reason] of cases) {
    const body = (await client.get(`${app.url}/`, { headers: { ...json, ...headers } })).json();
    assert.equal(body.assertion.verified, false, name);
    assert.match(body.assertion.error, reason, name);
    assert.equal(body.assertion.claims, undefined, name);
  }
  const page = await client.get(`${app.url}/`, { headers: { 'x-drawbridge-assertion': 'not.a.jwt' } });
  assert.match(page.body, />assertion NOT verified: [^<]+</);
  assert.doesNotMatch(page.body, /assertion verified/);
});

test('without verification settings the page says why, until they are given', LIMIT, async () => {
  const bare = await startSampleApp();
  try {
    const before = (await client.get(`${bare.url}/`, { headers: { accept: 'application/json', 'x-drawbridge-assertion': await assertion() } })).json();
    assert.equal(before.assertion.verified, false);
    assert.match(before.assertion.error, /no jwksUrl/);
    bare.setAssertionCheck({ jwksUrl: jwks.url, issuer: ISSUER, audience: [AUDIENCE, 'https://other.example.test'] });
    const later = (await client.get(`${bare.url}/`, { headers: { accept: 'application/json', 'x-drawbridge-assertion': await assertion() } })).json();
    assert.equal(later.assertion.verified, true);
  } finally {
    await bare.close();
    await bare.close();
  }
});

test('echo, status, slow and stream endpoints', LIMIT, async () => {
  const echo = (await client.post(`${app.url}/echo?a=1`, { body: 'hello body', headers: { 'content-type': 'text/plain' } })).json();
  assert.deepEqual([echo.method, echo.url, echo.body, echo.headers['content-type']], ['POST', '/echo?a=1', 'hello body', 'text/plain']);
  const put = (await client.request('PUT', `${app.url}/echo`, { json: { x: 1 } })).json();
  assert.equal(put.body, '{"x":1}');

  assert.equal((await client.get(`${app.url}/status/503`)).status, 503);
  assert.equal((await client.request('DELETE', `${app.url}/status/204`)).status, 204);
  assert.equal((await client.get(`${app.url}/status/99`)).status, 400);

  const started = Date.now();
  const slow = await client.get(`${app.url}/slow?ms=300`);
  assert.equal(slow.status, 200);
  assert.ok(Date.now() - started >= 290);

  const arrivals: number[] = [];
  const streamStart = Date.now();
  const body = await new Promise<string>((resolve, reject) => {
    http.get(`${app.url}/stream?ms=100&chunks=4`, (response) => {
      assert.equal(response.headers['transfer-encoding'], 'chunked');
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        arrivals.push(Date.now() - streamStart);
        text += chunk;
      });
      response.on('end', () => resolve(text));
      response.on('error', reject);
    }).on('error', reject);
  });
  assert.equal(body, 'chunk 1 of 4\nchunk 2 of 4\nchunk 3 of 4\nchunk 4 of 4\n');
  assert.ok(arrivals.length >= 3, 'chunks arrive separately');
  assert.ok((arrivals.at(-1) ?? 0) >= 250, 'the last chunk comes about ms × (chunks − 1) later');
});

test('the WebSocket echo works and its upgrade is recorded; the page script is served same-origin', LIMIT, async () => {
  app.requests.length = 0;
  const socket = new WebSocket(`${app.url.replace('http', 'ws')}/ws`, { headers: { 'x-forwarded-user': 'alice' } });
  const echoed = await new Promise<string>((resolve, reject) => {
    socket.on('open', () => socket.send('ping'));
    socket.on('message', (data) => resolve(String(data)));
    socket.on('error', reject);
  });
  socket.close();
  assert.equal(echoed, 'ping');
  const upgrade = app.requests.find((r) => r.upgrade);
  assert.equal(upgrade?.url, '/ws');
  assert.equal(upgrade?.headers['x-forwarded-user'], 'alice');
  assert.equal(upgrade?.headers.upgrade, 'websocket');

  const refused = new WebSocket(`${app.url.replace('http', 'ws')}/not-ws`);
  await new Promise<void>((resolve) => refused.on('error', () => resolve()));

  const page = await client.get(`${app.url}/ws-page`);
  assert.match(page.body, /id="ws-status"/);
  assert.match(page.body, /<script src="\/ws-page\.js"><\/script>/);
  const script = await client.get(`${app.url}/ws-page.js`);
  assert.match(String(script.headers['content-type']), /javascript/);
  assert.match(script.body, /'echo: ' \+ event\.data/);
  assert.match(script.body, /location\.host \+ '\/ws'/);
});

async function startJwksServer(body: { keys: JWK[] }): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.drawbridge/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
