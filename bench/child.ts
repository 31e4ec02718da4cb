// bench/child.ts — the benchmark's process plumbing: which CPU each process gets (taskset), starting a
// TypeScript child pinned to a CPU with an IPC channel, and the child side of the ready/stop handshake.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (children run from it so `--import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Which CPU each role runs on; `cpu` undefined means unpinned. */
export interface Pinning {
  /** The process under test: direct upstream, nginx, bare-http-proxy, Drawbridge; the in-process micro rows. */
  proxy?: string;
  /** The load generator, the upstream behind the proxies, redis-server and the orchestrator itself. */
  load?: string;
  /**
   * Every CPU (`0-N`): the unpinned rows' processes and their load generator are started with it, which undoes the
   * orchestrator's own pinning that children inherit. Undefined when nothing is pinned anyway.
   */
  all?: string;
  /** Why nothing is pinned, when nothing is. */
  reason?: string;
}

/** Pins when `taskset` works and there are at least two CPUs: the proxy on CPU 1, everything else on CPU 0. */
export function detectPinning(): Pinning {
  if (cpus().length < 2) return { reason: 'one CPU: nothing to separate' };
  const probe = spawnSync('taskset', ['-c', '1', 'true'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return { reason: 'taskset not available' };
  return { proxy: '1', load: '0', all: `0-${cpus().length - 1}` };
}

/** Pins this process (every thread, and so every child started later without its own taskset) to `cpu`. */
export function pinSelf(cpu: string | undefined): void {
  if (cpu !== undefined) spawnSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
}

/** `cmd args` prefixed with `taskset -c cpu` when pinned. */
export function pinnedCommand(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
}

/** A started child with its first message (`{ type: 'ready', ... }`). */
export interface Child<T> {
  process: ChildProcess;
  ready: T;
  /** Sends a request and resolves with the reply whose `type` is `reply` (one request at a time per child). */
  ask<R>(message: Record<string, unknown>, reply: string, timeoutMs: number): Promise<R>;
  /** Asks the child to stop (it exits after cleaning up) and waits; kills it after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `node [nodeArgs] --import tsx FILE args` from the repository root, pinned, and waits for its ready message.
 * With `dist` (bench/build.ts), the compiled FILE of that build instead, without tsx (as production runs).
 */
export async function startChild<T>(file: string, args: string[], options: { cpu?: string; nodeArgs?: string[]; readyTimeoutMs?: number; dist?: string; env?: Record<string, string> } = {}): Promise<Child<T>> {
  const script = options.dist === undefined ? ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url))] : [join(options.dist, 'bench', file.replace(/^\.\//, '').replace(/\.ts$/, '.js'))];
  const [cmd, argv] = pinnedCommand(options.cpu, process.execPath, [...(options.nodeArgs ?? []), ...script, ...args]);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...(options.env ? { env: { ...process.env, ...options.env } } : {}) });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file}: no ready message within ${options.readyTimeoutMs ?? 60_000} ms`)), options.readyTimeoutMs ?? 60_000);
    child.once('error', (e) => reject(new Error(`${file}: ${e.message}`)));
    child.once('exit', (code, signal) => reject(new Error(`${file} exited before it was ready (${code ?? signal})`)));
    child.on('message', function first(m: { type?: string; error?: string }) {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        child.off('message', first);
        resolve(m as T);
      } else if (m?.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`${file}: ${m.error}`));
      }
    });
  }).catch(async (e: Error) => {
    child.kill('SIGKILL');
    await exited;
    throw e;
  });
  let stopping: Promise<void> | undefined;
  return {
    process: child,
    ready,
    ask<R>(message: Record<string, unknown>, reply: string, timeoutMs: number): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`${file}: no ${reply} within ${timeoutMs} ms`)), timeoutMs);
        const onExit = () => done(new Error(`${file} exited while asked for ${reply}`));
        const onMessage = (m: { type?: string; error?: string }) => {
          if (m?.type === reply) done(undefined, m as R);
          else if (m?.type === 'failed') done(new Error(`${file}: ${m.error}`));
        };
        function done(err: Error | undefined, value?: R) {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(value as R);
        }
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send(message);
      });
    },
    stop(graceMs = 10_000): Promise<void> {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (child.connected) child.send({ type: 'stop' });
        else child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** True when `moduleUrl` is the script node was started with (the child entry points check this). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}

/**
 * The child side: runs `start`, reports `{ type: 'ready', ...info }` (or `failed`), answers requests through
 * `onMessage`, and on `stop` (or when the parent goes away) runs `stop` and exits with 0 so that
 * `--cpu-prof` writes its profile.
 */
export async function serveChild<T extends object>(start: () => Promise<T>, stop: () => Promise<void>, onMessage?: (m: Record<string, unknown>) => void): Promise<void> {
  let stopping = false;
  const finish = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('disconnect', () => void finish());
  process.on('SIGTERM', () => void finish());
  process.on('message', (m: Record<string, unknown>) => {
    if (m?.type === 'stop') void finish();
    else onMessage?.(m);
  });
  try {
    const info = await start();
    process.send!({ type: 'ready', ...info });
  } catch (e) {
    process.send!({ type: 'failed', error: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
}

/** The child side for a plain HTTP server (the reference proxies): listens on 127.0.0.1:0, reports its port, and on stop closes every connection and then `closeMore` (the proxy's pool or agent). */
export function serveHttpChild(server: Server, closeMore: () => unknown): Promise<void> {
  return serveChild(
    async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      return { port: (server.address() as AddressInfo).port };
    },
    async () => {
      server.closeAllConnections();
      server.close();
      await closeMore();
    },
  );
}
