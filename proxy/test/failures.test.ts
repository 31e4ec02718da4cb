// proxy/test/failures.test.ts — failing closed and failing clearly (SPEC §3, §7): the IdP down at start, after
// start, or between the redirect and the callback; an upstream down or slow; no route; a denied user. Each case
// checks what the client got and that the upstream was (or was not) contacted.
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { sessionCookie, startStack, waitFor, type Stack, signInStart } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const marker = (name: string) => `${name}${Date.now()}${Math.random().toString(36).slice(2, 6)}`;

/** The upstream must not have received anything carrying `m`. */
function assertUntouched(s: Stack, m: string): void {
  assert.equal(received(s, m).length, 0, 'the upstream was not contacted');
}

/** The request log line of the last request to `path` answered with `status`. */
function logged(s: Stack, path: string, status: number): { requestId: string } {
  const line = s.logs.filter((l) => l.event === 'request' && l.path === path && l.status === status).at(-1);
  assert.ok(line, `a request log line for ${path} ${status}`);
  return line as { requestId: string };
}

function received(s: Stack, m: string) {
  return s.app.requests.filter((r) => r.url.includes(m));
}

describe('IdP down at start', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ noIdp: true });
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  test('a browser gets the 503 sign-in page, an API client 503 JSON; never access', { timeout: 20_000 }, async () => {
    const m = marker('noidp');
    const url = s.url('app.localhost', `/x?${m}`);
    const page = await s.browser().get(url);
    assert.equal(page.status, 503);
    assert.equal(new URL(page.url).pathname, '/.drawbridge/sign_in');
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /Sign-in is temporarily unavailable/);
    assert.ok(page.headers['retry-after']);
    assert.ok(page.headers['x-request-id'] && page.body.includes(String(page.headers['x-request-id'])));

    const api = await s.api().get(`${s.publicUrl}/.drawbridge/sign_in?rd=${encodeURIComponent(url)}`);
    assert.equal(api.status, 503);
    assert.equal(api.json().error, 'idp_unavailable');
    const direct = await s.api().get(url);
    assert.equal(direct.status, 401);
    assertUntouched(s, m);
    assert.equal(s.app.requests.length, 0);

    const ready = await fetch(`${s.db.adminUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await ready.json()).checks.idp, false);
  });

  test('a public route still works', { timeout: 20_000 }, async () => {
    const m = marker('pub');
    const res = await s.api().get(s.url('public.localhost', `/echo?${m}`));
    assert.equal(res.status, 200);
    assert.equal(received(s, m).length, 1);
  });
});

describe('IdP stopped after start', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  test('an existing session keeps working; new sign-ins get 503, never access', { timeout: 30_000 }, async () => {
    const alice = s.browser();
    await s.signIn(alice, s.url('app.localhost', '/'), 'alice');
    await s.idp!.close();

    const m = marker('kept');
    const kept = await alice.get(s.url('app.localhost', `/still?${m}`));
    assert.equal(kept.status, 200, 'the session outlives the IdP');
    assert.equal(received(s, m)[0]?.headers['x-forwarded-user'], 'alice');

    // Drawbridge trusts a recent answer from the IdP for a few seconds; then every new sign-in gets the 503 page.
    const n = marker('new');
    const url = s.url('app.localhost', `/new?${n}`);
    const stopped = Date.now();
    await waitFor(async () => {
      const b = s.browser();
      const start = await b.get(signInStart(url), { redirect: 'manual' });
      assert.equal(start.status, 302, 'the route host binds the hand-off and sends the browser on to publicUrl');
      const res = await b.get(start.location!, { redirect: 'manual' });
      // Meanwhile the only other answer is a redirect to the (dead) IdP: never a session, never the application.
      if (res.status === 302) assert.ok(res.location!.startsWith(s.idp!.issuer), res.location);
      else assert.equal(res.status, 503);
      assert.equal(res.headers['set-cookie']?.some((c) => c.startsWith('drawbridge=')) ?? false, false);
      return res.status === 503;
    }, 10_000);
    assert.ok(Date.now() - stopped < 8000, 'within seconds');
    const page = await s.browser().get(url);
    assert.equal(page.status, 503);
    assert.match(page.body, /Sign-in is temporarily unavailable/);
    assertUntouched(s, n);
    const again = await alice.get(s.url('app.localhost', `/still?${m}`));
    assert.equal(again.status, 200);
  });
});

describe('IdP going down between the redirect and the callback', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  test('the callback answers 503 and creates no session', { timeout: 30_000 }, async () => {
    const b = s.browser();
    const m = marker('mid');
    const cb = `${s.publicUrl}/.drawbridge/callback`;
    const { response } = await signInAtIdp(b, s.url('app.localhost', `/mid?${m}`), { login: 'alice', stopAt: cb, headers: { accept: 'text/html' } });
    assert.ok(response.location?.startsWith(`${cb}?`));
    await s.idp!.close();
    const res = await b.get(response.location!);
    assert.equal(res.status, 503);
    assert.equal(res.url, response.location, 'answered at the callback, no further redirect');
    assert.match(res.body, /Sign-in is temporarily unavailable/);
    assert.equal(sessionCookie(b, s.publicUrl), undefined);
    assert.equal(sessionCookie(b, s.url('app.localhost')), undefined);
    assert.equal((await s.db.store.list()).length, 0, 'no session was created');
    assertUntouched(s, m);
  });
});

describe('the IdP token endpoint answering 5xx, 429 or 408 at the callback', () => {
  let s: Stack;
  let tokenPath: string;
  before(async () => {
    s = await startStack();
    const discovery = (await (await fetch(`${s.idp!.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
    tokenPath = new URL(discovery.token_endpoint).pathname;
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  interface Answer {
    status: number;
    headers?: Record<string, string>;
    body?: string;
  }

  /**
   * Signs alice in at the real IdP up to the redirect to the callback; then a real HTTP server takes the IdP's
   * address, as a load balancer would whose IdP backend is failing: the token endpoint gets `answer`, anything else
   * 502. Opens the callback (as `accept`), and puts the IdP back. Returns the answer and what the front saw.
   */
  async function callbackWhileTokenEndpointAnswers(answer: Answer, accept = 'text/html') {
    const b = s.browser();
    const m = marker('token');
    const cb = `${s.publicUrl}/.drawbridge/callback`;
    const { response } = await signInAtIdp(b, s.url('app.localhost', `/t?${m}`), { login: 'alice', stopAt: cb, headers: { accept: 'text/html' } });
    assert.ok(response.location?.startsWith(`${cb}?`), 'the IdP sent the browser back with a code');
    const port = s.idp!.port;
    await s.stopIdp();
    const seen: string[] = [];
    const front = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      if (req.method === 'POST' && req.url === tokenPath) res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
      else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    });
    await new Promise<void>((r) => front.listen(port, '127.0.0.1', () => r()));
    try {
      const res = await b.get(response.location!, { headers: { accept } });
      return { b, m, res, callbackUrl: response.location!, seen };
    } finally {
      await new Promise<void>((r) => {
        front.close(() => r());
        front.closeAllConnections();
      });
      await s.startIdp();
    }
  }

  function assertNoSession(b: ReturnType<Stack['browser']>): void {
    assert.equal(sessionCookie(b, s.publicUrl), undefined, 'no session cookie on publicUrl');
    assert.equal(sessionCookie(b, s.url('app.localhost')), undefined, 'nor on the route host');
  }

  const outages: [string, Answer][] = [
    ['503 with an HTML body', { status: 503, headers: { 'content-type': 'text/html' }, body: '<h1>Service Unavailable</h1>' }],
    ['502 with no body', { status: 502 }],
    ['500 with a JSON OAuth error', { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"server_error","error_description":"oops"}' }],
    ['429 with a JSON OAuth error and Retry-After', { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '30' }, body: '{"error":"slow_down"}' }],
    ['429 as plain text from a rate limiter', { status: 429, headers: { 'content-type': 'text/plain' }, body: 'Too Many Requests' }],
    ['408 as plain text from a gateway', { status: 408, headers: { 'content-type': 'text/plain' }, body: 'Request Timeout' }],
  ];
  for (const [what, answer] of outages) {
    test(`${what}: the callback answers 503 "IdP unavailable", logs idp-unavailable and creates no session`, { timeout: 30_000 }, async () => {
      const logsFrom = s.logs.length;
      const { b, m, res, callbackUrl, seen } = await callbackWhileTokenEndpointAnswers(answer);
      assert.deepEqual(seen, [`POST ${tokenPath}`], 'Drawbridge did call the token endpoint, once');
      assert.equal(res.status, 503, `503, not "could not be verified" (got ${res.status}: ${res.body.slice(0, 200)})`);
      assert.equal(res.url, callbackUrl, 'answered at the callback, no further redirect');
      assert.match(String(res.headers['content-type']), /text\/html/);
      assert.match(res.body, /Sign-in is temporarily unavailable/);
      assert.doesNotMatch(res.body, /could not be verified/);
      assert.equal(res.headers['retry-after'], '10');
      const requestId = String(res.headers['x-request-id']);
      assert.ok(res.body.includes(requestId), 'the page shows the request id');
      assertNoSession(b);
      assert.equal((await s.db.store.list()).length, 0, 'no session was created');
      assertUntouched(s, m);
      const fresh = s.logs.slice(logsFrom);
      const signIn = fresh.find((l) => l.event === 'sign-in' && l.requestId === requestId);
      assert.ok(signIn, 'a sign-in log line for this request');
      assert.equal(signIn.result, 'idp-unavailable');
      assert.equal(signIn.idpStatus, answer.status);
      const line = fresh.find((l) => l.event === 'request' && l.requestId === requestId);
      assert.equal(line?.decision, 'idp-unavailable');
      assert.equal(line?.status, 503);
      assert.equal(fresh.filter((l) => l.event === 'sign-in' && l.result === 'failure').length, 0, 'not logged as a failed (bad) sign-in');
    });
  }

  test('an API client at the callback gets the idp_unavailable JSON', { timeout: 30_000 }, async () => {
    const { b, res } = await callbackWhileTokenEndpointAnswers({ status: 503 }, 'application/json');
    assert.equal(res.status, 503);
    const body = res.json();
    assert.equal(body.error, 'idp_unavailable');
    assert.equal(body.requestId, res.headers['x-request-id']);
    assertNoSession(b);
  });

  test('the control: a token endpoint REFUSING the code (400 invalid_grant) is still a failed sign-in, 400', { timeout: 30_000 }, async () => {
    const { b, res } = await callbackWhileTokenEndpointAnswers({ status: 400, headers: { 'content-type': 'application/json' }, body: '{"error":"invalid_grant"}' });
    assert.equal(res.status, 400);
    assert.match(res.body, /could not be verified/);
    assertNoSession(b);
    assert.equal((await s.db.store.list()).length, 0);
  });

  test('with the IdP back, the same browser signs in', { timeout: 30_000 }, async () => {
    await waitFor(async () => (await s.db.ready()).checks.idp, 10_000);
    const b = s.browser();
    const m = marker('back');
    const { response } = await s.signIn(b, s.url('app.localhost', `/back?${m}`), 'alice');
    assert.equal(response.status, 200);
    assert.equal(received(s, m).length, 1);
  });
});

