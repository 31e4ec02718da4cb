// bench/nginx.ts — the `nginx` reference row: Debian nginx as a plain `proxy_pass` with an upstream keep-alive
// pool, one worker, started in the foreground from a temporary prefix (test-support/nginx.ts), pinned like the proxies.
import { findNginx, nginxVersion, startNginx as startNginxWith, type RunningNginx } from '../test-support/nginx.js';
import { reservePort } from '../test-support/net.js';
import { pinnedCommand } from './child.js';

export { findNginx, nginxVersion, type RunningNginx };

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

/** Starts nginx pinned to `cpu` and resolves once it accepts connections; rejects with its error log otherwise. */
export async function startNginx(binary: string, upstreamPort: number, cpu: string | undefined): Promise<RunningNginx> {
  const port = await reservePort();
  return startNginxWith(port, (prefix) => nginxConfig(prefix, port, upstreamPort), { binary, command: (b, args) => pinnedCommand(cpu, b, args) });
}
