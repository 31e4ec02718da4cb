// forward/ws-frames.test.ts — frame boundaries found in any chunking (short, 16-bit and 64-bit lengths, masked,
// empty), and the close frame's bytes (forwarder.test.ts has a real client read one).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeFrame, FrameBoundary } from './ws-frames.js';

/** One frame: FIN + `opcode`, the payload length in its shortest encoding, a mask key when `masked`. */
function frame(opcode: number, payloadLength: number, masked = false): Buffer {
  const ext = payloadLength < 126 ? 0 : payloadLength < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? payloadLength : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(payloadLength, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(payloadLength), 2);
  if (masked) head.set([1, 2, 3, 4], 2 + ext);
  return Buffer.concat([head, Buffer.alloc(payloadLength, 0x61)]);
}

const FRAMES = [frame(1, 5), frame(2, 0), frame(9, 3), frame(1, 125), frame(2, 126), frame(2, 300, true), frame(2, 70_000), frame(1, 7, true)];

/** Feeds `bytes` in chunks cut at `cuts` and returns atBoundary after each chunk. */
function feed(bytes: Buffer, cuts: number[]): boolean[] {
  const t = new FrameBoundary();
  const seen: boolean[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    t.push(bytes.subarray(at, cut));
    seen.push(t.atBoundary);
    at = cut;
  }
  return seen;
}

test('a stream of whole frames ends at a boundary, whatever the chunking', () => {
  const all = Buffer.concat(FRAMES);
  assert.deepEqual(feed(all, []), [true]);
  const t = new FrameBoundary();
  for (const byte of all) t.push(Buffer.of(byte));
  assert.equal(t.atBoundary, true, 'fed byte by byte');
});

test('a cut is a boundary exactly where one frame ends and the next has not begun', () => {
  const ends = new Set<number>();
  let offset = 0;
  for (const f of FRAMES) ends.add((offset += f.length));
  const all = Buffer.concat(FRAMES.slice(0, 6));
  for (let cut = 1; cut < all.length; cut++) {
    const [first] = feed(all, [cut]);
    assert.equal(first, ends.has(cut), `cut at ${cut}`);
  }
});

test('a frame header split inside its extended length or mask key is no boundary', () => {
  const f = frame(2, 300, true);
  for (let cut = 1; cut < 8; cut++) assert.deepEqual(feed(f, [cut]), [false, true], `cut at ${cut}`);
});

test('a 64-bit length beyond 2^53 loses the boundaries for good', () => {
  const t = new FrameBoundary();
  const head = Buffer.alloc(10);
  head[0] = 0x82;
  head[1] = 127;
  head.writeBigUInt64BE(2n ** 60n, 2);
  t.push(head);
  t.push(frame(1, 1));
  assert.equal(t.atBoundary, false);
});

test('the close frame: FIN + opcode 8, unmasked, the code then the reason', () => {
  assert.deepEqual([...closeFrame(1008, 'revoked')], [0x88, 9, 0x03, 0xf0, ...Buffer.from('revoked')]);
  const t = new FrameBoundary();
  t.push(closeFrame(1008, 'session-ended'));
  assert.equal(t.atBoundary, true, 'one whole frame');
});

test('a long reason is cut to 123 bytes, never inside a UTF-8 character', () => {
  const f = closeFrame(1008, 'é'.repeat(100));
  assert.equal(f[1], 2 + 122);
  assert.equal(f.subarray(4).toString('utf8'), 'é'.repeat(61));
  assert.equal(closeFrame(1008, 'x'.repeat(200))[1], 125);
});
