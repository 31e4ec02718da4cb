// runtime/request-id.ts — the request id (X-Request-Id, the log line's `requestId`, the error pages): a random
// UUID v4 as crypto.randomUUID writes it, made in batches so that a request costs one string slice.
import { randomFillSync } from 'node:crypto';

/** Ids made per refill: one randomFillSync of 4 KiB and one string of 9 KiB. */
const BATCH = 256;
const random = Buffer.allocUnsafe(16 * BATCH);
const text = Buffer.allocUnsafe(36 * BATCH);
const HEX = Buffer.from('0123456789abcdef', 'latin1');
let batch = '';
let next = BATCH;

/** Formats `BATCH` UUIDs from the buffer of random bytes into `batch` (version 4, RFC 9562 variant). */
function format(bytes: Buffer): string {
  let o = 0;
  for (let i = 0; i < BATCH; i++) {
    const b = i * 16;
    bytes[b + 6] = (bytes[b + 6]! & 0x0f) | 0x40;
    bytes[b + 8] = (bytes[b + 8]! & 0x3f) | 0x80;
    for (let j = 0; j < 16; j++) {
      if (j === 4 || j === 6 || j === 8 || j === 10) text[o++] = 0x2d;
      const v = bytes[b + j]!;
      text[o++] = HEX[v >> 4]!;
      text[o++] = HEX[v & 15]!;
    }
  }
  return text.toString('latin1', 0, 36 * BATCH);
}

/**
 * A new request id: a random (CSPRNG, as crypto.randomUUID) version 4 UUID in lower-case hex,
 * `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`. Why not randomUUID: it concatenates each id from 20 pieces (about
 * 0.6 KiB of short-lived strings and 0.4–0.8 µs a request in the proxy's profile); here 256 ids are formatted at
 * once into one string and each is a slice of it.
 */
export function requestId(): string {
  if (next === BATCH) {
    randomFillSync(random);
    batch = format(random);
    next = 0;
  }
  const o = next++ * 36;
  return batch.slice(o, o + 36);
}

/**
 * A copy of `id` that does not keep its batch alive: a slice holds on to the whole 9 KiB string it was cut from.
 * For ids kept longer than their request (an open WebSocket's), so that many of them never pin many batches.
 */
export function keptRequestId(id: string): string {
  return Buffer.from(id, 'latin1').toString('latin1');
}

/** For tests: the formatting of one batch from given bytes (16 × 256), the ids in order. */
export function formatBatchForTest(bytes: Buffer): string[] {
  const all = format(Buffer.from(bytes));
  return Array.from({ length: BATCH }, (_, i) => all.slice(i * 36, i * 36 + 36));
}
