// bench/bare-proxy.ts — the `bare-http-proxy` row: http-proxy-3 with a keep-alive http.Agent, no auth, no
// logging, in its own process. The yardstick the SPEC §10 targets are ratios of.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import { isMain, serveChild } from './child.js';

/** Starts a bare reverse proxy to `target` on an ephemeral loopback port. */
export async function startBareProxy(target: string): Promise<{ server: http.Server; close(): Promise<void> }> {
  // The same pool settings as Drawbridge's forwarder, so the rows differ only by what Drawbridge adds.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 256, timeout: 4000, scheduling: 'lifo' });
  const proxy = createProxyServer({ target, agent, xfwd: false, changeOrigin: false });
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  const server = http.createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
      proxy.close();
    },
  };
}

if (isMain(import.meta.url)) {
  let bare: Awaited<ReturnType<typeof startBareProxy>> | undefined;
  await serveChild(
    async () => {
      bare = await startBareProxy(process.argv[2]!);
      return { port: (bare.server.address() as AddressInfo).port };
    },
    async () => bare?.close(),
    (m) => {
      // bench/profile.ts marks the load window on the process's own clock.
      if (m.type === 'mark') process.send!({ type: 'mark', hrtimeUs: Number(process.hrtime.bigint() / 1000n) });
    },
  );
}
