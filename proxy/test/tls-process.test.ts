// test/tls-process.test.ts — `drawbridge serve` over TLS as a process: certificate files replaced on disk, or SIGHUP,
// reach new connections without a restart; a bad pair at start is reported at its key, never as a bare OpenSSL error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { certDir, makeCa, makeCert } from '../../test-support/certs.js';
import { drawbridgeProcess } from '../../test-support/process.js';
import { reservePort, SESSION_SECRET } from '../../test-support/stack.js';



function servedCert(port: number, ca: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'app.localhost', ca }, () => {
      resolve(s.getPeerX509Certificate()?.fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
}

function config(dir: string, port: number, certFile: string, keyFile: string): string {
  const file = join(dir, 'drawbridge.yaml');
  writeFileSync(
    file,
    `listen: "127.0.0.1:${port}"
publicUrl: https://auth.localhost:${port}
admin: { listen: "127.0.0.1:0" }
idp: { issuer: "https://127.0.0.1:9", clientId: c, clientSecret: s }
session: { secret: ${SESSION_SECRET} }
tls:
  certFile: ${certFile}
  keyFile: ${keyFile}
routes:
  - { name: app, from: "https://app.localhost", to: "http://127.0.0.1:9", public: true }
`,
  );
  return file;
}

test('serve: replaced certificate files and SIGHUP reach new connections without a restart', { timeout: 120_000 }, async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const names = ['auth.localhost', 'app.localhost'];
  const [one, two, three] = [makeCert(dir, ca, 'one', names), makeCert(dir, ca, 'two', names), makeCert(dir, ca, 'three', names)];
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  copyFileSync(one.certFile, certFile);
  copyFileSync(one.keyFile, keyFile);
  const port = await reservePort();
  const s = drawbridgeProcess('serve', '--config', config(dir, port, certFile, keyFile));
  await s.line((l) => l.event === 'start');
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
  assert.equal(await servedCert(port, ca.pem), fp(one.pem));

  // Changed on disk: the file watch reloads (key first, then the certificate, as an operator copies them).
  let mark = s.logs.length;
  copyFileSync(two.keyFile, keyFile);
  copyFileSync(two.certFile, certFile);
  await s.line((l) => l.event === 'tls' && JSON.stringify(l).includes('tls.crt'), mark);
  await s.line((l) => l.event === 'reload' && l.result === 'success', mark);
  assert.equal(await servedCert(port, ca.pem), fp(two.pem));

  // SIGHUP reloads too (here the watch may see the change first: either way one success follows).
  mark = s.logs.length;
  copyFileSync(three.keyFile, keyFile);
  copyFileSync(three.certFile, certFile);
  s.child.kill('SIGHUP');
  await s.line((l) => l.event === 'reload' && l.result === 'success', mark);
  assert.equal(await servedCert(port, ca.pem), fp(three.pem));
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('serve: a key that does not match its certificate stops the start with FILE:LINE:COL at tls.keyFile', { timeout: 120_000 }, async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const one = makeCert(dir, ca, 'one', ['auth.localhost', 'app.localhost']);
  const other = makeCert(dir, ca, 'other', ['auth.localhost', 'app.localhost']);
  const file = config(dir, await reservePort(), one.certFile, other.keyFile);
  const s = drawbridgeProcess('serve', '--config', file);
  assert.equal(await s.exited, 1);
  assert.match(s.stderr(), new RegExp(`drawbridge\\.yaml:8:3: tls\\.keyFile \\(${other.keyFile}\\) does not match the certificate of tls\\.certFile \\(${one.certFile}\\)`));
  assert.doesNotMatch(s.stderr(), /error:[0-9A-F]{8}|ERR_OSSL|ENOENT/);
});
