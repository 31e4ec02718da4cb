// bench/drawbridge-proxy.ts — Drawbridge under test, in its own process: the real startDrawbridge with a
// public route and an authenticated route, a memory or redis store, and one session created directly in the
// store (no IdP on the hot path). Reports its port and the Cookie header that carries the session. With
// `--routes N`, the routes row's configuration instead: N generated routes (bench/micro-routes.ts), all allowing.
import { closeSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { formatIssue } from '../proxy/src/config/issue.js';
import { loadConfigIsolated } from '../proxy/src/server/config-isolate.js';
import { startDrawbridge, type Drawbridge } from '../proxy/src/server/server.js';
import { applyV8RuntimeFlags } from '../proxy/src/server/node-flags.js';
import { isMain, serveChild } from './child.js';
import { benchSession } from './fixtures.js';

export const BENCH_SESSION_SECRET = 'bench-session-secret-0123456789abcdef0123456789';

/** Host headers of the two routes. */
export const HOSTS = { public: 'public.localhost', auth: 'app.localhost' } as const;

export interface DrawbridgeBenchOptions {
  upstream: string;
  /** `memory`, or a redis:// URL. */
  store: string;
  /** Instead of the public and app routes: this many generated routes (routesBenchConfigText). */
  routes?: number;
  /** With `routes`: write the routes row's request list here, `requestCount` lines of "host path cookie". */
  requestsFile?: string;
  requestCount?: number;
}

/**
 * The bench configuration: production defaults (JSON logs at info, one line per request), an issuer on a
 * closed port (discovery fails and retries in the background; proxied requests with a session never need it),
 * routes without a port so any listener port matches.
 */
export async function benchConfigText(o: DrawbridgeBenchOptions): Promise<string> {
  if (o.routes !== undefined) return routesBenchConfigText(o, o.routes);
  const store = o.store === 'memory' ? '{ type: memory, maxSessions: 100000 }' : `{ type: redis, url: "${o.store}" }`;
  return `listen: "127.0.0.1:0"
publicUrl: http://auth.localhost:1
idp:
  issuer: http://127.0.0.1:9
  clientId: drawbridge
  clientSecret: bench-client-secret
  allowInsecureHttp: true
session:
  secret: ${BENCH_SESSION_SECRET}
  store: ${store}
log: { level: info, format: json }
routes:
  - name: public
    from: http://${HOSTS.public}
    to: ${o.upstream}
    public: true
  - name: app
    from: http://${HOSTS.auth}
    to: ${o.upstream}
    policy:
      allow:
        - groups: [engineering]
        - email: [admin@example.com]
      deny:
        - not: { ip: [127.0.0.0/8, 10.0.0.0/8] }
`;
}

/**
 * The routes row's configuration: the `n` routes of bench/micro-routes.ts (same hosts, wildcards, prefixes and
 * ten policy shapes as the in-process row), every policy allowing the bench session's user, all to the bench
 * upstream; the rest as benchConfigText. The assertion ttl is an hour: assertions are cached per session and
 * route and re-signed after half their ttl, so with the default (2 minutes) the one bench session, which visits
 * each of the 10,000 routes about every half minute, would re-sign about half of them every round (one full run with the default
 * measured 1.28× instead of ~1.0×), a cost of one user visiting 10,000 routes a minute (real traffic signs per user and route visited),
 * not of the table's size. The warm-up signs every route's once.
 */
export async function routesBenchConfigText(o: DrawbridgeBenchOptions, n: number): Promise<string> {
  // Imported here: the memory rows' process, like `drawbridge serve`, never loads the YAML parser or zod (which
  // bench/micro-routes.ts imports for its own measurements).
  const { stringify } = await import('yaml');
  const { ALLOWING_POLICIES, routesConfig } = await import('./micro-routes.js');
  const config = routesConfig(n, { to: o.upstream, policies: ALLOWING_POLICIES });
  config.publicUrl = 'http://auth.localhost:1';
  config.idp = { issuer: 'http://127.0.0.1:9', clientId: 'drawbridge', clientSecret: 'bench-client-secret', allowInsecureHttp: true };
  config.session = { secret: BENCH_SESSION_SECRET, store: o.store === 'memory' ? { type: 'memory', maxSessions: 100000 } : { type: 'redis', url: o.store } };
  config.assertion = { ttl: '1h' };
  config.log = { level: 'info', format: 'json' };
  // Written out in full: shared policy objects would otherwise become YAML aliases.
  return stringify(config, { aliasDuplicateObjects: false });
}

/**
 * Where the logs go: /dev/null, written synchronously as process.stdout is on Linux when it is a file or a pipe
 * (one write syscall per line, as in production). The last lines are kept for the bench's sanity check until
 * `quiet()`, so a failing row can show why.
 */
export class BenchLogStream extends Writable {
  readonly #fd = openSync('/dev/null', 'w');
  #tail: string[] | undefined = [];

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (typeof chunk === 'string') writeSync(this.#fd, chunk);
    else writeSync(this.#fd, chunk);
    if (this.#tail) {
      this.#tail.push(String(chunk).trim());
      if (this.#tail.length > 20) this.#tail.shift();
    }
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    closeSync(this.#fd);
    cb();
  }

  /** The last lines written before `quiet()`. */
  tail(): string[] {
    return [...(this.#tail ?? [])];
  }

  quiet(): void {
    this.#tail = undefined;
  }
}

/** Starts Drawbridge with the bench configuration and creates one session. */
export async function startBenchDrawbridge(o: DrawbridgeBenchOptions): Promise<{ db: Drawbridge; cookie: string; user: string; logs: BenchLogStream; loadMs: number }> {
  const file = join(mkdtempSync(join(tmpdir(), 'drawbridge-bench-')), 'bench.yaml');
  writeFileSync(file, await benchConfigText(o));
  // As `drawbridge serve` loads its file: validated in a worker thread (server/config-isolate.ts), so this process
  // never loads zod or the YAML parser.
  const t0 = performance.now();
  const loaded = await loadConfigIsolated(file, process.env);
  const loadMs = performance.now() - t0;
  if (!loaded.ok) throw new Error(loaded.errors.slice(0, 5).map(formatIssue).join('\n'));
  const logStream = new BenchLogStream();
  const db = await startDrawbridge({ config: loaded.config, logStream, logBatch: true, adminListen: false });
  const now = Date.now();
  const { identity, tokens, idpSid } = benchSession(1, now);
  const record = await db.runtime.sessions.create(identity, tokens, idpSid, now);
  const cookie = db.runtime.sessions.setCookie(record, false, now, `http://${HOSTS.auth}`).split(';')[0]!;
  // The routes rows send their requests to many hosts: a session cookie is valid only on the origin it was set
  // for (SPEC §11), so each line of the request list carries that host's cookie for the same session.
  if (o.requestsFile !== undefined && o.routes !== undefined) {
    const cookies = new Map<string, string>();
    const cookieFor = (host: string) => {
      let c = cookies.get(host);
      if (c === undefined) cookies.set(host, (c = db.runtime.sessions.setCookie(record, false, now, `http://${host}`).split(';')[0]!));
      return c;
    };
    const { routeRequests } = await import('./micro-routes.js');
    writeFileSync(o.requestsFile, routeRequests(o.routes, o.requestCount ?? o.routes).map((r) => `${r.hostname} ${r.path} ${cookieFor(r.hostname)}\n`).join(''));
  }
  return { db, cookie, user: identity.user, logs: logStream, loadMs };
}

/**
 * Where this process's memory is (bench/memory.ts): process.memoryUsage() and V8's heap spaces, in bytes; with `gc`,
 * after a full garbage collection (what of it was garbage not collected yet).
 */
export function memoryReport(gc = false): { usage: NodeJS.MemoryUsage; spaces: Record<string, { size: number; used: number }> } {
  if (gc) {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  }
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
  return { usage: process.memoryUsage(), spaces };
}

if (isMain(import.meta.url)) {
  // As `drawbridge serve` does (the V8 settings node refuses in NODE_OPTIONS): the bench measures Drawbridge as deployed.
  applyV8RuntimeFlags();
  const { values } = parseArgs({ options: { upstream: { type: 'string' }, store: { type: 'string', default: 'memory' }, routes: { type: 'string' }, requests: { type: 'string' }, 'request-count': { type: 'string' } } });
  let started: Awaited<ReturnType<typeof startBenchDrawbridge>> | undefined;
  await serveChild(
    async () => {
      started = await startBenchDrawbridge({
        upstream: values.upstream!,
        store: values.store!,
        ...(values.routes !== undefined ? { routes: Number(values.routes) } : {}),
        ...(values.requests !== undefined ? { requestsFile: values.requests, requestCount: Number(values['request-count']) } : {}),
      });
      return { port: started.db.port, cookie: started.cookie, user: started.user, loadMs: started.loadMs };
    },
    async () => started?.db.close(),
    (m) => {
      if (m.type === 'logs') process.send!({ type: 'logs', lines: started?.logs.tail() ?? [] });
      else if (m.type === 'quiet') started?.logs.quiet();
      else if (m.type === 'mark') process.send!({ type: 'mark', hrtimeUs: Number(process.hrtime.bigint() / 1000n) });
      else if (m.type === 'memory') process.send!({ type: 'memory', ...memoryReport(m.gc === true) });
    },
  );
}
