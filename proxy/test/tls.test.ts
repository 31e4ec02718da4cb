// test/tls.test.ts — the TLS listener over real sockets with certificates made at test time: hot rotation (an open
// connection keeps working, a new one gets the new certificate, a bad pair keeps the old), SNI, the default policy
// refusing CBC and non-forward-secret suites, session-ticket key rotation on the injected clock, OCSP stapling
// against `openssl ocsp` as the responder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { loadConfigFile } from '../src/config/load.js';
import { formatIssue } from '../src/config/locate.js';
import { startDrawbridge, type Drawbridge } from '../src/server/server.js';
import { checkTlsFiles } from '../src/tls/check.js';
import { contextsOf } from '../src/tls/contexts.js';
import { readOcspResponse } from '../src/tls/ocsp.js';
import { certDir, makeCa, makeCert, type TestCa } from '../../test-support/certs.js';
import { jsonLogs, movableClock, reservePort, SESSION_SECRET } from '../../test-support/stack.js';

interface TlsInstance {
  db: Drawbridge;
  dir: string;
  configFile: string;
  logs: Record<string, any>[];
  close(): Promise<void>;
}

async function startTls(dir: string, tlsYaml: string, options: { now?: () => number; routes?: string } = {}): Promise<TlsInstance> {
  const configFile = join(dir, 'drawbridge.yaml');
  writeFileSync(
    configFile,
    `listen: "127.0.0.1:0"
publicUrl: https://auth.localhost
idp: { issuer: "http://127.0.0.1:9", clientId: c, clientSecret: s, allowInsecureHttp: true }
session: { secret: ${SESSION_SECRET} }
log: { level: debug, format: json }
tls:
${tlsYaml.replace(/^/gm, '  ')}
routes:
${options.routes ?? '  - { name: app, from: https://app.localhost, to: "http://127.0.0.1:9", public: true }'}
`,
  );
  const loaded = loadConfigFile(configFile, {});
  if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('\n'));
  const { logs, logStream } = jsonLogs();
  const db = await startDrawbridge({ config: loaded.config, configFile, logStream, adminListen: '127.0.0.1:0', ...(options.now ? { now: options.now } : {}) });
  return { db, dir, configFile, logs, close: () => db.close() };
}

const peers = new WeakMap<TLSSocket, string | undefined>();

