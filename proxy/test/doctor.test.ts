// proxy/test/doctor.test.ts — `drawbridge doctor --config FILE` against the dev IdP over real sockets: a good
// configuration passes (exit 0); a wrong secret, a wrong authentication method, a wrong issuer, an issuer URL with no
// discovery document and unregistered redirect URIs each fail (exit 1) with what to fix; private_key_jwt prints the
// public key to register.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { startDevIdp, type DevIdp } from '../../e2e/idp/dev-idp.js';
import { runCli } from '../src/cli/index.js';
import { reservePort } from '../../test-support/stack.js';

const SECRET = 'doctor-client-secret-0123456789abcdef0123456789';
const PUBLIC_URL = 'http://auth.localhost:8443';
const dir = mkdtempSync(join(tmpdir(), 'drawbridge-doctor-'));
const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyFile = join(dir, 'client-key.pem');
writeFileSync(keyFile, keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
let kid = '';
let idp: DevIdp;

before(async () => {
  const jwk = keyPair.publicKey.export({ format: 'jwk' }) as JWK;
  kid = await calculateJwkThumbprint(jwk);
  const uris = { redirectUris: [`${PUBLIC_URL}/.drawbridge/callback`], postLogoutRedirectUris: [`${PUBLIC_URL}/.drawbridge/sign_out`] };
  idp = await startDevIdp({
    clients: [
      { clientId: 'drawbridge', clientSecret: SECRET, ...uris },
      { clientId: 'basic-only', clientSecret: SECRET, tokenEndpointAuthMethod: 'client_secret_basic', ...uris },
      { clientId: 'keyed', tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] }, ...uris },
    ],
  });
});

after(async () => {
  await idp?.close();
});

interface Setup {
  issuer?: string;
  clientId?: string;
  secret?: string | null;
  extra?: string;
  publicUrl?: string;
}

/** Runs `drawbridge doctor --config FILE` on a configuration for the dev IdP. */
async function doctor(setup: Setup = {}): Promise<{ code: number | undefined; out: string; err: string }> {
  const file = join(dir, `drawbridge-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `publicUrl: ${setup.publicUrl ?? PUBLIC_URL}
idp:
  issuer: ${setup.issuer ?? idp.issuer}
  clientId: ${setup.clientId ?? 'drawbridge'}
${setup.secret === null ? '' : `  clientSecret: ${setup.secret ?? SECRET}\n`}  allowInsecureHttp: true
${setup.extra ?? ''}
session: { secret: doctor-session-secret-0123456789abcdef0123456789 }
routes:
  - { name: app, from: "http://app.localhost:8443", to: "http://127.0.0.1:9", policy: { allow: [ { authenticated: true } ] } }
`,
  );
  let out = '';
  let err = '';
  const code = await runCli(['doctor', '--config', file], { stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) }, env: {} });
  return { code, out, err };
}

const failures = (out: string) => out.split('\n').filter((l) => l.startsWith('FAIL'));

test('a good configuration: every check ok, exit 0', { timeout: 30_000 }, async () => {
  const { code, out } = await doctor();
  assert.equal(code, 0, out);
  assert.deepEqual(failures(out), []);
  for (const line of [
    `ok    discovery: ${idp.issuer}/.well-known/openid-configuration (issuer ${idp.issuer})`,
    'ok    client authentication: client_secret_basic (the default for what the IdP lists)',
    'ok    ID token signatures verified with RS256, ES256',
    `ok    jwks_uri ${idp.issuer}/jwks: 2 key(s) for RS256, ES256`,
    `ok    authorization endpoint accepts client drawbridge with redirect URI ${PUBLIC_URL}/.drawbridge/callback`,
    `ok    end_session_endpoint accepts the post-logout redirect URI ${PUBLIC_URL}/.drawbridge/sign_out`,
  ]) {
    assert.ok(out.includes(line), `${line}\n---\n${out}`);
  }
  assert.match(out, /^ok {4}token endpoint .* answers OAuth errors \(without credentials: HTTP 401 invalid_client\)$/m);
  assert.match(out, /^ok {4}client credentials accepted with client_secret_basic \(a made-up code got HTTP 400 invalid_grant/m);
  assert.match(out, /\n\d+ ok, 0 warnings, 0 problems\n$/);
});

test('a wrong client secret: FAIL naming invalid_client and idp.clientSecret, exit 1', { timeout: 30_000 }, async () => {
  const { code, out } = await doctor({ secret: 'a-wrong-secret-0123456789abcdef0123456789' });
  assert.equal(code, 1, out);
  const [fail, ...more] = failures(out);
  assert.equal(more.length, 0, out);
  assert.match(fail!, /^FAIL {2}client credentials refused with client_secret_basic: HTTP 401 invalid_client/);
  assert.match(out, /fix: check idp\.clientSecret and idp\.tokenEndpointAuthMethod/);
  assert.match(out, /1 problem\n$/);
});

test('client_secret_post for a client registered for client_secret_basic: FAIL, and the method that works', { timeout: 30_000 }, async () => {
  const { code, out } = await doctor({ clientId: 'basic-only', extra: '  tokenEndpointAuthMethod: client_secret_post' });
  assert.equal(code, 1, out);
  assert.match(failures(out)[0]!, /client authentication client_secret_post refused: HTTP 401 unauthorized_client/);
  assert.match(out, /fix: the IdP accepts this client with client_secret_basic: set idp\.tokenEndpointAuthMethod: client_secret_basic/);
  // The default picks basic, which works.
  assert.equal((await doctor({ clientId: 'basic-only' })).code, 0);
});

test('an issuer the IdP does not announce: FAIL with the issuer it advertises', { timeout: 30_000 }, async () => {
  const other = await startDevIdp({ clients: [{ clientId: 'drawbridge', clientSecret: SECRET, redirectUris: [`${PUBLIC_URL}/.drawbridge/callback`] }], discoveryDocument: (doc) => ({ ...doc, issuer: `${String(doc.issuer)}/realms/main` }) });
  try {
    const { code, out } = await doctor({ issuer: other.issuer });
    assert.equal(code, 1, out);
    assert.ok(out.includes(`FAIL  issuer: the IdP announces "${other.issuer}/realms/main", idp.issuer is "${other.issuer}"`), out);
    assert.ok(out.includes(`fix: set idp.issuer to exactly "${other.issuer}/realms/main"`), out);
  } finally {
    await other.close();
  }
});

test('an issuer URL with no discovery document, or nothing listening: FAIL with the URL and the status, exit 1', { timeout: 30_000 }, async () => {
  const missing = await doctor({ issuer: `${idp.issuer}/realms/wrong` });
  assert.equal(missing.code, 1);
  assert.ok(missing.out.includes(`FAIL  discovery: ${idp.issuer}/realms/wrong/.well-known/openid-configuration answered HTTP 404`), missing.out);
  assert.match(missing.out, /fix: no discovery document at this URL: idp\.issuer must be the issuer identifier/);
  const port = await reservePort();
  const closed = await doctor({ issuer: `http://127.0.0.1:${port}` });
  assert.equal(closed.code, 1);
  assert.ok(closed.out.includes(`FAIL  discovery: http://127.0.0.1:${port}/.well-known/openid-configuration cannot be reached: fetch failed (ECONNREFUSED)`), closed.out);
});

