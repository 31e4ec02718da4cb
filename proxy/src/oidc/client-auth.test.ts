// oidc/client-auth.test.ts — which token endpoint authentication Drawbridge uses (the configured one, else what
// the discovery document lists, basic first), and the private_key_jwt key: formats, algorithm, kid, public JWK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, importJWK, SignJWT } from 'jose';
import { chooseAuthMethod, loadClientKey } from './client-auth.js';

test('the default is client_secret_basic (listed or no list), else client_secret_post; a configured method wins', () => {
  assert.deepEqual(chooseAuthMethod(undefined, undefined), { method: 'client_secret_basic' });
  assert.deepEqual(chooseAuthMethod(undefined, ['client_secret_post', 'client_secret_basic', 'private_key_jwt']), { method: 'client_secret_basic' });
  assert.deepEqual(chooseAuthMethod(undefined, ['client_secret_post', 'private_key_jwt']), { method: 'client_secret_post' });
  const none = chooseAuthMethod(undefined, ['private_key_jwt', 'tls_client_auth']);
  assert.equal(none.method, 'client_secret_basic');
  assert.match(none.warning!, /neither client_secret_basic nor client_secret_post/);
  assert.deepEqual(chooseAuthMethod('client_secret_post', ['client_secret_basic', 'client_secret_post']), { method: 'client_secret_post' });
  assert.deepEqual(chooseAuthMethod('private_key_jwt', undefined), { method: 'private_key_jwt' });
  const unlisted = chooseAuthMethod('client_secret_post', ['client_secret_basic']);
  assert.equal(unlisted.method, 'client_secret_post', 'the operator said so');
  assert.match(unlisted.warning!, /does not list it|does not list/);
});

test('the private_key_jwt key: PKCS#8, PKCS#1 and SEC1 PEM; RS256, ES256/384, Ed25519; kid = RFC 7638 thumbprint', async () => {
  const cases = [
    ['RSA PKCS#8', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), 'RS256'],
    ['RSA PKCS#1', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }), 'RS256'],
    ['EC P-256 SEC1', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }), 'ES256'],
    ['EC P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), 'ES384'],
    ['Ed25519', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), 'Ed25519'],
  ] as const;
  for (const [what, pem, alg] of cases) {
    const k = await loadClientKey(String(pem));
    assert.equal(k.alg, alg, what);
    const { kid: _kid, alg: _alg, use: _use, ...bare } = k.publicJwk;
    assert.equal(k.kid, await calculateJwkThumbprint(bare), what);
    assert.deepEqual([k.publicJwk.kid, k.publicJwk.alg, k.publicJwk.use], [k.kid, alg, 'sig'], what);
    assert.equal('d' in k.publicJwk, false, `${what}: the public JWK has no private part`);
    // What it signs verifies with the public JWK the IdP registers.
    const jws = await new SignJWT({ iss: 'drawbridge' }).setProtectedHeader({ alg, kid: k.kid }).sign(k.key);
    await compactVerify(jws, await importJWK(k.publicJwk, alg));
  }
});

test('keys Drawbridge cannot use are refused with the reason', async () => {
  await assert.rejects(loadClientKey('not a key'), /./);
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  await assert.rejects(loadClientKey(String(small)), /2048/);
  const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  await assert.rejects(loadClientKey(String(secp256k1)), /curve/);
  const publicOnly = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
  await assert.rejects(loadClientKey(String(publicOnly)), /./);
});
