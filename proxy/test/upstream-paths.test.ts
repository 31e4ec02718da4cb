// proxy/test/upstream-paths.test.ts — paths to the upstream over real sockets (routes[].stripPrefix, rewrite): the
// sample app echoes the path it received. A rewrite applies to the normalized, authorized path only: dot segments,
// encoded slashes and dots cannot steer a rewritten request past the policy, and a regex capture that would make a
// non-canonical path (`..` from the allowed `/files/..x`) is refused with 400, logged, and never sent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { head, sendRaw, type WireResponse } from '../../test-support/raw.js';
import { sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: static
    from: http://app.localhost:{{PORT}}/static
    to: {{APP}}/assets
    stripPrefix: true
    public: true
  - name: api
    from: http://app.localhost:{{PORT}}/api
    to: {{APP}}/base
    rewrite: { prefix: /v2 }
    policy:
      allow:
        - groups: [engineering]
  - name: docs
    from: http://app.localhost:{{PORT}}/docs
    to: {{APP}}
    rewrite: { regex: "^/docs/public/(.*)$", replace: "/internal/public/$1" }
    policy:
      allow:
        - and: [ { groups: [engineering] }, { path: [/docs/public] } ]
  - name: files
    from: http://app.localhost:{{PORT}}/files
    to: {{APP}}
    rewrite: { regex: "^/files/(.*)x$", replace: "/data/$1/y" }
    policy:
      allow:
        - groups: [engineering]
  - name: plain
    from: http://app.localhost:{{PORT}}/plain
    to: {{APP}}/assets
    public: true
`;

let s: Stack;
let alice: string;
let host: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  host = `Host: app.localhost:${s.port}`;
  const a = s.browser();
  await s.signIn(a, s.url('app.localhost', '/api'), 'alice');
  alice = sessionCookie(a, s.url('app.localhost'))!;
  assert.ok(alice, 'signed in');
});

after(async () => {
  await s?.close();
});

/** One GET on its own connection: the answer, the URLs the upstream received, the log lines it caused. */
async function get(target: string, cookie: string | undefined = alice): Promise<{ response: WireResponse; upstream: string[]; logs: Record<string, any>[] }> {
  const logsBefore = s.logs.length;
  const seenBefore = s.app.requests.length;
  const ex = await sendRaw(s.port, head(`GET ${target} HTTP/1.1`, host, 'Accept: application/json', ...(cookie ? [`Cookie: drawbridge=${cookie}`] : []), 'Connection: close'));
  await waitFor(() => s.logs.slice(logsBefore).some((l) => l.event === 'request'), 3000);
  return { response: ex.first, upstream: s.app.requests.slice(seenBefore).map((r) => r.url), logs: s.logs.slice(logsBefore) };
}

describe('the upstream receives the rewritten path', () => {
  const cases: [string, string][] = [
    // Without a rewrite: to's path + the request path.
    ['/plain/app.css', '/assets/plain/app.css'],
    // stripPrefix
    ['/static/app.css', '/assets/app.css'],
    ['/static/css/a.css?v=1', '/assets/css/a.css?v=1'],
    ['/static', '/assets'],
    ['/static/', '/assets/'],
    ['/static/./x/../app.css', '/assets/app.css'],
    ['//static//app.css', '/assets/app.css'],
    ['/static/%61pp.css', '/assets/app.css'],
    // rewrite.prefix under to's path
    ['/api/users?q=a%2Fb', '/base/v2/users?q=a%2Fb'],
    ['/api', '/base/v2'],
    // rewrite.regex
    ['/docs/public/guide', '/internal/public/guide'],
    ['/files/ax', '/data/a/y'],
  ];
  for (const [target, upstream] of cases) {
    test(`${target} → ${upstream}`, async () => {
      const r = await get(target);
      assert.equal(r.response.status, 200, r.response.body);
      assert.deepEqual(r.upstream, [upstream]);
      assert.equal((JSON.parse(r.response.body) as { url: string }).url, upstream, 'the sample app echoes what it received');
    });
  }
});

describe('a rewrite never reaches a path the policy did not authorize', () => {
  test('dot segments, plain or encoded, are resolved before matching: /docs/public/../secret is /docs/secret, denied, never sent', async () => {
    for (const target of ['/docs/public/../secret', '/docs/public/%2e%2e/secret', '/docs/public/.%2E/secret', '/docs/public//../secret']) {
      const r = await get(target);
      assert.equal(r.response.status, 403, target);
      assert.deepEqual(r.upstream, [], target);
    }
  });

  test('encoded slashes and backslashes are refused before matching (400), never rewritten', async () => {
    for (const target of ['/static/..%2fapi', '/static/..%2f..%2fapi/x', '/docs/public/..%2Fsecret', '/docs/public/..%5csecret', '/static/..\\api']) {
      const r = await get(target);
      assert.equal(r.response.status, 400, target);
      assert.deepEqual(r.upstream, [], target);
    }
  });

  test('/static/.. is / (no route), and /files/.. is / too: a dot segment never reaches a capture', async () => {
    for (const target of ['/static/..', '/files/..', '/files/%2e%2e']) {
      const r = await get(target);
      assert.equal(r.response.status, 404, target);
      assert.deepEqual(r.upstream, [], target);
    }
  });

  test('a capture that would make ".." (or "." or "//") of an allowed, canonical path is refused with 400 and logged', async () => {
    for (const [target, made] of [
      ['/files/..x', '/data/../y'],
      ['/files/.x', '/data/./y'],
      ['/files/x', '/data//y'],
    ] as const) {
      const r = await get(target);
      assert.equal(r.response.status, 400, target);
      assert.deepEqual(r.upstream, [], target);
      assert.doesNotMatch(r.response.body, /\/data/, 'the client is not shown the rewritten path');
      const line = r.logs.find((l) => l.event === 'request')!;
      assert.equal(line.decision, 'rewrite-refused');
      assert.equal(line.route, 'files');
      const warn = r.logs.find((l) => l.event === 'rewrite-refused')!;
      assert.ok(warn.reason.includes(JSON.stringify(made)), warn.reason);
    }
  });

  test('anonymous requests to a rewritten route are asked to sign in, never forwarded', async () => {
    const r = await get('/docs/public/guide', '');
    assert.equal(r.response.status, 401);
    assert.deepEqual(r.upstream, []);
  });
});

test('WebSocket upgrades are rewritten the same way, and refused (400, never sent) when the rewrite is', async () => {
  const upgrade = (target: string) =>
    head(`GET ${target} HTTP/1.1`, host, `Cookie: drawbridge=${alice}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
  const seen = s.app.requests.length;
  const ok = await sendRaw(s.port, upgrade('/api/ws'), { timeoutMs: 5000, responses: 1 });
  assert.equal(ok.first.status, 404, 'the sample app has no /base/v2/ws: what matters is the path it was asked for');
  assert.deepEqual(s.app.requests.slice(seen).map((r) => r.url), ['/base/v2/ws']);
  const before = s.app.requests.length;
  const refused = await sendRaw(s.port, upgrade('/files/..x'), { timeoutMs: 5000 });
  assert.equal(refused.first.status, 400);
  assert.equal(s.app.requests.length, before, 'the upstream was not contacted');
});
