// test/device.test.ts — device certificates (mutual TLS) over real TLS, with certificates made at test time: a CA,
// a device certificate, a revoked one and one of a foreign CA. The `device` rule, the assertion's `cnf`, a session
// cookie replayed without the certificate, revocation by a reloaded CRL (open connections too), `clientCert:
// required`, and X-Forwarded-Client-Cert from a trusted proxy only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFileSync, copyFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfigFile } from '../src/config/load.js';
import { formatIssue } from '../src/config/locate.js';
import { checkTlsFiles } from '../src/tls/check.js';
import { startDrawbridge, type Drawbridge } from '../src/server/server.js';
import { sealSessionId } from '../src/session/cookie.js';
import type { Identity } from '../src/policy/input.js';
import { certDir, makeCa, makeCert, makeCrl, makeDeviceCert, type TestCert } from '../../test-support/certs.js';
import { jsonLogs, SESSION_SECRET } from '../../test-support/stack.js';

const T = { timeout: 60_000 };
const dir = certDir();
const ca = makeCa(dir, 'device-ca');
const serverCa = makeCa(dir, 'server-ca');
const foreignCa = makeCa(dir, 'foreign-ca');
const serverCert = makeCert(dir, serverCa, 'server', ['app.localhost', 'open.localhost', 'auth.localhost']);
const otherCert = makeCert(dir, serverCa, 'other', ['other.localhost']);
const laptop = makeDeviceCert(dir, ca, 'laptop', { subject: '/CN=laptop-42/O=Example', san: ['URI:urn:device:laptop-42'] });
const phone = makeDeviceCert(dir, ca, 'phone', { subject: '/CN=phone-7/O=Example', san: ['URI:urn:device:phone-7'] });
const stolen = makeDeviceCert(dir, ca, 'stolen', { san: ['URI:urn:device:laptop-42'] });
const foreign = makeDeviceCert(dir, foreignCa, 'foreign', { subject: '/CN=laptop-42/O=Example', san: ['URI:urn:device:laptop-42'] });
const crlFile = join(dir, 'devices.crl');
copyFileSync(makeCrl(dir, ca, [stolen]), crlFile);
const hex = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();

/** The upstream: answers 200 and keeps the headers it received. */
const seen: http.IncomingHttpHeaders[] = [];
const upstream = http.createServer((req, res) => {
  seen.push(req.headers);
  res.end('upstream');
});
// WebSocket upgrades: a bare 101 handshake, then the socket stays open.
upstream.on('upgrade', (req, socket) => {
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
});

interface Instance {
  db: Drawbridge;
  configFile: string;
  logs: Record<string, any>[];
}

function configText(tls: string, extra = ''): string {
  const app = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  return `listen: "127.0.0.1:0"
publicUrl: https://auth.localhost
idp: { issuer: "http://127.0.0.1:9", clientId: c, clientSecret: s, allowInsecureHttp: true }
session: { secret: ${SESSION_SECRET} }
log: { level: debug, format: json }
${extra}
tls:
  certFile: ${serverCert.certFile}
  keyFile: ${serverCert.keyFile}
  certificates: [ { certFile: ${otherCert.certFile}, keyFile: ${otherCert.keyFile} } ]
${tls.replace(/^/gm, '  ')}
routes:
  - name: app
    from: https://app.localhost
    to: ${app}
    policy: { allow: [ { and: [ { groups: [engineering] }, { device: { issuer: { CN: Drawbridge Test device-ca }, san: ["URI:urn:device:laptop-42"] } } ] } ] }
  - { name: open, from: https://open.localhost, to: ${app}, policy: { allow: [ { authenticated: true } ] } }
`;
}

async function start(text: string): Promise<Instance> {
  const configFile = join(certDir(), 'drawbridge.yaml');
  writeFileSync(configFile, text);
  const loaded = loadConfigFile(configFile, {});
  if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('\n'));
  const { logs, logStream } = jsonLogs();
  const db = await startDrawbridge({ config: loaded.config, configFile, logStream, adminListen: false });
  return { db, configFile, logs };
}