function open(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    socket.once('secureConnect', () => {
      // Read once: node answers getPeerX509Certificate() only the first time it is called on a socket.
      peers.set(socket, socket.getPeerX509Certificate()?.fingerprint256);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const served = (socket: TLSSocket) => peers.get(socket);

/** One request on an open connection; resolves with the status once the whole response is read. */
function request(socket: TLSSocket, host = 'nothing.localhost'): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length - end - 4 < length) return;
      socket.off('data', onData);
      resolve(Number(buf.slice(9, 12)));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\n\r\n`);
  });
}

function pair(dir: string, ca: TestCa, names: string[], days = 30) {
  return makeCert(dir, ca, names[0]!.replace(/\*/g, 'star'), names, { days });
}

test('rotation: a reload serves the new certificate to new connections, open ones keep working; a bad pair is refused and the old one stays', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const first = pair(dir, ca, ['auth.localhost', 'app.localhost']);
  const second = pair(dir, ca, ['auth.localhost', 'app.localhost']);
  const other = pair(dir, ca, ['auth.localhost']);
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  copyFileSync(first.certFile, certFile);
  copyFileSync(first.keyFile, keyFile);
  const t = await startTls(dir, `certFile: ${certFile}\nkeyFile: ${keyFile}`);
  try {
    const old = await open(t.db.port, { servername: 'app.localhost', ca: ca.pem });
    assert.equal(served(old), fingerprint(first.pem));
    assert.equal(await request(old), 404);
    assert.deepEqual(t.db.watchedFiles().sort(), [certFile, keyFile].sort());

    copyFileSync(second.certFile, certFile);
    copyFileSync(second.keyFile, keyFile);
    assert.deepEqual(await t.db.reload(), { ok: true });
    const fresh = await open(t.db.port, { servername: 'app.localhost', ca: ca.pem });
    assert.equal(served(fresh), fingerprint(second.pem), 'a new connection gets the new certificate');
    assert.equal(served(old), fingerprint(first.pem));
    assert.equal(await request(old), 404, 'the connection opened before the rotation still works');
    const noSni = await open(t.db.port, { ca: ca.pem, checkServerIdentity: () => undefined });
    assert.equal(served(noSni), fingerprint(second.pem), 'the default certificate is replaced too');

    // A key that is not the certificate's: refused, logged like a bad configuration, counted; the old pair stays.
    copyFileSync(other.keyFile, keyFile);
    const refused = await t.db.reload();
    assert.equal(refused.ok, false);
    const errors = (refused as { errors: string[] }).errors.join('\n');
    assert.match(errors, /drawbridge\.yaml:\d+:\d+: tls\.keyFile \(.*tls\.key\) does not match the certificate of tls\.certFile/);
    const line = t.logs.findLast((l) => l.event === 'reload');
    assert.equal(line?.result, 'failure');
    assert.match(String(await (await fetch(`${t.db.adminUrl}/metrics`)).text()), /drawbridge_config_reloads_total\{result="failure"\} 1/);
    const still = await open(t.db.port, { servername: 'app.localhost', ca: ca.pem });
    assert.equal(served(still), fingerprint(second.pem));

    // A missing file: refused the same way, naming the key and the file.
    writeFileSync(keyFile, '');
    const empty = await t.db.reload();
    assert.match((empty as { errors: string[] }).errors.join('\n'), /tls\.keyFile \(.*tls\.key\) holds no PEM private key/);
    for (const s of [old, fresh, noSni, still]) s.destroy();
  } finally {
    await t.close();
  }
});

test('rotation: an expired new certificate is refused (the clock is the injected one) and the old one stays', async () => {
  const dir = certDir();
  const ca = makeCa(dir, 'ca', 60);
  const long = pair(dir, ca, ['app.localhost', 'auth.localhost'], 40);
  const short = pair(dir, ca, ['app.localhost', 'auth.localhost'], 1);
  const clock = movableClock();
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  copyFileSync(long.certFile, certFile);
  copyFileSync(long.keyFile, keyFile);
  const t = await startTls(dir, `certFile: ${certFile}\nkeyFile: ${keyFile}`, { now: clock.now });
  try {
    clock.advance(3 * 24 * 3600 * 1000);
    copyFileSync(short.certFile, certFile);
    copyFileSync(short.keyFile, keyFile);
    const r = await t.db.reload();
    assert.equal(r.ok, false);
    assert.match((r as { errors: string[] }).errors.join('\n'), /tls\.certFile \(.*tls\.crt\) expired on/);
    const s = await open(t.db.port, { servername: 'app.localhost', ca: ca.pem });
    assert.equal(served(s), fingerprint(long.pem));
    s.destroy();
  } finally {
    await t.close();
  }
});

test('SNI: each certificate serves the names it covers (wildcards one label deep); others and no SNI get the default', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const main = pair(dir, ca, ['auth.localhost', 'app.localhost']);
  const a = pair(dir, ca, ['a.localhost']);
  const wild = pair(dir, ca, ['*.wild.localhost']);
  const t = await startTls(dir, `certFile: ${main.certFile}\nkeyFile: ${main.keyFile}\ncertificates:\n  - { certFile: ${a.certFile}, keyFile: ${a.keyFile} }\n  - { certFile: ${wild.certFile}, keyFile: ${wild.keyFile} }`);
  try {
    const cases: [string | undefined, string][] = [
      ['a.localhost', a.pem],
      ['A.LOCALHOST', a.pem],
      ['x.wild.localhost', wild.pem],
      ['x.y.wild.localhost', main.pem],
      ['app.localhost', main.pem],
      ['unknown.localhost', main.pem],
      [undefined, main.pem],
    ];
    for (const [servername, pem] of cases) {
      const s = await open(t.db.port, { ...(servername ? { servername } : {}), ca: ca.pem, checkServerIdentity: () => undefined });
      assert.equal(served(s), fingerprint(pem), `servername ${servername}`);
      s.destroy();
    }
    // Rotating one SNI certificate leaves the others alone.
    const a2 = pair(dir, ca, ['a.localhost']);
    copyFileSync(a2.certFile, a.certFile);
    copyFileSync(a2.keyFile, a.keyFile);
    assert.deepEqual(await t.db.reload(), { ok: true });
    const s = await open(t.db.port, { servername: 'a.localhost', ca: ca.pem });
    assert.equal(served(s), fingerprint(a2.pem));
    s.destroy();
  } finally {
    await t.close();
  }
});

test('policy: the default refuses CBC, non-forward-secret suites and TLS 1.1; AEAD ECDHE suites and TLS 1.3 are accepted', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const ec = pair(dir, ca, ['app.localhost', 'auth.localhost']);
  const rsa = makeCert(dir, ca, 'rsa', ['app.localhost'], { key: 'rsa' });
  const t = await startTls(dir, `certFile: ${ec.certFile}\nkeyFile: ${ec.keyFile}\ncertificates:\n  - { certFile: ${rsa.certFile}, keyFile: ${rsa.keyFile} }`);
  const base = { servername: 'app.localhost', ca: ca.pem, maxVersion: 'TLSv1.2' as const };
  try {
    for (const ciphers of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-RSA-AES128-SHA256', 'AES128-GCM-SHA256', 'AES256-SHA', 'DHE-RSA-AES128-GCM-SHA256']) {
      await assert.rejects(open(t.db.port, { ...base, ciphers }), /handshake failure|no shared cipher|alert/i, `${ciphers} must be refused`);
    }
    await assert.rejects(open(t.db.port, { ...base, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /version|protocol|alert/i);
    for (const ciphers of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      const s = await open(t.db.port, { ...base, ciphers });
      assert.equal(s.getCipher().standardName.includes('ECDHE_ECDSA'), true);
      s.destroy();
    }
    const modern = await open(t.db.port, { servername: 'app.localhost', ca: ca.pem });
    assert.equal(modern.getProtocol(), 'TLSv1.3');
    modern.destroy();
  } finally {
    await t.close();
  }
});

test('policy: minVersion TLSv1.3 refuses TLS 1.2; ciphers and curves are applied', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const ec = pair(dir, ca, ['app.localhost', 'auth.localhost']);
  const t = await startTls(dir, `certFile: ${ec.certFile}\nkeyFile: ${ec.keyFile}\nminVersion: TLSv1.3\ncurves: P-384`);
  try {
    await assert.rejects(open(t.db.port, { servername: 'app.localhost', ca: ca.pem, maxVersion: 'TLSv1.2' }), /version|protocol|alert/i);
    await assert.rejects(open(t.db.port, { servername: 'app.localhost', ca: ca.pem, ecdhCurve: 'X25519' }), /alert|handshake|group|share/i);
    const s = await open(t.db.port, { servername: 'app.localhost', ca: ca.pem, ecdhCurve: 'P-384' });
    assert.equal(s.getProtocol(), 'TLSv1.3');
    s.destroy();
  } finally {
    await t.close();
  }
});

test('session tickets: a ticket resumes until the key rotates on the injected clock (ticketKeyRotation), then a full handshake', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const ec = pair(dir, ca, ['app.localhost', 'auth.localhost']);
  const clock = movableClock();
  const t = await startTls(dir, `certFile: ${ec.certFile}\nkeyFile: ${ec.keyFile}\nticketKeyRotation: 12h`, { now: clock.now });
  const base = { servername: 'app.localhost', ca: ca.pem, maxVersion: 'TLSv1.2' as const };
  try {
    const first = await open(t.db.port, base);
    const session = first.getSession();
    assert.ok(session);
    first.destroy();
    const resumed = await open(t.db.port, { ...base, session });
    assert.equal(resumed.isSessionReused(), true, 'the ticket resumes before the rotation');
    resumed.destroy();
    const contexts = contextsOf(t.db.server)!;
    clock.advance(11 * 3600 * 1000);
    assert.equal(contexts.tick(), false, 'not yet 12 h');
    clock.advance(3600 * 1000);
    assert.equal(contexts.tick(), true);
    const after = await open(t.db.port, { ...base, session });
    assert.equal(after.isSessionReused(), false, 'a ticket of the previous key makes a full handshake');
    const next = after.getSession();
    after.destroy();
    const again = await open(t.db.port, { ...base, session: next! });
    assert.equal(again.isSessionReused(), true, 'tickets of the new key resume');
    again.destroy();
  } finally {
    await t.close();
  }
});

test('validate reads the TLS files: mismatch, missing, passphrase, expiry, names, chain, upstream pairs — at the key, naming the file', () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const good = makeCert(dir, ca, 'good', ['auth.localhost', 'app.localhost'], { leafOnly: true });
  const other = makeCert(dir, ca, 'other', ['auth.localhost']);
  const client = makeCert(dir, ca, 'client', ['client']);
  const encrypted = join(dir, 'encrypted.key');
  writeFileSync(encrypted, '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n');
  const file = join(dir, 'v.yaml');
  const write = (tls: string, routes = '  - { name: app, from: https://app.localhost, to: "http://127.0.0.1:9", public: true }') =>
    writeFileSync(file, `publicUrl: https://auth.localhost\nidp: { issuer: "https://idp.example.com", clientId: c, clientSecret: s }\nsession: { secret: ${SESSION_SECRET} }\ntls:\n${tls.replace(/^/gm, '  ')}\nroutes:\n${routes}\n`);
  const check = (now = Date.now()) => {
    const r = loadConfigFile(file, {}, { fileChecks: (c) => checkTlsFiles(c, now) });
    return { ok: r.ok, text: (r.ok ? r.warnings : r.errors).map(formatIssue).join('\n') };
  };

  write(`certFile: ${good.certFile}\nkeyFile: ${other.keyFile}`);
  let r = check();
  assert.equal(r.ok, false);
  assert.match(r.text, new RegExp(`v\\.yaml:6:3: tls\\.keyFile \\(${other.keyFile}\\) does not match the certificate of tls\\.certFile \\(${good.certFile}\\)`));

  write(`certFile: ${join(dir, 'missing.crt')}\nkeyFile: ${encrypted}`);
  r = check();
  assert.match(r.text, /v\.yaml:5:3: tls\.certFile \(.*missing\.crt\) cannot be read: no such file/);
  assert.match(r.text, /v\.yaml:6:3: tls\.keyFile \(.*encrypted\.key\) is protected by a passphrase/);

  // A leaf without its issuer, from a CA the system does not trust: a warning, not an error.
  write(`certFile: ${good.certFile}\nkeyFile: ${good.keyFile}`);
  r = check();
  assert.equal(r.ok, true, r.text);
  assert.match(r.text, /v\.yaml:5:3: warning: tls\.certFile \(.*\): the chain does not reach a root the system trusts .* intermediate certificate is probably missing/);
  // Expiry: a warning within 14 days, an error once expired.
  r = check(Date.now() + 20 * 24 * 3600 * 1000);
  assert.match(r.text, /warning: tls\.certFile \(.*\) expires on .*, in 9 days: renew it/);
  r = check(Date.now() + 31 * 24 * 3600 * 1000);
  assert.equal(r.ok, false);
  assert.match(r.text, /v\.yaml:5:3: tls\.certFile \(.*\) expired on/);

  // Names: publicUrl's host and every https route host must be covered.
  write(`certFile: ${other.certFile}\nkeyFile: ${other.keyFile}`, '  - { name: app, from: https://app.localhost, to: "http://127.0.0.1:9", public: true }\n  - { name: w, from: "https://*.w.localhost", to: "http://127.0.0.1:9", public: true }');
  r = check();
  assert.equal(r.ok, false);
  assert.match(r.text, /v\.yaml:8:\d+: no certificate of tls covers route "app"'s host app\.localhost \(the certificates name: auth\.localhost\)/);
  assert.match(r.text, /no certificate of tls covers route "w"'s host \*\.w\.localhost/);

  // Upstream: a client pair that does not match, a CA file that is not one; certFile without keyFile.
  write(
    `certFile: ${good.certFile}\nkeyFile: ${good.keyFile}`,
    `  - { name: app, from: https://app.localhost, to: "https://10.0.0.1", public: true, upstreamTls: { certFile: ${client.certFile}, keyFile: ${other.keyFile}, caFile: ${client.keyFile} } }`,
  );
  r = check();
  assert.match(r.text, /v\.yaml:8:\d+: routes\[0\]\.upstreamTls\.keyFile \(.*\) does not match the certificate of routes\[0\]\.upstreamTls\.certFile/);
  assert.match(r.text, /routes\[0\]\.upstreamTls\.caFile \(.*\) holds no PEM certificate/);
  write(`certFile: ${good.certFile}\nkeyFile: ${good.keyFile}`, `  - { name: b, from: https://app.localhost/b, to: "https://10.0.0.1", public: true, upstreamTls: { certFile: ${client.certFile} } }`);
  r = check();
  assert.match(r.text, /v\.yaml:8:\d+: upstreamTls\.certFile without upstreamTls\.keyFile/);

  // The ACME server's CA bundle: missing, or not a certificate, is refused at its key (not at the first order).
  write(`acme: { email: ops@example.com, caFile: ${join(dir, 'missing-acme-ca.pem')} }`);
  r = check();
  assert.equal(r.ok, false);
  assert.match(r.text, /v\.yaml:5:\d+: tls\.acme\.caFile \(.*missing-acme-ca\.pem\) cannot be read: no such file/);
  write(`acme: { email: ops@example.com, caFile: ${client.keyFile} }`);
  r = check();
  assert.equal(r.ok, false);
  assert.match(r.text, /v\.yaml:5:\d+: tls\.acme\.caFile \(.*\) holds no PEM certificate/);
  write(`acme: { email: ops@example.com, caFile: ${ca.certFile} }`);
  r = check();
  assert.equal(r.ok, true, r.text);
});

test('upstreamTls.insecureSkipVerify: refused without acknowledge; with it, a warning at start naming the route, a metric and explain', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const ec = pair(dir, ca, ['app.localhost', 'auth.localhost']);
  const file = join(dir, 'i.yaml');
  const yaml = (tls: string) => `publicUrl: https://auth.localhost\nidp: { issuer: "https://idp.example.com", clientId: c, clientSecret: s }\nsession: { secret: ${SESSION_SECRET} }\nroutes:\n  - { name: legacy, from: https://app.localhost, to: "https://10.0.0.1", public: true, upstreamTls: { ${tls} } }\n`;
  writeFileSync(file, yaml('insecureSkipVerify: true'));
  const refused = loadConfigFile(file, {});
  assert.equal(refused.ok, false);
  assert.match((refused as { errors: { message: string }[] }).errors.map((e) => e.message).join('\n'), /insecureSkipVerify: true .* accepted only with upstreamTls\.acknowledge/);
  writeFileSync(file, yaml(`insecureSkipVerify: true, caFile: ${ca.certFile}, acknowledge: "vendor appliance"`));
  assert.match(JSON.stringify(loadConfigFile(file, {})), /caFile has no effect with insecureSkipVerify/);

  const t = await startTls(dir, `certFile: ${ec.certFile}\nkeyFile: ${ec.keyFile}`, {
    routes: '  - { name: legacy, from: https://app.localhost, to: "https://127.0.0.1:9", public: true, upstreamTls: { insecureSkipVerify: true, acknowledge: "vendor appliance with a fixed self-signed certificate" } }',
  });
  try {
    const warn = t.logs.find((l) => l.event === 'upstream-tls-insecure');
    assert.equal(warn?.level, 'warn');
    assert.equal(warn?.route, 'legacy');
    assert.equal(warn?.acknowledge, 'vendor appliance with a fixed self-signed certificate');
    const metrics = await (await fetch(`${t.db.adminUrl}/metrics`)).text();
    assert.match(metrics, /drawbridge_upstream_tls_insecure_routes\{route="legacy"\} 1/);
    assert.match(metrics, /drawbridge_tls_certificate_not_after_seconds\{names="app\.localhost,auth\.localhost",source="file"\} \d+/);
  } finally {
    await t.close();
  }
  const { runCli } = await import('../src/cli/index.js');
  let out = '';
  await runCli(['explain', t.configFile, '--url', 'https://app.localhost/'], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => {} }, env: {} });
  assert.match(out, /upstream TLS: NOT VERIFIED \(upstreamTls\.insecureSkipVerify; acknowledged: "vendor appliance with a fixed self-signed certificate"\)/);
});

