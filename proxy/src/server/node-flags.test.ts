// server/node-flags.test.ts — a worker's node flags and malloc settings: Drawbridge's defaults unless the operator set
// the same flag or variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { applyV8RuntimeFlags, MALLOC_ENV, NODE_FLAGS, V8_RUNTIME_FLAGS, withMallocEnv, withNodeFlags } from './node-flags.js';

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
  assert.deepEqual(withNodeFlags(['--max_semi_space_size=8']), ['--max_semi_space_size=8']);
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

test('applyV8RuntimeFlags sets the old generation\'s growing factor unless node\'s command line sets it, in either spelling', () => {
  assert.deepEqual(V8_RUNTIME_FLAGS, ['--heap-growing-percent=20']);
  const set: string[] = [];
  assert.deepEqual(applyV8RuntimeFlags([], (f) => set.push(f)), ['--heap-growing-percent=20']);
  assert.deepEqual(applyV8RuntimeFlags(['--max-semi-space-size=4', '--import', 'tsx'], (f) => set.push(f)), ['--heap-growing-percent=20']);
  assert.deepEqual(set, ['--heap-growing-percent=20', '--heap-growing-percent=20']);
  assert.deepEqual(applyV8RuntimeFlags(['--heap_growing_percent=50'], (f) => set.push(f)), []);
  assert.deepEqual(applyV8RuntimeFlags(['--heap-growing-percent=0'], (f) => set.push(f)), []);
  assert.equal(set.length, 2);
});

test('applyV8RuntimeFlags bounds the old generation of a running process: garbage promoted under load is collected within about 8 MB over what is live', { timeout: 60_000 }, async () => {
  // 25 MB live, then 3 million short-lived objects that each live through a young collection (promoted, then
  // garbage): the old generation's largest size. V8's own factor lets it reach several times what is live.
  const script = `
    const { applyV8RuntimeFlags } = await import(${JSON.stringify(new URL('./node-flags.ts', import.meta.url).href)});
    const v8 = await import('node:v8');
    applyV8RuntimeFlags([]);
    const keep = []; for (let i = 0; i < 200000; i++) keep.push({ i, s: 'x' + i, a: [i, i] });
    const ring = new Array(20000); let most = 0;
    for (let i = 0; i < 3e6; i++) {
      ring[i % ring.length] = { i, a: [i, i + 1], s: 'y' + i };
      if (i % 10000 === 0) most = Math.max(most, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_size);
    }
    console.log(JSON.stringify({ most, live: keep.length }));`;
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=4', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
  const { most } = JSON.parse(stdout) as { most: number };
  assert.ok(most < 80e6, `the old generation grew to ${(most / 1e6).toFixed(1)} MB for about 25 MB live`);
});