const ALICE: Identity = { sub: 'alice-sub', user: 'alice', email: 'alice@example.com', emailVerified: true, groups: ['engineering'], amr: ['pwd'], authTime: Math.floor(Date.now() / 1000), claims: {} };

/** A session of alice in the instance's store, as the cookie header for `host` over HTTPS. */
async function aliceCookie(db: Drawbridge, host: string): Promise<string> {
  const record = await db.runtime.sessions.create(ALICE, {}, undefined, Date.now());
  return `__Host-drawbridge=${sealSessionId(record.id, db.runtime.sessions.keys.cookieMac, `https://${host}:${db.port}`)}`;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The request went on a connection opened before it (keep-alive). */
  reused: boolean;
}

/** One HTTPS request to the instance, trusting the server CA (no error ignored), presenting `cert` when given. */
function get(db: Drawbridge, host: string, path: string, options: { cert?: TestCert; cookie?: string; accept?: string; agent?: https.Agent; headers?: Record<string, string>; servername?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: db.port,
        path,
        servername: options.servername ?? host,
        ca: serverCa.pem,
        ...(options.cert ? { cert: options.cert.pem, key: options.cert.keyPem } : {}),
        ...(options.agent ? { agent: options.agent } : { agent: false }),
        headers: { host: `${host}:${db.port}`, accept: options.accept ?? 'application/json', ...(options.cookie ? { cookie: options.cookie } : {}), ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function assertionClaims(headers: http.IncomingHttpHeaders): Record<string, any> {
  const token = String(headers['x-drawbridge-assertion']);
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

/** What `openssl s_client` prints of a handshake (in the background: the server runs in this process). */
function sClient(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('close', () => resolve(out));
    child.stdin.end();
  });
}

let inst: Instance;

before(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  inst = await start(configText(`clientCa: ${ca.certFile}\nclientCrl: ${crlFile}`));
}, T);

after(async () => {
  await inst?.db.close();
  await new Promise((r) => upstream.close(r));
});

test('device rule: the signed-in user with the device certificate gets through, and the assertion carries its fingerprint (cnf x5t#S256)', T, async () => {
  const cookie = await aliceCookie(inst.db, 'app.localhost');
  seen.length = 0;
  const res = await get(inst.db, 'app.localhost', '/report', { cert: laptop, cookie });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.body, 'upstream');
  const claims = assertionClaims(seen[0]!);
  assert.deepEqual(claims.cnf, { 'x5t#S256': Buffer.from(hex(laptop.pem), 'hex').toString('base64url') });
  assert.equal(claims.user, 'alice');
  // The client's own X-Forwarded-Client-Cert never reaches the upstream from an untrusted peer.
  const spoof = await get(inst.db, 'open.localhost', '/', { cookie: await aliceCookie(inst.db, 'open.localhost'), headers: { 'x-forwarded-client-cert': 'Hash=00;URI=urn:device:laptop-42' } });
  assert.equal(spoof.status, 200);
  assert.equal(seen[1]!['x-forwarded-client-cert'], undefined);
  assert.equal(assertionClaims(seen[1]!).cnf, undefined, 'no certificate, no cnf');
});

test('a session cookie replayed without the device certificate, or with another device\'s, is refused (403, device-missing / device-unauthorized)', T, async () => {
  const cookie = await aliceCookie(inst.db, 'app.localhost');
  const without = await get(inst.db, 'app.localhost', '/report', { cookie });
  assert.equal(without.status, 403);
  assert.match(without.body, /device-missing/);
  const other = await get(inst.db, 'app.localhost', '/report', { cookie, cert: phone });
  assert.equal(other.status, 403);
  assert.match(other.body, /device-unauthorized/);
  // The 403 page says it in plain words.
  const page = await get(inst.db, 'app.localhost', '/report', { cookie, accept: 'text/html' });
  assert.equal(page.status, 403);
  assert.match(page.body, /device certificate/);
});