test('redirect and post-logout URIs the IdP has not registered: FAIL with the exact URIs to register', { timeout: 30_000 }, async () => {
  const { code, out } = await doctor({ publicUrl: 'http://elsewhere.localhost:8443' });
  assert.equal(code, 1, out);
  assert.match(out, /FAIL {2}authorization endpoint refused the sign-in request \(HTTP 400\): it names the redirect_uri/);
  assert.ok(out.includes('fix: register http://elsewhere.localhost:8443/.drawbridge/callback exactly as a redirect URI of client drawbridge'), out);
  assert.ok(out.includes('fix: register http://elsewhere.localhost:8443/.drawbridge/sign_out exactly as a post-logout redirect URI of client drawbridge'), out);
});

test('private_key_jwt: the client authenticates with the key; the public JWK to register is printed', { timeout: 30_000 }, async () => {
  const { code, out } = await doctor({ clientId: 'keyed', secret: null, extra: `  tokenEndpointAuthMethod: private_key_jwt\n  privateKeyFile: ${keyFile}` });
  assert.equal(code, 0, out);
  assert.ok(out.includes(`ok    client key ${keyFile}: ES256, kid ${kid}; register this public key at the IdP`), out);
  const jwks = JSON.parse(out.split('\n').find((l) => l.trim().startsWith('{"keys"'))!.trim()) as { keys: JWK[] };
  assert.equal(jwks.keys[0]!.kid, kid);
  assert.equal('d' in jwks.keys[0]!, false, 'never the private part');
  assert.match(out, /ok {4}client credentials accepted with private_key_jwt/);
  // The same key for a client that registered another one: refused.
  const wrong = await doctor({ clientId: 'drawbridge', secret: null, extra: `  tokenEndpointAuthMethod: private_key_jwt\n  privateKeyFile: ${keyFile}` });
  assert.equal(wrong.code, 1);
  assert.match(failures(wrong.out)[0]!, /client credentials refused with private_key_jwt: HTTP 401 invalid_client/);
});

test('usage and an invalid configuration', { timeout: 30_000 }, async () => {
  let err = '';
  assert.equal(await runCli(['doctor'], { stdout: { write: () => undefined }, stderr: { write: (c: string) => (err += c) }, env: {} }), 2);
  assert.match(err, /usage: drawbridge doctor --config FILE/);
  const invalid = await doctor({ secret: null });
  assert.equal(invalid.code, 1);
  assert.match(invalid.err, /idp\.clientSecret is required/);
});
