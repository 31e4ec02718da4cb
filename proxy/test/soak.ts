// proxy/test/soak.ts — a bounded soak on loopback (`npm run soak`; `--seconds N --connections N`, default 60 s and
// 200 keep-alive connections): a whole stack with a memory store under a mix of allowed, unauthenticated, denied,
// public and upstream-5xx requests and WebSocket cycles. Passes when Drawbridge made no 5xx, every answer was the
// expected one, sockets, handles and listeners went back to their baseline, and resident memory stayed flat.
// Prints one JSON summary; exit code 1 on failure. Not part of `npm test` (no `.test.ts`). The default run takes
// about 80 s (60 s of load plus setup and draining); `--seconds 10 --connections 50` about 30 s.
import http from 'node:http';
import type net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { Identity } from '../src/policy/input.js';
import { SESSION_COOKIE, sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { DEFAULT_ROUTES } from '../../test-support/routes.js';

/** What one iteration of a connection's loop does, how often (weight), and what it must get. */
const KINDS = [
  { kind: 'allowed', weight: 45, expect: 200 },
  { kind: 'allowed-post', weight: 5, expect: 200 },
  { kind: 'unauthenticated-api', weight: 10, expect: 401 },
  { kind: 'unauthenticated-browser', weight: 8, expect: 302 },
  { kind: 'denied', weight: 12, expect: 403 },
  { kind: 'public', weight: 8, expect: 200 },
  { kind: 'upstream-503', weight: 4, expect: 503 },
  { kind: 'websocket', weight: 3, expect: 101 },
] as const;
type Kind = (typeof KINDS)[number]['kind'];
const TOTAL_WEIGHT = KINDS.reduce((n, k) => n + k.weight, 0);

// A hang detector, not a latency goal: 200 connections on a busy 2-core box can wait several seconds for an answer.
const REQUEST_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 15_000;
const RSS_GROWTH_LIMIT = 0.15;
const LATENCY_RESERVOIR = 20_000;
const UPSTREAM_503_BODY = '{"status":503}';

interface Options {
  seconds: number;
  connections: number;
}

function options(): Options {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, connections: { type: 'string', default: '200' } } });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  if (!Number.isInteger(seconds) || seconds < 5 || seconds > 3600) throw new Error('--seconds: an integer from 5 to 3600');
  if (!Number.isInteger(connections) || connections < 1 || connections > 2000) throw new Error('--connections: an integer from 1 to 2000');
  return { seconds, connections };
}

/** Counters of the run; everything bounded (a fixed reservoir for latencies). */
class Tally {
  readonly statuses = new Map<number, number>();
  readonly byKind = new Map<Kind, { count: number; unexpected: number; maxMs: number }>();
  readonly unexpected: string[] = [];
  readonly latencies = new Float64Array(LATENCY_RESERVOIR);
  latencyCount = 0;
  requests = 0;
  drawbridge5xx = 0;
  errors = 0;
  /** Requests sent again after a reused keep-alive connection was closed under them before any answer. */
  keepAliveRetries = 0;
  readonly errorSamples: string[] = [];

  record(kind: Kind, status: number, ok: boolean, ms: number, note: () => string): void {
    this.requests++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const k = this.byKind.get(kind) ?? { count: 0, unexpected: 0, maxMs: 0 };
    k.count++;
    k.maxMs = Math.max(k.maxMs, round(ms));
    if (!ok) {
      k.unexpected++;
      if (this.unexpected.length < 20) this.unexpected.push(note());
    }
    this.byKind.set(kind, k);
    // Reservoir sampling: a uniform sample of every latency in constant memory.
    const i = this.latencyCount++;
    if (i < LATENCY_RESERVOIR) this.latencies[i] = ms;
    else {
      const j = Math.floor(Math.random() * (i + 1));
      if (j < LATENCY_RESERVOIR) this.latencies[j] = ms;
    }
  }

  error(kind: Kind, e: Error): void {
    this.errors++;
    if (this.errorSamples.length < 20) this.errorSamples.push(`${kind}: ${e.message}`);
  }

  percentile(p: number): number {
    const n = Math.min(this.latencyCount, LATENCY_RESERVOIR);
    if (n === 0) return 0;
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    return round(sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!);
  }
}

