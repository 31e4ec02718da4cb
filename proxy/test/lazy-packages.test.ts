// proxy/test/lazy-packages.test.ts — a Drawbridge with the memory store and no `tls.acme` never loads `redis` or
// `acme-client` (session/redis-store.ts, tls/acme-redis-storage.ts and tls/acme.ts load them on first use): together
// about 30 MB of resident memory per process that such a Drawbridge never needs (docs/performance.md, "Memory after
// the load rounds"). Nor does any Drawbridge load undici's index (fetch, web streams, WebSocket, caches: forward/pools.ts
// takes only its pool and connector). All are CommonJS packages, so whether anything loaded them shows in the require cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startStack } from '../../test-support/stack.js';

const require = createRequire(import.meta.url);
const loaded = (pkg: string) => Object.keys(require.cache).filter((f) => f.includes(`/node_modules/${pkg}/`));

test('a signed-in request through a memory-store Drawbridge loads neither redis nor acme-client nor undici\'s index', { timeout: 120_000 }, async () => {
  const stack = await startStack();
  try {
    const browser = stack.browser();
    const { response } = await stack.signIn(browser, stack.url('app.localhost', '/'), 'alice');
    assert.equal(response.status, 200);
    const again = await browser.get(stack.url('app.localhost', '/again'));
    assert.equal(again.status, 200);
    for (const pkg of ['redis', '@redis/client', 'acme-client']) assert.deepEqual(loaded(pkg), [], `${pkg} was loaded`);
    const undici = loaded('undici');
    assert.ok(undici.some((f) => f.endsWith('/undici/lib/dispatcher/pool.js')), 'the forwarder did not load undici\'s pool');
    assert.deepEqual(undici.filter((f) => f.endsWith('/undici/index.js') || f.includes('/undici/lib/web/')), [], 'undici\'s index or its web APIs were loaded');
  } finally {
    await stack.close();
  }
  // What forward/pools.ts takes from undici's files is what the package exports.
  const undici = require('undici') as typeof import('undici');
  assert.equal(require('undici/lib/dispatcher/pool.js'), undici.Pool);
  assert.equal(require('undici/lib/core/connect.js'), undici.buildConnector);
  // The loader itself works: what a Redis store calls on connecting is there (and only now in the cache).
  const { RedisStore } = await import('../../proxy/src/session/redis-store.js');
  const { deriveKeys } = await import('../../proxy/src/session/keys.js');
  const store = new RedisStore({ url: 'redis://127.0.0.1:9', keys: deriveKeys('lazy-packages-test-secret-0123456789abcdef'), connectTimeoutMs: 200 });
  await assert.rejects(store.start(), /DRB_STORE_UNAVAILABLE|no answer|ECONNREFUSED|redis/i);
  await store.close();
  assert.notDeepEqual(loaded('redis'), []);
});
