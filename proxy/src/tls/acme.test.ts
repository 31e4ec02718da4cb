// tls/acme.test.ts — the pure parts of the ACME manager and its helpers: when a certificate is renewed, the backoff
// after failures, the checks before a certificate is served, directory storage, and the TLS-ALPN-01 ALPN choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import acme from 'acme-client';
import { AcmeChallenges, ACME_TLS_ALPN } from './acme-challenges.js';
import { inspectCertificate, renewalTime, retryDelay } from './acme.js';
import { DirectoryStorage, directoryKey, storageName } from './acme-storage.js';

const DAY = 86_400_000;

test('renewal comes when a third of the lifetime remains; failures back off exponentially up to the cap', () => {
  assert.equal(renewalTime(0, 90 * DAY), 60 * DAY);
  assert.equal(renewalTime(1000, 1000 + 6 * DAY), 1000 + 4 * DAY);
  const retry = { baseMs: 60_000, maxMs: 3_600_000 };
  assert.deepEqual([1, 2, 3, 4, 7, 8, 60].map((n) => retryDelay(n, retry)), [60_000, 120_000, 240_000, 480_000, 3_600_000, 3_600_000, 3_600_000]);
  assert.equal(retryDelay(1), 5 * 60_000);
});

/** A self-signed certificate naming `host` (acme-client's TLS-ALPN-01 certificate is one). */
async function selfSigned(host: string): Promise<{ certPem: string; keyPem: string }> {
  const [key, cert] = await acme.crypto.createAlpnCertificate({ identifier: { type: 'dns', value: host } } as acme.Authorization, 'token.thumbprint');
  return { certPem: cert.toString(), keyPem: key.toString() };
}

/** A self-signed certificate for `host`, valid for a day (openssl). */
function issued(host: string): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-acme-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') };
}

test('a certificate is served only with its own key and when it names the host', async () => {
  const a = issued('a.example.com');
  const b = issued('b.example.com');
  const { notBefore, notAfter } = inspectCertificate('a.example.com', a);
  assert.ok(notAfter - notBefore >= DAY - 1000 && notAfter - notBefore <= DAY + 1000);
  const alpn = await selfSigned('a.example.com');
  assert.throws(() => inspectCertificate('a.example.com', { certPem: alpn.certPem, keyPem: a.keyPem }), /does not match/);
  assert.throws(() => inspectCertificate('a.example.com', alpn), /no usable validity period/);
  assert.throws(() => inspectCertificate('a.example.com', { certPem: a.certPem, keyPem: b.keyPem }), /does not match/);
  assert.throws(() => inspectCertificate('b.example.com', a), /does not name b\.example\.com/);
});

test('directory storage: one directory per ACME directory URL, keys and certificates 0600, host names only', async () => {
  assert.equal(directoryKey('https://acme-v02.api.letsencrypt.org/directory'), 'acme-v02.api.letsencrypt.org-directory');
  assert.equal(directoryKey('https://127.0.0.1:14000/dir'), '127.0.0.1-14000-dir');
  const root = mkdtempSync(join(tmpdir(), 'drawbridge-acme-storage-'));
  const storage = new DirectoryStorage(root, 'https://ca.example/acme/dir');
  assert.equal(await storage.loadAccountKey(), undefined);
  assert.equal(await storage.load('a.example.com'), undefined);
  await storage.saveAccountKey('ACCOUNT');
  await storage.save('a.example.com', { certPem: 'CERT', keyPem: 'KEY' });
  assert.equal(await storage.loadAccountKey(), 'ACCOUNT');
  assert.deepEqual(await storage.load('a.example.com'), { certPem: 'CERT', keyPem: 'KEY' });
  const dir = join(root, 'ca.example-acme-dir');
  assert.equal(statSync(join(dir, 'account-key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'certificates', 'a.example.com', 'key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'certificates')).mode & 0o777, 0o700);
  for (const bad of ['../etc', 'a/b.example.com', '.example.com', 'x']) assert.throws(() => storageName(bad), /not a host name/);
});

test('ALPN: acme-tls/1 only for a name with a pending TLS-ALPN-01 challenge (refused otherwise); else the server\'s first protocol the client offers', async () => {
  const challenges = new AcmeChallenges();
  const choose = challenges.alpnCallback(['h2', 'http/1.1']);
  const socket = {} as never;
  assert.equal(choose.call(socket, { servername: 'a.example.com', protocols: [ACME_TLS_ALPN] }), undefined);
  assert.equal(challenges.alpnContext(socket, 'a.example.com'), undefined);
  const { certPem, keyPem } = await selfSigned('a.example.com');
  challenges.setAlpn('a.example.com', certPem, keyPem);
  assert.equal(choose.call(socket, { servername: 'b.example.com', protocols: [ACME_TLS_ALPN] }), undefined);
  const other = {} as never;
  assert.equal(choose.call(other, { servername: 'a.example.com', protocols: ['http/1.1'] }), 'http/1.1');
  assert.equal(challenges.alpnContext(other, 'a.example.com'), undefined, 'a normal client of the name never gets the challenge certificate');
  assert.equal(choose.call(socket, { servername: 'a.example.com', protocols: [ACME_TLS_ALPN] }), ACME_TLS_ALPN);
  assert.ok(challenges.alpnContext(socket, 'a.example.com'));
  assert.equal(choose.call(other, { servername: 'a.example.com', protocols: ['http/1.1', 'h2'] }), 'h2');
  assert.equal(choose.call(other, { servername: 'a.example.com', protocols: ['spdy/3'] }), undefined);
  challenges.deleteAlpn('a.example.com');
  assert.equal(challenges.alpnContext(socket, 'a.example.com'), undefined);
});
