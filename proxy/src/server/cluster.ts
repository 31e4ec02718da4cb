// server/cluster.ts — `workers: N`: N event loops serving one proxy listener (node cluster: worker processes that share
// the listening socket). The primary serves no proxied request: it forks the workers and replaces one that dies, owns
// the memory session store (session/cluster-store.ts: every worker reads it through a cache it invalidates before a
// write is acknowledged), runs the admin listener (/metrics summed over the workers, /readyz of them all, sessions),
// generates the assertion key when none is configured (the same in every worker), owns the TLS session-ticket key
// (server/cluster-tls.ts) and the ACME client (server/cluster-acme.ts: it orders, every worker serves), and reloads:
// it validates the file once, then every worker prepares the new configuration and all commit, or none does.
import cluster, { type Worker } from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { formatIssue } from '../config/issue.js';
import { loadConfigIsolated } from './config-isolate.js';
import { DrawbridgeError } from '../errors.js';
import type { Config } from '../schema/config.js';
import { ClusterStore, isStoreMessage, StoreOwner, type StoreMessage } from '../session/cluster-store.js';
import { deriveKeys } from '../session/keys.js';
import { MemoryStore } from '../session/memory-store.js';
import type { SessionFilter, SessionRecord, SessionStore } from '../session/store.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { contextsOf } from '../tls/contexts.js';
import { parseDuration } from '../policy/duration.js';
import { TicketKeys } from './cluster-tls.js';
import type { AcmeOwner } from './cluster-acme.js';
import { withMallocEnv, withNodeFlags } from './node-flags.js';
import { acmeEdgeOf } from '../tls/acme-listener.js';
import { applyAcmeUpdate, type AcmeUpdate } from '../tls/acme-hand-over.js';
import { drawbridgeVersion } from '../version.js';
import { reloadable, sessionSummary, startDrawbridge, type Drawbridge, type PreparedReload } from './server.js';
import { readAssertionKeys, type AssertionKeyMaterial } from './assertion-keys.js';

export { isClusterWorker, workerCount } from './workers.js';

/** What `serve` runs: one Drawbridge, or the primary of several workers. */
export interface Served {
  reload(): Promise<{ ok: true } | { ok: false; errors: string[] }>;
  close(options?: { drainMs?: number; signal?: string }): Promise<void>;
  watchedFiles(): string[];
}

/** Primary → worker. */
type ToWorker =
  | StoreMessage
  | { drb: 'start'; slot: number; config: Config; configFile: string; assertionKeys: AssertionKeyMaterial; ticketKey?: Uint8Array; acme?: AcmeUpdate[] }
  | { drb: 'acme'; seq: number; update: AcmeUpdate }
  | { drb: 'ticket-key'; seq: number; key: Uint8Array }
  | { drb: 'prepare'; seq: number; config: Config; assertionKeys: AssertionKeyMaterial }
  | { drb: 'commit'; seq: number }
  | { drb: 'abort'; seq: number }
  | { drb: 'metrics'; seq: number }
  | { drb: 'ready'; seq: number }
  | { drb: 'sweep' }
  | { drb: 'shutdown'; drainMs: number; signal: string };

/** Worker → primary. */
type FromWorker =
  | StoreMessage
  | { drb: 'hello' }
  | { drb: 'started'; port: number; url: string }
  | { drb: 'start-failed'; error: string }
  | { drb: 'answer'; seq: number; ok: boolean; value?: unknown; errors?: string[] };

const ASK_TIMEOUT_MS = 10_000;
/** A worker that dies before serving is forked again after this long (a crash loop does not spin the CPU). */
const RESPAWN_DELAY_MS = 1000;
/** What the primary counts itself: the workers' own series of these are dropped from the sum. */
const PRIMARY_SERIES = new Set(['drawbridge_config_reloads_total', 'drawbridge_config_last_reload_success_timestamp_seconds', 'drawbridge_active_sessions']);

