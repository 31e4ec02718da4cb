// oidc/jwks.test.ts — the IdP client's JWKS caches are separate objects per kind of token: what bearer tokens do to
// theirs (anyone can send one) never leaves back-channel logout tokens with stale keys, over a real JWKS endpoint.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import { JwksCache } from './jwks.js';

async function signingKey(kid: string): Promise<{ kid: string; jwk: JWK; sign(): Promise<string> }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { kid, jwk, sign: () => new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuedAt().setExpirationTime('5m').sign(privateKey) };
}

test('a key rotation reaches the logout-token cache even right after the bearer cache fetched the old keys', async (t) => {
  const [a, b] = await Promise.all([signingKey('a'), signingKey('b')]);
  let published: JWK[] = [a.jwk];
  let fetches = 0;
  const server = http.createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const uri = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
  const bearer = new JwksCache();
  const logout = new JwksCache();

  assert.equal(bearer.keys(uri), bearer.keys(uri), 'one key set per URI within a cache');
  await jwtVerify(await a.sign(), bearer.keys(uri));
  assert.equal(fetches, 1);
  // The IdP rotates; the bearer cache just fetched, so it would not refetch for 30 s (jose's cooldown).
  published = [b.jwk];
  await assert.rejects(jwtVerify(await b.sign(), bearer.keys(uri)), 'the bearer cache is in its cooldown');
  const { payload } = await jwtVerify(await b.sign(), logout.keys(uri));
  assert.equal(payload.sub, 'alice');
  assert.equal(fetches, 2, 'the logout cache fetched the keys itself');
});
