// proxy/test/workers-tls.test.ts — `workers: 2` with `tls`: the primary gives every worker the same session-ticket key
// and rotates it for all at once (server/cluster-tls.ts), so a TLS session resumes whichever worker accepts the
// connection. Each request's log line names its worker; the tests connect until both workers have answered.
// `ticketKeyRotation` is 5 s here: every check that a ticket resumes is retried when a rotation (a log line
// of the primary's, written once every worker has the new key) fell in the middle of it, never timed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startSampleApp, type SampleApp } from '../../e2e/sample-app/sample-app.js';
import { certDir, makeCa, makeCert } from '../../test-support/certs.js';
import { drawbridgeProcess, type DrawbridgeProcess } from '../../test-support/process.js';
import { marker } from '../../test-support/raw.js';
import { reservePort, SESSION_SECRET, waitFor } from '../../test-support/stack.js';

const T = { timeout: 120_000 };
const app: SampleApp = await startSampleApp({});
const port: number = await reservePort();
const dir = certDir();
const ca = makeCa(dir);
const leaf = makeCert(dir, ca, 'server', ['public.localhost', 'auth.localhost']);
const file = join(mkdtempSync(join(tmpdir(), 'drawbridge-workers-tls-')), 'drawbridge.yaml');
writeFileSync(
  file,
  `listen: "127.0.0.1:${port}"
workers: 2
publicUrl: https://auth.localhost:${port}
admin: { listen: "127.0.0.1:0" }
tls: { certFile: ${leaf.certFile}, keyFile: ${leaf.keyFile}, ticketKeyRotation: 5s }
idp: { issuer: "http://127.0.0.1:9/", clientId: drawbridge, clientSecret: not-used-not-used, allowInsecureHttp: true }
session: { secret: ${SESSION_SECRET} }
log: { level: info, format: json }
routes:
  - { name: public, from: "https://public.localhost:${port}", to: "${app.url}", public: true }
`,
);
const db: DrawbridgeProcess = drawbridgeProcess('serve', '--config', file);

before(async () => {
  const start = await db.line((l) => l.event === 'start' && l.workers === 2);
  await waitFor(() => db.logs.filter((l) => l.event === 'worker' && l.result === 'started').length >= 2, 60_000, 50);
  assert.match(String(start.listen), /^https:/);
});

after(async () => {
  await db.stop();
  await app?.close();
});

type Version = 'TLSv1.2' | 'TLSv1.3';

interface Visit {
  worker: number;
  reused: boolean;
  /** The session to resume with (TLS 1.3: the last ticket the server sent). */
  session: Buffer;
}

