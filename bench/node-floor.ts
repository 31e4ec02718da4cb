// bench/node-floor.ts — the `node-floor` row: the two libraries a Drawbridge request goes through and nothing
// else. node:http's server takes the request, an undici Pool (keep-alive, raw dispatch callbacks: the upstream leg
// of forward/relay.ts) sends it on, and the answer is relayed with the hop-by-hop headers dropped. No
// normalization, no route, no cookie, no session, no policy, no identity headers, no assertion, no log line, no
// metric, no timeout. It is not a proxy anyone should run: it is the cost of a request on Drawbridge's stack before
// Drawbridge does anything, so the bench can say how much of a request is Drawbridge's own work and how far a
// target is from what node itself allows.
import http from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { serveHttpChild } from './child.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);
const pool = new Pool(process.argv[2]!, { connections: 256, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });

const server = http.createServer((req, res) => {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
  const handler: Dispatcher.DispatchHandler = {
    onConnect() {},
    onHeaders(status, rawHeaders, resume) {
      res.on('drain', resume);
      const list: string[] = [];
      for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!.toString('latin1');
        if (!HOP_BY_HOP.has(name.toLowerCase())) list.push(name, rawHeaders[i + 1]!.toString('latin1'));
      }
      res.writeHead(status, list);
      return true;
    },
    onData(chunk) {
      return res.write(chunk);
    },
    onComplete() {
      res.end();
    },
    onError() {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    },
  };
  const bodyless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
  pool.dispatch({ method: req.method!, path: req.url!, headers, body: bodyless ? null : req }, handler);
  if (bodyless) req.resume();
});
server.keepAliveTimeout = 5000;
await serveHttpChild(server, () => pool.destroy());