test('OCSP stapling: the response of the certificate\'s responder (openssl ocsp) is stapled and cached until nextUpdate; none after, logged', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const ocspPort = await reservePort();
  const leaf = makeCert(dir, ca, 'ocsp', ['app.localhost', 'auth.localhost'], { ocspUrl: `http://127.0.0.1:${ocspPort}` });
  const serial = new X509Certificate(leaf.pem).serialNumber.toUpperCase();
  const index = join(dir, 'index.txt');
  writeFileSync(index, `V\t301231235959Z\t\t${serial.length % 2 ? `0${serial}` : serial}\tunknown\t/CN=app.localhost\n`);
  const responder = spawn('openssl', ['ocsp', '-index', index, '-port', String(ocspPort), '-rsigner', ca.certFile, '-rkey', ca.keyFile, '-CA', ca.certFile, '-ndays', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const responderGone = new Promise((r) => responder.once('exit', r));
  // It answers one connection at a time: wait for its own word that it listens rather than probing the port.
  let said = '';
  await new Promise<void>((resolve, reject) => {
    const hear = (chunk: Buffer) => {
      said += chunk.toString();
      if (said.includes('waiting for OCSP client connections')) resolve();
    };
    responder.stdout!.on('data', hear);
    responder.stderr!.on('data', hear);
    responder.once('exit', () => reject(new Error(`openssl ocsp exited: ${said}`)));
  });
  const clock = movableClock();
  const t = await startTls(dir, `certFile: ${leaf.certFile}\nkeyFile: ${leaf.keyFile}`, { now: clock.now });
  const staple = () =>
    new Promise<Buffer | undefined>((resolve, reject) => {
      let response: Buffer | undefined;
      const s = connect({ host: '127.0.0.1', port: t.db.port, servername: 'app.localhost', ca: ca.pem, requestOCSP: true } as ConnectionOptions);
      s.on('OCSPResponse', (r: Buffer | null) => (response = r ?? undefined));
      s.once('secureConnect', () => {
        s.destroy();
        resolve(response);
      });
      s.once('error', reject);
    });
  try {
    const first = await staple();
    assert.ok(first && first.length > 0, 'a staple');
    const status = readOcspResponse(first);
    assert.equal(status.status, 'good');
    assert.ok(status.nextUpdate! > clock.now());
    // The responder goes away: the cached response is still stapled until its nextUpdate.
    responder.kill();
    await responderGone;
    assert.deepEqual(await staple(), first);
    clock.advance(2 * 24 * 3600 * 1000);
    assert.equal(await staple(), undefined, 'no stale staple');
    const failure = t.logs.find((l) => l.event === 'tls-ocsp');
    assert.equal(failure?.result, 'failure');
    assert.equal(failure?.url, `http://127.0.0.1:${ocspPort}`);
  } finally {
    responder.kill();
    await t.close();
  }
});

test('validate CLI: a TLS file missing on this machine is a warning (checked away from it), an error with --strict-env, as serve requires', async () => {
  const dir = certDir();
  const file = join(dir, 'away.yaml');
  writeFileSync(file, `publicUrl: https://auth.localhost\nidp: { issuer: "https://idp.example.com", clientId: c, clientSecret: s }\nsession: { secret: ${SESSION_SECRET} }\ntls: { certFile: /nonexistent/tls.crt, keyFile: /nonexistent/tls.key }\nroutes:\n  - { name: app, from: https://app.localhost, to: "http://127.0.0.1:9", public: true }\n`);
  const { runCli } = await import('../src/cli/index.js');
  const run = async (...argv: string[]) => {
    let err = '';
    const code = await runCli(argv, { stdout: { write: () => {} }, stderr: { write: (s: string) => (err += s) }, env: {} });
    return { code, err };
  };
  const away = await run('validate', file);
  assert.equal(away.code, 0, away.err);
  assert.match(away.err, /away\.yaml:4:8: warning: tls\.certFile \(\/nonexistent\/tls\.crt\) cannot be read: no such file \(serve refuses to start without it\)/);
  const strict = await run('validate', '--strict-env', file);
  assert.equal(strict.code, 1);
  assert.match(strict.err, /away\.yaml:4:8: tls\.certFile \(\/nonexistent\/tls\.crt\) cannot be read: no such file\n/);
});

test('install (the interface ACME uses): a certificate installed for a name is served by SNI at once and wins over the files; a bad pair throws and changes nothing', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const main = pair(dir, ca, ['auth.localhost', 'app.localhost']);
  const acme = pair(dir, ca, ['app.localhost']);
  const other = pair(dir, ca, ['app.localhost']);
  const t = await startTls(dir, `certFile: ${main.certFile}\nkeyFile: ${main.keyFile}`);
  const fp = async (servername: string) => {
    const s = await open(t.db.port, { servername, ca: ca.pem });
    s.destroy();
    return served(s);
  };
  try {
    const contexts = contextsOf(t.db.server)!;
    assert.equal(await fp('app.localhost'), fingerprint(main.pem));
    const installed = contexts.install(acme.chainPem, acme.keyPem, { names: ['app.localhost'] });
    assert.equal(installed.source, 'acme');
    assert.equal(await fp('app.localhost'), fingerprint(acme.pem));
    assert.equal(await fp('auth.localhost'), fingerprint(main.pem));
    assert.throws(() => contexts.install(other.chainPem, acme.keyPem, { names: ['app.localhost'] }), /does not match the certificate/);
    assert.equal(await fp('app.localhost'), fingerprint(acme.pem), 'the refused pair changed nothing');
    // A reload of the files keeps the installed certificate.
    assert.deepEqual(await t.db.reload(), { ok: true });
    assert.equal(await fp('app.localhost'), fingerprint(acme.pem));
    contexts.remove('app.localhost');
    assert.equal(await fp('app.localhost'), fingerprint(main.pem));
  } finally {
    await t.close();
  }
});

