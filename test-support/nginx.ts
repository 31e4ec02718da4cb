// test-support/nginx.ts — Debian's nginx for tests and benches: run as the current user in the foreground from a
// temporary prefix (its own configuration, pid, temp paths and error log) on a loopback port, stopped by its pid.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from './daemon.js';

/** The nginx binary, or the reason there is none. */
export function findNginx(): { binary: string } | { reason: string } {
  for (const binary of ['nginx', '/usr/sbin/nginx']) {
    const probe = spawnSync(binary, ['-v'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return { binary };
  }
  return { reason: 'nginx not found (apt-get install nginx)' };
}

/** The lines every test configuration starts with: one worker, in the foreground, everything under `prefix`. */
export function nginxPreamble(prefix: string): string {
  return `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
`;
}

/** The temp paths of an `http {}` block, under `prefix` (the defaults are under /var/lib/nginx, not writable). */
export function nginxTempPaths(prefix: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${prefix}/tmp/${k};`).join('\n');
}

/** The nginx version line (`nginx/1.22.1`). */
export function nginxVersion(binary: string): string {
  return (spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr ?? '').trim().replace(/^nginx version:\s*/, '');
}

export interface RunningNginx {
  readonly port: number;
  readonly prefix: string;
  /** The process started (with `command`, the wrapper, e.g. taskset, which execs nginx). */
  readonly process: ChildProcess;
  /** What nginx wrote to its error log so far. */
  errors(): string;
  /** Stops nginx (SIGTERM, then SIGKILL) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartNginxOptions {
  /** The nginx binary (default: the one findNginx finds). */
  binary?: string;
  /** Wraps the command line (the bench pins nginx to a CPU with taskset). */
  command?: (binary: string, args: string[]) => [string, string[]];
}

/** Starts nginx with the configuration `config(prefix)` listening on 127.0.0.1:`port`; resolves once it accepts. */
export async function startNginx(port: number, config: (prefix: string) => string, options: StartNginxOptions = {}): Promise<RunningNginx> {
  let binary = options.binary;
  if (binary === undefined) {
    const found = findNginx();
    if ('reason' in found) throw new Error(found.reason);
    binary = found.binary;
  }
  const prefix = mkdtempSync(join(tmpdir(), 'drawbridge-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, config(prefix));
  // -e: the error log before the configuration is read (else nginx tries /var/log/nginx/error.log).
  const args = ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')];
  const [cmd, argv] = options.command ? options.command(binary, args) : [binary, args];
  const daemon = await startDaemon('nginx', cmd, argv, { dir: prefix, errorLog: join(prefix, 'error.log'), port });
  return { port, prefix, ...daemon };
}
