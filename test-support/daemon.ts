// test-support/daemon.ts — runs a server program we did not write (nginx, Apache) from its own temporary directory
// for a test or the bench: its stderr and error log kept for the failure message, killed if this process exits,
// stopped with SIGTERM then SIGKILL (its children too when it forks), ready once it accepts on its port.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { accepts } from './net.js';

export interface Daemon {
  /** The process started (with a wrapper such as taskset, the wrapper, which execs the program). */
  readonly process: ChildProcess;
  /** What it wrote to stderr and its error log so far. */
  errors(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Its directory (removed by stop). */
  dir: string;
  /** Its error log file. */
  errorLog: string;
  /** The port it listens on, 127.0.0.1. */
  port: number;
  env?: NodeJS.ProcessEnv;
  /** How long it may take to accept connections (default 10 s). */
  timeoutMs?: number;
  /** The pids of its children, SIGKILLed with it when SIGTERM did not stop it in time (Apache's workers). */
  children?: (pid: number) => number[];
  /** How many error-log lines the failure message quotes (default 3). */
  quoteLines?: number;
}

/** Starts `cmd argv` and resolves once 127.0.0.1:`port` accepts; rejects with `name`, how it failed and its log. */
export async function startDaemon(name: string, cmd: string, argv: string[], o: DaemonOptions): Promise<Daemon> {
  const child: ChildProcess = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], ...(o.env ? { env: o.env } : {}) });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const errors = () => {
    try {
      return stderr + readFileSync(o.errorLog, 'utf8');
    } catch {
      return stderr;
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const children = o.children ? o.children(child.pid!) : [];
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        for (const pid of children) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }, 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(o.dir, { recursive: true, force: true });
  };
  const timeoutMs = o.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await accepts(o.port)) return { process: child, errors, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = errors();
  const how = child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : `did not listen on 127.0.0.1:${o.port} within ${timeoutMs} ms`;
  await stop();
  throw new Error(`${name} ${how}: ${log.trim().split('\n').slice(-(o.quoteLines ?? 3)).join(' | ') || 'no error output'}`);
}
