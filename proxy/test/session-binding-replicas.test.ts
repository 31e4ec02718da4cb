// proxy/test/session-binding-replicas.test.ts — session binding and risk signals live in the shared session store
// (Redis), so replicas agree (docs/device-trust.md): a session signed in through replica A is bound there and
// refused from another network by replica B; refusals counted by A make a `risk` rule of B refuse the session.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { startRedis, type TestRedis } from '../../test-support/redis.js';
import { SESSION_COOKIE, sessionCookie, startReplica, startStack, type Replica, type Stack } from '../../test-support/stack.js';

const ROUTES = `routes:
  - name: bank
    from: http://bank.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering] }, { context: { sameNetwork: /24 } } ]
  - name: sales
    from: http://sales.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [sales]
  - name: risky
    from: http://risky.localhost:{{PORT}}
    to: {{APP}}
    policy:
      deny:
        - risk: { threshold: 3, weights: { denialBurst: 3 }, burst: { denials: 3, within: 10m } }
      allow:
        - groups: [engineering]
`;

const HTML = 'text/html,application/xhtml+xml';
let redis: TestRedis;
let s: Stack;
let b2: Replica;

before(async () => {
  redis = await startRedis();
  s = await startStack({
    routes: ROUTES,
    balancer: true,
    store: `store: { type: redis, url: "${redis.url}", prefix: "binding:" }`,
    extra: 'trustedProxies: [127.0.0.1/32]\n',
  });
  b2 = await startReplica(s);
});

after(async () => {
  await b2?.close();
  await s?.close();
  await redis?.stop();
});

/** Sends the next connections (the client opens one per request) to replica A or B. */
function via(name: 'A' | 'B'): void {
  s.balancer!.target = name === 'A' ? s.db.port : b2.db.port;
}

test('bound through replica A, checked by replica B: another network gets the step-up, and B logs the change', { timeout: 60_000 }, async () => {
  via('A');
  const url = s.url('bank.localhost', '/');
  const b = s.browser({ headers: { accept: HTML, 'x-forwarded-for': '203.0.113.7' } });
  const { response } = await signInAtIdp(b, url, { login: 'alice', headers: { accept: HTML, 'x-forwarded-for': '203.0.113.7' } });
  assert.equal(response.status, 200);
  via('B');
  assert.equal((await b.get(url, { redirect: 'manual' })).status, 200, 'B reads the binding A stored: same network, allowed');
  const thief = s.browser({ headers: { accept: HTML, 'x-forwarded-for': '198.51.100.9' } });
  thief.setCookie(url, `${SESSION_COOKIE}=${sessionCookie(b, url)!}; Path=/`);
  const r = await thief.get(url, { redirect: 'manual' });
  assert.equal(r.status, 401);
  assert.match(r.body, /This session was started on another network\./);
  const changed = b2.logs.filter((l) => l.event === 'session-context-changed');
  assert.equal(changed.length, 1);
  assert.deepEqual([changed[0]!.oldNetwork, changed[0]!.newNetwork], ['203.0.113.0/24', '198.51.100.0/24']);
});

test('refusals counted through replica A trip the risk rule on replica B', { timeout: 60_000 }, async () => {
  via('A');
  const url = s.url('risky.localhost', '/');
  const headers = { accept: HTML, 'x-forwarded-for': '192.0.2.30' };
  const b = s.browser({ headers });
  const { response } = await signInAtIdp(b, url, { login: 'alice', headers });
  assert.equal(response.status, 200);
  const sales = s.url('sales.localhost', '/');
  await b.get(sales);
  for (let i = 0; i < 2; i++) assert.equal((await b.get(sales, { redirect: 'manual' })).status, 403);
  via('B');
  // A writes the refusals to Redis in the background: B refuses once they are there (no timer decides).
  let r = await b.get(url, { redirect: 'manual' });
  for (let i = 0; i < 200 && r.status === 200; i++) r = await b.get(url, { redirect: 'manual' });
  assert.equal(r.status, 403);
  assert.match(r.body, /Many requests of this session were refused in a short time\./);
  assert.ok(b2.logs.some((l) => l.event === 'request' && l.status === 403 && (l.reasons as string[] | undefined)?.includes('risk-denial-burst')), 'B refused it, for the burst');
});