function pick(): Kind {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const k of KINDS) {
    r -= k.weight;
    if (r < 0) return k.kind;
  }
  return 'allowed';
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function connections(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** Sockets of the forwarder's keep-alive agents: in use, and pooled. */
function forwarderSockets(s: Stack): { active: number; free: number } {
  return s.db.runtime.forwarder.socketCounts();
}

function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function resourcesAbove(baseline: Record<string, number>): Record<string, number> {
  const above: Record<string, number> = {};
  for (const [type, n] of Object.entries(resourceCounts())) if (n > (baseline[type] ?? 0)) above[type] = n - (baseline[type] ?? 0);
  return above;
}

const LISTENER_EVENTS = ['request', 'upgrade', 'connection', 'clientError', 'close', 'error'] as const;
function listenerCounts(server: net.Server): Record<string, number> {
  return Object.fromEntries(LISTENER_EVENTS.map((e) => [e, server.listenerCount(e)]));
}

/** Session cookies: signed in through the IdP (alice, bob) plus sessions made directly in the store. */
async function makeSessions(s: Stack): Promise<{ allowed: string[]; denied: string[] }> {
  const allowed: string[] = [];
  const denied: string[] = [];
  for (const [login, list] of [['alice', allowed], ['bob', denied]] as const) {
    const b = s.browser();
    // Back on the route host through the hand-off, with its own cookie: 200 for alice, 403 for bob (sales).
    const { response } = await s.signIn(b, s.url('app.localhost', '/'), login);
    if (response.status !== (login === 'alice' ? 200 : 403)) throw new Error(`${login} could not sign in: ${response.status}`);
    const value = sessionCookie(b, s.url('app.localhost'));
    if (!value) throw new Error(`${login}: no session cookie on app.localhost`);
    list.push(`${SESSION_COOKIE}=${value}`);
  }
  const { sessions } = s.db.runtime;
  for (let i = 0; i < 30; i++) {
    const engineer = i < 20;
    const identity: Identity = {
      sub: `soak-${i}`,
      user: `soak-${i}`,
      email: `soak-${i}@example.com`,
      emailVerified: true,
      groups: engineer ? ['engineering'] : ['sales'],
      amr: ['pwd'],
      claims: {},
    };
    const now = s.db.runtime.now();
    const record = await sessions.create(identity, {}, undefined, now);
    (engineer ? allowed : denied).push(sessions.setCookie(record, false, now, new URL(s.url('app.localhost')).origin).split(';')[0]!);
  }
  return { allowed, denied };
}

interface Answer {
  status: number;
  body: string;
}

/**
 * One request on the connection's keep-alive agent. A request that went out on a reused connection the server was
 * closing as idle (the keep-alive race: ECONNRESET before any answer) is sent once more, as browsers and node's
 * documentation do (RFC 9112 §9.3.1); `onRetry` counts it.
 */
async function send(agent: http.Agent, port: number, host: string, method: string, path: string, headers: Record<string, string>, body: string | undefined, onRetry: () => void): Promise<Answer> {
  try {
    return await sendOnce(agent, port, host, method, path, headers, body);
  } catch (e) {
    if (!(e as { keepAliveRace?: boolean }).keepAliveRace) throw e;
    onRetry();
    return sendOnce(agent, port, host, method, path, headers, body);
  }
}

function sendOnce(agent: http.Agent, port: number, host: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: { host: `${host}:${port}`, ...headers, ...(body !== undefined ? { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (req.reusedSocket && !answered && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) Object.assign(e, { keepAliveRace: true });
      reject(e);
    });
    req.end(body);
  });
}

/** Opens a WebSocket through Drawbridge, sends one message, waits for its echo, closes; resolves with the echo. */
function websocketCycle(port: number, cookie: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: `app.localhost:${port}`, cookie }, handshakeTimeout: REQUEST_TIMEOUT_MS });
    let echo: string | undefined;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('websocket cycle timed out'));
    }, REQUEST_TIMEOUT_MS);
    ws.on('open', () => ws.send(message));
    ws.on('message', (data) => {
      echo = String(data);
      ws.close(1000);
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      ws.terminate();
      reject(new Error(`websocket upgrade answered ${res.statusCode}`));
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.on('close', () => {
      clearTimeout(timer);
      if (echo === undefined) reject(new Error('websocket closed before the echo'));
      else resolve(echo);
    });
  });
}

const any = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

