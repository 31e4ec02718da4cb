// proxy/test/redis-ha.test.ts — Drawbridge with its sessions in Redis behind Sentinel (SPEC §4 stores: store
// unreachable → fail closed): kill -9 the primary mid-run; until Sentinel has promoted the replica every request
// needing a session is the store-down 503 (never a 200 for an unknown or revoked session), then the signed-in
// session works again by itself and the revoked one stays revoked.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { parseForms, type CookieJarClient } from '../../e2e/support/http-client.js';
import { DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS, startSentinelSet, until, type SentinelSet } from '../../test-support/redis-ha.js';
import { cookieOn, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

let set: SentinelSet;
let s: Stack;

before(async () => {
  set = await startSentinelSet();
  s = await startStack({
    store: `store: { type: redis, prefix: "ha:", sentinel: { name: ${set.name}, nodes: [${set.sentinels.map((n) => `"${n}"`).join(', ')}] } }`,
  });
});

after(async () => {
  await s?.close();
  await set?.close();
});

async function withCookie(cookie: string, path: string) {
  return s.api().get(s.url('app.localhost', path), { headers: { cookie: `drawbridge=${cookie}` }, redirect: 'manual' });
}

async function signIn(): Promise<{ b: CookieJarClient; cookie: string }> {
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', `/signed-in-${Date.now()}`), 'alice');
  assert.equal(response.status, 200);
  return { b, cookie: sessionCookie(b, s.url('app.localhost'))! };
}

test('sentinel failover under load: 503 while no primary answers (never 200 for an unknown or revoked session), then the session works again and the revoked one stays revoked', { timeout: 60_000 }, async (t) => {
  const live = await signIn();
  assert.equal((await withCookie(live.cookie, '/before')).status, 200);

  // A second session, signed out (deleted in Redis, acknowledged by the replica) right before the kill.
  const gone = await signIn();
  assert.equal((await withCookie(gone.cookie, '/before-sign-out')).status, 200);
  const confirm = await gone.b.get(s.url('app.localhost', '/.drawbridge/sign_out'));
  const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST');
  assert.ok(form, 'the sign-out page has a form');
  assert.equal((await gone.b.post(form.action, { form: form.fields })).status, 200);
  assert.equal((await withCookie(gone.cookie, '/after-sign-out')).status, 401);

  // A well-formed cookie (valid MAC) for a session that never existed.
  const unknown = cookieOn(s.port, `${randomBytes(32).toString('base64url')}.x`, 'app.localhost');
  assert.equal((await withCookie(unknown, '/unknown')).status, 401);

  const oldPort = set.primaryPort;
  const killedAt = performance.now();
  await set.killPrimary();
  const seen = { live: new Map<number, number>(), gone: new Map<number, number>(), unknown: new Map<number, number>() };
  const count = (m: Map<number, number>, status: number) => m.set(status, (m.get(status) ?? 0) + 1);
  let storeDownBody = '';
  let n = 0;
  await until('the signed-in session answered again', async () => {
    n++;
    const [g, u, l] = await Promise.all([withCookie(gone.cookie, `/gone-${n}`), withCookie(unknown, `/unknown-${n}`), withCookie(live.cookie, `/live-${n}`)]);
    count(seen.gone, g.status);
    count(seen.unknown, u.status);
    count(seen.live, l.status);
    assert.ok([401, 503].includes(g.status), `revoked session answered ${g.status}`);
    assert.ok([401, 503].includes(u.status), `unknown session answered ${u.status}`);
    assert.ok([200, 503].includes(l.status), `signed-in session answered ${l.status}`);
    if (l.status === 503) storeDownBody = l.body;
    return l.status === 200 && (seen.live.get(503) ?? 0) > 0;
  }, 30_000, 20);
  const windowMs = performance.now() - killedAt;
  const slowest = Math.max(...s.logs.filter((l) => l.event === 'request' && l.status === 503).map((l) => l.durationMs as number));
  t.diagnostic(`503 window ${Math.round(windowMs)} ms, slowest 503 ${slowest} ms; live ${JSON.stringify([...seen.live])}, revoked ${JSON.stringify([...seen.gone])}, unknown ${JSON.stringify([...seen.unknown])}`);
  assert.ok((seen.live.get(503) ?? 0) > 0, 'requests failed closed while no primary answered');
  assert.ok(slowest < 1000, `a 503 took ${slowest} ms: it should come at once, not after a timeout`);
  assert.equal(JSON.parse(storeDownBody).error, 'session_store_unavailable');
  assert.ok(windowMs < DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 2000, `503 window ${Math.round(windowMs)} ms`);
  assert.notEqual(await set.waitForSwitch(oldPort), oldPort);

  const after = await withCookie(live.cookie, '/after');
  assert.equal(after.status, 200);
  assert.equal(after.json().headers['x-forwarded-user'], 'alice');
  assert.equal((await withCookie(gone.cookie, '/gone-after')).status, 401, 'the revoked session stays revoked');
  assert.equal((await withCookie(unknown, '/unknown-after')).status, 401);
  assert.ok(s.logs.some((l) => l.event === 'request' && l.status === 503), 'the 503s are logged');
});
