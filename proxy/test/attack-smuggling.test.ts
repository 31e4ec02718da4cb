// proxy/test/attack-smuggling.test.ts — request smuggling and desync over raw sockets (SPEC §3 step 1, §7 limits):
// ambiguous framing (Content-Length with Transfer-Encoding, two lengths, bad chunks, obfuscated codings), broken
// request lines, requests hidden in bodies or pipelined behind a refused one, and protocol switches (CONNECT, h2c,
// a WebSocket upgrade the upstream refuses). Each refused message gets one 400, the connection is closed, the attempt
// is logged, and nothing it carried — above all the hidden request to /admin — reaches the upstream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { head, marker, sendRaw, type Exchange } from '../../test-support/raw.js';
import { startStack, type Stack } from '../../test-support/stack.js';
import { ADMIN_UNDER_PUBLIC_ROUTES } from '../../test-support/routes.js';

const ROUTES = `routes:
${ADMIN_UNDER_PUBLIC_ROUTES}`;

let s: Stack;
let host: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  host = `Host: app.localhost:${s.port}`;
});

after(async () => {
  await s?.close();
});

const settle = () => new Promise((r) => setTimeout(r, 200));

/** What the upstream received carrying this marker (in the path, the query or the body's request line). */
function upstreamSaw(m: string): string[] {
  return s.app.requests.filter((r) => r.url.includes(m)).map((r) => `${r.method} ${r.url}`);
}

/** A request hidden where a naive parser would see a second message: it targets the protected route. */
const hidden = (m: string) => `GET /admin/${m} HTTP/1.1\r\n${host}\r\nAccept: application/json\r\n\r\n`;

/** Sends `data`, then asserts: exactly one 400, the connection closed, the refusal logged, nothing with `m` upstream. */
async function assertRefused(data: string | string[], m: string): Promise<Exchange> {
  const logsBefore = s.logs.length;
  const ex = await sendRaw(s.port, data, { timeoutMs: 5000 });
  assert.equal(ex.timedOut, false, `the server closed the connection (got ${JSON.stringify(ex.raw.slice(0, 200))})`);
  assert.ok(ex.closed);
  assert.deepEqual(
    ex.responses.map((r) => r.status),
    [400],
    `one 400 and nothing else: ${JSON.stringify(ex.raw.slice(0, 300))}`,
  );
  await settle();
  assert.deepEqual(upstreamSaw(m), [], 'nothing reached the upstream');
  const logged = s.logs.slice(logsBefore).some((l) => (l.event === 'client-error' && l.status === 400) || (l.event === 'request' && l.decision === 'bad-request'));
  assert.ok(logged, 'the refusal is logged');
  return ex;
}

/**
 * For errors node's parser meets only inside the body (bad chunks), after the request itself was accepted and may
 * already be streaming upstream: one answer at most (400, or the upstream's to the first request), then the
 * connection closes, and the request hidden behind the bad chunk never reaches the upstream.
 */
async function assertBodyRefused(data: string, m: string): Promise<void> {
  const ex = await sendRaw(s.port, data, { timeoutMs: 5000 });
  assert.equal(ex.timedOut, false, 'the server closed the connection');
  assert.ok(ex.responses.length <= 1, `at most one answer: ${JSON.stringify(ex.raw.slice(0, 300))}`);
  assert.equal(ex.rest, '', 'nothing after it');
  await settle();
  assert.deepEqual(
    upstreamSaw(m).filter((r) => r.includes('/admin/')),
    [],
    'the hidden request never reached the upstream',
  );
  assert.ok(upstreamSaw(m).length <= 1);
}

