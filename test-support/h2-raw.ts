// test-support/h2-raw.ts — exact HTTP/2 frames over TLS (ALPN h2), for the h2 attack suites: what node's http2
// client refuses to send (duplicate or unknown pseudo-headers, upper-case names, connection headers, CR/LF/NUL in
// values, floods of RST_STREAM or CONTINUATION) is encoded as written (HPACK literals, no Huffman, no indexing) and
// every frame the server sends back is read.
import tls from 'node:tls';

export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
/** RFC 9113 §7 error codes. */
export const H2_ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** One frame's bytes. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an `n`-bit prefix whose other bits are `first`. */
function hpackInt(value: number, n: number, first: number): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** A header block of literal fields without indexing (RFC 7541 §6.2.2), names and values as given, byte for byte. */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    out.push(0x00, ...hpackInt(n.length, 7, 0), ...n, ...hpackInt(v.length, 7, 0), ...v);
  }
  return Buffer.from(out);
}

/** The largest frame payload a peer must accept before it says otherwise (SETTINGS_MAX_FRAME_SIZE's default). */
const MAX_FRAME = 16384;

/**
 * HEADERS with the fields as given (END_STREAM unless `endStream: false`), followed by CONTINUATION frames when the
 * block is larger than one frame; the last frame carries END_HEADERS unless `endHeaders: false`.
 */
export function headersFrame(stream: number, fields: readonly (readonly [string, string])[], options: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer {
  const block = headerBlock(fields);
  const frames: Buffer[] = [];
  for (let at = 0; at === 0 || at < block.length; at += MAX_FRAME) {
    const last = at + MAX_FRAME >= block.length;
    const flags = (at === 0 && (options.endStream ?? true) ? FLAG.END_STREAM : 0) | (last && (options.endHeaders ?? true) ? FLAG.END_HEADERS : 0);
    frames.push(frame(at === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, flags, stream, block.subarray(at, at + MAX_FRAME)));
  }
  return Buffer.concat(frames);
}

export function dataFrame(stream: number, data: string | Buffer, endStream = true): Buffer {
  return frame(FRAME.DATA, endStream ? FLAG.END_STREAM : 0, stream, Buffer.from(data));
}

export function rstFrame(stream: number, code: number = H2_ERROR.CANCEL): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, stream, p);
}

/** Huffman codes (RFC 7541 Appendix B) of the digits: enough to read a :status the server Huffman-encoded. */
const DIGITS: [number, number, string][] = [
  [0x0, 5, '0'], [0x1, 5, '1'], [0x2, 5, '2'], [0x19, 6, '3'], [0x1a, 6, '4'], [0x1b, 6, '5'], [0x1c, 6, '6'], [0x1d, 6, '7'], [0x1e, 6, '8'], [0x1f, 6, '9'],
];
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

function huffmanDigits(bytes: Buffer): string {
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  let i = 0;
  while (i < bits.length) {
    const hit = DIGITS.find(([code, len]) => i + len <= bits.length && parseInt(bits.slice(i, i + len), 2) === code);
    if (!hit) break; // padding (all ones)
    out += hit[2];
    i += hit[1];
  }
  return out;
}

/**
 * The :status of a response header block (nghttp2 sends it first: indexed from the static table, or a literal
 * with the static :status name, its value plain or Huffman-coded); undefined when it cannot be read.
 */
export function statusOf(block: Buffer): number | undefined {
  const b0 = block[0];
  if (b0 === undefined) return undefined;
  if (b0 & 0x80) return STATIC_STATUS[b0 & 0x7f];
  const nameIndex = b0 & 0x40 ? b0 & 0x3f : b0 & 0x0f;
  if (nameIndex < 8 || nameIndex > 14) return undefined;
  const lenByte = block[1]!;
  const value = block.subarray(2, 2 + (lenByte & 0x7f));
  return Number(lenByte & 0x80 ? huffmanDigits(value) : value.toString('latin1'));
}

export interface H2Exchange {
  frames: Frame[];
  /** The :status of each stream's first HEADERS. */
  statuses: Map<number, number>;
  /** RST_STREAM error codes by stream. */
  resets: Map<number, number>;
  /** The GOAWAY error code, when one came. */
  goaway?: number;
  /** DATA bytes by stream (latin1). */
  bodies: Map<number, string>;
  closed: boolean;
  timedOut: boolean;
  error?: string;
}

export interface H2RawOptions {
  servername?: string;
  /** End when every one of these streams has ended (END_STREAM or RST_STREAM) or a GOAWAY came; default: wait for the close. */
  streams?: readonly number[];
  timeoutMs?: number;
}

/**
 * Opens a TLS connection to 127.0.0.1:port with ALPN h2 only, sends the preface, an empty SETTINGS and `data`, and
 * reads frames (acknowledging SETTINGS, answering no PING) until the streams end, the server closes or the timeout.
 * Never rejects.
 */
export function sendH2(port: number, data: Buffer | readonly Buffer[], options: H2RawOptions = {}): Promise<H2Exchange> {
  const pieces = Buffer.isBuffer(data) ? [data] : [...data];
  return new Promise((resolve) => {
    const result: H2Exchange = { frames: [], statuses: new Map(), resets: new Map(), bodies: new Map(), closed: false, timedOut: false };
    const ended = new Set<number>();
    let buf = Buffer.alloc(0);
    let done = false;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: options.servername ?? 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      result.timedOut = true;
      finish();
    }, options.timeoutMs ?? 10_000);
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') {
        result.error = `ALPN chose ${String(socket.alpnProtocol)}`;
        return finish();
      }
      socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0), ...pieces]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const f: Frame = { type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
        buf = buf.subarray(9 + len);
        result.frames.push(f);
        if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK)) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
        if (f.type === FRAME.HEADERS && !result.statuses.has(f.stream)) {
          const status = statusOf(f.payload);
          if (status !== undefined) result.statuses.set(f.stream, status);
        }
        if (f.type === FRAME.DATA) result.bodies.set(f.stream, (result.bodies.get(f.stream) ?? '') + f.payload.toString('latin1'));
        if ((f.type === FRAME.HEADERS || f.type === FRAME.DATA) && f.flags & FLAG.END_STREAM) ended.add(f.stream);
        if (f.type === FRAME.RST_STREAM) {
          result.resets.set(f.stream, f.payload.readUInt32BE(0));
          ended.add(f.stream);
        }
        if (f.type === FRAME.GOAWAY) result.goaway = f.payload.readUInt32BE(4);
      }
      if (options.streams && (result.goaway !== undefined || options.streams.every((s) => ended.has(s)))) finish();
    });
    socket.on('error', (e) => {
      result.error = e.message;
    });
    socket.on('close', () => {
      result.closed = true;
      finish();
    });
  });
}

/** The request pseudo-headers of a GET for `authority` and `path` (https). */
export function get(authority: string, path: string, extra: readonly (readonly [string, string])[] = []): [string, string][] {
  return [[':method', 'GET'], [':scheme', 'https'], [':authority', authority], [':path', path], ...extra.map(([n, v]) => [n, v] as [string, string])];
}
