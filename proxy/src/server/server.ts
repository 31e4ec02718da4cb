// server/server.ts — wires Drawbridge together: listeners (proxy and admin), the session store,
// the IdP client, the assertion signer and the forwarder; reload swaps the configuration atomically.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { sha256Hex } from '../digest.js';
import { formatIssue } from '../config/issue.js';
import { loadConfigIsolated } from './config-isolate.js';
import type { Config } from '../schema/config.js';
import { DrawbridgeError, wrap } from '../errors.js';
import { hstsValue } from './hsts.js';
import { AssertionSigner, type SignerKeys } from '../forward/assertion.js';
import { readAssertionKeys, reloadableAssertion, type AssertionKeyMaterial } from './assertion-keys.js';
import { Forwarder } from '../forward/forwarder.js';
import { compileStripper } from '../forward/strip.js';
import { OidcClient } from '../oidc/client.js';
import { IdentitySource } from '../oidc/identity.js';
import { loadClientKey, type ClientKey } from '../oidc/client-auth.js';
import { createPagesApp } from '../signin/router.js';
import { PATHS } from '../pages/paths.js';
import { parseCidr, type Cidr } from '../policy/cidr.js';
import { parseDuration } from '../policy/duration.js';
import { compileConfig } from '../routes/compile.js';
import { deriveKeys } from '../session/keys.js';
import { MemoryStore } from '../session/memory-store.js';
import { Sessions } from '../session/sessions.js';
import type { SessionStore } from '../session/store.js';
import { isOwnCookie } from '../session/cookie.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { createPipeline } from './pipeline.js';
import { provisionSnapshot, releaseSnapshot } from './provision.js';
import type { Runtime, Snapshot } from '../runtime/runtime.js';
import { drawbridgeVersion } from '../version.js';
import { CertificateError } from '../tls/certificate.js';
import { EXPIRY_WARNING_MS } from '../tls/check.js';
import { bindContexts, contextsOf, TlsContexts } from '../tls/contexts.js';
import { registerTlsMetrics } from '../tls/metrics.js';
import { acmeHosts } from '../config/acme-hosts.js';
import type { AcmeManager } from '../tls/acme.js';
import { acmeEdgeOf, acmeListenerOptions, attachAcmeEdge, createAcmeEdge } from '../tls/acme-listener.js';
import type { CertificateStorage } from '../tls/acme-storage.js';
import type { RedisCertificateStorage } from '../tls/acme-redis-storage.js';
import { applyAcmeUpdate, type AcmeUpdate } from '../tls/acme-hand-over.js';
import { createHttpChallengeServer, httpChallengeHandler } from '../tls/http-challenge.js';
import { WebSockets } from '../runtime/websockets.js';
import { loadDeviceSettings } from '../runtime/device.js';
import { H2_PROTOCOLS, http2Edge, http2ServerOptions, http2Settings } from './h2.js';
import { createAccessRuntime, type AccessRuntime } from './access.js';

export interface StartOptions {
  /** The validated configuration. */
  config: Config;
  /** The file it came from (reload reads it again). */
  configFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Where log lines go (default stdout). */
  logStream?: Writable;
  /** Coalesce the lines of one event-loop turn into one write (default: true for stdout, false for a given logStream). */
  logBatch?: boolean;
  logger?: Logger;
  /** A listener created by `createListener` and already listening (tests use port 0); default: listen on config.listen. */
  server?: http.Server | https.Server;
  /** Admin listener address override ("127.0.0.1:0" in tests); `false` for none. */
  adminListen?: string | false;
  /** The clock (ms since epoch); tests move it. */
  now?: () => number;
  /** Time between two sweeps of the open WebSockets (default 30 s, runtime/websockets.ts); tests set a short one. */
  websocketSweepMs?: number;
  /** Time between two sweeps of expired access grants (default 5 s, server/access.ts); tests drive `access.sweep()`. */
  accessSweepMs?: number;
  /** How often the IdP is probed for /readyz (default 30 s); tests shorten it. */
  idpProbeIntervalMs?: number;
  /** tls.acme: the port-80 listener, already listening (tests use port 0); default: listen on tls.acme.httpListen. */
  acmeHttpServer?: http.Server;
  /** tls.acme: timer and polling settings of the certificate manager (tests drive check() on the injected clock). */
  acme?: Pick<import('../tls/acme.js').AcmeManagerOptions, 'schedule' | 'poll' | 'retry'>;
  /** The session store to use instead of the configured one (a worker's, server/cluster.ts). */
  store?: SessionStore;
  /**
   * The assertion's key material, read by the primary (a worker's: the same in every worker, server/cluster.ts);
   * default: read from the files `assertion` names (a key generated when there is no keyFile).
   */
  assertionKeys?: AssertionKeyMaterial;
  /** With `tls`: the session-ticket key to start with, rotated from outside (a worker's: the primary's, server/cluster.ts). */
  ticketKey?: Buffer;
  /**
   * tls.acme ordered by another process (a worker's: the primary's, server/cluster-acme.ts): no certificate manager
   * here; `updates` (the certificates and challenge answers in force) are installed before the listener listens, and
   * later ones through `acmeEdgeOf(server)`.
   */
  acmeFromPrimary?: { updates: readonly AcmeUpdate[] };
}