test('upstream mutual TLS: a renewed client certificate (and CA file) is used after a reload; a bad one is refused and the pool in force keeps working', async () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const edge = pair(dir, ca, ['app.localhost', 'auth.localhost']);
  const server = makeCert(dir, ca, 'upstream', ['upstream.internal']);
  const [one, two] = [makeCert(dir, ca, 'client', ['drawbridge-client']), makeCert(dir, ca, 'client', ['drawbridge-client'])];
  const clientCert = join(dir, 'client.crt');
  const clientKey = join(dir, 'client.key');
  copyFileSync(one.certFile, clientCert);
  copyFileSync(one.keyFile, clientKey);
  const seen: (string | undefined)[] = [];
  const upstream = https.createServer({ cert: server.chainPem, key: server.keyPem, ca: ca.pem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push((req.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256);
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const upPort = (upstream.address() as net.AddressInfo).port;
  const t = await startTls(dir, `certFile: ${edge.certFile}\nkeyFile: ${edge.keyFile}`, {
    routes: `  - { name: app, from: https://app.localhost, to: "https://127.0.0.1:${upPort}", public: true, upstreamTls: { caFile: ${ca.certFile}, certFile: ${clientCert}, keyFile: ${clientKey}, serverName: upstream.internal } }`,
  });
  const get = async () => {
    const s = await open(t.db.port, { servername: 'app.localhost', ca: ca.pem });
    const status = await request(s, 'app.localhost');
    s.destroy();
    return status;
  };
  try {
    assert.equal(await get(), 200);
    assert.equal(seen.at(-1), fingerprint(one.pem));
    assert.ok(t.db.watchedFiles().includes(clientCert) && t.db.watchedFiles().includes(ca.certFile));
    copyFileSync(two.keyFile, clientKey);
    copyFileSync(two.certFile, clientCert);
    assert.deepEqual(await t.db.reload(), { ok: true });
    assert.equal(await get(), 200);
    assert.equal(seen.at(-1), fingerprint(two.pem), 'the new client certificate, on a new pool');
    // A client key that is not the certificate's: refused, the pool in force keeps working.
    copyFileSync(one.keyFile, clientKey);
    const refused = await t.db.reload();
    assert.match((refused as { errors: string[] }).errors.join('\n'), /routes\[0\]\.upstreamTls\.keyFile \(.*client\.key\) does not match the certificate/);
    assert.equal(await get(), 200);
    assert.equal(seen.at(-1), fingerprint(two.pem));
  } finally {
    await t.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  }
});

test('validate: a tls.ciphers list OpenSSL refuses is an error at its key, without the OpenSSL error code', () => {
  const dir = certDir();
  const ca = makeCa(dir);
  const ec = makeCert(dir, ca, 'ec', ['auth.localhost', 'app.localhost']);
  const file = join(dir, 'c.yaml');
  writeFileSync(file, `publicUrl: https://auth.localhost\nidp: { issuer: "https://idp.example.com", clientId: c, clientSecret: s }\nsession: { secret: ${SESSION_SECRET} }\ntls:\n  certFile: ${ec.certFile}\n  keyFile: ${ec.keyFile}\n  ciphers: NO-SUCH-SUITE\nroutes:\n  - { name: app, from: https://app.localhost, to: "http://127.0.0.1:9", public: true }\n`);
  const r = loadConfigFile(file, {}, { fileChecks: (c) => checkTlsFiles(c) });
  assert.equal(r.ok, false);
  assert.match((r as { errors: { message: string; line: number }[] }).errors.map((e) => `${e.line}: ${e.message}`).join('\n'), /^7: tls\.ciphers is refused by OpenSSL: no cipher match$/m);
});
