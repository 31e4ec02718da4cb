// telemetry/line-buffer.test.ts — the log batch's bytes are exactly Buffer.from of the lines joined, and a batch
// handed to a stream is never overwritten by the lines that come after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineBuffer } from './line-buffer.js';

// Lines of any UTF-16 (lone surrogates, multi-byte characters), some longer than a chunk, in batches.
const lines = fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('x'.repeat(70_000), '\u00e9'.repeat(30_000), '\ud83d'.repeat(25_000))), { maxLength: 40 });

test('LineBuffer: each batch is Buffer.from(the batch’s lines joined), and earlier batches stay as they were', () => {
  fc.assert(
    fc.property(fc.array(lines, { minLength: 1, maxLength: 12 }), (batches) => {
      const b = new LineBuffer();
      const taken: Array<{ bytes: Buffer | undefined; copy: Buffer | undefined; expected: Buffer }> = [];
      for (const batch of batches) {
        for (const line of batch) b.add(line);
        const bytes = b.take();
        taken.push({ bytes, copy: bytes && Buffer.from(bytes), expected: Buffer.from(batch.join('')) });
      }
      for (const { bytes, copy, expected } of taken) {
        if (expected.length === 0) assert.equal(bytes, undefined);
        else {
          assert.deepEqual(copy, expected);
          assert.deepEqual(bytes, expected, 'a batch already handed out was overwritten');
        }
      }
    }),
    { numRuns: 200 },
  );
});

test('LineBuffer: nothing added, nothing to take; a take empties it', () => {
  const b = new LineBuffer();
  assert.equal(b.take(), undefined);
  b.add('');
  assert.equal(b.take(), undefined);
  b.add('{"a":1}\n');
  assert.equal(b.take()?.toString(), '{"a":1}\n');
  assert.equal(b.take(), undefined);
});
