// bench/load-gen.ts — a small HTTP/1.1 load generator over raw keep-alive sockets, in its own process. Open
// loop (a fixed rate, latency measured from each request's scheduled time, as wrk2 does) for the p99-at-50%
// row; closed loop as the fallback when `wrk` is missing. Every response's status is counted.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { isMain, serveChild } from './child.js';

/** One load run: `rate` set means open loop at that many requests per second. */
export interface LoadSpec {
  port: number;
  host: string;
  path: string;
  headers: Record<string, string>;
  connections: number;
  durationMs: number;
  rate?: number;
  /**
   * A file of requests, one `host path` a line, sent in turn (cycling) instead of `host` and `path`; the
   * headers go with each. bench/wrk-routes.lua reads the same format.
   */
  requestsFile?: string;
}

/** The requests of `spec`, as raw HTTP/1.1 bytes: one, or one per line of `spec.requestsFile`. */
export function rawRequests(spec: LoadSpec): Buffer[] {
  const headersWith = (cookie?: string) =>
    Object.entries(cookie === undefined ? spec.headers : { ...Object.fromEntries(Object.entries(spec.headers).filter(([k]) => k.toLowerCase() !== 'cookie')), cookie })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
  const headers = headersWith();
  const raw = (host: string, path: string, cookie?: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n${cookie === undefined ? headers : headersWith(cookie)}\r\n`, 'latin1');
  if (spec.requestsFile === undefined) return [raw(spec.host, spec.path)];
  const out: Buffer[] = [];
  for (const line of readFileSync(spec.requestsFile, 'utf8').split('\n')) {
    // "host path", or "host path cookie" (the routes rows: each host's own session cookie).
    const m = /^(\S+) (\S+)(?: (\S+))?$/.exec(line);
    if (m) out.push(raw(m[1]!, m[2]!, m[3]));
  }
  if (out.length === 0) throw new Error(`${spec.requestsFile}: no requests`);
  return out;
}

/** What a run measured (wrk's runs are reported in the same shape). */
export interface LoadResult {
  tool: string;
  durationSec: number;
  /** Responses completed within the run. */
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** Socket errors, timeouts, unparsable responses. */
  errors: number;
  errorDetail: string;
  /**
   * Open loop: requests still waiting for a free connection when the run ended (the server, or the generator,
   * fell behind the rate). Their wait so far counts in the latencies, as a lower bound.
   */
  backlog?: number;
  /** The requested rate (open loop). */
  targetRate?: number;
  /**
   * Open loop: the p99 of the requests scheduled after the first 10% of the run, and when (ms from the start) the
   * slowest request was scheduled: tells a stall at the start (fresh connections) from one during the steady state.
   */
  p99SteadyMs?: number;
  slowestAtMs?: number;
}

interface Conn {
  socket: net.Socket;
  busy: boolean;
  buf: Buffer;
  /** When the request in flight was scheduled (performance.now()). */
  scheduled: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

/** The length of the first complete response in `buf` and its status, or undefined when more bytes are needed. */
export function parseResponse(buf: Buffer): { length: number; status: number; close: boolean } | undefined | 'invalid' {
  const end = buf.indexOf(HEADER_END);
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  if (!head.startsWith('HTTP/1.') || !Number.isInteger(status)) return 'invalid';
  const close = /\r\nconnection:\s*close/i.test(head);
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const length = end + 4 + Number(cl[1]);
    return buf.length >= length ? { length, status, close } : undefined;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const last = buf.indexOf(CHUNKED_END, end + 2);
    return last < 0 ? undefined : { length: last + CHUNKED_END.length, status, close };
  }
  if (status === 204 || status === 304) return { length: end + 4, status, close };
  return 'invalid';
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs one load and resolves with what it measured. */
export async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  const requests = rawRequests(spec);
  let nextRequest = 0;
  const statuses: Record<string, number> = {};
  let latencies = new Float64Array(1 << 16);
  let scheduledAt = new Float64Array(1 << 16);
  let count = 0;
  let responses = 0;
  const record = (ms: number, at: number) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
      const grownAt = new Float64Array(scheduledAt.length * 2);
      grownAt.set(scheduledAt);
      scheduledAt = grownAt;
    }
    scheduledAt[count] = at;
    latencies[count++] = ms;
  };
  let errors = 0;
  const errorKinds = new Map<string, number>();
  const fail = (kind: string) => {
    errors++;
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  };
  const queue: number[] = [];
  let queueHead = 0;
  let running = false;
  let start = 0;
  let end = 0;

  const conns: Conn[] = [];
  const idle: Conn[] = [];

  function send(conn: Conn, scheduled: number): void {
    conn.busy = true;
    conn.scheduled = scheduled;
    conn.socket.write(requests[nextRequest]!);
    nextRequest = nextRequest + 1 === requests.length ? 0 : nextRequest + 1;
  }

  async function prime(all: Conn[]): Promise<void> {
    for (const c of all) send(c, performance.now());
    const until = performance.now() + 10_000;
    while (all.some((c) => c.busy) && performance.now() < until) await new Promise((r) => setTimeout(r, 1));
    nextRequest = 0;
  }

  function next(conn: Conn): void {
    if (!running) return;
    if (spec.rate === undefined) return send(conn, performance.now());
    if (queueHead < queue.length) return send(conn, queue[queueHead++]!);
    idle.push(conn);
  }

  function connect(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: spec.port, host: '127.0.0.1', noDelay: true });
      const conn: Conn = { socket, busy: false, buf: Buffer.alloc(0), scheduled: 0 };
      socket.once('connect', () => resolve(conn));
      socket.once('error', (e) => {
        if (!running && !conn.busy) reject(e);
      });
      socket.on('error', (e: NodeJS.ErrnoException) => fail(`socket ${e.code ?? e.message}`));
      socket.on('close', () => {
        if (conn.busy && running) fail('closed mid-response');
        conn.busy = false;
        const i = conns.indexOf(conn);
        if (i >= 0) conns.splice(i, 1);
        const j = idle.indexOf(conn);
        if (j >= 0) idle.splice(j, 1);
        // Keep the pool full: a server closing a connection costs a reconnect, as it would a real client.
        if (running) void connect().then((c) => (conns.push(c), next(c)), () => fail('reconnect'));
      });
      socket.on('data', (chunk: Buffer) => {
        conn.buf = conn.buf.length === 0 ? chunk : Buffer.concat([conn.buf, chunk]);
        for (;;) {
          const parsed = parseResponse(conn.buf);
          if (parsed === undefined) return;
          if (parsed === 'invalid') {
            fail('unparsable response');
            conn.buf = Buffer.alloc(0);
            socket.destroy();
            return;
          }
          const now = performance.now();
          conn.buf = conn.buf.subarray(parsed.length);
          conn.busy = false;
          if (now <= end) {
            statuses[parsed.status] = (statuses[parsed.status] ?? 0) + 1;
            responses++;
            record(now - conn.scheduled, conn.scheduled);
          }
          if (parsed.close) {
            socket.destroy();
            return;
          }
          next(conn);
        }
      });
    });
  }

  for (let i = 0; i < spec.connections; i++) conns.push(await connect());
  // Open loop: one request on every connection before the schedule starts (answers not counted: `end` is still 0).
  // A new connection's first request pays for its accept, and in a `workers` Drawbridge for the primary handing the
  // connection to a worker (cluster's round-robin); 32 of them at the schedule's start were the run's slowest
  // requests (bench/tail-unpinned.ts), a burst of connection set-ups, not the steady tail this mode measures.
  if (spec.rate !== undefined) await prime(conns);
  running = true;
  start = performance.now();
  end = start + spec.durationMs;
  let scheduled = 0;
  const interval = spec.rate === undefined ? 0 : 1000 / spec.rate;

  await new Promise<void>((resolve) => {
    if (spec.rate === undefined) {
      for (const c of conns) next(c);
      setTimeout(resolve, spec.durationMs);
      return;
    }
    // Every tick sends whatever is due by now; a request finding no idle connection waits in the queue and its
    // latency still counts from its scheduled time (no coordinated omission).
    const tick = () => {
      const now = performance.now();
      const until = Math.min(now, end);
      while (start + scheduled * interval <= until) {
        const at = start + scheduled * interval;
        scheduled++;
        const conn = idle.pop();
        if (conn) send(conn, at);
        else queue.push(at);
      }
      if (now >= end) return resolve();
      setTimeout(tick, 1);
    };
    idle.push(...conns);
    tick();
  });
  // Requests never sent still waited: their wait so far is a lower bound of their latency.
  const unsent = queue.length - queueHead;
  const stopped = performance.now();
  for (let i = queueHead; i < queue.length; i++) record(stopped - queue[i]!, queue[i]!);
  // Let responses in flight land (they are not counted past `end`), then close.
  running = false;
  const drainUntil = performance.now() + 2000;
  while (conns.some((c) => c.busy) && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  for (const c of [...conns]) c.socket.destroy();

  const sorted = latencies.slice(0, count).sort();
  let slowest = 0;
  const steady: number[] = [];
  for (let i = 0; i < count; i++) {
    if (latencies[i]! > latencies[slowest]!) slowest = i;
    if (scheduledAt[i]! - start >= spec.durationMs / 10) steady.push(latencies[i]!);
  }
  const steadySorted = Float64Array.from(steady).sort();
  const durationSec = spec.durationMs / 1000;
  return {
    tool: spec.rate === undefined ? 'bench/load-gen (closed loop)' : 'bench/load-gen (open loop)',
    durationSec,
    requests: responses,
    rps: responses / durationSec,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    statuses,
    errors,
    errorDetail: [...errorKinds].map(([k, n]) => `${k}: ${n}`).join(', '),
    ...(spec.rate !== undefined ? { targetRate: spec.rate, backlog: unsent, p99SteadyMs: percentile(steadySorted, 99), slowestAtMs: count > 0 ? scheduledAt[slowest]! - start : 0 } : {}),
  };
}

if (isMain(import.meta.url)) {
  await serveChild(
    async () => ({}),
    async () => {},
    (m) => {
      if (m.type !== 'run') return;
      generateLoad(m.spec as LoadSpec).then(
        (result) => process.send!({ type: 'result', result }),
        (e: Error) => process.send!({ type: 'failed', error: e.message }),
      );
    },
  );
}
