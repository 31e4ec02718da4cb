// bench/load-gen.test.ts — the open-loop generator's priming: every connection carries one request before the schedule
// starts, and those answers are not counted (a new connection's set-up is not the steady tail the fixed rate measures).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { generateLoad } from './load-gen.js';

test('open loop: each connection answers one request before the schedule, not counted', async () => {
  // The first request of every connection is answered 203, the later ones 200: a counted 203 is a priming answer.
  const perConnection = new Map<object, number>();
  const server = http.createServer((req, res) => {
    const n = (perConnection.get(req.socket) ?? 0) + 1;
    perConnection.set(req.socket, n);
    res.writeHead(n === 1 ? 203 : 200, { 'content-length': '2' }).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    const result = await generateLoad({ port, host: 'x.test', path: '/', headers: {}, connections: 4, durationMs: 200, rate: 100 });
    assert.equal(perConnection.size, 4, 'four connections');
    for (const n of perConnection.values()) assert.ok(n >= 1, 'every connection carried its priming request');
    assert.equal(result.statuses['203'], undefined, `no priming answer counted: ${JSON.stringify(result.statuses)}`);
    assert.ok((result.statuses['200'] ?? 0) > 0, 'the scheduled requests were answered and counted');
    assert.equal(result.errors, 0, result.errorDetail);
    assert.ok(Number.isFinite(result.p99SteadyMs) && Number.isFinite(result.slowestAtMs), 'the steady p99 and the slowest request are reported');
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
