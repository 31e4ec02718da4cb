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

const jsonLine = winston.format.printf((info) => {
  const { level, message, [Symbol.for('level')]: _l, [Symbol.for('message')]: _s, [Symbol.for('splat')]: _p, ...rest } = info as Record<string | symbol, unknown>;
  const text = typeof message === 'string' ? message.trim() : '';
  // Request lines are built by the pipeline from known fields only (never a secret): no redaction pass on the hot path.
  const fields = rest.event === 'request' ? rest : (redact(rest) as object);
  return JSON.stringify({ time: new Date().toISOString(), level, ...fields, ...(text ? { message: text } : {}) });
});

const prettyLine = winston.format.printf((info) => {
  const { level, message, event, [Symbol.for('level')]: _l, [Symbol.for('message')]: _s, [Symbol.for('splat')]: _p, ...rest } = info as Record<string | symbol, unknown>;
  const text = typeof message === 'string' ? message.trim() : '';
  const fields = Object.entries({ ...(redact(rest) as Record<string, unknown>), ...(text ? { message: text } : {}) })
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  return `${new Date().toISOString()} ${String(level).toUpperCase().padEnd(5)} ${String(event)} ${fields}`;
});

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
    this.#pending.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    cb();
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
  const w = winston.createLogger({
    level: options.level ?? 'info',
    format: options.format === 'pretty' ? prettyLine : jsonLine,
    transports: [new winston.transports.Stream({ stream: options.batch === false ? target : new BatchingStream(target) })],
  });
  let closed = false;
  const log = (level: LogLevel, fields: LogFields) => {
    if (!closed) w.log(level, '', fields);
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
