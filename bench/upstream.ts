// bench/upstream.ts — the benchmark's upstream: a tiny node:http server (keep-alive, a ~200-byte body),
// run in its own process; it reports its port to the parent over IPC and exits when the parent says so.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The response body: 200 bytes, so every row moves the same payload. */
export const UPSTREAM_BODY = Buffer.from(`${'{"ok":true,"service":"bench-upstream","pad":"'.padEnd(198, '.')}"}`);

const HEADERS = { 'content-type': 'application/json', 'content-length': String(UPSTREAM_BODY.length) };

/** Starts the upstream on an ephemeral loopback port. `/__whoami` echoes the identity headers (sanity checks only). */
export function startUpstream(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/__whoami') {
      const seen = JSON.stringify({ user: req.headers['x-forwarded-user'] ?? null, assertion: typeof req.headers['x-drawbridge-assertion'] === 'string', cookie: req.headers.cookie ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(seen) }).end(seen);
      return;
    }
    res.writeHead(200, HEADERS).end(UPSTREAM_BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

if (process.send) {
  const server = await startUpstream();
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'stop') server.close(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', port: (server.address() as AddressInfo).port });
}
