// telemetry/logger.ts — winston, one JSON object per line (SPEC §8). Every event carries `time`,
// `level` and `event`; tokens, cookies, secrets and authorization codes are never logged.
import winston from 'winston';
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown> & { event: string };

/**
 * The request line's fields (SPEC §8), in the order they are written. Built by the pipeline from known values
 * only (never a secret): the line is not redacted.
 */
export interface RequestLogFields {
  event: 'request';
  requestId: string;
  route: string;
  /** IncomingMessage's type; always set on a server request. Left out of the line when undefined, as JSON.stringify does. */
  method: string | undefined;
  host: string;
  path: string;
  status: number;
  durationMs: number;
  upstreamMs: number | null;
  ip: string;
  user: string;
  email: string;
  decision: string;
  reasons: string[];
  /** Why a malformed request was refused (`bad-request`): the text its 400 page shows. */
  reason?: string;
  /** The client address is unknown (`ip` is ''): the X-Forwarded-For hop a trusted proxy sent that is no address. */
  ipUnknown?: string;
  /** The DRB_* code of the problem Drawbridge answered with (errors.ts), when it answered with one. */
  errorCode?: string;
  /** What caused it, in Node's words: the upstream's error code (`ECONNREFUSED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`...). */
  cause?: string;
  aborted?: boolean;
  websocket?: boolean;
  /** The front door other than the proxy that answered: `forward-auth` (a front proxy asked, docs/forward-auth.md). */
  frontDoor?: 'forward-auth';
}

/** The logger every module receives; `log` is cheap enough for one call per request. */
export interface Logger {
  log(level: LogLevel, fields: LogFields): void;
  info(fields: LogFields): void;
  warn(fields: LogFields): void;
  error(fields: LogFields): void;
  debug(fields: LogFields): void;
  /** The request line, at `info`: the same line as `info(fields)`, built by hand (see `requestJson`). */
  request(fields: RequestLogFields): void;
  close(): void;
}

// Keys whose values must never reach a log line, whatever a caller passes.
const SECRET_KEYS = /^(cookie|set-cookie|authorization|token|id_?token|access_?token|refresh_?token|code|secret|client_?secret|password|logout_?token)$/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/** The JSON line of an event (`time`, `level`, then the fields, which always include `event`). */
function jsonText(level: string, fields: object, text: string): string {
  // The fields object is serialized as it is (no copy to put time and level first): one request line per request.
  const body = JSON.stringify(text ? { ...fields, message: text } : fields);
  return `{"time":"${isoNow()}","level":${JSON.stringify(level)},${body.slice(1)}`;
}

