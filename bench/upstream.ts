// bench/upstream.ts — the benchmark's upstream: a tiny node:http server (keep-alive, a 200-byte body) in its
// own process. It counts connections and requests so the bench can show every leg stayed keep-alive.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMain, serveChild } from './child.js';

/** The response body: 200 bytes, so every row moves the same payload. */
export const UPSTREAM_BODY = Buffer.from(`${'{"ok":true,"service":"bench-upstream","pad":"'.padEnd(198, '.')}"}`);

/** What the upstream reports on `{ type: 'stats' }`: totals since it started. */
export interface UpstreamStats {
  type: 'stats';
  connections: number;
  requests: number;
}

const HEADERS = { 'content-type': 'application/json', 'content-length': String(UPSTREAM_BODY.length) };

/**
 * Starts the upstream on an ephemeral loopback port. `/__whoami` echoes what a proxy passed on (identity
 * header, assertion, cookie) for the bench's sanity checks; every other path gets the 200-byte body.
 */
export function startUpstream(): Promise<{ server: http.Server; stats: () => UpstreamStats }> {
  let connections = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    if (req.url === '/__whoami') {
      // Apache + mod_auth_openidc passes the user as a claim header (OIDCPassClaimsAs headers).
      const seen = JSON.stringify({ user: req.headers['x-forwarded-user'] ?? req.headers['oidc_claim_preferred_username'] ?? null, assertion: typeof req.headers['x-drawbridge-assertion'] === 'string', cookie: req.headers.cookie ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(seen) }).end(seen);
      return;
    }
    res.writeHead(200, HEADERS).end(UPSTREAM_BODY);
  });
  server.on('connection', () => connections++);
  // Longer than any proxy's idle pool timeout: the proxies, not the upstream, decide when to drop a connection.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, stats: () => ({ type: 'stats', connections, requests }) })));
}

if (isMain(import.meta.url)) {
  let up: Awaited<ReturnType<typeof startUpstream>> | undefined;
  await serveChild(
    async () => {
      up = await startUpstream();
      return { port: (up.server.address() as AddressInfo).port };
    },
    async () => {
      up?.server.closeAllConnections();
      await new Promise<void>((r) => (up ? up.server.close(() => r()) : r()));
    },
    (m) => {
      if (m.type === 'stats' && up) process.send!(up.stats());
    },
  );
}