describe('upstream failures, routing and denial', () => {
  let s: Stack;
  let dead: number;
  let alice: ReturnType<Stack['browser']>;
  let bob: ReturnType<Stack['browser']>;
  before(async () => {
    dead = await closedPort();
    s = await startStack({
      routes: `routes:
${APP_ROUTE}  - name: down
    from: http://down.localhost:{{PORT}}
    to: http://127.0.0.1:${dead}
    policy:
      allow:
        - authenticated: true
  - name: slow
    from: http://slow.localhost:{{PORT}}
    to: {{APP}}
    timeout: 500ms
    policy:
      allow:
        - authenticated: true
  - name: prefix
    from: http://prefix.localhost:{{PORT}}/only
    to: {{APP}}
    public: true
`,
    });
    alice = s.browser();
    await s.signIn(alice, s.url('app.localhost', '/'), 'alice');
    bob = s.browser();
    await s.signIn(bob, s.url('app.localhost', '/'), 'bob');
    // Hand the session to the other route hosts once (a sign-in on publicUrl is reused, no password).
    for (const host of ['down.localhost', 'slow.localhost']) await alice.get(s.url(host, '/.drawbridge/me'));
  }, { timeout: 60_000 });
  after(async () => {
    await s?.close();
  });

  test('upstream down: 502 page that does not show the upstream address', { timeout: 20_000 }, async () => {
    const res = await alice.get(s.url('down.localhost', '/x'));
    assert.equal(res.status, 502);
    assert.match(String(res.headers['content-type']), /text\/html/);
    assert.match(res.body, /isn’t available/);
    const everything = `${JSON.stringify(res.headers)}\n${res.body}`;
    for (const leak of [String(dead), '127.0.0.1', 'ECONNREFUSED', 'ECONN']) assert.ok(!everything.includes(leak), `the answer does not mention ${leak}`);
    assert.ok(res.body.includes(logged(s, '/x', 502).requestId), 'the request id is shown');
  });

  test('slow upstream: 504 page after the route timeout', { timeout: 20_000 }, async () => {
    const m = marker('slow');
    const started = Date.now();
    const res = await alice.get(s.url('slow.localhost', `/slow?ms=5000&${m}`));
    const took = Date.now() - started;
    assert.equal(res.status, 504);
    assert.match(res.body, /taking too long/);
    assert.ok(took >= 450 && took < 3000, `answered after ${took} ms (timeout 500ms)`);
    assert.ok(!res.body.includes(String(s.app.port)) && !res.body.includes('127.0.0.1'));
    assert.equal(received(s, m).length, 1, 'the upstream did get the request');
    // A quick request on the same route still works.
    const ok = await alice.get(s.url('slow.localhost', `/slow?ms=10&${marker('fast')}`), { headers: { accept: 'application/json' } });
    assert.equal(ok.status, 200);
  });

  test('no route: 404, the upstream never contacted', { timeout: 20_000 }, async () => {
    const before = s.app.requests.length;
    const m = marker('none');
    for (const url of [s.url('nowhere.localhost', `/x?${m}`), s.url('prefix.localhost', `/onlyx?${m}`), s.url('prefix.localhost', `/?${m}`)]) {
      const page = await alice.get(url);
      assert.equal(page.status, 404, url);
      assert.match(String(page.headers['content-type']), /text\/html/);
      const api = await s.api().get(url);
      assert.equal(api.status, 404);
      assert.equal(api.json().error, 'not_found');
    }
    assert.equal(s.app.requests.length, before);
    const served = await s.api().get(s.url('prefix.localhost', `/only/x?${m}`));
    assert.equal(served.status, 200, 'the control: the prefix itself is served');
  });

  test('bob is denied: a 403 page naming him, the rule in plain words, the request id and a sign-out link', { timeout: 20_000 }, async () => {
    const m = marker('bob');
    const page = await bob.get(s.url('app.localhost', `/secret?${m}`));
    assert.equal(page.status, 403);
    assert.match(String(page.headers['content-type']), /text\/html/);
    for (const text of ['bob', 'bob@example.com', 'Bob Example', 'sales']) assert.ok(page.body.includes(text), `the page names ${text}`);
    assert.ok(page.body.includes('You are not in any of the groups this route requires.'), 'the failing rule in plain words');
    assert.ok(page.body.includes(logged(s, '/secret', 403).requestId), 'the request id (the one in the log)');
    assert.match(page.body, /href="\/\.drawbridge\/sign_out"/, 'a sign-out link');
    assertUntouched(s, m);
  });

  test('bob as an API client: 403 JSON with the reasons', { timeout: 20_000 }, async () => {
    const m = marker('bobapi');
    const api = s.api();
    api.setCookie(s.url('app.localhost'), `drawbridge=${sessionCookie(bob, s.url('app.localhost'))}; Path=/`);
    const res = await api.get(s.url('app.localhost', `/secret?${m}`));
    assert.equal(res.status, 403);
    const body = res.json();
    assert.equal(body.error, 'forbidden');
    assert.equal(body.route, 'app');
    assert.equal(body.requestId, logged(s, '/secret', 403).requestId);
    assert.ok(Array.isArray(body.reasons) && body.reasons.length > 0);
    assert.ok(body.reasons.some((r: { code: string; text: string }) => r.code === 'groups-unauthorized' && r.text.length > 0), JSON.stringify(body.reasons));
    assertUntouched(s, m);
  });
});
