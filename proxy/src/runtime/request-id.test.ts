// runtime/request-id.test.ts — request ids are UUID v4 as crypto.randomUUID writes them, distinct across batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { formatBatchForTest, keptRequestId, requestId } from './request-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The UUID v4 of 16 random bytes, the RFC 9562 way (version and variant bits set), written independently. */
function reference(bytes: Buffer): string {
  const b = Buffer.from(bytes);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

test('requestId: UUID v4 in lower-case hex, never repeated over several batches', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = requestId();
    assert.match(id, UUID_V4);
    assert.equal(id.length, 36);
    seen.add(id);
  }
  assert.equal(seen.size, 2000);
});

test('requestId: each id is its 16 random bytes formatted as a UUID v4 (every byte value, both nibbles)', () => {
  const bytes = randomBytes(16 * 256);
  // Every byte value at every position of some id.
  for (let i = 0; i < 256; i++) for (let j = 0; j < 16; j++) if (i % 16 === j) bytes[i * 16 + j] = i;
  const ids = formatBatchForTest(bytes);
  assert.equal(ids.length, 256);
  ids.forEach((id, i) => assert.equal(id, reference(bytes.subarray(i * 16, i * 16 + 16)), `id ${i}`));
});

test('keptRequestId: the same id, without the 9 KiB batch it was sliced from (1,000 kept ids retain under 1 MB)', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  /** Heap growth from keeping one id out of each of 1,000 batches (the other 255 ids of a batch dropped). */
  const retained = (keep: (id: string) => string): { bytes: number; kept: string[] } => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept: string[] = [];
    for (let b = 0; b < 1000; b++) {
      kept.push(keep(requestId()));
      for (let i = 1; i < 256; i++) requestId();
    }
    gc();
    return { bytes: process.memoryUsage().heapUsed - before, kept };
  };
  const sliced = retained((id) => id);
  const copied = retained(keptRequestId);
  // 1,000 batches of 9 KiB: about 9 MB when each kept slice pins its batch; 1,000 ids of 36 bytes when copied.
  assert.ok(sliced.bytes > 6e6, `slices pin their batches: ${sliced.bytes} bytes (the check below would not tell)`);
  assert.ok(copied.bytes < 1e6, `copies keep ${copied.bytes} bytes`);
  for (const id of copied.kept) assert.match(id, UUID_V4);
  assert.equal(new Set(copied.kept).size, 1000);
});