// A string JSON.stringify would escape: a quote, a backslash, a control character (U+0000–U+001F) or a lone
// surrogate (a high one not followed by a low one, a low one not preceded by a high one). No `u` flag: the
// regex sees UTF-16 code units, so a well-formed pair (an emoji) is not a match and needs no escaping.
// eslint-disable-next-line no-control-regex
const JSON_ESCAPED = /["\\\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string as JSON.stringify writes it: quoted as it is unless it holds something JSON escapes. */
function jsonString(s: string): string {
  return JSON_ESCAPED.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * The inside of `jsonString(s)` (without its quotes): `s` itself unless it holds something JSON escapes. The line
 * is built with the quotes in its constant parts, so that a field costs one concatenation, not three strings.
 */
function jsonInner(s: string): string {
  return JSON_ESCAPED.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}

/** ".001" … ".999" without trailing zeros (index = thousandths); "" for 0. */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => (i === 0 ? '' : `.${String(i).padStart(3, '0').replace(/0+$/, '')}`));

/**
 * A number as JSON.stringify writes it: String(n) (-0 is "0"), `null` when not finite. The log's times are
 * rounded to thousandths, and String() of a fraction runs V8's shortest-representation search (about 0.5 µs
 * each): a non-negative value below 1e9 that is exactly k/1000 is written from the integer k instead. That is the
 * same text: k/1000 is the nearest double to that decimal, and any other decimal of as few digits is at least
 * 0.001 away, far more than the spacing of doubles there.
 */
function jsonNumber(n: number): string {
  const k = Math.round(n * 1000);
  if (k >= 0 && k < 1e12 && k / 1000 === n) {
    const whole = Math.floor(k / 1000);
    return `${whole}${THOUSANDTHS[k - whole * 1000]}`;
  }
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * The request line, built by hand: exactly the text of `jsonText('info', fields, '')` for the same fields (same
 * key order, number formatting and escaping; logger.test.ts checks it over generated inputs). Why by hand: in the
 * request profile, JSON.stringify of the fields object was the largest cost per request of Drawbridge's own code
 * (~4–6 µs with isoNow); concatenating known fields of known types skips the serializer's generic walk of the
 * object (property enumeration, type dispatch per value). Only the fields of RequestLogFields are written.
 */
function requestJson(f: RequestLogFields): string {
  let line = `{"time":"${isoNow()}","level":"info","event":"request","requestId":"${jsonInner(f.requestId)}","route":"${jsonInner(f.route)}`;
  if (f.method !== undefined) line += `","method":"${jsonInner(f.method)}`;
  line +=
    `","host":"${jsonInner(f.host)}","path":"${jsonInner(f.path)}","status":${jsonNumber(f.status)},"durationMs":${jsonNumber(f.durationMs)}` +
    `,"upstreamMs":${f.upstreamMs === null ? 'null' : jsonNumber(f.upstreamMs)},"ip":"${jsonInner(f.ip)}","user":"${jsonInner(f.user)}` +
    `","email":"${jsonInner(f.email)}","decision":"${jsonInner(f.decision)}","reasons":[`;
  const reasons = f.reasons;
  for (let i = 0; i < reasons.length; i++) line += i === 0 ? `"${jsonInner(reasons[i])}"` : `,"${jsonInner(reasons[i])}"`;
  line += ']';
  if (f.reason !== undefined) line += `,"reason":${jsonString(f.reason)}`;
  if (f.ipUnknown !== undefined) line += `,"ipUnknown":${jsonString(f.ipUnknown)}`;
  if (f.errorCode !== undefined) line += `,"errorCode":${jsonString(f.errorCode)}`;
  if (f.cause !== undefined) line += `,"cause":${jsonString(f.cause)}`;
  if (f.aborted !== undefined) line += `,"aborted":${f.aborted}`;
  if (f.websocket !== undefined) line += `,"websocket":${f.websocket}`;
  if (f.frontDoor !== undefined) line += `,"frontDoor":${jsonString(f.frontDoor)}`;
  return `${line}}`;
}

let isoSecond = -1;
let isoPrefix = '';
let isoMs = -1;
let isoText = '';
/** "000" … "999". */
const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * The current time as ISO 8601 (as Date#toISOString): the date and time to the second formatted once per second,
 * the milliseconds appended, and the text reused within a millisecond (many lines share one under load).
 */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    const second = Math.floor(ms / 1000);
    if (second !== isoSecond) {
      isoSecond = second;
      // "2026-11-30T07:27:39." from "2026-11-30T07:27:39.512Z"
      isoPrefix = new Date(second * 1000).toISOString().slice(0, -4);
    }
    isoText = `${isoPrefix}${MILLIS[ms - second * 1000]}Z`;
  }
  return isoText;
}

/** The human-readable line of an event. */
function prettyText(level: string, event: unknown, rest: Record<string, unknown>, text: string): string {
  const fields = Object.entries({ ...rest, ...(text ? { message: text } : {}) })
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  return `${isoNow()} ${level.toUpperCase().padEnd(5)} ${String(event)} ${fields}`;
}

const jsonLine = winston.format.printf((info) => {
  const { level, message, [Symbol.for('level')]: _l, [Symbol.for('message')]: _s, [Symbol.for('splat')]: _p, ...rest } = info as Record<string | symbol, unknown>;
  return jsonText(String(level), redact(rest) as object, typeof message === 'string' ? message.trim() : '');
});

const prettyLine = winston.format.printf((info) => {
  const { level, message, event, [Symbol.for('level')]: _l, [Symbol.for('message')]: _s, [Symbol.for('splat')]: _p, ...rest } = info as Record<string | symbol, unknown>;
  return prettyText(String(level), event, redact(rest) as Record<string, unknown>, typeof message === 'string' ? message.trim() : '');
});

/** npm levels, as winston numbers them: a line is written when its level is at most the configured one. */
const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 5 };