describe('ambiguous framing is refused', () => {
  // 'head': refused before the request exists; 'body': node meets the error inside the body.
  const framing: [string, 'head' | 'body', (m: string) => string][] = [
    ['Content-Length then Transfer-Encoding: chunked', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden(m)}`],
    ['Transfer-Encoding: chunked then Content-Length', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 200\r\n\r\n0\r\n\r\n${hidden(m)}`],
    ['two different Content-Lengths', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: 0\r\nContent-Length: 60\r\n\r\n${hidden(m)}`],
    ['the same Content-Length twice', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd${hidden(m)}`],
    ['a Content-Length list', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: 4, 4\r\n\r\nabcd${hidden(m)}`],
    ['Content-Length with a sign', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: +4\r\n\r\nabcd${hidden(m)}`],
    ['negative Content-Length', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: -1\r\n\r\n${hidden(m)}`],
    ['hexadecimal Content-Length', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: 0x4\r\n\r\nabcd${hidden(m)}`],
    ['Content-Length with inner space', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nContent-Length: 1 0\r\n\r\n${hidden(m)}`],
    ['chunk size not hex', 'body', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['negative chunk size', 'body', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['chunk size with 0x', 'body', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['overflowing chunk size', 'body', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['chunk lines ended by bare LF', 'body', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n${hidden(m)}`],
    ['chunk longer than its size', 'body', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n${hidden(m)}`],
    ['Transfer-Encoding: chunked, identity', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['Transfer-Encoding: identity, chunked', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['Transfer-Encoding: gzip, chunked', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['Transfer-Encoding: xchunked', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['space before the colon of Transfer-Encoding', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['two Transfer-Encoding headers', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['Transfer-Encoding folded onto a second line', 'head', (m) => `POST /p/${m} HTTP/1.1\r\n${host}\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${hidden(m)}`],
    ['Transfer-Encoding on HTTP/1.0', 'head', (m) => `POST /p/${m} HTTP/1.0\r\n${host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc${hidden(m)}`],
  ];
  for (const [name, where, build] of framing) {
    test(name, { timeout: 15_000 }, async () => {
      const m = marker('smug');
      if (where === 'head') await assertRefused(build(m), m);
      else await assertBodyRefused(build(m), m);
    });
  }
});

describe('broken request lines and header lines are refused', () => {
  const lines: [string, (m: string) => string][] = [
    ['NUL in the request line', (m) => `GET /p/${m}\u0000 HTTP/1.1\r\n${host}\r\n\r\n`],
    ['control character in the request line', (m) => `GET /p/${m}\u0001x HTTP/1.1\r\n${host}\r\n\r\n`],
    ['DEL in the request line', (m) => `GET /p/${m}\u007f HTTP/1.1\r\n${host}\r\n\r\n`],
    ['tab as the separator', (m) => `GET\t/p/${m} HTTP/1.1\r\n${host}\r\n\r\n`],
    ['space before the method', (m) => ` GET /p/${m} HTTP/1.1\r\n${host}\r\n\r\n`],
    ['space after the version', (m) => `GET /p/${m} HTTP/1.1 \r\n${host}\r\n\r\n`],
    ['space inside the target', (m) => `GET /p/${m} /admin HTTP/1.1\r\n${host}\r\n\r\n`],
    ['lines ended by bare LF', (m) => `GET /p/${m} HTTP/1.1\n${host}\n\n`],
    ['lines ended by bare CR', (m) => `GET /p/${m} HTTP/1.1\r${host}\r\r`],
    ['HTTP/0.9 request line', (m) => `GET /p/${m}\r\n\r\n`],
    ['unknown HTTP version', (m) => `GET /p/${m} HTTP/1.2\r\n${host}\r\n\r\n`],
    ['lower-case method', (m) => `get /p/${m} HTTP/1.1\r\n${host}\r\n\r\n`],
    ['unknown method', (m) => `SMUGGLE /p/${m} HTTP/1.1\r\n${host}\r\n\r\n`],
    ['header without a colon', (m) => `GET /p/${m} HTTP/1.1\r\n${host}\r\nX-Forwarded-User admin\r\n\r\n`],
    ['space before a header colon', (m) => `GET /p/${m} HTTP/1.1\r\n${host}\r\nX-Forwarded-User : admin\r\n\r\n`],
    ['NUL in a header value', (m) => `GET /p/${m} HTTP/1.1\r\n${host}\r\nX-Note: a\u0000b\r\n\r\n`],
    ['CR inside a header value', (m) => `GET /p/${m} HTTP/1.1\r\n${host}\r\nX-Note: a\rX-Forwarded-User: admin\r\n\r\n`],
    ['obs-fold continuation line', (m) => `GET /p/${m} HTTP/1.1\r\n${host}\r\nX-Note: a\r\n X-Forwarded-User: admin\r\n\r\n`],
  ];
  for (const [name, build] of lines) {
    test(name, { timeout: 15_000 }, async () => {
      const m = marker('line');
      await assertRefused(build(m), m);
    });
  }
});

describe('requests hidden in bodies stay bodies', () => {
  test('a GET whose Content-Length body is a request: one upstream request, the body forwarded as a body', { timeout: 15_000 }, async () => {
    const m = marker('getbody');
    const body = hidden(m);
    const ex = await sendRaw(s.port, `GET /echo?${m} HTTP/1.1\r\n${host}\r\nAccept: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.deepEqual(
      ex.responses.map((r) => r.status),
      [200],
    );
    assert.equal(JSON.parse(ex.first.body).body, body, 'the upstream read the hidden request as the body');
    await settle();
    assert.deepEqual(upstreamSaw(m), [`GET /echo?${m}`], 'the hidden request never reached the upstream as a request');
  });

  for (const method of ['DELETE', 'OPTIONS', 'GET', 'POST']) {
    test(`a chunked ${method} whose body is a request: one upstream request`, { timeout: 15_000 }, async () => {
      const m = marker(`chunked${method}`);
      const body = hidden(m);
      const ex = await sendRaw(
        s.port,
        `${method} /echo?${m} HTTP/1.1\r\n${host}\r\nAccept: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      );
      assert.deepEqual(
        ex.responses.map((r) => r.status),
        [200],
        ex.raw.slice(0, 200),
      );
      assert.equal(JSON.parse(ex.first.body).body, body);
      await settle();
      assert.deepEqual(upstreamSaw(m), [`${method} /echo?${m}`]);
    });
  }

  test('a request pipelined after a complete POST is a request of its own, authorized on its own', { timeout: 15_000 }, async () => {
    const m = marker('pipe');
    const ex = await sendRaw(s.port, `POST /p/${m} HTTP/1.1\r\n${host}\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n${hidden(m)}`, { responses: 2 });
    assert.deepEqual(
      ex.responses.map((r) => r.status),
      [200, 401],
      'the second request met the admin route’s policy',
    );
    await settle();
    assert.deepEqual(upstreamSaw(m), [`POST /p/${m}`]);
  });

  test('a request pipelined behind a refused one is dropped with the connection', { timeout: 15_000 }, async () => {
    const m = marker('behind');
    // The first request is well framed but names a bad path: Drawbridge's own 400, not the parser's.
    await assertRefused(`GET /p/${m}/a%2fb HTTP/1.1\r\n${host}\r\n\r\nGET /p/${m}/second HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`, m);
  });

  test('a request pipelined behind one without Host is dropped with the connection', { timeout: 15_000 }, async () => {
    const m = marker('nohost');
    await assertRefused(`GET /p/${m}/first HTTP/1.1\r\nAccept: application/json\r\n\r\nGET /p/${m}/second HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`, m);
  });

  test('extra spaces in the request line: node reads one target; the upstream gets one canonical request', { timeout: 15_000 }, async () => {
    // llhttp accepts runs of spaces between the parts of the request line and Drawbridge never sees the raw line;
    // what matters is that the one target node parsed is the one authorized and forwarded.
    const m = marker('spaces');
    const ex = await sendRaw(s.port, `GET  /p/${m}  HTTP/1.1\r\n${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
    assert.ok(ex.first.status === 200 || ex.first.status === 400, `status ${ex.first.status}`);
    await settle();
    assert.deepEqual(upstreamSaw(m), ex.first.status === 200 ? [`GET /p/${m}`] : []);
  });
});

describe('protocol switches', () => {
  test('CONNECT is not tunnelled', { timeout: 15_000 }, async () => {
    const before = s.app.requests.length;
    const ex = await sendRaw(s.port, `CONNECT 127.0.0.1:${s.app.port} HTTP/1.1\r\nHost: 127.0.0.1:${s.app.port}\r\n\r\nGET /admin/connect HTTP/1.1\r\nHost: x\r\n\r\n`, { timeoutMs: 5000 });
    assert.ok(ex.closed, 'closed');
    assert.ok(ex.responses.every((r) => r.status >= 400), JSON.stringify(ex.raw.slice(0, 200)));
    await settle();
    assert.equal(s.app.requests.length, before, 'no upstream contact');
  });

  test('an h2c upgrade is refused and never reaches the upstream', { timeout: 15_000 }, async () => {
    const m = marker('h2c');
    const ex = await sendRaw(
      s.port,
      `GET /p/${m} HTTP/1.1\r\n${host}\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n${hidden(m)}`,
      { timeoutMs: 5000 },
    );
    assert.ok(ex.closed);
    assert.deepEqual(
      ex.responses.map((r) => r.status),
      [400],
    );
    await settle();
    assert.deepEqual(upstreamSaw(m), []);
  });

  test('a WebSocket upgrade the upstream refuses does not leave a tunnel open', { timeout: 15_000 }, async () => {
    // The "WebSocket smuggling" pattern: a bad Sec-WebSocket-Version makes the upstream answer without 101; a proxy
    // that keeps the sockets piped anyway lets the next bytes reach the upstream unchecked.
    const m = marker('ws');
    const upgrade = `GET /p/${m} HTTP/1.1\r\n${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 1337\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    const ex = await sendRaw(s.port, [upgrade, `GET /admin/${m} HTTP/1.1\r\nHost: 127.0.0.1:${s.app.port}\r\n\r\n`], { gapMs: 300, timeoutMs: 5000 });
    assert.ok(ex.responses.length >= 1 && ex.first.status !== 101, `no switch: ${JSON.stringify(ex.raw.slice(0, 100))}`);
    await settle();
    assert.deepEqual(upstreamSaw(m), [`GET /p/${m}`], 'only the upgrade request itself reached the upstream');
    assert.ok(!s.app.requests.some((r) => r.url.startsWith('/admin/') && r.url.includes(m)));
  });

  test('an Upgrade header without Connection: upgrade is not forwarded', { timeout: 15_000 }, async () => {
    const m = marker('strayupgrade');
    const ex = await sendRaw(s.port, head(`GET /echo?${m} HTTP/1.1`, host, 'Accept: application/json', 'Upgrade: websocket', 'Connection: close'));
    assert.equal(ex.first.status, 200);
    await settle();
    const [seen] = s.app.requests.filter((r) => r.url.includes(m));
    assert.ok(seen);
    assert.equal(seen.headers.upgrade, undefined);
  });
});
