// bench/peer-rows.test.ts — the workers row's plumbing on its own: `drawbridge serve` started from the bench's
// generated configuration, signed in once through the dev IdP's real code flow, and the cookie it yields answered
// 200 as the signed-in user. Run without the `workers` key (one process), so it holds before cluster mode exists;
// with it, bench/bench.test.ts runs the row as `npm run bench` does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDevIdp } from '../e2e/idp/dev-idp.js';
import { requestVia, reservePort } from '../test-support/net.js';
import { startChild } from './child.js';
import { BENCH_LOGIN, DRAWBRIDGE_CLIENT, startWorkersRow } from './steps/peer-rows.js';

test('the workers row: drawbridge serve signed in through the dev IdP; the cookie reaches the upstream as the user', { timeout: 120_000 }, async (t) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  const upstream = await startChild<{ port: number }>('./upstream.ts', []);
  cleanups.push(() => upstream.stop());
  const port = await reservePort();
  const publicUrl = `http://auth.localhost:${port}`;
  const idp = await startDevIdp({ clients: [{ ...DRAWBRIDGE_CLIENT, redirectUris: [`${publicUrl}/.drawbridge/callback`] }] });
  cleanups.push(() => idp.close());

  const plan = await startWorkersRow({ pin: {}, cleanups }, { idp, port, publicUrl, upstream, workers: undefined });
  assert.equal(plan.invalid, undefined);
  assert.equal(plan.name, 'drawbridge-auth-workers');
  assert.match(plan.headers.cookie ?? '', /^drawbridge=.+/);
  assert.ok((plan.pidsNow?.() ?? []).length >= 1);
  const seen = await requestVia(port, plan.host, '/__whoami', plan.headers);
  assert.equal(seen.status, 200, seen.body);
  assert.equal((JSON.parse(seen.body) as { user: string }).user, BENCH_LOGIN);
  assert.equal((await requestVia(port, plan.host, '/__whoami', {})).status, 401, 'no cookie, no access');
});
