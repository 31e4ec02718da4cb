// server/node-flags.test.ts — a worker's node flags and malloc settings: Drawbridge's defaults unless the operator set
// the same flag or variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MALLOC_ENV, NODE_FLAGS, withMallocEnv, withNodeFlags } from './node-flags.js';

test('NODE_FLAGS caps the young generation at 8 MB semi-spaces', () => {
  assert.deepEqual(NODE_FLAGS, ['--max-semi-space-size=8']);
});

test('withNodeFlags adds the defaults before the primary\'s own flags', () => {
  assert.deepEqual(withNodeFlags([]), ['--max-semi-space-size=8']);
  assert.deepEqual(withNodeFlags(['--import', 'tsx', '--enable-source-maps']), ['--max-semi-space-size=8', '--import', 'tsx', '--enable-source-maps']);
  assert.deepEqual(withNodeFlags(['--max-old-space-size=512'], '--trace-warnings'), ['--max-semi-space-size=8', '--max-old-space-size=512']);
});

test('withNodeFlags keeps an operator\'s own value, on the command line or in NODE_OPTIONS, in either spelling', () => {
  assert.deepEqual(withNodeFlags(['--max-semi-space-size=16']), ['--max-semi-space-size=16']);
  assert.deepEqual(withNodeFlags(['--max_semi_space_size=4']), ['--max_semi_space_size=4']);
  assert.deepEqual(withNodeFlags([], '--max-semi-space-size=32'), []);
  assert.deepEqual(withNodeFlags(['--inspect'], '  --trace-gc   --max_semi_space_size=2 '), ['--inspect']);
});

test('MALLOC_ENV fixes glibc malloc\'s trim threshold at 128 KiB', () => {
  assert.deepEqual(MALLOC_ENV, { MALLOC_TRIM_THRESHOLD_: '131072' });
});

test('withMallocEnv adds the malloc defaults the environment does not set, and none when GLIBC_TUNABLES sets malloc tunables', () => {
  assert.deepEqual(withMallocEnv({}), { MALLOC_TRIM_THRESHOLD_: '131072' });
  assert.deepEqual(withMallocEnv({ PATH: '/usr/bin', MALLOC_ARENA_MAX: '2' }), { MALLOC_TRIM_THRESHOLD_: '131072' });
  assert.deepEqual(withMallocEnv({ MALLOC_TRIM_THRESHOLD_: '1048576' }), {});
  assert.deepEqual(withMallocEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }), {});
  assert.deepEqual(withMallocEnv({ GLIBC_TUNABLES: 'glibc.rtld.optional_static_tls=512:glibc.malloc.trim_threshold=0' }), {});
  assert.deepEqual(withMallocEnv({ GLIBC_TUNABLES: 'glibc.rtld.optional_static_tls=512' }), { MALLOC_TRIM_THRESHOLD_: '131072' });
});
