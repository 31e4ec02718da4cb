// bench/nginx.ts — the `nginx` reference row: Debian nginx as a plain `proxy_pass` with an upstream keep-alive
// pool, one worker, started in the foreground from a temporary prefix (its own config, pid and error log).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinnedCommand } from './child.js';

/** The nginx binary, or undefined with the reason it is unusable. */
export function findNginx(): { binary: string } | { reason: string } {
  for (const binary of ['nginx', '/usr/sbin/nginx']) {
    const probe = spawnSync(binary, ['-v'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return { binary };
  }
  return { reason: 'nginx not found (apt-get install nginx)' };
}

/** The nginx version line (`nginx/1.22.1`). */
export function nginxVersion(binary: string): string {
  return (spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr ?? '').trim().replace(/^nginx version:\s*/, '');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** The configuration: one worker, access log off (the ceiling, not a like-for-like), HTTP/1.1 pooled upstream. */
export function nginxConfig(prefix: string, port: number, upstreamPort: number): string {
  return `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 1000000;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`;
}

export interface RunningNginx {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts nginx pinned to `cpu` and resolves once it accepts connections; rejects with its error log otherwise. */
export async function startNginx(binary: string, upstreamPort: number, cpu: string | undefined): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'drawbridge-bench-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConfig(prefix, port, upstreamPort));
  // -e: the error log before the configuration is read (else nginx tries /var/log/nginx/error.log).
  const [cmd, args] = pinnedCommand(cpu, binary, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await accepts(port)) return { port, process: child, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  let log = stderr;
  try {
    log += readFileSync(join(prefix, 'error.log'), 'utf8');
  } catch {
    // no log written
  }
  await stop();
  throw new Error(`nginx did not start: ${log.trim().split('\n').slice(-3).join(' | ')}`);
}