/** One HTTPS request on a new TLS connection (resuming `session` when given): which worker answered, and whether it resumed. */
async function visit(version: Version, session?: Buffer): Promise<Visit> {
  const mark = marker('tls');
  const seen = await new Promise<{ reused: boolean; session: Buffer }>((resolve, reject) => {
    let ticket: Buffer | undefined;
    let reused = false;
    let done = false;
    let body = '';
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'public.localhost', ca: ca.pem, minVersion: version, maxVersion: version, ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) }, () => {
      reused = socket.isSessionReused();
      socket.write(`GET /${mark} HTTP/1.1\r\nHost: public.localhost:${port}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      body += c;
      if (done || !body.includes('\r\n\r\n')) return;
      // The whole head is here (tickets come before it): the session is read while the connection is still open.
      done = true;
      ticket ??= socket.getSession();
    });
    socket.on('error', reject);
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer')));
    socket.on('close', () => {
      if (!body.startsWith('HTTP/1.1 200')) return reject(new Error(`not a 200: ${body.slice(0, 200)}`));
      const s = ticket;
      if (!s) return reject(new Error('no TLS session to resume'));
      resolve({ reused, session: s });
    });
  });
  const line = await db.line((l) => l.event === 'request' && String(l.path).includes(mark));
  assert.equal(typeof line.worker, 'number', 'every request line names its worker');
  return { worker: line.worker as number, ...seen };
}

const rotations = () => db.logs.filter((l) => l.event === 'tls-ticket-key' && l.result === 'rotated').length;

/** Runs `fn` again (at most 10 times) while a ticket-key rotation happened during it. */
async function withinOneKey<R>(fn: () => Promise<R>): Promise<R> {
  for (let i = 0; i < 10; i++) {
    const before = rotations();
    const result = await fn();
    if (rotations() === before) return result;
  }
  throw new Error('a rotation fell into every attempt');
}

/** Resumes `session` until both workers have answered (at least `min` connections); every visit. */
async function resumeOnBoth(version: Version, session: Buffer, min: number): Promise<Visit[]> {
  const visits: Visit[] = [];
  for (let i = 0; i < 60 && (visits.length < min || new Set(visits.map((v) => v.worker)).size < 2); i++) visits.push(await visit(version, session));
  assert.equal(new Set(visits.map((v) => v.worker)).size, 2, 'both workers accepted connections');
  return visits;
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`workers: 2 — a ${version} session resumes on every connection, whichever worker accepts it (one ticket key for all)`, T, async () => {
    const visits = await withinOneKey(async () => {
      const first = await visit(version);
      return [first, ...(await resumeOnBoth(version, first.session, 12))];
    });
    console.log(JSON.stringify(visits.map((v) => [v.worker, v.reused, v.session.length])));
    assert.equal(visits[0]!.reused, false, 'the first connection makes a full handshake');
    const resumed = visits.slice(1);
    assert.deepEqual(
      resumed.filter((v) => !v.reused).map((v) => v.worker),
      [],
      `every resumption succeeded, on workers ${[...new Set(resumed.map((v) => v.worker))].join(' and ')}`,
    );
  });
}

test('workers: 2 — the ticket key rotates for every worker at once: an older ticket resumes on neither, a newer one on both', T, async () => {
  const version = 'TLSv1.3';
  const from = db.logs.length;
  // A rotation, confirmed by every worker before the primary logs it.
  const rotated = await db.line((l) => l.event === 'tls-ticket-key' && l.result === 'rotated', from);
  assert.equal(rotated.workers, 2);
  const old = await withinOneKey(async () => {
    const first = await visit(version);
    const visits = await resumeOnBoth(version, first.session, 4);
    assert.ok(visits.every((v) => v.reused), 'the ticket resumes on both workers until the next rotation');
    return first.session;
  });
  const next = db.logs.length;
  await db.line((l) => l.event === 'tls-ticket-key' && l.result === 'rotated', next);
  const stale = await resumeOnBoth(version, old, 4);
  assert.deepEqual(stale.filter((v) => v.reused).map((v) => v.worker), [], 'a ticket of the previous key resumes on no worker');
});

/** A new ticket resumes on both workers (with a rotation in the middle, again). */
async function resumesOnBoth(version: Version): Promise<void> {
  const visits = await withinOneKey(async () => {
    const first = await visit(version);
    return resumeOnBoth(version, first.session, 6);
  });
  assert.deepEqual(visits.filter((v) => !v.reused).map((v) => v.worker), [], 'every resumption succeeded');
}

test('workers: 2 — after a reload, and in a worker that replaced one that died, a session still resumes on every worker', T, async () => {
  // A reload gives each listener its contexts again (setSecureContext): with the primary's key, not one of its own.
  const from = db.logs.length;
  db.child.kill('SIGHUP');
  const reloaded = await db.line((l) => l.event === 'reload' && l.worker === undefined, from);
  assert.equal(reloaded.result, 'success', JSON.stringify(reloaded));
  await resumesOnBoth('TLSv1.3');
  // A replacement starts with the key in force, not the one node's cluster recorded when the first worker listened.
  const started = [...db.logs].reverse().find((l) => l.event === 'worker' && l.result === 'started' && l.worker === 1);
  assert.ok(started?.pid);
  const killedAt = db.logs.length;
  process.kill(started.pid as number, 'SIGKILL');
  const replaced = await db.line((l) => l.event === 'worker' && l.result === 'started' && l.worker === 1, killedAt);
  assert.notEqual(replaced.pid, started.pid);
  await resumesOnBoth('TLSv1.3');
  await resumesOnBoth('TLSv1.2');
});
