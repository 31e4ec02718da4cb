// e2e/browser/device-certificate.test.ts — Chromium with a device certificate (docs/device-trust.md): the test CA
// and the client identity configured (Playwright's clientCertificates), the server's certificate verified against
// the test server CA (NODE_EXTRA_CA_CERTS in the browser's process, see device-certificate.case.ts), and the
// certificate seen in the server's own TLS handshake. A session cookie in a browser without the certificate is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { loadConfigText } from '../../proxy/src/config/load.js';
import { formatIssue } from '../../proxy/src/config/locate.js';
import { createListener, startDrawbridge } from '../../proxy/src/server/server.js';
import { sealSessionId } from '../../proxy/src/session/cookie.js';
import { certDir, makeCa, makeCert, makeDeviceCert } from '../../test-support/certs.js';
import { jsonLogs, SESSION_SECRET } from '../../test-support/stack.js';

const CASE = fileURLToPath(new URL('./device-certificate.case.ts', import.meta.url));

function config(port: number, app: string, dir: string, files: { cert: string; key: string; ca: string }): string {
  return `listen: "127.0.0.1:${port}"
publicUrl: https://localhost:${port}
idp: { issuer: "http://127.0.0.1:9", clientId: c, clientSecret: s, allowInsecureHttp: true }
session: { secret: ${SESSION_SECRET} }
log: { level: debug, format: json }
tls: { certFile: ${files.cert}, keyFile: ${files.key}, clientCa: ${files.ca} }
routes:
  - name: device
    from: https://localhost:${port}/device
    to: ${app}
    policy: { allow: [ { and: [ { authenticated: true }, { device: { san: ["URI:urn:device:laptop-42"] } } ] } ] }
# ${dir}
`;
}

test('Chromium presents the device certificate in the TLS handshake; the same cookie without it is refused', { timeout: 120_000 }, async () => {
  const dir = certDir();
  const serverCa = makeCa(dir, 'server-ca');
  const deviceCa = makeCa(dir, 'device-ca');
  const server = makeCert(dir, serverCa, 'localhost', ['localhost']);
  const laptop = makeDeviceCert(dir, deviceCa, 'laptop', { san: ['URI:urn:device:laptop-42'] });
  const upstream = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<p>payroll for ${String(req.headers['x-forwarded-user'])}</p>`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const app = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const files = { cert: server.certFile, key: server.keyFile, ca: deviceCa.certFile };
  const probe = loadConfigText(config(1, app, dir, files), 'probe.yaml');
  if (!probe.ok) throw new Error(probe.errors.map(formatIssue).join('\n'));
  const listener = createListener(probe.config);
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  const port = (listener.address() as AddressInfo).port;
  const loaded = loadConfigText(config(port, app, dir, files), join(dir, 'drawbridge.yaml'));
  if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('\n'));
  const { logs, logStream } = jsonLogs();
  const db = await startDrawbridge({ config: loaded.config, server: listener, logStream, adminListen: false });
  // What the server's own handshakes received: proof the certificate reached TLS, not a header.
  const presented: string[] = [];
  db.server.on('secureConnection', (socket: TLSSocket) => {
    const cert = socket.getPeerX509Certificate();
    if (cert) presented.push(cert.fingerprint256);
  });
  try {
    const record = await db.runtime.sessions.create({ sub: 'alice-sub', user: 'alice', groups: [], amr: ['pwd'], claims: {} }, {}, undefined, Date.now());
    const origin = `https://localhost:${port}`;
    const input = { origin, certPath: laptop.certFile, keyPath: laptop.keyFile, cookie: { name: '__Host-drawbridge', value: sealSessionId(record.id, db.runtime.sessions.keys.cookieMac, origin) } };
    const extraCa = join(dir, 'trusted-server-ca.pem');
    writeFileSync(extraCa, serverCa.pem);
    // Chromium (on Linux) trusts the CAs of $HOME/.pki/nssdb: a home of its own whose NSS store trusts the test server CA.
    const home = join(dir, 'home');
    const nssdb = join(home, '.pki', 'nssdb');
    mkdirSync(nssdb, { recursive: true });
    execFileSync('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password'], { stdio: 'pipe' });
    execFileSync('certutil', ['-A', '-d', `sql:${nssdb}`, '-n', 'drawbridge-test-server-ca', '-t', 'C,,', '-i', serverCa.certFile], { stdio: 'pipe' });
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', CASE, JSON.stringify(input)], { env: { ...process.env, HOME: home, NODE_EXTRA_CA_CERTS: extraCa }, timeout: 100_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const seen = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, { status: number; text: string }>;
    assert.equal(seen.withCertificate!.status, 200, seen.withCertificate!.text);
    assert.match(seen.withCertificate!.text, /payroll for alice/);
    assert.ok(presented.includes(new X509Certificate(laptop.pem).fingerprint256), 'the device certificate was in a handshake the server made');
    assert.equal(seen.withoutCertificate!.status, 403);
    assert.match(seen.withoutCertificate!.text, /device certificate/i);
    const refused = logs.filter((l) => l.event === 'request' && l.status === 403);
    assert.ok(refused.some((l) => JSON.stringify(l.reasons).includes('device-missing')), 'logged with its reason');
  } finally {
    await db.close();
    await new Promise((r) => upstream.close(r));
  }
});