test('a revoked device certificate (in the CRL) and one of a foreign CA with the same names are no device: 403', T, async () => {
  const cookie = await aliceCookie(inst.db, 'app.localhost');
  for (const cert of [stolen, foreign]) {
    const res = await get(inst.db, 'app.localhost', '/report', { cookie, cert });
    assert.equal(res.status, 403, cert.certFile);
    assert.match(res.body, /device-missing/);
  }
  const line = inst.logs.filter((l) => l.event === 'request' && l.route === 'app').at(-1);
  assert.equal(line?.status, 403);
});

test('revocation by a reloaded CRL applies at once, to a connection opened before it too', T, async () => {
  const cookie = await aliceCookie(inst.db, 'app.localhost');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(inst.db, 'app.localhost', '/x', { cookie, cert: laptop, agent });
    assert.equal(first.status, 200);
    copyFileSync(makeCrl(dir, ca, [stolen, laptop]), crlFile);
    assert.deepEqual(await inst.db.reload(), { ok: true });
    const again = await get(inst.db, 'app.localhost', '/x', { cookie, cert: laptop, agent });
    assert.equal(again.reused, true);
    assert.equal(again.status, 403, 'the open connection verified before the reload is checked again');
    const fresh = await get(inst.db, 'app.localhost', '/x', { cookie, cert: laptop });
    assert.equal(fresh.status, 403);
    assert.match(fresh.body, /device-missing/);
  } finally {
    agent.destroy();
    copyFileSync(makeCrl(dir, ca, [stolen]), crlFile);
    assert.deepEqual(await inst.db.reload(), { ok: true });
  }
  assert.equal((await get(inst.db, 'app.localhost', '/x', { cookie, cert: laptop })).status, 200);
});

test('a CRL signed by another CA is refused at reload, naming the key; the running one stays', T, async () => {
  copyFileSync(makeCrl(dir, foreignCa, []), crlFile);
  try {
    const r = await inst.db.reload();
    assert.equal(r.ok, false);
    assert.match(JSON.stringify(r), /tls\.clientCrl: revocation list 1: signed by no certificate of tls\.clientCa/);
    const cookie = await aliceCookie(inst.db, 'app.localhost');
    assert.equal((await get(inst.db, 'app.localhost', '/x', { cookie, cert: stolen })).status, 403, 'the old list still revokes');
  } finally {
    copyFileSync(makeCrl(dir, ca, [stolen]), crlFile);
  }
});

test('every SNI certificate asks for a device certificate naming the device CA, and verifies it', T, async () => {
  for (const name of ['app.localhost', 'other.localhost']) {
    const stdout = await sClient(inst.db.port, name);
    assert.match(stdout, /Acceptable client certificate CA names\s*\nCN\s*=\s*Drawbridge Test device-ca\s*\n/, name);
  }
  const cookie = await aliceCookie(inst.db, 'app.localhost');
  assert.equal((await get(inst.db, 'app.localhost', '/', { cookie, cert: laptop, servername: 'other.localhost' })).status, 200);
  assert.equal((await get(inst.db, 'app.localhost', '/', { cookie, cert: foreign, servername: 'other.localhost' })).status, 403);
});

test('validate reads the device files: a missing CA bundle or a CRL no CA of it signed is an error at its key', T, () => {
  const bad = join(certDir(), 'drawbridge.yaml');
  writeFileSync(bad, configText(`clientCa: ${join(dir, 'nope.pem')}`));
  const missing = loadConfigFile(bad, {}, { fileChecks: (c) => checkTlsFiles(c, Date.now()) });
  assert.equal(missing.ok, false);
  assert.match(missing.ok ? '' : missing.errors.map(formatIssue).join('\n'), /drawbridge\.yaml:\d+:\d+: tls\.clientCa \(.*nope\.pem\) cannot be read: no such file/);
  writeFileSync(bad, configText(`clientCa: ${ca.certFile}\nclientCrl: ${makeCrl(dir, foreignCa, [])}`));
  const foreignList = loadConfigFile(bad, {}, { fileChecks: (c) => checkTlsFiles(c, Date.now()) });
  assert.match(foreignList.ok ? '' : foreignList.errors.map(formatIssue).join('\n'), /tls\.clientCrl: revocation list 1: signed by no certificate of tls\.clientCa/);
  writeFileSync(bad, configText(`clientCa: ${ca.certFile}\nclientCrl: ${crlFile}`));
  assert.equal(loadConfigFile(bad, {}, { fileChecks: (c) => checkTlsFiles(c, Date.now()) }).ok, true);
});

