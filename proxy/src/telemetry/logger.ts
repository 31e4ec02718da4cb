// telemetry/logger.ts — winston, one JSON object per line (SPEC §8). Every event carries `time`,
// `level` and `event`; tokens, cookies, secrets and authorization codes are never logged.
import winston from 'winston';
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown> & { event: string };

/** The logger every module receives; `log` is cheap enough for one call per request. */
export interface Logger {
  log(level: LogLevel, fields: LogFields): void;
  info(fields: LogFields): void;
  warn(fields: LogFields): void;
  error(fields: LogFields): void;
  debug(fields: LogFields): void;
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

let isoMs = 0;
let isoText = '';

/** The current time as ISO 8601, formatted once per millisecond (many lines share one under load). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
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
  const log = (level: LogLevel, fields: LogFields) => {
    if (closed) return;
    if (fields.event !== 'request') {
      w.log(level, '', fields);
      return;
    }
    // The request line, once per request: built by the pipeline from known fields only (never a secret), so no
    // redaction pass, and written straight to the transport's stream in the same format. winston's own path
    // (info object, format pipeline, logger→transport stream pipe) costs more than the rest of the logging.
    if (LEVELS[level] > max) return;
    let text: string;
    if (pretty) {
      const { event, ...rest } = fields;
      text = `${prettyText(level, event, rest, '')}\n`;
    } else {
      text = `${jsonText(level, fields, '')}\n`;
    }
    if (!batching) stream.write(text);
    else if (!batching.writableEnded) batching.line(text);
  };
  return {
    log,
    info: (f) => log('info', f),
    warn: (f) => log('warn', f),
    error: (f) => log('error', f),
    debug: (f) => log('debug', f),
    close() {
      if (closed) return;
      closed = true;
      w.close();
    },
  };
}