interface Slot {
  slot: number;
  worker: Worker;
  started: boolean;
  /** Sent its start message (from then on it must get every hand-over: tls.acme, ticket keys). */
  told?: boolean;
}

export interface ClusterOptions {
  config: Config;
  configFile: string;
  env: Readonly<Record<string, string | undefined>>;
  workers: number;
}

/** The files whose change reloads (as Drawbridge.watchedFiles, read from the configuration): TLS and assertion keys. */
function configuredFiles(config: Config): string[] {
  const tls = config.tls;
  const files = [tls?.certFile, tls?.keyFile, ...(tls?.certificates ?? []).flatMap((c) => [c.certFile, c.keyFile]), ...config.routes.flatMap((r) => [r.upstreamTls?.caFile, r.upstreamTls?.certFile, r.upstreamTls?.keyFile]), config.assertion.keyFile, ...config.assertion.previousKeys];
  return [...new Set(files.filter((f): f is string => typeof f === 'string'))];
}

/** Starts the primary: forks `workers` workers and resolves once every one serves (rejects when one cannot start). */
export async function startCluster(options: ClusterOptions): Promise<Served> {
  const startConfig = options.config;
  const logger = createLogger({ level: startConfig.log.level, format: startConfig.log.format, batch: false });
  // The running configuration (restart-only sections as started); a replacement worker starts on it.
  let current: Config = startConfig;
  // `listen` on port 0 (tests): the primary keeps one listening socket per address, so every worker (a replacement
  // too, while another still serves) gets the port the first one got.
  let listenPort: number | undefined;
  // The assertion's keys, read here (or generated) and handed to every worker: one key and one JWKS for all of them.
  let generatedPem: string | undefined;
  if (!startConfig.assertion.keyFile) {
    generatedPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    logger.warn({ event: 'assertion-key', message: 'no assertion.keyFile: generated a signing key shared by this process\'s workers only; with several replicas, set assertion.keyFile' });
  }
  let assertionKeys: AssertionKeyMaterial = readAssertionKeys(startConfig.assertion, generatedPem);
  const s = startConfig.session.store;
  let owner: StoreOwner | undefined;
  let adminStore: SessionStore;
  if (s.type === 'memory') {
    owner = new StoreOwner(new MemoryStore({ maxSessions: s.maxSessions }), {
      onUnresponsive: (peer) => {
        logger.error({ event: 'worker', result: 'unresponsive', worker: slotOf(peer), message: 'did not confirm a session-store invalidation in time: ended' });
        cluster.workers?.[peer]?.process.kill('SIGKILL');
      },
    });
    adminStore = owner.store;
  } else {
    // Workers use Redis themselves; the primary's own connection serves the admin listener (sessions, the gauge).
    // Its code is loaded only then (at start): a worker, which loads this file too, holds it only with a Redis store.
    const { RedisStore } = await import('../session/redis-store.js');
    adminStore = new RedisStore({ url: s.url, prefix: s.prefix, keys: deriveKeys(startConfig.session.secret), onError: (err) => logger.warn({ event: 'session-store-connection', error: err.message }) });
  }
  await adminStore.start().catch((e: Error) => logger.error({ event: 'session-store', error: e.message }));

  // Metrics the primary counts itself; the rest is the sum of the workers'.
  const registry = new Registry();
  const reloads = new Counter({ name: 'drawbridge_config_reloads_total', help: 'Configuration reloads by result.', labelNames: ['result'], registers: [registry] });
  const lastReload = new Gauge({ name: 'drawbridge_config_last_reload_success_timestamp_seconds', help: 'When the configuration in force was loaded.', registers: [registry] });
  new Gauge({
    name: 'drawbridge_active_sessions',
    help: 'Live sessions in the session store.',
    registers: [registry],
    async collect() {
      this.set(await adminStore.count().catch(() => NaN));
    },
  });
  new Gauge({
    name: 'drawbridge_workers',
    help: 'Workers serving the proxy listener now (workers: N).',
    registers: [registry],
    collect() {
      this.set(slots.filter((x) => x?.started).length);
    },
  });
  const restarts = new Counter({ name: 'drawbridge_worker_restarts_total', help: 'Workers that exited unexpectedly and were replaced.', registers: [registry] });
  lastReload.setToCurrentTime();
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);

  // Messages are structured clones (as between the MessageChannels of session/cluster-store.test.ts), not JSON.
  // Workers serve the traffic: they run with Drawbridge's node flags even when the primary was started without them.
  cluster.setupPrimary({ serialization: 'advanced', execArgv: withNodeFlags(process.execArgv, process.env.NODE_OPTIONS) });
  const slots: (Slot | undefined)[] = new Array<Slot | undefined>(options.workers + 1).fill(undefined);
  const slotOf = (workerId: number) => slots.find((x) => x?.worker.id === workerId)?.slot ?? 0;
  let askSeq = 0;
  const answers = new Map<string, { resolve(a: { ok: boolean; value?: unknown; errors?: string[] }): void; reject(e: Error): void }>();
  let closing = false;
  // Forks (until the worker serves) and reloads run one at a time: a worker never starts on a configuration
  // that a reload is replacing.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  function post(worker: Worker, m: ToWorker): void {
    // A worker that just died may still look connected: the write then fails (EPIPE) in the callback, never as
    // an unhandled 'error' that would end the primary. Its exit is handled where it is observed ('exit').
    if (worker.isConnected()) worker.send(m, (e: Error | null) => void (e && logger.warn({ event: 'worker', result: 'unreachable', worker: slotOf(worker.id), error: e.message })));
  }

  function ask(worker: Worker, m: ToWorker & { seq: number }): Promise<{ ok: boolean; value?: unknown; errors?: string[] }> {
    const key = `${worker.id}:${m.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        answers.delete(key);
        worker.off('exit', onExit);
        reject(new Error(`no answer to ${m.drb} within ${ASK_TIMEOUT_MS} ms`));
      }, ASK_TIMEOUT_MS);
      const onExit = () => {
        answers.delete(key);
        clearTimeout(timer);
        reject(new Error('the worker exited'));
      };
      worker.once('exit', onExit);
      answers.set(key, {
        resolve: (a) => {
          answers.delete(key);
          clearTimeout(timer);
          worker.off('exit', onExit);
          resolve(a);
        },
        reject,
      });
      post(worker, m);
    });
  }

  const live = (): Slot[] => slots.filter((x): x is Slot => x !== undefined && x.started);

  // tls: one session-ticket key for every worker (a ticket resumes whichever worker accepts the connection), rotated
  // here for all. A worker sent its start message is told too (it applies the key once its listener exists); one forked
  // later gets the key in force in its start message.
  const ticketPeriod = (c: Config) => parseDuration(c.tls?.ticketKeyRotation ?? '12h');
  const tickets = startConfig.tls
    ? new TicketKeys({
        periodMs: ticketPeriod(startConfig),
        distribute: async (key) => {
          const workers = slots.filter((x): x is Slot => x?.told === true);
          const seq = ++askSeq;
          const answered = await Promise.all(workers.map((w) => ask(w.worker, { drb: 'ticket-key', seq, key }).then((a) => a.ok, () => false)));
          const missed = workers.filter((_, i) => !answered[i]).map((w) => w.slot);
          if (missed.length > 0) logger.warn({ event: 'tls-ticket-key', result: 'failure', workers: missed, message: 'these workers did not confirm the new session-ticket key (their tickets do not resume elsewhere)' });
          logger.info({ event: 'tls-ticket-key', result: 'rotated', workers: workers.length - missed.length });
        },
      })
    : undefined;

  // tls.acme: the primary orders and renews; every worker serves what it hands over (server/cluster-acme.ts). A worker
  // that was sent its start message gets each change and must confirm it; one forked later gets the snapshot.
  let acmeOwner: AcmeOwner | undefined;
  try {
    acmeOwner = startConfig.tls?.acme
      ? (await import('./cluster-acme.js')).createAcmeOwner({
          config: startConfig,
          logger,
          registry,
          distribute: async (update) => {
            const workers = slots.filter((x): x is Slot => x?.told === true);
            const seq = ++askSeq;
            const answered = await Promise.all(workers.map((w) => ask(w.worker, { drb: 'acme', seq, update }).catch((e: Error) => ({ ok: false, errors: [e.message] }))));
            answered.forEach((a, i) => {
              if (!a.ok) logger.error({ event: 'acme', result: 'failure', step: 'hand-over', worker: workers[i]!.slot, kind: update.kind, error: (a.errors ?? ['failed']).join('; '), message: 'this worker did not take the update: it serves what it had' });
            });
          },
        })
      : undefined;
  } catch (e) {
    // An unreadable tls.acme.caFile: the start fails, as one process's does.
    await adminStore.close().catch(() => {});
    logger.error({ event: 'listen', result: 'failure', error: (e as Error).message });
    logger.close();
    throw e;
  }

  /** Forks the worker of `slot` and resolves when it serves; rejects when it exits or fails first. */
  function fork(slot: number): Promise<void> {
    // With Drawbridge's malloc settings too, unless the operator chose their own (server/node-flags.ts).
    const worker = cluster.fork({ ...withMallocEnv(process.env), DRAWBRIDGE_WORKER: String(slot) });
    // The IPC channel's own errors (a send racing the worker's death) are logged, never thrown in the primary.
    worker.on('error', (e: Error) => logger.warn({ event: 'worker', result: 'unreachable', worker: slot, error: e.message }));
    const entry: Slot = { slot, worker, started: false };
    slots[slot] = entry;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (isStoreMessage(m)) return owner?.receive(worker.id, m);
        if (m.drb === 'hello') {
          // From now on it listens: it gets (and must confirm) every invalidation. Before, it had nothing cached,
          // and a worker still loading its code is not to be ended for not confirming.
          owner?.attach(worker.id, (msg) => post(worker, msg));
          entry.told = true;
          return post(worker, { drb: 'start', slot, config: current, configFile: options.configFile, assertionKeys, ...(tickets ? { ticketKey: tickets.key } : {}), ...(acmeOwner ? { acme: acmeOwner.snapshot() } : {}) });
        }
        if (m.drb === 'started') {
          entry.started = true;
          listenPort ??= m.port;
          logger.info({ event: 'worker', result: 'started', worker: slot, pid: worker.process.pid ?? 0 });
          return resolve();
        }
        if (m.drb === 'start-failed') return reject(new DrawbridgeError('DRB_LISTEN_FAILED', `worker ${slot}: ${m.error}`));
        if (m.drb === 'answer') answers.get(`${worker.id}:${m.seq}`)?.resolve(m);
      });
      worker.once('exit', (code, signal) => {
        owner?.detach(worker.id);
        const wasStarted = entry.started;
        entry.started = false;
        if (slots[slot] === entry) slots[slot] = undefined;
        if (!wasStarted) reject(new DrawbridgeError('DRB_LISTEN_FAILED', `worker ${slot} exited (${signal ?? code}) before serving`));
        if (closing) return;
        // Its connections died with it (their clients see a failed request, never a forward it did not check);
        // another worker takes its place.
        logger.error({ event: 'worker', result: 'exited', worker: slot, pid: worker.process.pid ?? 0, code: code ?? null, signal: signal ?? null, message: 'replaced' });
        restarts.inc();
        const respawn = (delay: number) =>
          void serial(() => fork(slot)).catch((e: Error) => {
            logger.error({ event: 'worker', result: 'failure', worker: slot, error: e.message });
            if (!closing) setTimeout(() => respawn(RESPAWN_DELAY_MS), delay).unref();
          });
        if (wasStarted) respawn(0);
      });
    });
  }

  // Every worker serves, or the start fails (as one process whose listener cannot bind does).
  try {
    await serial(async () => {
      // Forked together: `listen` on port 0 gives every worker the same port (cluster shares a listener per address).
      await Promise.all(Array.from({ length: options.workers }, (_, i) => fork(i + 1)));
    });
  } catch (e) {
    closing = true;
    for (const x of slots) x?.worker.process.kill('SIGKILL');
    await adminStore.close().catch(() => {});
    logger.error({ event: 'listen', result: 'failure', error: (e as Error).message });
    logger.close();
    throw e;
  }
  // Every worker listens: the stored certificates reach them all, then what is missing or due is ordered (the
  // TLS-ALPN-01 answers need the listener).
  await acmeOwner?.start();

  async function reload(): Promise<{ ok: true } | { ok: false; errors: string[] }> {
    return serial(async () => {
      const result = await loadConfigIsolated(options.configFile, options.env);
      if (!result.ok) {
        const errors = result.errors.map(formatIssue);
        reloads.inc({ result: 'failure' });
        logger.error({ event: 'reload', result: 'failure', errors, message: 'invalid configuration refused; the running configuration stays' });
        return { ok: false as const, errors };
      }
      const { next, kept } = reloadable(startConfig, result.config);
      // The key files are read once, here: every worker gets the same PEMs (a keyFile taken out keeps the key in force).
      let keys: AssertionKeyMaterial;
      try {
        keys = readAssertionKeys(next.assertion, assertionKeys.privateKeyPem);
      } catch (e) {
        reloads.inc({ result: 'failure' });
        logger.error({ event: 'reload', result: 'failure', errors: [(e as Error).message], message: 'no worker changed its configuration' });
        return { ok: false as const, errors: [(e as Error).message] };
      }
      const workers = live();
      const seq = ++askSeq;
      // Phase one: every worker builds the new configuration; any failure (or silence) and none takes it.
      const prepared = await Promise.all(workers.map((w) => ask(w.worker, { drb: 'prepare', seq, config: next, assertionKeys: keys }).catch((e: Error) => ({ ok: false, errors: [e.message] }))));
      const errors = prepared.flatMap((a, i) => (a.ok ? [] : (a.errors ?? ['failed']).map((e) => `worker ${workers[i]!.slot}: ${e}`)));
      if (errors.length > 0) {
        for (const w of workers) post(w.worker, { drb: 'abort', seq });
        reloads.inc({ result: 'failure' });
        logger.error({ event: 'reload', result: 'failure', errors, message: 'no worker changed its configuration' });
        return { ok: false as const, errors };
      }
      // Phase two: every worker commits. One that cannot is ended (it must not serve the old configuration) and
      // replaced on the new one.
      current = next;
      assertionKeys = keys;
      tickets?.setPeriod(ticketPeriod(next));
      const committed = await Promise.all(workers.map((w) => ask(w.worker, { drb: 'commit', seq }).catch((e: Error) => ({ ok: false, errors: [e.message] }))));
      committed.forEach((a, i) => {
        if (a.ok) return;
        logger.error({ event: 'reload', result: 'failure', worker: workers[i]!.slot, errors: a.errors ?? [], message: 'this worker could not commit: ended and replaced' });
        workers[i]!.worker.process.kill('SIGKILL');
      });
      reloads.inc({ result: 'success' });
      lastReload.setToCurrentTime();
      logger.info({ event: 'reload', result: 'success', workers: workers.length, routes: next.routes.length, ...(kept.length ? { needsRestart: kept, message: `changes to ${kept.join(', ')} take effect after a restart` } : {}) });
      return { ok: true as const };
    });
  }

  async function metricsText(): Promise<string> {
    const parts = await Promise.all(
      live().map(async (w) => {
        const a = await ask(w.worker, { drb: 'metrics', seq: ++askSeq });
        if (!a.ok) throw new Error((a.errors ?? ['metrics failed']).join('; '));
        return (a.value as MetricObjectWithValues<MetricValue<string>>[]).filter((m) => !PRIMARY_SERIES.has(m.name));
      }),
    );
    const summed = AggregatorRegistry.aggregate(parts);
    return `${await summed.metrics()}\n${await registry.metrics()}`;
  }

  async function ready(): Promise<{ ready: boolean; checks: Record<string, boolean>; idp?: unknown }> {
    const workers = live();
    const answersOf = await Promise.all(workers.map((w) => ask(w.worker, { drb: 'ready', seq: ++askSeq }).catch(() => ({ ok: false }) as { ok: boolean; value?: unknown })));
    const states = answersOf.map((a) => (a.ok ? (a.value as { ready: boolean; checks: Record<string, boolean>; idp?: unknown }) : undefined));
    const every = (k: string) => states.length > 0 && states.every((st) => st?.checks[k] === true);
    const checks = { config: every('config'), idp: every('idp'), store: await adminStore.ping().then(() => every('store'), () => false), workers: workers.length === options.workers };
    const idp = states.find((st) => st?.idp !== undefined)?.idp;
    return { ready: Object.values(checks).every(Boolean), checks, ...(idp !== undefined ? { idp } : {}) };
  }

  const revoke = async (filter: SessionFilter): Promise<number> => {
    if (owner) return (await owner.call('deleteWhere', [filter])) as number;
    const n = await adminStore.deleteWhere(filter);
    for (const w of live()) post(w.worker, { drb: 'sweep' });
    return n;
  };

  const admin = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const q = new URL(req.url ?? '/', 'http://admin').searchParams;
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    if (req.method !== 'GET' && req.method !== 'HEAD' && !(req.method === 'POST' && path === '/sessions/revoke')) return void res.writeHead(405).end();
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (path === '/readyz') {
      const idpOptional = q.get('idp') === 'optional';
      return void ready().then((r) => {
        const ok = idpOptional ? r.checks.config! && r.checks.store! && r.checks.workers! : r.ready;
        json(ok ? 200 : 503, { ...r, ready: ok });
      });
    }
    if (path === '/metrics') {
      return void metricsText().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (e: Error) => json(503, { error: e.message }),
      );
    }
    const filter: SessionFilter = q.get('user') ? { user: q.get('user')! } : {};
    if (path === '/sessions') {
      const list = owner ? (owner.call('list', [filter]) as Promise<SessionRecord[]>) : adminStore.list(filter);
      return void list.then((l) => json(200, l.map(sessionSummary)), (e: Error) => json(503, { error: e.message }));
    }
    if (path === '/sessions/revoke') {
      if (req.headers['x-drawbridge-admin'] !== 'revoke') return void json(403, { error: 'revoke needs the header x-drawbridge-admin: revoke' });
      if (!q.get('user') && q.get('all') !== '1') return void json(400, { error: 'revoke needs user=U or all=1' });
      return void revoke(filter).then(
        (n) => {
          logger.info({ event: 'sessions-revoke', result: 'success', user: q.get('user') ?? '', all: q.get('all') === '1', revoked: n });
          json(200, { revoked: n });
        },
        (e: Error) => json(503, { error: e.message }),
      );
    }
    res.writeHead(404).end();
  });
  const adminListen = startConfig.admin.listen;
  const i = adminListen.lastIndexOf(':');
  const host = adminListen.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  try {
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen(Number(adminListen.slice(i + 1)), host, () => resolve());
    });
  } catch (e) {
    closing = true;
    for (const x of slots) x?.worker.process.kill('SIGKILL');
    const err = new DrawbridgeError('DRB_LISTEN_FAILED', `the admin listener cannot listen on ${adminListen}: ${(e as Error).message}`);
    logger.error({ event: 'listen', result: 'failure', error: err.message });
    logger.close();
    throw err;
  }
  const adminPort = (admin.address() as AddressInfo).port;
  tickets?.start();
  const listen = startConfig.listen.replace(/:0$/, `:${listenPort ?? 0}`);
  const scheme = startConfig.tls ? 'https' : 'http';
  logger.info({ event: 'start', version: drawbridgeVersion(), workers: options.workers, pid: process.pid, listen: `${scheme}://${listen.startsWith(':') ? `0.0.0.0${listen}` : listen}`, admin: `http://${host}:${adminPort}`, idp: startConfig.idp.issuer, routes: startConfig.routes.length, store: adminStore.kind });

  return {
    reload,
    watchedFiles: () => configuredFiles(current),
    async close(closeOptions = {}) {
      if (closing) return;
      closing = true;
      tickets?.close();
      await acmeOwner?.close();
      const exits = live().map((w) => new Promise<void>((r) => (w.worker.isDead() ? r() : w.worker.once('exit', () => r()))));
      for (const w of live()) post(w.worker, { drb: 'shutdown', drainMs: closeOptions.drainMs ?? 0, signal: closeOptions.signal ?? '' });
      await Promise.all(exits);
      admin.closeAllConnections();
      await new Promise<void>((r) => admin.close(() => r()));
      await adminStore.close().catch(() => {});
      if (closeOptions.signal !== undefined) logger.info({ event: 'shutdown', signal: closeOptions.signal, workers: exits.length });
      logger.close();
    },
  };
}