/**
 * Coalesces log lines written in one turn of the event loop into one write: under load, one write
 * (one syscall) per request costs more than the rest of the logging. Lines still leave within the turn.
 */
class BatchingStream extends Writable {
  #pending: string[] = [];
  #scheduled = false;
  readonly #flush = () => {
    this.#scheduled = false;
    const lines = this.#pending;
    this.#pending = [];
    if (lines.length > 0) this.target.write(lines.join(''));
  };

  constructor(private readonly target: Writable) {
    super({ decodeStrings: false });
    // On exit nothing asynchronous runs any more: whatever is pending goes out synchronously to stdout.
    if (target === process.stdout) process.once('exit', () => this.#pending.length > 0 && writeSync(1, this.#pending.splice(0).join('')));
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.line(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    cb();
  }

  /** Queues a line without the Writable machinery (its per-write callback and tick): the request line's path. */
  line(text: string): void {
    this.#pending.push(text);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#flush();
    cb();
  }
}

/**
 * Creates the process logger. `stream` defaults to stdout (tests pass their own to read the lines);
 * `batch: false` writes each line at once (tests that read a line right after the response).
 */
export function createLogger(options: { level?: LogLevel; format?: 'json' | 'pretty'; stream?: Writable; batch?: boolean } = {}): Logger {
  const target = options.stream ?? process.stdout;
  const batching = options.batch === false ? undefined : new BatchingStream(target);
  const stream = batching ?? target;
  const w = winston.createLogger({
    level: options.level ?? 'info',
    format: options.format === 'pretty' ? prettyLine : jsonLine,
    transports: [new winston.transports.Stream({ stream })],
  });
  const max = LEVELS[options.level ?? 'info'];
  const pretty = options.format === 'pretty';
  let closed = false;
  // The request line, once per request: built by the pipeline from known fields only (never a secret), so no
  // redaction pass, and written straight to the transport's stream in the same format. winston's own path
  // (info object, format pipeline, logger→transport stream pipe) costs more than the rest of the logging.
  const write = (text: string) => {
    if (!batching) stream.write(text);
    else if (!batching.writableEnded) batching.line(text);
  };
  const prettyRequest = (level: LogLevel, fields: object) => {
    const { event, ...rest } = fields as Record<string, unknown>;
    return `${prettyText(level, event, rest, '')}\n`;
  };
  const log = (level: LogLevel, fields: LogFields) => {
    if (closed) return;
    if (fields.event !== 'request') {
      w.log(level, '', fields);
      return;
    }
    // A request line from a caller other than the pipeline (any fields, any order): the generic serializer.
    if (LEVELS[level] > max) return;
    write(pretty ? prettyRequest(level, fields) : `${jsonText(level, fields, '')}\n`);
  };
  const request = (fields: RequestLogFields) => {
    if (closed || LEVELS.info > max) return;
    write(pretty ? prettyRequest('info', fields) : `${requestJson(fields)}\n`);
  };
  return {
    log,
    info: (f) => log('info', f),
    warn: (f) => log('warn', f),
    error: (f) => log('error', f),
    debug: (f) => log('debug', f),
    request,
    close() {
      if (closed) return;
      closed = true;
      w.close();
    },
  };
}
