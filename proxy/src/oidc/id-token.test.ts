// oidc/id-token.test.ts — which ID token signatures pass: the IdP's keys with the algorithms it announces; never
// `none`, never HMAC with a secret other than the client secret, never a key outside its JWKS; keys that cannot be
// fetched are an outage, not a verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, SignJWT, type JWK } from 'jose';
import { DrawbridgeError } from '../errors.js';
import { isIdpOutage } from './client.js';
import { idTokenAlgorithms, isIdTokenRejected, verifyIdTokenSignature } from './id-token.js';

const SECRET = 'the-client-secret-0123456789abcdef0123456789';
const CLAIMS = { iss: 'https://idp.example.com', aud: 'drawbridge', sub: 'alice', nonce: 'n', iat: 1_700_000_000, exp: 1_700_000_300 };

async function key(type: 'rsa' | 'ec') {
  const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey: pair.privateKey, kid, jwk: { ...jwk, kid, alg: type === 'rsa' ? 'RS256' : 'ES256', use: 'sig' } };
}

const rsa = await key('rsa');
const ec = await key('ec');
const foreign = await key('rsa');
const jwksUri = new URL('https://idp.example.com/jwks');
const jwks = createLocalJWKSet({ keys: [rsa.jwk, ec.jwk] });
const announced = idTokenAlgorithms(['RS256', 'ES256', 'HS256', 'none'], SECRET);

const sign = (alg: string, k: Parameters<SignJWT['sign']>[0], kid?: string) =>
  new SignJWT(CLAIMS).setProtectedHeader({ alg, ...(kid ? { kid } : {}) }).sign(k);
const unsigned = () => `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(CLAIMS)).toString('base64url')}.`;
const verify = (token: string, opts: Partial<Parameters<typeof verifyIdTokenSignature>[1]> = {}) =>
  verifyIdTokenSignature(token, { jwks, jwksUri, algorithms: announced, clientSecret: SECRET, ...opts });

async function refused(token: string, why: RegExp, opts: Partial<Parameters<typeof verifyIdTokenSignature>[1]> = {}): Promise<void> {
  await assert.rejects(verify(token, opts), (e: unknown) => {
    assert.ok(isIdTokenRejected(e), String(e));
    assert.equal((e as DrawbridgeError).code, 'DRB_ID_TOKEN_INVALID');
    assert.match((e as Error).message, why);
    assert.ok((e as { hint: string }).hint.length > 10);
    assert.equal(isIdpOutage(e), false, 'a refused token is no outage');
    return true;
  });
}

test('the algorithms: what the IdP announces, of what Drawbridge verifies; none never; HMAC only with a client secret', () => {
  assert.deepEqual(idTokenAlgorithms(['RS256', 'ES256', 'HS256', 'none', 'PS512', 'XYZ'], SECRET), { asymmetric: ['RS256', 'ES256', 'PS512'], hmac: ['HS256'] });
  assert.deepEqual(idTokenAlgorithms(['RS256', 'HS256'], undefined), { asymmetric: ['RS256'], hmac: [] });
  assert.deepEqual(idTokenAlgorithms(undefined, SECRET), { asymmetric: ['RS256'], hmac: [] }, 'no list: RS256, the OIDC default');
  assert.deepEqual(idTokenAlgorithms(['none'], SECRET), { asymmetric: [], hmac: [] });
});

test('tokens signed by the IdP\u2019s keys pass (RS256, ES256); HS256 with the client secret passes when announced', async () => {
  await verify(await sign('RS256', rsa.privateKey, rsa.kid));
  await verify(await sign('ES256', ec.privateKey, ec.kid));
  await verify(await sign('RS256', rsa.privateKey), { jwks: createLocalJWKSet({ keys: [rsa.jwk] }) });
  await verify(await sign('HS256', new TextEncoder().encode(SECRET)));
});

test('forged or unacceptable tokens are refused, each with a reason and a hint', async () => {
  await refused(unsigned(), /unsigned/);
  await refused(await sign('HS256', new TextEncoder().encode('a-secret-drawbridge-does-not-know-0123456789')), /does not verify with idp\.clientSecret/);
  // HMAC with the right secret, but not announced; or no client secret at all (private_key_jwt).
  await refused(await sign('HS256', new TextEncoder().encode(SECRET)), /HMAC.*does not announce/, { algorithms: idTokenAlgorithms(['RS256'], SECRET) });
  await refused(await sign('HS256', new TextEncoder().encode(SECRET)), /HMAC.*no client secret/, { clientSecret: undefined, algorithms: idTokenAlgorithms(['RS256', 'HS256'], undefined) });
  await refused(await sign('HS384', new TextEncoder().encode(SECRET)), /HMAC/);
  // A key outside the JWKS, with its own kid or the IdP's.
  await refused(await sign('RS256', foreign.privateKey, foreign.kid), /not in the IdP's JWKS/);
  await refused(await sign('RS256', foreign.privateKey, rsa.kid), /signature does not verify/);
  await refused(await sign('RS256', foreign.privateKey), /signature does not verify|not in/);
  // An algorithm the IdP does not announce, even with its own key.
  await refused(await sign('PS256', rsa.privateKey, rsa.kid), /PS256, which the IdP does not announce/);
  // HS256 "signed" with the IdP's public key (the algorithm-confusion attack) is HMAC with an unknown secret.
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await refused(await sign('HS256', new TextEncoder().encode(pem)), /HMAC|does not verify/);
  await refused('not-a-jwt', /not a JWS/);
});

test('keys that cannot be fetched are an outage (DRB_IDP_UNAVAILABLE), not a verdict on the token', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const closed = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
  await new Promise<void>((r) => server.close(() => r()));
  const token = await sign('RS256', rsa.privateKey, rsa.kid);
  await assert.rejects(verify(token, { jwks: createRemoteJWKSet(closed, { timeoutDuration: 2000 }), jwksUri: closed }), (e: unknown) => {
    assert.equal(isIdTokenRejected(e), false);
    assert.equal((e as DrawbridgeError).code, 'DRB_IDP_UNAVAILABLE');
    assert.match((e as Error).message, new RegExp(closed.href.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    assert.equal(isIdpOutage(e), true);
    return true;
  });
});
