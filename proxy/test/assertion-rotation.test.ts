// proxy/test/assertion-rotation.test.ts — the assertion's signing key rotated by a reload (SPEC §6, §7, §11: the
// assertion is bound to Drawbridge's key): the next request is signed with the new key, even one whose token was
// cached under the old key; the JWKS publishes the new key first and the previous ones listed; a key taken out of
// previousKeys stops verifying at once; a bad or missing key file is refused with the setting and file named, and the
// key in force stays. (With `workers`, every worker takes the same key: proxy/test/workers.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { marker } from '../../test-support/raw.js';
import { received, startStack, type Stack } from '../../test-support/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'drawbridge-rotation-'));
/** A P-256 key pair in two files: the private key (keyFile) and the public key (previousKeys). */
function keyPair(name: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }) as string);
  return { key, pub };
}
const A = keyPair('a');
const B = keyPair('b');

let s: Stack;
let b: CookieJarClient;
let original: string;

before(async () => {
  s = await startStack({ extra: `assertion: { keyFile: ${A.key} }\n` });
  original = readFileSync(s.configFile, 'utf8');
  b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  assert.equal(response.status, 200);
});

after(async () => {
  await s?.close();
});

/** Rewrites the configuration's `assertion:` line and reloads. */
function reloadWith(assertion: string) {
  writeFileSync(s.configFile, original.replace(/^assertion: .*$/m, `assertion: ${assertion}`));
  return s.db.reload();
}

/** The assertion the upstream received for one request of alice's through the app route. */
async function assertion(): Promise<string> {
  const m = marker('rot');
  assert.equal((await b.get(s.url('app.localhost', `/${m}`), { redirect: 'manual' })).status, 200);
  const [got] = received(s.app, m);
  const token = got?.headers['x-drawbridge-assertion'];
  assert.ok(typeof token === 'string', 'the upstream got an assertion');
  return token;
}

async function jwks(): Promise<JSONWebKeySet> {
  const res = await fetch(`http://127.0.0.1:${s.port}/.drawbridge/jwks.json`);
  assert.equal(res.status, 200);
  return (await res.json()) as JSONWebKeySet;
}

const verify = (token: string, set: JSONWebKeySet) => jwtVerify(token, createLocalJWKSet(set), { issuer: s.publicUrl, audience: s.url('app.localhost').replace(/\/$/, ''), algorithms: ['ES256'] });

test('a reload rotates the assertion key: the next request is signed with the new key, the old key stays published until it is taken out', { timeout: 60_000 }, async () => {
  const first = await assertion();
  const kidA = decodeProtectedHeader(first).kid;
  assert.deepEqual((await jwks()).keys.map((k) => k.kid), [kidA]);
  assert.equal(await assertion(), first, 'cached: the same token');
  assert.ok(s.db.watchedFiles().includes(A.key), 'the key file is watched like the TLS files');

  const from = s.logs.length;
  assert.deepEqual(await reloadWith(`{ keyFile: ${B.key}, previousKeys: [${A.pub}] }`), { ok: true });
  const rotated = s.logs.slice(from).find((l) => l.event === 'assertion-key');
  assert.equal(rotated?.result, 'rotated');
  const set = await jwks();
  const kidB = set.keys[0]!.kid;
  assert.notEqual(kidB, kidA);
  assert.deepEqual(set.keys.map((k) => k.kid), [kidB, kidA], 'the new key first, the previous one still published');
  assert.equal(rotated?.kid, kidB);
  assert.ok(s.db.watchedFiles().includes(B.key) && s.db.watchedFiles().includes(A.pub));
  // Within the time the first token would have been served from the cache: a new token, signed with B.
  const second = await assertion();
  assert.notEqual(second, first);
  assert.equal(decodeProtectedHeader(second).kid, kidB);
  await verify(second, set);
  await verify(first, set); // tokens signed before the rotation verify until they expire
  assert.equal(await assertion(), second, 'cached again, under the new key');

  // A bad key, a missing file: refused with the setting named; the key in force stays.
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, 'not a key');
  const refused = await reloadWith(`{ keyFile: ${bad}, previousKeys: [${A.pub}] }`);
  assert.equal(refused.ok, false);
  assert.match(JSON.stringify(refused), /assertion\.keyFile: not a PEM private key/);
  const missing = await reloadWith(`{ keyFile: ${join(dir, 'missing.key')} }`);
  assert.equal(missing.ok, false);
  assert.match(JSON.stringify(missing), /assertion\.keyFile: cannot read .*missing\.key \(ENOENT\)/);
  assert.deepEqual((await jwks()).keys.map((k) => k.kid), [kidB, kidA]);
  assert.equal(decodeProtectedHeader(await assertion()).kid, kidB);

  // The old key taken out (say it leaked): the JWKS drops it at once, and what it signed no longer verifies.
  assert.deepEqual(await reloadWith(`{ keyFile: ${B.key} }`), { ok: true });
  const last = await jwks();
  assert.deepEqual(last.keys.map((k) => k.kid), [kidB]);
  await assert.rejects(verify(first, last));
  await verify(await assertion(), last);
});