/**
 * Log lines of a worker: each JSON line gets `"worker":N` (the pretty format ` worker=N`), and every write to the
 * shared stdout carries whole lines of at most PIPE_BUF bytes, so that the workers' lines never interleave.
 */
function workerLogStream(slot: number, format: 'json' | 'pretty'): Writable {
  const PIPE_BUF = 4096;
  const tag = (line: string) => (format === 'json' && line.startsWith('{') ? `{"worker":${slot},${line.slice(1)}` : `${line} worker=${slot}`);
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      const lines = String(chunk).split('\n').filter((l) => l.length > 0).map(tag);
      let batch = '';
      for (const line of lines) {
        if (batch.length > 0 && Buffer.byteLength(batch) + Buffer.byteLength(line) + 1 > PIPE_BUF) {
          process.stdout.write(batch);
          batch = '';
        }
        batch += `${line}\n`;
      }
      if (batch.length > 0) process.stdout.write(batch);
      cb();
    },
  });
}

/** The worker side: waits for its configuration from the primary, serves until told to stop or the primary is gone. */
export function runWorker(env: Readonly<Record<string, string | undefined>>): void {
  let instance: Drawbridge | undefined;
  let store: ClusterStore | undefined;
  let logger: Logger | undefined;
  const prepared = new Map<number, PreparedReload>();
  // The primary's session-ticket key (tls): the latest one given, applied to the listener once it exists.
  let ticketKey: Buffer | undefined;
  // tls.acme hand-overs that arrived while the listener was being made: applied (and confirmed) once it exists.
  const acmeQueue: { seq: number; update: AcmeUpdate }[] = [];
  const applyAcme = (seq: number, update: AcmeUpdate) => {
    const edge = instance && acmeEdgeOf(instance.server);
    if (!edge) return answer(seq, false, { errors: ['no ACME listener'] });
    try {
      applyAcmeUpdate(edge, update);
      answer(seq, true);
    } catch (e) {
      answer(seq, false, { errors: [(e as Error).message] });
    }
  };
  const send = (m: FromWorker) => {
    if (process.connected) process.send!(m);
  };
  const answer = (seq: number, ok: boolean, extra: { value?: unknown; errors?: string[] } = {}) => send({ drb: 'answer', seq, ok, ...extra });
  // The primary decides when a worker stops and reloads (a terminal's Ctrl-C or hang-up reaches every process of
  // the group; SIGHUP would end a process that does not handle it).
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('SIGHUP', () => {});
  process.on('disconnect', () => {
    // The primary is gone: nothing cached can be trusted, no reload or invalidation can arrive. Stop at once.
    store?.disconnected();
    void (instance?.close() ?? Promise.resolve()).finally(() => process.exit(1));
  });
  process.on('message', (m: ToWorker) => {
    if (isStoreMessage(m)) {
      if (store) return store.receive(m);
      // Nothing cached yet (starting, or the Redis store): an invalidation is confirmed at once.
      if (m.drb === 'store-invalidate') send({ drb: 'store-invalidated', seq: m.seq });
      return;
    }
    switch (m.drb) {
      case 'start':
        return void start(m).catch((e: Error) => {
          send({ drb: 'start-failed', error: e.message });
          process.exitCode = 1;
          process.disconnect();
        });
      case 'prepare': {
        if (!instance) return answer(m.seq, false, { errors: ['not started'] });
        const p = instance.prepareReload(m.config, m.assertionKeys);
        if (!p.ok) return answer(m.seq, false, { errors: p.errors });
        prepared.set(m.seq, p);
        return answer(m.seq, true);
      }
      case 'commit': {
        const p = prepared.get(m.seq);
        prepared.delete(m.seq);
        if (!p?.ok) return answer(m.seq, false, { errors: ['nothing prepared'] });
        try {
          p.commit();
          return answer(m.seq, true);
        } catch (e) {
          return answer(m.seq, false, { errors: [(e as Error).message] });
        }
      }
      case 'abort': {
        const p = prepared.get(m.seq);
        prepared.delete(m.seq);
        if (p?.ok) p.abort();
        return;
      }
      case 'acme':
        if (!instance) return void acmeQueue.push({ seq: m.seq, update: m.update });
        return applyAcme(m.seq, m.update);
      case 'ticket-key':
        ticketKey = Buffer.from(m.key);
        if (instance) contextsOf(instance.server)?.useTicketKey(ticketKey);
        return answer(m.seq, true);
      case 'metrics':
        if (!instance) return answer(m.seq, false, { errors: ['not started'] });
        return void instance.metrics.registry.getMetricsAsJSON().then(
          (value) => answer(m.seq, true, { value }),
          (e: Error) => answer(m.seq, false, { errors: [e.message] }),
        );
      case 'ready':
        if (!instance) return answer(m.seq, false, { errors: ['not started'] });
        return void instance.ready().then((value) => answer(m.seq, true, { value }));
      case 'sweep':
        return void instance?.websockets.sweep('revoked');
      case 'shutdown':
        return void (instance?.close({ drainMs: m.drainMs, ...(m.signal ? { signal: m.signal } : {}) }) ?? Promise.resolve()).finally(() => {
          // The last lines (shutdown) leave the log's batch on the next turn: exit after it.
          setImmediate(() => setImmediate(() => process.exit(0)));
        });
      default:
        return;
    }
  });

  async function start(m: Extract<ToWorker, { drb: 'start' }>): Promise<void> {
    const config = m.config;
    logger = createLogger({ level: config.log.level, format: config.log.format, stream: workerLogStream(m.slot, config.log.format), batch: true });
    if (config.session.store.type === 'memory') {
      store = new ClusterStore({
        send: (msg) => {
          if (!process.connected) return false;
          process.send!(msg);
          return true;
        },
      });
    }
    // The start message carries the key in force when it was sent; a rotation after it arrives as a message.
    if (m.ticketKey) ticketKey = Buffer.from(m.ticketKey);
    instance = await startDrawbridge({ config, configFile: m.configFile, env, logger, adminListen: false, ...(store ? { store } : {}), assertionKeys: m.assertionKeys, ...(ticketKey ? { ticketKey } : {}), ...(m.acme ? { acmeFromPrimary: { updates: m.acme } } : {}) });
    for (const q of acmeQueue.splice(0)) applyAcme(q.seq, q.update);
    // Again once listening: node's cluster gives a listener the ticket key of the first worker that listened on that
    // address (lib/_tls_wrap.js _setServerData), stale after a rotation; and a rotation may have come while it started.
    if (ticketKey) contextsOf(instance.server)?.useTicketKey(ticketKey);
    const ws = instance.websockets;
    // Sessions another worker ended (sign-out, back-channel logout, revoke): their WebSockets here close now.
    if (store) store.onSessionsEnded = (ids) => (ids === null ? void ws.sweep('revoked') : ids.forEach((id) => ws.endSession(id)));
    send({ drb: 'started', port: instance.port, url: instance.url });
  }

  send({ drb: 'hello' });
}
