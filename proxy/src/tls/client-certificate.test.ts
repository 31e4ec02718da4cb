// tls/client-certificate.test.ts — device certificate trust (chain, validity, CRL), what a certificate becomes, and
// X-Forwarded-Client-Cert parsing, with certificates made at test time by the openssl CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certDir, makeCa, makeCert, makeCrl, makeDeviceCert } from '../../../test-support/certs.js';
import { deviceOf, DeviceTrust, HeaderDevices, parseSubjectAltName, xfccElement } from './client-certificate.js';

const dir = certDir();
const ca = makeCa(dir, 'device-ca');
const other = makeCa(dir, 'other-ca');
const laptop = makeDeviceCert(dir, ca, 'laptop', { subject: '/CN=laptop-42/O=Example/OU=a/OU=b', san: ['URI:urn:device:laptop-42', 'email:it@example.com'] });
const revoked = makeDeviceCert(dir, ca, 'stolen');
const foreign = makeDeviceCert(dir, other, 'foreign');
const server = makeCert(dir, ca, 'server', ['app.localhost']);
const crlFile = makeCrl(dir, ca, [revoked]);
const keys = { ca: 'tls.clientCa', crl: 'tls.clientCrl' };
const now = Date.now();
const x509 = (pem: string) => new X509Certificate(pem);

test('DeviceTrust: a certificate of the CA passes; a foreign, a revoked, an expired or a not-yet-valid one does not', () => {
  const trust = DeviceTrust.read(ca.certFile, crlFile, keys);
  assert.equal(trust.check(x509(laptop.pem), now), undefined);
  assert.equal(trust.check(x509(foreign.pem), now), 'unknown-issuer');
  assert.equal(trust.check(x509(revoked.pem), now), 'revoked');
  assert.equal(trust.check(x509(laptop.pem), now + 40 * 86400_000), 'expired');
  assert.equal(trust.check(x509(laptop.pem), now - 86400_000), 'not-yet-valid');
  assert.equal(trust.check(x509(ca.pem), now), 'not-for-client-auth', 'the CA itself is no device');
  // Without a CRL nothing is revoked.
  assert.equal(DeviceTrust.read(ca.certFile, undefined, keys).check(x509(revoked.pem), now), undefined);
});

test('DeviceTrust: with a CRL file, a CA that has no list in it refuses its certificates (fail closed)', () => {
  const both = join(dir, 'both.pem');
  writeFileSync(both, ca.pem + other.pem);
  const trust = DeviceTrust.read(both, crlFile, keys);
  assert.equal(trust.check(x509(foreign.pem), now), 'no-crl');
  assert.equal(trust.check(x509(laptop.pem), now), undefined);
  assert.equal(trust.check(x509(server.pem), now), undefined, 'a leaf with serverAuth and clientAuth is a client certificate too');
});

test('DeviceTrust: a certificate for servers only (extended key usage serverAuth) is no device', () => {
  const key = join(dir, 'server-only.key');
  const csr = join(dir, 'server-only.csr');
  const crt = join(dir, 'server-only.crt');
  const ext = join(dir, 'server-only.ext');
  writeFileSync(ext, 'extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=server-only'], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', '77', '-out', crt, '-days', '5', '-extfile', ext], { stdio: 'pipe' });
  assert.equal(DeviceTrust.read(ca.certFile, undefined, keys).check(x509(readFileSync(crt, 'utf8')), Date.now() + 1000), 'not-for-client-auth');
});

test('DeviceTrust: a CRL signed by no CA of the bundle, a bundle without certificates and a missing file are refused, naming the key', () => {
  const otherCrl = makeCrl(dir, other, []);
  assert.throws(() => DeviceTrust.read(ca.certFile, otherCrl, keys), /tls\.clientCrl: revocation list 1: signed by no certificate of tls\.clientCa/);
  const empty = join(dir, 'empty.pem');
  writeFileSync(empty, 'nothing here');
  assert.throws(() => DeviceTrust.read(empty, undefined, keys), /tls\.clientCa: no PEM certificate/);
  assert.throws(() => DeviceTrust.read(join(dir, 'missing.pem'), undefined, keys), /tls\.clientCa \(.*missing\.pem\) cannot be read: no such file/);
});

test('DeviceTrust: a DER CRL reads like a PEM one', () => {
  const pem = readFileSync(crlFile, 'utf8');
  const der = join(dir, 'crl.der');
  writeFileSync(der, Buffer.from(pem.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64'));
  assert.equal(DeviceTrust.read(ca.certFile, der, keys).check(x509(revoked.pem), now), 'revoked');
});

test('deviceOf: fingerprint, subject and issuer fields (a repeated one joined by newlines), SAN entries', () => {
  const d = deviceOf(x509(laptop.pem), 'tls');
  assert.equal(d.fingerprint256, x509(laptop.pem).fingerprint256.replace(/:/g, '').toLowerCase());
  assert.deepEqual(d.subject, { CN: 'laptop-42', O: 'Example', OU: 'a\nb' });
  assert.deepEqual(d.issuer, { CN: 'Drawbridge Test device-ca' });
  assert.deepEqual(d.san, ['URI:urn:device:laptop-42', 'email:it@example.com']);
  assert.equal(d.source, 'tls');
});

test('parseSubjectAltName: node quotes a value with a comma; it is one entry, unquoted', () => {
  assert.deepEqual(parseSubjectAltName('DNS:a.example, URI:"urn:x,DNS:evil.example", email:b@example.com'), ['DNS:a.example', 'URI:urn:x,DNS:evil.example', 'email:b@example.com']);
  assert.deepEqual(parseSubjectAltName(undefined), []);
});

test('xfccElement: the rightmost element counts, quoted values unquoted', () => {
  const f = xfccElement('By=spiffe://client-said;Hash=aa;Cert="forged",By=spiffe://lb;Hash=BB;Subject="CN=x,O=y";URI=urn:d');
  assert.deepEqual(f, { by: 'spiffe://lb', hash: 'BB', subject: 'CN=x,O=y', uri: 'urn:d' });
  assert.equal(xfccElement(undefined), undefined);
});

test('HeaderDevices: the header\'s certificate is verified like a handshake\'s: foreign, revoked, malformed and a wrong Hash are no device', () => {
  const h = new HeaderDevices('x-forwarded-client-cert', DeviceTrust.read(ca.certFile, crlFile, keys));
  const header = (pem: string, extra = '') => `Hash=${x509(pem).fingerprint256.replace(/:/g, '').toLowerCase()};Cert="${encodeURIComponent(pem)}"${extra}`;
  const ok = h.resolve(header(laptop.pem), now);
  assert.equal(ok.device?.subject['CN'], 'laptop-42');
  assert.equal(ok.device?.source, 'header');
  assert.equal(h.resolve(header(foreign.pem), now).refusal, 'unknown-issuer');
  assert.equal(h.resolve(header(revoked.pem), now).refusal, 'revoked');
  assert.equal(h.resolve('Hash=00;Subject="CN=laptop-42"', now).refusal, 'malformed', 'no Cert: nothing to verify');
  assert.equal(h.resolve('Cert="not%20a%20certificate"', now).refusal, 'malformed');
  assert.equal(h.resolve(`Hash=${'0'.repeat(64)};Cert="${encodeURIComponent(laptop.pem)}"`, now).refusal, 'hash-mismatch');
  // A client's own element to the left of the proxy's is never read.
  assert.equal(h.resolve(`${header(laptop.pem)},Hash=00;Subject="x"`, now).refusal, 'malformed');
  assert.deepEqual(h.resolve(undefined, now), {});
});
