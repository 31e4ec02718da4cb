// tls/upstream.test.ts — an upstream's TLS options: caFile adds to the system roots unless caOnly, minVersion,
// files read now with errors naming the route and the key, a changed file makes a new pool (fingerprint).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { makeRoute } from '../forward/harness.case.js';
import { certDir, makeCa, makeCert } from '../../../test-support/certs.js';
import { upstreamTls } from './upstream.js';

const base = { caOnly: false, minVersion: 'TLSv1.2' as const, insecureSkipVerify: false };

test('caFile is added to the system roots; caOnly trusts it alone; minVersion and serverName are set', () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const added = upstreamTls(makeRoute('https://app.internal:8443', { upstreamTls: { ...base, caFile: ca.certFile } }));
  const list = added.options.ca as string[];
  assert.equal(list.length, rootCertificates.length + 1);
  assert.ok(list.includes(rootCertificates[0]!));
  assert.match(String(list.at(-1)), /BEGIN CERTIFICATE/);
  assert.equal(added.options.minVersion, 'TLSv1.2');
  assert.equal(added.options.servername, 'app.internal');
  assert.equal(added.options.rejectUnauthorized, true);
  const only = upstreamTls(makeRoute('https://10.0.0.5', { upstreamTls: { ...base, caFile: ca.certFile, caOnly: true, minVersion: 'TLSv1.3', serverName: 'app.internal' } }));
  assert.equal((only.options.ca as unknown[]).length, 1);
  assert.equal(only.options.minVersion, 'TLSv1.3');
  assert.equal(only.options.servername, 'app.internal');
  assert.notEqual(only.fingerprint, added.fingerprint);
});

test('a client pair is checked (the key must match), and a renewed file changes the fingerprint', () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const one = makeCert(dir, ca, 'client', ['client']);
  const two = makeCert(dir, ca, 'client', ['client']);
  const certFile = join(dir, 'c.crt');
  const keyFile = join(dir, 'c.key');
  copyFileSync(one.certFile, certFile);
  copyFileSync(one.keyFile, keyFile);
  const route = makeRoute('https://app.internal', { upstreamTls: { ...base, certFile, keyFile } });
  const before = upstreamTls(route);
  assert.equal(upstreamTls(route).fingerprint, before.fingerprint);
  copyFileSync(two.certFile, certFile);
  copyFileSync(two.keyFile, keyFile);
  assert.notEqual(upstreamTls(route).fingerprint, before.fingerprint);
  copyFileSync(one.keyFile, keyFile);
  assert.throws(() => upstreamTls(route), (e: Error & { code?: string }) => e.code === 'DRB_CONFIG_READ' && /route "app": routes\[app\]\.upstreamTls\.keyFile \(.*c\.key\) does not match the certificate/.test(e.message));
});