test('tls.clientCa added by a reload: new connections are asked for a device certificate', T, async () => {
  const later = await start(configText(''));
  try {
    const cookie = await aliceCookie(later.db, 'app.localhost');
    assert.equal((await get(later.db, 'app.localhost', '/', { cookie, cert: laptop })).status, 403, 'no clientCa: no device');
    writeFileSync(later.configFile, configText(`clientCa: ${ca.certFile}`));
    assert.deepEqual(await later.db.reload(), { ok: true });
    assert.equal((await get(later.db, 'app.localhost', '/', { cookie, cert: laptop })).status, 200);
    assert.ok(later.db.watchedFiles().includes(ca.certFile), 'the CA file is watched like the certificates');
  } finally {
    await later.db.close();
  }
});

test('clientCert: required: no verified device certificate gets a page saying so, before sign-in (403 DRB_DEVICE_REQUIRED); with one the request goes on', T, async () => {
  const req = await start(configText(`clientCa: ${ca.certFile}\nclientCrl: ${crlFile}\nclientCert: required`));
  try {
    const none = await get(req.db, 'app.localhost', '/.drawbridge/sign_in?rd=/', { accept: 'text/html' });
    assert.equal(none.status, 403);
    assert.match(none.body, /This site needs your device certificate/);
    assert.match(none.body, /presented none/);
    const revoked = await get(req.db, 'app.localhost', '/', { accept: 'text/html', cert: stolen });
    assert.equal(revoked.status, 403);
    assert.match(revoked.body, /revoked/);
    const api = await get(req.db, 'open.localhost', '/', { cert: foreign });
    assert.equal(api.status, 403);
    assert.equal(JSON.parse(api.body).error, 'device_certificate_required');
    assert.equal(JSON.parse(api.body).reason, 'device-certificate-refused');
    const line = req.logs.filter((l) => l.event === 'request').at(-1);
    assert.equal(line?.errorCode, 'DRB_DEVICE_REQUIRED');
    // A device that has one goes on to sign-in (no session: 401) and to the policy.
    assert.equal((await get(req.db, 'open.localhost', '/', { cert: phone })).status, 401);
    assert.equal((await get(req.db, 'open.localhost', '/', { cert: phone, cookie: await aliceCookie(req.db, 'open.localhost') })).status, 200);
  } finally {
    await req.db.close();
  }
});

