// proxy/test/lazy-modules.test.ts — a Drawbridge with the memory store and no `tls.acme` never loads the Redis store's
// code (session/redis-store.ts) nor the ACME code (tls/acme.ts, its storages, server/cluster-acme.ts): server.ts and
// cluster.ts load them at start only when they are configured (docs/deploy.md, "Memory"). Drawbridge's modules are
// ES modules, so this test records what the process resolves through module customization hooks registered before
// it imports Drawbridge (test-support/module-log-hooks.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const resolved: string[] = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url: string) => resolved.push(url));
port1.unref();
register(new URL('../../test-support/module-log-hooks.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] });

const NOT_LOADED = [/\/session\/redis-store\.[jt]s$/, /\/tls\/acme\.[jt]s$/, /\/tls\/acme-storage\.[jt]s$/, /\/tls\/acme-redis-storage\.[jt]s$/, /\/server\/cluster-acme\.[jt]s$/];

let markers = 0;

/** Every URL posted before this call has arrived: the hooks post in order, and a fresh module's own URL comes last. */
async function settled(): Promise<void> {
  const url = `data:text/javascript,export default ${++markers}`;
  await import(url);
  await new Promise<void>((resolve) => {
    const check = () => (resolved.includes(url) ? resolve() : setImmediate(check));
    check();
  });
}

test('a signed-in request through a memory-store Drawbridge without tls.acme loads neither the Redis store nor the ACME code', { timeout: 120_000 }, async () => {
  const { startStack } = await import('../../test-support/stack.js');
  const stack = await startStack();
  try {
    const browser = stack.browser();
    const { response } = await stack.signIn(browser, stack.url('app.localhost', '/'), 'alice');
    assert.equal(response.status, 200);
    assert.equal((await browser.get(stack.url('app.localhost', '/again'))).status, 200);
  } finally {
    await stack.close();
  }
  await settled();
  // The hooks saw Drawbridge's modules (the server, the memory store) ...
  assert.ok(resolved.some((u) => /\/server\/server\.[jt]s$/.test(u)), 'the hooks saw no server module');
  assert.ok(resolved.some((u) => /\/session\/memory-store\.[jt]s$/.test(u)), 'the hooks saw no memory store');
  // ... and none of those loaded only when configured.
  for (const re of NOT_LOADED) assert.deepEqual(resolved.filter((u) => re.test(u)), [], `${re} was loaded`);
  // What the loaders import is there: the configured cases still work (the Redis store and the ACME storages load).
  await import('../../proxy/src/session/redis-store.js');
  await settled();
  assert.ok(resolved.some((u) => NOT_LOADED[0]!.test(u)));
});
