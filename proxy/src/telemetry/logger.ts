// telemetry/logger.ts — winston, one JSON object per line (SPEC §8). Every event carries `time`,
// `level` and `event`; tokens, cookies, secrets and authorization codes are never logged.
import winston from 'winston';
import type { Writable } from 'node:stream';

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
  return JSON.stringify({ time: new Date().toISOString(), level, ...(redact(rest) as object), ...(text ? { message: text } : {}) });
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

/** Creates the process logger. `stream` defaults to stdout (tests pass their own to read the lines). */
export function createLogger(options: { level?: LogLevel; format?: 'json' | 'pretty'; stream?: Writable } = {}): Logger {
  const w = winston.createLogger({
    level: options.level ?? 'info',
    format: options.format === 'pretty' ? prettyLine : jsonLine,
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stdout })],
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