test('X-Forwarded-Client-Cert: believed from a trusted proxy only, its certificate verified again (foreign, revoked or a wrong Hash: no device)', T, async () => {
  const xfcc = (cert: TestCert, hash = hex(cert.pem)) => `By=spiffe://lb;Hash=${hash};Cert="${encodeURIComponent(cert.pem)}";URI=urn:device:laptop-42`;
  // Trusted: 127.0.0.1 (the test client). The TLS handshake carries no certificate: the header is the source.
  const lb = await start(configText(`clientCa: ${ca.certFile}\nclientCrl: ${crlFile}`, `trustedProxies: [127.0.0.1/32]\nforwardedClientCert: { header: X-Forwarded-Client-Cert }`));
  try {
    const cookie = await aliceCookie(lb.db, 'app.localhost');
    seen.length = 0;
    const ok = await get(lb.db, 'app.localhost', '/', { cookie, headers: { 'x-forwarded-client-cert': xfcc(laptop) } });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(seen[0]!['x-forwarded-client-cert'], undefined, 'the header is consumed, never forwarded');
    assert.equal(assertionClaims(seen[0]!).cnf['x5t#S256'], Buffer.from(hex(laptop.pem), 'hex').toString('base64url'));
    for (const header of [xfcc(foreign), xfcc(stolen), xfcc(laptop, '0'.repeat(64)), 'Hash=00;URI=urn:device:laptop-42']) {
      const res = await get(lb.db, 'app.localhost', '/', { cookie, headers: { 'x-forwarded-client-cert': header } });
      assert.equal(res.status, 403, header.slice(0, 60));
    }
    // From a trusted proxy, the certificate of its own TLS connection is not the device's.
    assert.equal((await get(lb.db, 'app.localhost', '/', { cookie, cert: laptop })).status, 403);
  } finally {
    await lb.db.close();
  }
  // Untrusted peer (127.0.0.1 not in trustedProxies): the header is ignored.
  const direct = await start(configText(`clientCa: ${ca.certFile}`, `trustedProxies: [10.0.0.0/8]\nforwardedClientCert: { header: X-Forwarded-Client-Cert }`));
  try {
    const cookie = await aliceCookie(direct.db, 'app.localhost');
    assert.equal((await get(direct.db, 'app.localhost', '/', { cookie, headers: { 'x-forwarded-client-cert': xfcc(laptop) } })).status, 403);
    assert.equal((await get(direct.db, 'app.localhost', '/', { cookie, cert: laptop })).status, 200, 'its own handshake still counts');
  } finally {
    await direct.db.close();
  }
});

/** A WebSocket upgrade presenting `cert`; resolves with the open socket once the 101 arrived. */
function openWebSocket(db: Drawbridge, host: string, cookie: string, cert: TestCert): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: db.port,
      path: '/ws',
      servername: host,
      ca: serverCa.pem,
      cert: cert.pem,
      key: cert.keyPem,
      agent: false,
      headers: { host: `${host}:${db.port}`, cookie, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (_res, socket) => resolve(socket as import('node:net').Socket));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

test('a WebSocket admitted with a device certificate is closed by the next sweep once a reloaded CRL revokes it (device rule and device-bound session)', T, async () => {
  const bound = await inst.db.runtime.sessions.create(ALICE, {}, undefined, Date.now(), { device: hex(laptop.pem), agent: 'other' });
  const boundCookie = `__Host-drawbridge=${sealSessionId(bound.id, inst.db.runtime.sessions.keys.cookieMac, `https://open.localhost:${inst.db.port}`)}`;
  const sockets = [await openWebSocket(inst.db, 'app.localhost', await aliceCookie(inst.db, 'app.localhost'), laptop), await openWebSocket(inst.db, 'open.localhost', boundCookie, laptop)];
  const closed = sockets.map((socket) => new Promise<void>((resolve) => socket.on('close', () => resolve())));
  for (const socket of sockets) socket.on('error', () => undefined).resume(); // read the close frame, so the end arrives
  try {
    await inst.db.websockets.sweep();
    assert.deepEqual(sockets.map((socket) => socket.destroyed), [false, false], 'still admitted before the revocation');
    copyFileSync(makeCrl(dir, ca, [stolen, laptop]), crlFile);
    assert.deepEqual(await inst.db.reload(), { ok: true });
    await inst.db.websockets.sweep();
    await Promise.all(closed);
    const lines = inst.logs.filter((l) => l.event === 'websocket-closed');
    assert.deepEqual(lines.slice(-2).map((l) => [l.route, l.reason]).sort(), [['app', 'policy-denied'], ['open', 'policy-denied']]);
  } finally {
    for (const socket of sockets) socket.destroy();
    copyFileSync(makeCrl(dir, ca, [stolen]), crlFile);
    assert.deepEqual(await inst.db.reload(), { ok: true });
  }
});