async function connectionLoop(s: Stack, id: number, until: number, cookies: { allowed: string[]; denied: string[] }, tally: Tally): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const port = s.port;
  const retry = () => void tally.keepAliveRetries++;
  let n = 0;
  try {
    while (performance.now() < until) {
      const kind = pick();
      const t0 = performance.now();
      const q = `c=${id}&n=${++n}`;
      try {
        let a: Answer;
        switch (kind) {
          case 'allowed':
            a = await send(agent, port, 'app.localhost', 'GET', `/soak?${q}`, { cookie: any(cookies.allowed), accept: 'application/json' }, undefined, retry);
            break;
          case 'allowed-post':
            a = await send(agent, port, 'app.localhost', 'POST', `/echo?${q}`, { cookie: any(cookies.allowed), accept: 'application/json' }, `body ${q}`, retry);
            break;
          case 'unauthenticated-api':
            a = await send(agent, port, 'app.localhost', 'GET', `/soak?${q}`, { accept: 'application/json' }, undefined, retry);
            break;
          case 'unauthenticated-browser':
            a = await send(agent, port, 'app.localhost', 'GET', `/soak?${q}`, { accept: 'text/html' }, undefined, retry);
            break;
          case 'denied':
            a = await send(agent, port, 'app.localhost', 'GET', `/soak?${q}`, { cookie: any(cookies.denied), accept: 'application/json' }, undefined, retry);
            break;
          case 'public':
            a = await send(agent, port, 'public.localhost', 'GET', `/soak?${q}`, { accept: 'application/json' }, undefined, retry);
            break;
          case 'upstream-503':
            a = await send(agent, port, 'app.localhost', 'GET', `/status/503?${q}`, { cookie: any(cookies.allowed), accept: 'application/json' }, undefined, retry);
            break;
          case 'websocket': {
            const message = `soak ${q}`;
            const echo = await websocketCycle(port, any(cookies.allowed), message);
            a = { status: echo === message ? 101 : 0, body: echo };
            break;
          }
        }
        const expected = KINDS.find((k) => k.kind === kind)!.expect;
        const upstreamMade = kind === 'upstream-503' && a.body === UPSTREAM_503_BODY;
        if (a.status >= 500 && !upstreamMade) tally.drawbridge5xx++;
        const ok = a.status === expected && (kind !== 'upstream-503' || upstreamMade) && (kind !== 'allowed-post' || a.body.includes(`body ${q}`));
        tally.record(kind, a.status, ok, performance.now() - t0, () => `${kind}: ${a.status} ${a.body.slice(0, 120)}`);
      } catch (e) {
        tally.error(kind, e as Error);
      }
    }
  } finally {
    agent.destroy();
  }
}

