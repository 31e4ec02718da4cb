// test-support/pebble.ts — Debian's pebble (the ACME test server) for one test: its own HTTPS certificate,
// a DNS server answering 127.0.0.1 for every name (so its validation authority reaches Drawbridge on loopback),
// every listener on an ephemeral port (found through /proc, since pebble prints ":0").
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pebble {
  /** https://127.0.0.1:PORT/dir */
  readonly directoryUrl: string;
  /** The CA of pebble's own HTTPS (tls.acme.caFile). */
  readonly caFile: string;
  /** The root of the certificates pebble issues (its management interface, /roots/0). */
  root(): Promise<string>;
  /** Everything pebble printed, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

export interface PebbleOptions {
  /** Where pebble's validation authority sends HTTP-01 and TLS-ALPN-01 requests (Drawbridge's listeners). */
  httpPort: number;
  tlsPort: number;
}

/** A DNS server on 127.0.0.1:0 that answers every A query with 127.0.0.1 and every other type with no record. */
export async function startLoopbackDns(): Promise<{ port: number; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (query.length < 17) return;
    let i = 12;
    while (i < query.length && query[i] !== 0) i += query[i] + 1;
    const end = i + 5;
    if (end > query.length) return;
    const qtype = query.readUInt16BE(i + 1);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | (query.readUInt16BE(2) & 0x0100), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(qtype === 1 ? 1 : 0, 6);
    const answer = qtype === 1 ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
    socket.send(Buffer.concat([header, query.subarray(12, end), answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** The TCP ports process `pid` listens on (from /proc: its socket inodes, then the listening sockets' table). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16));
  }
  return ports;
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Starts pebble (PEBBLE_VA_NOSLEEP, no authorization reuse, no rejected nonces) and waits until it answers. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-pebble-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=pebble test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const dns = await startLoopbackDns();
  const config = {
    pebble: {
      listenAddress: '127.0.0.1:0',
      managementListenAddress: '127.0.0.1:0',
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort: options.httpPort,
      tlsPort: options.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify(config));
  const child: ChildProcess = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns.port}`, '-strict=false'], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_VA_ALWAYS_VALID: '0', PEBBLE_AUTHZREUSE: '0', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await dns.close();
  };
  try {
    const ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    // Both listeners bound (the log line comes just before each bind): a bounded wait on events, not a sleep race.
    const deadline = Date.now() + 15_000;
    let ports: number[] = [];
    while (ports.length < 2) {
      if (child.exitCode !== null) throw new Error(`pebble exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`pebble did not listen within 15 s: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
      ports = child.pid ? listeningPorts(child.pid) : [];
    }
    let directoryUrl = '';
    let managementUrl = '';
    for (const port of ports) {
      const dirAnswer = await get(`https://127.0.0.1:${port}/dir`, ca).catch(() => ({ status: 0, body: '' }));
      if (dirAnswer.status === 200 && dirAnswer.body.includes('newNonce')) directoryUrl = `https://127.0.0.1:${port}/dir`;
      else managementUrl = `https://127.0.0.1:${port}`;
    }
    if (!directoryUrl || !managementUrl) throw new Error(`pebble's listeners not recognized (${ports.join(', ')}): ${out}`);
    return {
      directoryUrl,
      caFile: join(dir, 'cert.pem'),
      root: async () => (await get(`${managementUrl}/roots/0`, ca)).body,
      output: () => out,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
