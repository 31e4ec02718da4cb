// bench/lean-proxy.ts — not a row of `npm run bench`: a reverse proxy on node:http alone (a keep-alive agent, no
// library, no auth, no logging), for bench/ab.ts. It shows the floor of node's HTTP client and server: what a proxy
// costs before http-proxy-3 (the bare row) or Drawbridge adds anything.
import http from 'node:http';
import { serveHttpChild } from './child.js';

const target = new URL(process.argv[2]!);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 256, timeout: 4000, scheduling: 'lifo' });
const server = http.createServer((req, res) => {
  const proxyReq = http.request({ agent, host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, setHost: false });
  proxyReq.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  proxyReq.on('response', (proxyRes) => {
    res.writeHead(proxyRes.statusCode ?? 502, proxyRes.headers);
    proxyRes.pipe(res);
  });
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    proxyReq.end();
    req.resume();
  } else req.pipe(proxyReq);
});
server.keepAliveTimeout = 5000;
await serveHttpChild(server, () => agent.destroy());