/** A reload checked and built but not in force yet (`Drawbridge.prepareReload`): commit it, or abort it. */
export type PreparedReload = { ok: true; commit(): void; abort(): void } | { ok: false; errors: string[] };

export interface Drawbridge {
  readonly server: http.Server | https.Server;
  readonly adminServer?: http.Server;
  /** http(s)://127.0.0.1:PORT of the proxy listener. */
  readonly url: string;
  readonly port: number;
  readonly adminUrl?: string;
  readonly runtime: Runtime;
  readonly metrics: Metrics;
  readonly store: SessionStore;
  /** The open WebSockets; `websockets.sweep()` re-admits them now (tests drive it instead of waiting for the timer). */
  readonly websockets: WebSockets;
  /** Access requests and grants (access/); `access.sweep()` ends the expired grants now. */
  readonly access: AccessRuntime;
  /** The files whose change should reload, like the configuration's: TLS (listener certificates, upstream certificates and CAs) and the assertion's keys. */
  watchedFiles(): string[];
  /** tls.acme: the certificate manager (`check()` orders what is due now) and the port-80 listener. */
  readonly acme?: AcmeManager;
  readonly acmeHttpServer?: http.Server;
  /** Reads the configuration file again; the running configuration stays when the new one is invalid. */
  reload(): Promise<{ ok: true } | { ok: false; errors: string[] }>;
  /**
   * Builds the snapshot of a validated configuration without putting it in force (the first phase of a reload of
   * every worker, server/cluster.ts); nothing is counted or logged. `commit()` swaps it in, `abort()` releases it.
   */
  prepareReload(config: Config, assertionKeys?: AssertionKeyMaterial): PreparedReload;
  /** Whether the instance is ready: configuration loaded, IdP discovered and answering its probe, store reachable. */
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean>; idp?: { error: string; hint: string; url?: string; status?: number } }>;
  /**
   * Stops. With `drainMs`, stops accepting connections and lets the requests in flight finish for up to that long
   * first (a graceful shutdown); with `signal`, logs `event: shutdown` with what was drained.
   */
  close(options?: { drainMs?: number; signal?: string }): Promise<void>;
}

/**
 * Creates the proxy listener with the configured limits (header size, timeouts) and, with `tls`, its certificates
 * and TLS policy (tls/contexts.ts; `contextsOf(server)` finds them). A bad certificate or key throws a
 * DrawbridgeError naming the configuration key and the file.
 */
export function createListener(config: Config, listenerOptions: { now?: () => number; ticketKey?: Buffer } = {}): http.Server | https.Server {
  const options = {
    maxHeaderSize: config.limits.maxHeaderSize,
    requestTimeout: parseDuration(config.limits.requestTimeout),
    headersTimeout: parseDuration(config.limits.headersTimeout),
    keepAliveTimeout: parseDuration(config.limits.keepAliveTimeout),
    // The pipeline refuses a missing Host itself (400, connection closed, pipelined requests dropped); node's own
    // check answers 400 but still hands the requests pipelined behind it to the pipeline.
    requireHostHeader: false,
  };
  // Node enforces headersTimeout and requestTimeout only when it sweeps its connections, every 30 s by default: a
  // slowloris trickling one byte a second would be held that long whatever the limits say.
  const sweep = Math.max(100, Math.min(1000, Math.floor(Math.min(options.headersTimeout, options.requestTimeout || Infinity) / 2)));
  let contexts: TlsContexts | undefined;
  if (config.tls) {
    try {
      contexts = new TlsContexts(config.tls, { ...(listenerOptions.now ? { now: listenerOptions.now } : {}), ...(listenerOptions.ticketKey ? { ticketKey: listenerOptions.ticketKey } : {}) });
    } catch (e) {
      throw e instanceof CertificateError ? new DrawbridgeError('DRB_CONFIG_READ', e.message, { cause: e }) : e;
    }
  }
  // tls.acme: TLS-ALPN-01 answered in front of the store's SNI selection; obtained certificates go into the store.
  const acmeEdge = contexts && config.tls?.acme ? createAcmeEdge(contexts) : undefined;
  let server: http.Server | https.Server;
  const h2 = http2Settings(config);
  if (contexts && h2) {
    // tls.http2: one listener for both (node's http2 compatibility API; HTTP/1.1 connections take node's HTTP/1.1
    // path with the limits below), server/h2.ts. ALPNCallback and ALPNProtocols cannot both be set: with ACME the
    // callback chooses h2/http/1.1 as well as acme-tls/1.
    const tlsOptions = contexts.serverOptions();
    const alpn = acmeEdge ? acmeListenerOptions(acmeEdge, tlsOptions.SNICallback, H2_PROTOCOLS) : { ALPNProtocols: [...H2_PROTOCOLS] };
    const secure = http2.createSecureServer({ ...tlsOptions, ...alpn, ...http2ServerOptions(h2, options.maxHeaderSize) });
    // Read by node's HTTP/1.1 connection listener from the server (createSecureServer takes none of them).
    Object.assign(secure, { maxHeaderSize: options.maxHeaderSize, requireHostHeader: false, connectionsCheckingInterval: sweep });
    bindContexts(secure as unknown as https.Server, contexts);
    if (acmeEdge) attachAcmeEdge(secure as unknown as https.Server, acmeEdge);
    H2_LISTENERS.add(secure);
    server = secure as unknown as https.Server;
  } else if (contexts) {
    const tlsOptions = contexts.serverOptions();
    // tls.http2: false — ALPN offers http/1.1 alone: a client that speaks only h2 is refused in the handshake.
    const secure = https.createServer({ ...options, connectionsCheckingInterval: sweep, ...tlsOptions, ...(acmeEdge ? acmeListenerOptions(acmeEdge, tlsOptions.SNICallback) : { ALPNProtocols: ['http/1.1'] }) });
    bindContexts(secure, contexts);
    if (acmeEdge) attachAcmeEdge(secure, acmeEdge);
    server = secure;
  } else {
    server = http.createServer({ ...options, connectionsCheckingInterval: sweep });
  }
  server.keepAliveTimeout = options.keepAliveTimeout;
  server.headersTimeout = options.headersTimeout;
  server.requestTimeout = options.requestTimeout;
  // Slowloris on idle sockets: a connection that sends nothing at all is closed too.
  server.timeout = Math.max(options.requestTimeout, options.headersTimeout) + 1000;
  return server;
}

