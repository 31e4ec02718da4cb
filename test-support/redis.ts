// test-support/redis.ts — starts a throw-away redis-server on a free loopback port for tests and benchmarks
// (no persistence), and stops or restarts it on the same port to simulate an outage.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A running redis-server owned by the test. */
export interface TestRedis {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The server's process id while it runs (the bench reads its CPU time). */
  readonly pid: number | undefined;
  /** Kills the server and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (empty unless started with `persist`). */
  restart(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered — a hung Redis. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

/** Options of {@link startRedis}. */
export interface TestRedisOptions {
  /** Keep the data across `stop()`/`restart()` (append-only file, fsync always, in a private temporary directory). */
  persist?: boolean;
}

const FALLBACK_BINARY = '/usr/bin/redis-server';
const READY_TIMEOUT_MS = 5000;
const EXIT_TIMEOUT_MS = 3000;

function findRedisServer(): string {
  const candidates = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'redis-server'));
  candidates.push(FALLBACK_BINARY);
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('redis-server was not found on PATH nor at /usr/bin/redis-server; install the Debian package `redis-server` (apt-get install redis-server)');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/** One PING over a fresh socket; resolves true on +PONG. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Spawns `redis-server` on a free loopback port with persistence off and resolves once it answers PING. */
export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const binary = findRedisServer();
  const dataDir = options.persist ? mkdtempSync(join(tmpdir(), 'drawbridge-redis-')) : undefined;
  if (dataDir) process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const storage = dataDir ? ['--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--dir', tmpdir(), '--appendonly', 'no'];
  let port = 0;
  let child: ChildProcess | undefined;
  // A test that crashes must not leave a redis-server behind.
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };

  async function launch(): Promise<void> {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...storage, '--loglevel', 'warning'];
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    proc.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    proc.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    process.once('exit', killOnExit);
    try {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (Date.now() < deadline) {
        if (spawnError) throw new Error(`starting ${binary}: ${spawnError.message}`);
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`redis-server exited (${proc.exitCode ?? proc.signalCode}) on port ${port}: ${output.trim()}`);
        }
        if (await answers(port)) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`redis-server did not answer on port ${port} within ${READY_TIMEOUT_MS} ms: ${output.trim()}`);
    } catch (err) {
      await stop();
      throw err;
    }
  }

  let stopping: Promise<void> = Promise.resolve();
  function stop(): Promise<void> {
    const proc = child;
    if (proc === undefined) return stopping;
    child = undefined;
    process.removeListener('exit', killOnExit);
    stopping = (async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGCONT'); // a paused server would not act on SIGTERM
      proc.kill('SIGTERM');
      if (!(await waitForExit(proc, EXIT_TIMEOUT_MS))) {
        proc.kill('SIGKILL');
        await waitForExit(proc, EXIT_TIMEOUT_MS);
      }
    })();
    return stopping;
  }

  async function restart(): Promise<void> {
    await stop();
    await launch();
  }

  // Another process may take the free port before redis-server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    stop,
    restart,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  };
}