async function main(): Promise<number> {
  const opts = options();
  const failures: string[] = [];
  const s = await startStack({ routes: DEFAULT_ROUTES });
  let housekeeping: NodeJS.Timeout | undefined;
  try {
    const cookies = await makeSessions(s);
    const logStats = { requestLines: 0, errorLines: 0, samples: [] as string[] };
    const drainLogs = () => {
      for (const l of s.logs) {
        if (l.event === 'request') logStats.requestLines++;
        if (l.level === 'error' || l.event === 'internal-error') {
          logStats.errorLines++;
          if (logStats.samples.length < 10) logStats.samples.push(JSON.stringify(l).slice(0, 300));
        }
      }
      // The test harness keeps every log line and the sample app every request: emptied so they are not the leak.
      s.logs.length = 0;
      s.app.requests.length = 0;
    };
    // Let sign-in's keep-alive connections (IdP, upstream pool) settle before taking the baseline.
    await waitFor(() => forwarderSockets(s).free === 0 && forwarderSockets(s).active === 0, DRAIN_TIMEOUT_MS, 100);
    drainLogs();
    const baseline = { resources: resourceCounts(), listeners: listenerCounts(s.db.server) };

    const tally = new Tally();
    const durationMs = opts.seconds * 1000;
    const warmupMs = Math.max(2000, durationMs * 0.2);
    const sampleEveryMs = Math.max(1000, Math.floor(durationMs / 30));
    const rss: { atMs: number; mb: number; heapMb: number }[] = [];
    // With --expose-gc (the npm script), a full collection before each sample: what is left is what is retained.
    const gc = (globalThis as { gc?: () => void }).gc;
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    const start = performance.now();
    let nextSample = start;
    housekeeping = setInterval(() => {
      drainLogs();
      const now = performance.now();
      if (now >= nextSample) {
        gc?.();
        const usage = process.memoryUsage();
        rss.push({ atMs: Math.round(now - start), mb: round(usage.rss / 2 ** 20, 1), heapMb: round(usage.heapUsed / 2 ** 20, 1) });
        nextSample += sampleEveryMs;
      }
    }, 250);
    const until = start + durationMs;
    await Promise.all(Array.from({ length: opts.connections }, (_, i) => connectionLoop(s, i, until, cookies, tally)));
    const elapsedMs = performance.now() - start;
    loopDelay.disable();
    clearInterval(housekeeping);
    housekeeping = undefined;
    drainLogs();

    // Verdicts on the answers.
    if (tally.drawbridge5xx > 0) failures.push(`${tally.drawbridge5xx} Drawbridge-made 5xx`);
    if (tally.errors > 0) failures.push(`${tally.errors} requests failed on the client side`);
    const unexpected = [...tally.byKind.values()].reduce((n, k) => n + k.unexpected, 0);
    if (unexpected > 0) failures.push(`${unexpected} unexpected answers`);
    if (logStats.errorLines > 0) failures.push(`${logStats.errorLines} error log lines`);
    for (const k of KINDS) if (!tally.byKind.get(k.kind)?.count) failures.push(`no ${k.kind} request was made`);

    // Memory: flat after warm-up (median of the last third vs the first third).
    const afterWarmup = rss.filter((r) => r.atMs >= warmupMs);
    const steady = afterWarmup.map((r) => r.mb);
    const third = Math.floor(steady.length / 3);
    const thirds = (values: number[]) => ({ first: third > 0 ? round(median(values.slice(0, third)), 1) : NaN, last: third > 0 ? round(median(values.slice(-third)), 1) : NaN });
    const { first: firstThird, last: lastThird } = thirds(steady);
    const growth = (lastThird - firstThird) / firstThird;
    const heap = thirds(afterWarmup.map((r) => r.heapMb));
    const heapGrowth = (heap.last - heap.first) / heap.first;
    if (third === 0) failures.push('too few RSS samples after warm-up');
    else if (growth > RSS_GROWTH_LIMIT) failures.push(`RSS grew ${round(growth * 100, 1)}% after warm-up (limit ${RSS_GROWTH_LIMIT * 100}%)`);
    if (gc && third > 0 && heapGrowth > RSS_GROWTH_LIMIT) failures.push(`the heap after a full GC grew ${round(heapGrowth * 100, 1)}% after warm-up (limit ${RSS_GROWTH_LIMIT * 100}%)`);

    // Leaks: every client connection closed, the forwarder's pool drained, handles and listeners back to baseline.
    const settled = async (what: string, check: () => boolean | Promise<boolean>) => {
      try {
        await waitFor(check, DRAIN_TIMEOUT_MS, 100);
      } catch {
        failures.push(`${what} did not settle within ${DRAIN_TIMEOUT_MS} ms`);
      }
    };
    await settled('proxy connections', async () => (await connections(s.db.server)) === 0);
    await settled('forwarder sockets', () => forwarderSockets(s).active === 0 && forwarderSockets(s).free === 0);
    await settled('active resources', () => Object.keys(resourcesAbove(baseline.resources)).length === 0);
    const listeners = listenerCounts(s.db.server);
    if (JSON.stringify(listeners) !== JSON.stringify(baseline.listeners)) failures.push(`listeners changed: ${JSON.stringify(baseline.listeners)} → ${JSON.stringify(listeners)}`);

    const wsCycles = tally.byKind.get('websocket')?.count ?? 0;
    const summary = {
      verdict: failures.length === 0 ? 'pass' : 'fail',
      failures,
      seconds: opts.seconds,
      connections: opts.connections,
      elapsedMs: Math.round(elapsedMs),
      requests: tally.requests,
      httpRequests: tally.requests - wsCycles,
      websocketCycles: wsCycles,
      requestsPerSecond: round(tally.requests / (elapsedMs / 1000), 1),
      latencyMs: { p50: tally.percentile(50), p90: tally.percentile(90), p99: tally.percentile(99), max: round(Math.max(0, ...tally.latencies.subarray(0, Math.min(tally.latencyCount, LATENCY_RESERVOIR)))) },
      statuses: Object.fromEntries([...tally.statuses].sort((a, b) => a[0] - b[0])),
      byKind: Object.fromEntries(tally.byKind),
      drawbridge5xx: tally.drawbridge5xx,
      clientErrors: tally.errors,
      keepAliveRetries: tally.keepAliveRetries,
      // One process runs the clients, the IdP, the sample app and Drawbridge: a busy machine shows here first.
      eventLoopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6), p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
      errorSamples: tally.errorSamples,
      unexpectedSamples: tally.unexpected,
      logs: logStats,
      rss: {
        warmupMs,
        sampleEveryMs,
        firstMb: steady[0] ?? null,
        lastMb: steady.at(-1) ?? null,
        firstThirdMedianMb: firstThird,
        lastThirdMedianMb: lastThird,
        growthPct: round(growth * 100, 1),
        heapAfterGc: gc ? { firstThirdMedianMb: heap.first, lastThirdMedianMb: heap.last, growthPct: round(heapGrowth * 100, 1) } : 'run with --expose-gc',
        samples: rss,
      },
      leaks: {
        proxyConnections: await connections(s.db.server),
        forwarderSockets: forwarderSockets(s),
        resourcesAboveBaseline: resourcesAbove(baseline.resources),
        listeners: { before: baseline.listeners, after: listeners },
      },
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    if (housekeeping) clearInterval(housekeeping);
    await s.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything is closed: the process should end by itself. If a handle keeps it alive, that is a leak too.
    setTimeout(() => {
      process.stderr.write(`soak: the process did not exit; still active: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
      process.exit(1);
    }, 10_000).unref();
  },
  (e: Error) => {
    process.stderr.write(`soak: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 10_000).unref();
  },
);