/** Listeners made by createListener that speak HTTP/2 as well (http2.createSecureServer with allowHTTP1). */
const H2_LISTENERS = new WeakSet<object>();

/** Whether `server` is a listener made by createListener that offers HTTP/2 (tls.http2). */
export function offersHttp2(server: object): boolean {
  return H2_LISTENERS.has(server);
}

/**
 * Closes every connection of a listener now: node's closeAllConnections for HTTP/1.1, and each open HTTP/2 session
 * (which node's http2 server does not track) destroyed.
 */
function closeAllConnections(server: http.Server | https.Server, sessions: ReadonlySet<http2.ServerHttp2Session>): void {
  if (H2_LISTENERS.has(server)) {
    http.Server.prototype.closeAllConnections.call(server);
    for (const session of sessions) session.destroy();
  } else server.closeAllConnections?.();
}

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(listen.slice(i + 1)) };
}

/** Listens on `listen` ("host:port"); a failure (address in use, no permission) names the listener, the address and the cause. */
async function bind(server: http.Server | https.Server, listen: string, what: string): Promise<void> {
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const cause = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EACCES' ? 'permission denied (a port below 1024 needs privileges)' : err.message;
      reject(new DrawbridgeError('DRB_LISTEN_FAILED', `the ${what} cannot listen on ${listen} (${host}:${port}): ${cause}${err.code ? ` [${err.code}]` : ''}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise<void>((r) => (server.listening ? server.close(() => r()) : r()));
}

function makeSnapshot(config: Config): Omit<Snapshot, 'routes'> {
  const compiled = compileConfig(config);
  const trusted = config.trustedProxies.map((t) => {
    const parsed = parseCidr(t);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.cidr;
  }) as Cidr[];
  // The device CA and CRL files are read here: a bad one refuses the start or the reload.
  const device = loadDeviceSettings(config);
  const stripped = device?.header ? [...compiled.identityHeaderNames, device.header.header] : compiled.identityHeaderNames;
  return Object.freeze({ compiled, stripper: compileStripper(stripped), trusted, hsts: hstsValue(config.tls), device });
}

/** Sections a reload cannot change without a restart (listeners, IdP, store, session keys); `tls` files, policy and the assertion's key files reload, adding or removing `tls` does not. */
const RESTART_ONLY = ['listen', 'publicUrl', 'admin', 'idp', 'session', 'limits', 'accessRequests'] as const;

/**
 * What a reload of `running` to `loaded` puts in force: `loaded` with the sections that need a restart kept as they
 * run (`kept` names those that changed).
 */
export function reloadable(running: Config, loaded: Config): { next: Config; kept: string[] } {
  const next = { ...loaded };
  const kept: string[] = [];
  for (const key of [...RESTART_ONLY, 'workers'] as const) {
    if (JSON.stringify(next[key]) !== JSON.stringify(running[key])) kept.push(key);
    (next as Record<string, unknown>)[key] = running[key];
  }
  // `assertion`: its key files reload (a rotation), its header and ttl wait for a restart.
  const assertion = reloadableAssertion(running.assertion, loaded.assertion);
  next.assertion = assertion.next;
  kept.push(...assertion.kept);
  // The listener speaks TLS or not from its start: `tls` added or removed waits for a restart, its files and
  // policy apply now.
  if ((next.tls === undefined) !== (running.tls === undefined)) {
    kept.push('tls');
    next.tls = running.tls;
  } else if (next.tls && running.tls && JSON.stringify(next.tls.http2) !== JSON.stringify(running.tls.http2)) {
    // The listener was made with or without HTTP/2.
    kept.push('tls.http2');
    next.tls = { ...next.tls, http2: running.tls.http2 };
  }
  return { next, kept };
}

/** While Redis stays unreachable its client reports every reconnect attempt: one log line per this many ms. */
const STORE_ERROR_LOG_EVERY_MS = 10_000;

/**
 * The configured session store. The Redis store's code (session/redis-store.ts) is loaded here, when one is configured
 * (at start, never on a request): a Drawbridge with the memory store does not hold it (docs/deploy.md, "Memory").
 */
async function makeStore(config: Config, keys: ReturnType<typeof deriveKeys>, now: () => number, logger: Logger): Promise<SessionStore> {
  const s = config.session.store;
  if (s.type !== 'redis') return new MemoryStore({ maxSessions: s.maxSessions, now });
  let lastLogged = -Infinity;
  let suppressed = 0;
  const onError = (err: Error) => {
    const t = now();
    if (t - lastLogged < STORE_ERROR_LOG_EVERY_MS) {
      suppressed++;
      return;
    }
    logger.warn({ event: 'session-store-connection', error: err.message, ...(suppressed > 0 ? { suppressed } : {}) });
    lastLogged = t;
    suppressed = 0;
  };
  const { RedisStore, redisTopology } = await import('../session/redis-store.js');
  return new RedisStore({ ...redisTopology(s), keys, now, onError });
}

/** Starts Drawbridge. Network work (discovery, Redis) starts here; `close()` is safe to call twice. */
export async function startDrawbridge(options: StartOptions): Promise<Drawbridge> {
  const config = options.config;
  const logger =
    options.logger ??
    createLogger({ level: config.log.level, format: config.log.format, ...(options.logStream ? { stream: options.logStream } : {}), batch: options.logBatch ?? options.logStream === undefined });
  const metrics = createMetrics();
  const compiled = makeSnapshot(config);
  const keys = deriveKeys(config.session.secret);
  const store = options.store ?? (await makeStore(config, keys, options.now ?? Date.now, logger));
  const sessions = new Sessions(store, keys, { cookieBase: config.session.cookieName, idleTimeoutMs: parseDuration(config.session.idleTimeout), maxLifetimeMs: parseDuration(config.session.maxLifetime) });
  const publicOrigin = compiled.compiled.publicOrigin;
  let clientKey: ClientKey | undefined;
  if (config.idp.privateKeyFile) {
    try {
      clientKey = await loadClientKey(readFileSync(config.idp.privateKeyFile, 'utf8'));
    } catch (e) {
      throw wrap(`reading idp.privateKeyFile ${config.idp.privateKeyFile}`, e, 'DRB_CONFIG_READ');
    }
  }
  const oidc = new OidcClient(config.idp, `${publicOrigin}${PATHS.callback}`, logger, {
    now: options.now ?? Date.now,
    ...(clientKey ? { clientKey } : {}),
    ...(options.idpProbeIntervalMs !== undefined ? { probeIntervalMs: options.idpProbeIntervalMs } : {}),
  });
  const assertionKeys = options.assertionKeys ?? readAssertionKeys(config.assertion);
  const signer = await AssertionSigner.create({
    ...(assertionKeys.privateKeyPem !== undefined ? { privateKeyPem: assertionKeys.privateKeyPem } : {}),
    previousPublicKeysPem: assertionKeys.previousPublicKeysPem,
    issuer: publicOrigin,
    ttlMs: parseDuration(config.assertion.ttl),
  });
  if (signer.generated) {
    logger.warn({ event: 'assertion-key', message: 'no assertion.keyFile: generated a signing key for this process only; with several replicas, set assertion.keyFile' });
  }
  const cookieBase = config.session.cookieName;
  const forwarder = new Forwarder({ reservedCookie: (name) => isOwnCookie(cookieBase, name), onError: (err, req, problem) => logger.warn({ event: 'upstream-error', error: err.message, errorCode: problem.code, cause: problem.cause ?? '', requestId: String(req.headers['x-request-id'] ?? '') }) });

  // Upstream pools (and their TLS files) and header plans (and Basic password files) are made now: a missing file
  // fails the start, not a request.
  let snapshot = provisionSnapshot(compiled, { forwarder, metrics });
  const now = options.now ?? Date.now;
  const access = createAccessRuntime({ config, store, logger, metrics, now, sweepWebSockets: () => void websockets.sweep(), sweepMs: options.accessSweepMs });
  const grants = access.records;
  const websockets = new WebSockets({ snapshot: () => snapshot, sessions, now, logger, metrics, grants, ...(options.websocketSweepMs !== undefined ? { intervalMs: options.websocketSweepMs } : {}) });
  const identities = new IdentitySource(oidc, logger);
  const runtime: Runtime = { snapshot: () => snapshot, logger, metrics, sessions, oidc, identities, signer, forwarder, websockets, now, access: access.records };
  metrics.sessionsFrom(() => store.count());

  try {
    await store.start();
  } catch (e) {
    // Fail closed but stay up: requests needing a session get 503 until the store answers.
    logger.error({ event: 'session-store', error: wrap('connecting the session store', e).message });
  }
  const pipeline = createPipeline(runtime, createPagesApp(runtime));
  const server = options.server ?? createListener(config, { now, ...(options.ticketKey ? { ticketKey: options.ticketKey } : {}) });
  const tls = contextsOf(server);
  tls?.start();
  tls?.reportOcspTo((e) => logger.warn({ event: 'tls-ocsp', result: 'failure', ...e, message: 'no OCSP response to staple: clients that ask for one get none' }));
  registerTlsMetrics(metrics.registry, { certificates: () => tls?.certificates() ?? [], insecureRoutes: () => insecureRoutes(snapshot) });
  // tls.http2: HTTP/2 requests reshaped to HTTP/1.1's (server/h2.ts); the open sessions, for close().
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  let handle = pipeline.handle;
  if (offersHttp2(server)) {
    server.on('session', (session: http2.ServerHttp2Session) => {
      h2Sessions.add(session);
      session.once('close', () => h2Sessions.delete(session));
    });
    handle = http2Edge(pipeline.handle, {
      maxHeaderSize: config.limits.maxHeaderSize,
      requestTimeoutMs: parseDuration(config.limits.requestTimeout),
      tooLarge(req, res) {
        logger.warn({ event: 'client-error', status: 431, errorCode: 'DRB_HEADERS_TOO_LARGE', cause: 'h2-header-list', error: 'HTTP/2 header list larger than limits.maxHeaderSize', ip: req.socket.remoteAddress ?? '' });
        const hsts = snapshot.hsts;
        res.writeHead(431, { 'content-length': '0', ...(hsts !== undefined ? { 'strict-transport-security': hsts } : {}) }).end();
      },
    });
  }
  // Requests in flight, for a graceful shutdown: it waits for them and says how many it waited for.
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  // One listener for every response (`on`: close is emitted once; once() would wrap it anew per request).
  const untrack = () => {
    inFlight--;
    if (!onIdle) return;
    // A keep-alive connection whose request just ended is idle now: closed, so that server.close() can finish.
    setImmediate(() => server.closeIdleConnections?.());
    if (inFlight === 0) onIdle();
  };
  // The pipeline, then the count: one request listener (node copies its listener list on each emit when there are more).
  const serve = handle;
  const tracked = (req: http.IncomingMessage, res: http.ServerResponse) => {
    serve(req, res);
    inFlight++;
    res.on('close', untrack);
  };
  server.on('request', tracked);
  // With this listener node no longer answers `Expect: 100-continue` by itself: the pipeline sends the 100 only
  // to requests it lets through, so a refused client is answered before it uploads its body.
  server.on('checkContinue', tracked);
  server.on('upgrade', pipeline.upgrade);
  websockets.start();
  access.start();
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    const errorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'DRB_HEADERS_TOO_LARGE' : 'DRB_BAD_REQUEST';
    // Refused before there was a request to log (framing, syntax, size, a slow client): the attempt is still visible.
    logger.warn({ event: 'client-error', status: Number(status.slice(0, 3)), errorCode, cause: err.code ?? '', error: err.message, ip: (socket as Socket).remoteAddress ?? '' });
    // A response already started on this connection (the error came in a body, or in a request pipelined behind
    // one just answered): a status line written now would read as a second response and desync the client. Close.
    if ((socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage?.headersSent) return void socket.end();
    // On the TLS listener this answer is over HTTPS too (trusted proxies' X-Forwarded-Proto is not read from a request that failed to parse).
    const hsts = config.tls && snapshot.hsts !== undefined ? `strict-transport-security: ${snapshot.hsts}\r\n` : '';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n${hsts}\r\n`);
  });
  let adminServer: http.Server | undefined;
  const adminListen = options.adminListen ?? config.admin.listen;
  // tls.acme: the challenge responder and certificate store of the listener (tls/acme-listener.ts),
  // the port-80 listener (HTTP-01 and redirects) and the manager that fills the store.
  const acmeConfig = config.tls?.acme;
  const acmeEdge = acmeConfig ? acmeEdgeOf(server) : undefined;
  if (acmeConfig && !acmeEdge) throw new DrawbridgeError('DRB_INTERNAL', 'tls.acme needs a listener made by createListener(config)');
  let acmeHttpServer: http.Server | undefined = options.acmeHttpServer;
  // With the Redis session store, replicas share the ACME account, certificates and pending HTTP-01 answers there.
  const sessionStore = config.session.store;
  // The ACME code (tls/acme.ts and its storages) is loaded here, only when tls.acme is configured (at start, never on
  // a request), as the Redis store's is: a Drawbridge without it does not hold it (docs/deploy.md, "Memory").
  const acme = acmeConfig ? await import('../tls/acme.js') : undefined;
  let redisAcmeStorage: RedisCertificateStorage | undefined;
  let acmeStorage: CertificateStorage | undefined;
  if (acmeConfig && sessionStore.type === 'redis') {
    const [{ RedisStore }, { RedisCertificateStorage }] = await Promise.all([import('../session/redis-store.js'), import('../tls/acme-redis-storage.js')]);
    acmeStorage = redisAcmeStorage = new RedisCertificateStorage({ ...(sessionStore.url !== undefined || !(store instanceof RedisStore) ? { url: sessionStore.url } : { commands: store.acmeCommands() }), prefix: sessionStore.prefix, directoryUrl: acmeConfig.directory, secret: config.session.secret, onError: (err) => logger.warn({ event: 'acme', result: 'failure', step: 'storage', error: err.message }) });
  } else if (acmeConfig) {
    const { DirectoryStorage } = await import('../tls/acme-storage.js');
    acmeStorage = new DirectoryStorage(acmeConfig.storage, acmeConfig.directory);
  }
  if (acmeConfig && acmeEdge && acmeStorage) {
    const lookup = acmeStorage.loadChallenge?.bind(acmeStorage);
    const handler = httpChallengeHandler({ challenges: acmeEdge.challenges, httpsPort: Number(new URL(config.publicUrl).port || 443), serves: (hostname) => servesHost(snapshot, hostname), ...(lookup ? { lookup } : {}) });
    if (acmeHttpServer) acmeHttpServer.on('request', handler);
    else if (acmeConfig.httpListen !== false) acmeHttpServer = createHttpChallengeServer(handler);
  }
  if (acmeEdge && options.acmeFromPrimary) for (const update of options.acmeFromPrimary.updates) applyAcmeUpdate(acmeEdge, update);
  let acmeCaPem: string | undefined;
  if (acmeConfig?.caFile) {
    try {
      acmeCaPem = readFileSync(acmeConfig.caFile, 'utf8');
    } catch (e) {
      throw wrap(`reading tls.acme.caFile ${acmeConfig.caFile}`, e, 'DRB_CONFIG_READ');
    }
  }
  // Every listener binds or nothing runs: a process serving the proxy with no /healthz (or the reverse) is worse
  // than one that exits and is restarted where someone sees why.
  try {
    if (!options.server) await bind(server, config.listen, 'proxy listener');
    if (adminListen !== false) {
      adminServer = http.createServer((req, res) => adminHandle(req, res));
      await bind(adminServer, adminListen, 'admin listener');
    }
    if (acmeHttpServer && !options.acmeHttpServer && acmeConfig && acmeConfig.httpListen !== false) await bind(acmeHttpServer, acmeConfig.httpListen, 'ACME HTTP listener');
  } catch (e) {
    logger.error({ event: 'listen', result: 'failure', error: (e as Error).message });
    websockets.close();
    await access.close();
    closeAllConnections(server, h2Sessions);
    await Promise.all([closeServer(server), adminServer ? closeServer(adminServer) : undefined, acmeHttpServer ? closeServer(acmeHttpServer) : undefined]);
    forwarder.close();
    await store.close().catch(() => {});
    logger.close();
    throw e;
  }
  void oidc.start();
  let acmeManager: AcmeManager | undefined;
  if (acmeConfig && acmeEdge && acmeStorage) {
    // Started with the primary's manager too: pending HTTP-01 answers of other replicas are read from it.
    if (redisAcmeStorage) {
      await redisAcmeStorage.start().catch((e: Error) => logger.error({ event: 'acme', result: 'failure', step: 'storage', error: `connecting to Redis for ACME storage: ${e.message}` }));
    }
  }
  if (acmeConfig && acmeEdge && acmeStorage && acme && !options.acmeFromPrimary) {
    acmeManager = new acme.AcmeManager({
      hosts: acmeHosts(config).hosts,
      email: acmeConfig.email,
      directoryUrl: acmeConfig.directory,
      ...(acmeCaPem !== undefined ? { caPem: acmeCaPem } : {}),
      challengeTypes: acmeHttpServer ? acmeConfig.challenges : acmeConfig.challenges.filter((c) => c !== 'http-01'),
      storage: acmeStorage,
      // Into the listener's certificate store (tls/contexts.ts): by name, for new connections at once.
      sink: acmeEdge.certificates,
      challenges: acmeEdge.challenges,
      logger,
      registry: metrics.registry,
      now,
      ...options.acme,
    });
    await acmeManager.start();
  }
  const address = server.address() as AddressInfo;
  const scheme = config.tls ? 'https' : 'http';

  async function ready() {
    // The IdP: discovered, and answering the periodic probe (oidc.health(): its latest probe, at most a few intervals old).
    const idp = oidc.health();
    const checks = { config: true, idp: idp.ready, store: await store.ping().then(() => true, () => false) };
    const problem = idp.problem && { error: idp.problem.error, hint: idp.problem.hint, ...(idp.problem.url ? { url: idp.problem.url } : {}), ...(idp.problem.status !== undefined ? { status: idp.problem.status } : {}) };
    return { ready: checks.config && checks.idp && checks.store, checks, ...(problem ? { idp: problem } : {}) };
  }

  /** GET /sessions?user=U and POST /sessions/revoke?user=U|all=1 — what `drawbridge sessions` uses for a memory store. */
  function adminSessions(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    const q = new URL(req.url ?? '/', 'http://admin').searchParams;
    const filter = q.get('user') ? { user: q.get('user')! } : {};
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    if (path === '/sessions') {
      store.list(filter).then((list) => json(200, list.map(sessionSummary)), (e: Error) => json(503, { error: e.message }));
      return;
    }
    // A custom header cannot be sent cross-origin without a CORS preflight (which is never answered): a web page
    // open in a browser on this host cannot revoke sessions through the admin listener.
    if (req.headers['x-drawbridge-admin'] !== 'revoke') return void json(403, { error: 'revoke needs the header x-drawbridge-admin: revoke' });
    if (!q.get('user') && q.get('all') !== '1') return void json(400, { error: 'revoke needs user=U or all=1' });
    store.deleteWhere(filter).then(
      (n) => {
        logger.info({ event: 'sessions-revoke', result: 'success', user: q.get('user') ?? '', all: q.get('all') === '1', revoked: n });
        json(200, { revoked: n });
        void websockets.sweep('revoked');
      },
      (e: Error) => json(503, { error: e.message }),
    );
  }

  function adminHandle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== undefined && access.admin(req, res, path)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD' && !(req.method === 'POST' && path === '/sessions/revoke')) return void res.writeHead(405).end();
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (path === '/readyz') {
      // `?idp=optional`: ready to serve the sessions it has (configuration and store), whatever the IdP does — for a
      // load balancer's readiness, so that an IdP outage does not take every replica out of service (existing
      // sessions keep working, new sign-ins get the 503 page). Plain /readyz includes the IdP (alerting).
      const idpOptional = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('idp') === 'optional';
      return void ready().then((r) => {
        const ok = idpOptional ? r.checks.config && r.checks.store : r.ready;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ ...r, ready: ok }));
      });
    }
    if (path === '/sessions' || path === '/sessions/revoke') return void adminSessions(req, res, path);
    if (path === '/metrics') {
      return void metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    }
    res.writeHead(404).end();
  }
  const adminAddress = adminServer?.address() as AddressInfo | undefined;
  logInsecureUpstreams(logger, snapshot);
  if (tls) logCertificates(logger, tls, now());
  logger.info({ event: 'start', version: drawbridgeVersion(), listen: `${scheme}://${address.address}:${address.port}`, admin: adminAddress ? `http://${adminAddress.address}:${adminAddress.port}` : 'off', idp: config.idp.issuer, routes: config.routes.length, store: store.kind });

  /** Builds `next`'s snapshot; `commit()` puts it (and its TLS files) in force. Throws nothing: errors are returned. */
  function prepare(next: Config, assertionKeys?: AssertionKeyMaterial): PreparedReload {
    let candidate: Snapshot;
    // A rotation of the assertion keys (keyFile or previousKeys changed, or their files): in force with the snapshot.
    let keys: SignerKeys | undefined;
    try {
      const material = assertionKeys ?? readAssertionKeys(next.assertion);
      keys = signer.keysFor(material.privateKeyPem, material.previousPublicKeysPem);
      candidate = provisionSnapshot(makeSnapshot(next), { forwarder, metrics });
    } catch (e) {
      return { ok: false, errors: [(e as Error).message] };
    }
    let settled = false;
    return {
      ok: true,
      commit() {
        if (settled) return;
        settled = true;
        // A bad certificate pair throws here, before anything is in force; the candidate is released.
        try {
          if (tls && next.tls) tls.reload(next.tls);
        } catch (e) {
          releaseSnapshot(candidate, snapshot);
          throw e;
        }
        if (keys) {
          signer.useKeys(keys);
          logger.info({ event: 'assertion-key', result: 'rotated', kid: keys.kid, published: keys.keySet.keys.map((k) => k.kid) });
        }
        const replaced = snapshot;
        snapshot = candidate;
        releaseSnapshot(replaced, candidate);
        logInsecureUpstreams(logger, snapshot);
        if (tls) logCertificates(logger, tls, now());
        // Open WebSockets meet the new routes and policies now, not at the next periodic sweep.
        void websockets.sweep();
      },
      abort() {
        if (settled) return;
        settled = true;
        releaseSnapshot(candidate, snapshot);
      },
    };
  }

  let closed = false;
  let reloadQueue: Promise<unknown> = Promise.resolve();
  return {
    server,
    ...(adminServer ? { adminServer, adminUrl: `http://127.0.0.1:${adminAddress!.port}` } : {}),
    url: `${scheme}://127.0.0.1:${address.port}`,
    port: address.port,
    runtime,
    metrics,
    store,
    websockets,
    access,
    ...(acmeManager ? { acme: acmeManager } : {}),
    ...(acmeHttpServer ? { acmeHttpServer } : {}),
    ready,
    reload() {
      // One at a time, in the order asked: validating waits for a worker thread, and a file read earlier must never
      // be committed after one read later.
      const run = reloadQueue.then(async (): Promise<{ ok: true } | { ok: false; errors: string[] }> => {
        if (!options.configFile) return { ok: false, errors: ['no configuration file to reload'] };
        const result = await loadConfigIsolated(options.configFile, options.env ?? process.env, now());
        if (!result.ok) {
          const errors = result.errors.map(formatIssue);
          metrics.reload('failure');
          logger.error({ event: 'reload', result: 'failure', errors, message: 'invalid configuration refused; the running configuration stays' });
          return { ok: false, errors };
        }
        const { next, kept } = reloadable(config, result.config);
        const prepared = prepare(next);
        if (!prepared.ok) {
          metrics.reload('failure');
          logger.error({ event: 'reload', result: 'failure', errors: prepared.errors });
          return prepared;
        }
        try {
          prepared.commit();
        } catch (e) {
          metrics.reload('failure');
          logger.error({ event: 'reload', result: 'failure', errors: [(e as Error).message] });
          return { ok: false, errors: [(e as Error).message] };
        }
        metrics.reload('success');
        logger.info({ event: 'reload', result: 'success', routes: next.routes.length, ...(kept.length ? { needsRestart: kept, message: `changes to ${kept.join(', ')} take effect after a restart` } : {}) });
        return { ok: true };
      });
      reloadQueue = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
    prepareReload(loaded: Config, assertionKeys?: AssertionKeyMaterial) {
      return prepare(reloadable(config, loaded).next, assertionKeys);
    },
    async close(closeOptions: { drainMs?: number; signal?: string } = {}) {
      if (closed) return;
      closed = true;
      const began = performance.now();
      const pending = inFlight;
      websockets.close();
      await access.close();
      oidc.close();
      tls?.close();
      acmeManager?.close();
      // No new connections from here; idle keep-alive connections are closed at once (node does it in close()).
      const stopped = Promise.all([closeServer(server), adminServer ? closeServer(adminServer) : undefined, acmeHttpServer ? closeServer(acmeHttpServer) : undefined]);
      // HTTP/2 clients are told (GOAWAY) to open no new streams; the ones in flight finish within the drain.
      for (const session of h2Sessions) session.close();
      const drainMs = closeOptions.drainMs ?? 0;
      if (drainMs > 0 && inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const abandoned = inFlight;
      closeAllConnections(server, h2Sessions);
      adminServer?.closeAllConnections();
      acmeHttpServer?.closeAllConnections();
      await stopped;
      forwarder.close();
      await store.close();
      if (redisAcmeStorage) await redisAcmeStorage.close();
      if (closeOptions.signal !== undefined) {
        logger.info({ event: 'shutdown', signal: closeOptions.signal, inFlight: pending, drained: pending - abandoned, abandoned, durationMs: Math.round(performance.now() - began) });
      }
      logger.close();
    },
    watchedFiles() {
      const routes = snapshot.compiled.table.routes.flatMap((r) => [r.upstreamTls?.caFile, r.upstreamTls?.certFile, r.upstreamTls?.keyFile]);
      const { keyFile, previousKeys } = snapshot.compiled.config.assertion;
      return [...new Set([...(tls?.files() ?? []), ...routes, keyFile, ...previousKeys].filter((f): f is string => typeof f === 'string'))];
    },
  } as Drawbridge;
}

/** What `sessions list` shows of a session: never a token, never the session id (a hash of it). */
export function sessionSummary(r: import('../session/store.js').SessionRecord): Record<string, unknown> {
  return {
    sid: Sessions.sidHash(r.id),
    user: r.identity.user,
    email: r.identity.email ?? null,
    groups: r.identity.groups,
    createdAt: new Date(r.createdAt).toISOString(),
    lastSeenAt: new Date(r.lastSeenAt).toISOString(),
    expiresAt: new Date(Math.min(r.expiresAt, r.lastSeenAt + r.idleTimeoutMs)).toISOString(),
  };
}

/** Whether a route (or publicUrl) serves this host name: the port-80 listener redirects only those. */
function servesHost(snapshot: Snapshot, hostname: string): boolean {
  if (new URL(snapshot.compiled.publicOrigin).hostname === hostname) return true;
  return snapshot.compiled.table.routes.some((r) => (r.wildcard ? hostname.endsWith(`.${r.hostname}`) : r.hostname === hostname));
}

/** SHA-256 of a file's content, or '' when unreadable. */
export function fileChecksum(file: string): string {
  try {
    return sha256Hex(readFileSync(file, 'utf8'));
  } catch {
    return '';
  }
}

/** Routes whose upstream certificate is not verified (upstreamTls.insecureSkipVerify, acknowledged). */
function insecureRoutes(snapshot: Snapshot): string[] {
  return snapshot.compiled.table.routes.filter((r) => r.upstreamTls?.insecureSkipVerify === true).map((r) => r.name);
}

/** One warning per route that does not verify its upstream, at start and at every reload. */
function logInsecureUpstreams(logger: Logger, snapshot: Snapshot): void {
  for (const route of snapshot.compiled.table.routes) {
    if (route.upstreamTls?.insecureSkipVerify !== true) continue;
    logger.warn({ event: 'upstream-tls-insecure', route: route.name, upstream: route.upstream.origin, acknowledge: route.upstreamTls.acknowledge ?? '', message: `route "${route.name}" does not verify its upstream's certificate (upstreamTls.insecureSkipVerify): anyone between Drawbridge and ${route.upstream.origin} can read and change its traffic` });
  }
}

/** The certificates served, logged at start and at every reload (a certificate close to expiry is a warning). */
function logCertificates(logger: Logger, tls: TlsContexts, now: number): void {
  const certificates = tls.certificates().map((c) => ({ source: c.source, names: c.names, notAfter: new Date(c.certified.notAfter).toISOString(), ...(c.files ? { files: c.files.map((f) => f.file) } : {}) }));
  const soon = tls.certificates().filter((c) => c.certified.notAfter - now < EXPIRY_WARNING_MS);
  if (soon.length > 0) logger.warn({ event: 'tls', certificates, message: `a certificate expires within 14 days: ${soon.map((c) => c.names.join(', ')).join('; ')}` });
  else logger.info({ event: 'tls', certificates });
}
