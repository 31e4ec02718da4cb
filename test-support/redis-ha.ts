// test-support/redis-ha.ts — throw-away Redis topologies on loopback for the high-availability tests: a primary, a
// replica and three sentinels (Debian's redis-server / redis-sentinel), and a three-master Redis Cluster built with
// `redis-cli --cluster create`. Every process is killed when the test process exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { reservePort } from './net.js';

const READY_TIMEOUT_MS = 10_000;
/** Sentinel's down-after-milliseconds in these tests: how long the primary must be silent to be declared down. */
export const DOWN_AFTER_MS = 1000;
/** Sentinel's failover-timeout in these tests. */
export const FAILOVER_TIMEOUT_MS = 5000;

type Raw = ReturnType<typeof createClient>;

interface Proc {
  port: number;
  child: ChildProcess | undefined;
  output: string;
}

const all = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of all) child.kill('SIGKILL');
});

function launch(binary: string, args: string[], port: number): Proc {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { port, child, output: '' };
  all.add(child);
  const keep = (chunk: Buffer): void => void (proc.output = (proc.output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => all.delete(child));
  child.once('error', (err) => (proc.output += `\n${err.message}`));
  return proc;
}

async function kill(proc: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = proc.child;
  proc.child = undefined;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` (errors count as false) until true; throws with `what` after `ms`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = READY_TIMEOUT_MS, every = 50): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  throw new Error(`${what}: not within ${ms} ms${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

/** One command on a fresh connection (closed after); rejects if the server does not answer. */
export async function command(port: number, args: string[]): Promise<unknown> {
  const client: Raw = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 1000 } });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

async function info(port: number, section: string): Promise<Map<string, string>> {
  const text = String(await command(port, ['INFO', section]));
  return new Map(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

async function answers(port: number): Promise<boolean> {
  return String(await command(port, ['PING'])) === 'PONG';
}

export interface SentinelSet {
  /** Sentinel's name of the monitored primary. */
  name: string;
  /** The sentinels, as `host:port`. */
  sentinels: string[];
  sentinelPorts: number[];
  /** Port of the current primary (as the test last started or saw it). */
  primaryPort: number;
  /** Port of the other data server. */
  replicaPort: number;
  /** kill -9 the current primary (no shutdown, no final sync). */
  killPrimary(): Promise<void>;
  /** Freezes the current primary (SIGSTOP): connections stay open, nothing is answered — a hung host. */
  pausePrimary(): void;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the replica: a replica that acknowledges nothing. */
  pauseReplica(paused: boolean): void;
  /** Resolves with the new primary's port once a sentinel reports `+switch-master` away from `oldPort`. */
  waitForSwitch(oldPort: number, ms?: number): Promise<number>;
  close(): Promise<void>;
}

/** A primary, one replica (in sync) and three sentinels (quorum 2) on free loopback ports. */
export async function startSentinelSet(): Promise<SentinelSet> {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-sentinel-'));
  const procs: Proc[] = [];
  const name = 'drawbridge-test';
  const server = (port: number, extra: string[] = []): Proc =>
    launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', ...extra], port);
  const close = async (): Promise<void> => {
    await Promise.all(procs.map((p) => kill(p, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primaryPort = await reservePort();
    const primary = server(primaryPort);
    procs.push(primary);
    await until(`redis-server on ${primaryPort}`, () => answers(primaryPort));
    const replicaPort = await reservePort();
    const replica = server(replicaPort, ['--replicaof', '127.0.0.1', String(primaryPort)]);
    procs.push(replica);
    await until('the replica in sync', async () => (await info(replicaPort, 'replication')).get('master_link_status') === 'up');
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await reservePort();
      const file = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      procs.push(launch('redis-sentinel', [file, '--loglevel', 'warning'], port));
      sentinelPorts.push(port);
    }
    // Every sentinel knows the replica and the other sentinels before a test may kill the primary.
    for (const port of sentinelPorts) {
      await until(`sentinel ${port} ready`, async () => {
        const reply = await command(port, ['SENTINEL', 'MASTER', name]);
        const fields = new Map<string, string>();
        if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
        else for (const [k, v] of Object.entries(reply as Record<string, unknown>)) fields.set(k, String(v));
        return fields.get('num-slaves') === '1' && fields.get('num-other-sentinels') === '2';
      }, 20_000, 100);
    }
    const set: SentinelSet = {
      name,
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`),
      sentinelPorts,
      primaryPort,
      replicaPort,
      async killPrimary() {
        const proc = procs.find((p) => p.port === set.primaryPort);
        if (proc) await kill(proc, 'SIGKILL');
      },
      pausePrimary() {
        procs.find((p) => p.port === set.primaryPort)?.child?.kill('SIGSTOP');
      },
      pauseReplica(paused) {
        procs.find((p) => p.port === set.replicaPort)?.child?.kill(paused ? 'SIGSTOP' : 'SIGCONT');
      },
      async waitForSwitch(oldPort, ms = 20_000) {
        let found = 0;
        await until('sentinel failover (+switch-master)', async () => {
          const addr = (await command(sentinelPorts[0], ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])) as string[];
          const port = Number(addr?.[1]);
          if (port === oldPort || !(port > 0)) return false;
          if ((await info(port, 'replication')).get('role') !== 'master') return false;
          found = port;
          return true;
        }, ms);
        set.replicaPort = set.primaryPort;
        set.primaryPort = found;
        return found;
      },
      close,
    };
    return set;
  } catch (err) {
    await close();
    throw new Error(`starting a sentinel set: ${(err as Error).message}\n${procs.map((p) => p.output.trim()).filter(Boolean).join('\n')}`);
  }
}

export interface TestCluster {
  /** The masters, as `host:port`. */
  nodes: string[];
  ports: number[];
  close(): Promise<void>;
}

/** Three cluster masters (no replicas), slots spread by `redis-cli --cluster create`. */
export async function startCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-cluster-'));
  const procs: Proc[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(procs.map((p) => kill(p, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await reservePort();
      // The cluster bus gets its own free port (the default, port + 10000, may be out of range or taken).
      const bus = await reservePort();
      procs.push(
        launch(
          'redis-server',
          ['--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
            '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--loglevel', 'warning'],
          port,
        ),
      );
      ports.push(port);
    }
    for (const port of ports) await until(`cluster node ${port}`, () => answers(port));
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create: ${created.stdout}${created.stderr}`);
    for (const port of ports) {
      await until(`cluster state ok on ${port}`, async () => String(await command(port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok'), 20_000, 100);
    }
    return { nodes: ports.map((p) => `127.0.0.1:${p}`), ports, close };
  } catch (err) {
    await close();
    throw new Error(`starting a redis cluster: ${(err as Error).message}\n${procs.map((p) => p.output.trim()).filter(Boolean).join('\n')}`);
  }
}
