// server/node-flags.test.ts — a worker's node flags: Drawbridge's defaults unless the operator set the same flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE_FLAGS, withNodeFlags } from './node-flags.js';

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
