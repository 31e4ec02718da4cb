// forward/ws-frames.ts — just enough of RFC 6455 framing for Drawbridge to end a relayed WebSocket itself: where the
// upstream's frames end in the byte stream relayed to the client, and the close frame a server sends.

/**
 * Follows the frame boundaries of a WebSocket byte stream, fed every chunk relayed in order (headers are read,
 * payloads only counted). `atBoundary` is true when everything fed so far ends with a complete frame: only then can
 * a frame of Drawbridge's own be written after it without corrupting the stream.
 */
export class FrameBoundary {
  private readonly header = Buffer.alloc(14);
  /** Header bytes read of the current frame (0: between frames, or in its payload). */
  private have = 0;
  /** The header's full length, known once its second byte is read. */
  private need = 2;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  /** A length no stream can have (beyond 2^53): the boundaries are lost for good. */
  private lost = false;

  push(chunk: Uint8Array): void {
    if (this.lost) return;
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.remaining -= n;
        i += n;
        continue;
      }
      this.header[this.have++] = chunk[i++]!;
      if (this.have === 2) {
        const len7 = this.header[1]! & 0x7f;
        this.need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (this.header[1]! & 0x80 ? 4 : 0);
      }
      if (this.have < 2 || this.have < this.need) continue;
      const len7 = this.header[1]! & 0x7f;
      let length = len7;
      if (len7 === 126) length = this.header.readUInt16BE(2);
      else if (len7 === 127) {
        const big = this.header.readBigUInt64BE(2);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
          this.lost = true;
          return;
        }
        length = Number(big);
      }
      this.have = 0;
      this.need = 2;
      this.remaining = length;
    }
  }

  get atBoundary(): boolean {
    return !this.lost && this.have === 0 && this.remaining === 0;
  }
}

/** Close codes of RFC 6455 §7.4.1 that Drawbridge sends. */
export const CLOSE_CODES = {
  /** The endpoint received (or, here: may no longer receive) something against its policy. */
  policyViolation: 1008,
} as const;

/**
 * A server's close frame (FIN, opcode 8, unmasked) with `code` and `reason`, the reason cut to the 123 bytes a
 * control frame's payload leaves for it (never inside a UTF-8 sequence).
 */
export function closeFrame(code: number, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > 123) {
    let end = 123;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
