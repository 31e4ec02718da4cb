// test-support/stack.ts — a whole Drawbridge on loopback for integration tests: the dev IdP,
// the sample app as upstream, and Drawbridge itself, every listener on an ephemeral port.
import { Writable } from 'node:stream';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net, { type AddressInfo } from 'node:net';
import { reservePort } from './net.js';
import { startDevIdp, type DevIdp, type DevIdpClient, type DevIdpOptions } from '../e2e/idp/dev-idp.js';
import { createMemoryAdapter } from '../e2e/idp/memory-adapter.js';
import { startSampleApp, type SampleApp } from '../e2e/sample-app/sample-app.js';
import { signInAtIdp, type SignInResult } from '../e2e/idp/sign-in.js';
import { CookieJarClient, type CookieJarClientOptions } from '../e2e/support/http-client.js';
import { loadConfigText } from '../proxy/src/config/load.js';
import { formatIssue } from '../proxy/src/config/locate.js';
import { createListener, startDrawbridge, type Drawbridge } from '../proxy/src/server/server.js';
import { sealSessionId } from '../proxy/src/session/cookie.js';
import { deriveKeys } from '../proxy/src/session/keys.js';
import { DEFAULT_ROUTES } from './routes.js';

export const CLIENT_ID = 'drawbridge';
export const CLIENT_SECRET = 'dev-client-secret-0123456789abcdef0123456789';
export const SESSION_SECRET = 'test-session-secret-0123456789abcdef0123456789';

export interface StackOptions {
  /**
   * The `routes:` (and optionally `policies:`) YAML, with `{{PORT}}` for the proxy port and `{{APP}}` for the
   * sample app's URL. Default: one `app` route on app.localhost allowing the engineering group.
   */
  routes?: string;
  /** Extra top-level YAML (e.g. `trustedProxies: [...]`), placed before `routes:`. */
  extra?: string;
  /** The `tls:` block (flow YAML, e.g. `{ certFile: a, keyFile: b }`): the listener speaks TLS and publicUrl is https. */
  tls?: string;
  /** Replaces the session block's store line (default memory). */
  store?: string;
  /** Extra lines inside `session:` (e.g. `idleTimeout: 2s`). */
  session?: string;
  /** Extra lines inside `idp:`. */
  idp?: string;
  idpOptions?: Partial<DevIdpOptions>;
  /** Do not start the IdP (IdP-down tests); the issuer then points at a closed port. */
  noIdp?: boolean;
  /**
   * Do not start the IdP yet, but point the issuer at a reserved loopback port where `startIdp()` starts it later
   * (an IdP that comes up after Drawbridge).
   */
  deferIdp?: boolean;
  now?: () => number;
  /** Time between two sweeps of the open WebSockets (StartOptions.websocketSweepMs). */
  websocketSweepMs?: number;
  adminListen?: string | false;
  /**
   * Put a TCP load balancer in front: `port` (publicUrl, routes, the IdP's redirect and back-channel URIs) is the
   * balancer's, which sends each new connection to `balancer.target` (this Drawbridge at first; see startReplica).
   */
  balancer?: boolean;
  // Client and token personas (issue 13).
  /** Changes to Drawbridge's client registration at the dev IdP (its secret, auth method, keys...). */
  client?: Partial<DevIdpClient>;
  /** Leave idp.clientSecret out of Drawbridge's configuration (private_key_jwt). */
  noClientSecret?: boolean;
  /** The idp.issuer Drawbridge is configured with, from the dev IdP's real one (a wrong issuer). */
  issuer?: (actual: string) => string;
  /** Default true: wait until Drawbridge has discovered the IdP (false for an issuer it never will). */
  waitForIdp?: boolean;
  /** Passed to startDrawbridge (how often /readyz's IdP probe runs). */
  idpProbeIntervalMs?: number;
  /**
   * Use this OpenID provider instead of the dev IdP (e.g. LemonLDAP::NG, e2e/lemonldap/): called once the proxy port
   * is known with the URIs to register; its issuer and client go into the configuration; closed with the stack.
   */
  externalIdp?: (uris: RelyingPartyUris) => Promise<ExternalIdp>;
}

/** The relying party URIs of a stack, as an IdP registers them. */
export interface RelyingPartyUris {
  redirectUri: string;
  postLogoutRedirectUri: string;
  backchannelLogoutUri: string;
}

/** An OpenID provider other than the dev IdP, running for one stack. */
export interface ExternalIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

export interface Stack {
  db: Drawbridge;
  idp?: DevIdp;
  /** With `externalIdp`: the provider it started. */
  external?: ExternalIdp;
  app: SampleApp;
  port: number;
  publicUrl: string;
  configFile: string;
  /** http://HOST:PORT + path on the proxy port. */
  url(host: string, path?: string): string;
  /** A browser-like client resolving every *.localhost to 127.0.0.1, sending Accept: text/html. */
  browser(options?: CookieJarClientOptions): CookieJarClient;
  /** An API-like client (no text/html). */
  api(options?: CookieJarClientOptions): CookieJarClient;
  /** Opens `url` and signs in at the dev IdP as `login`; the result's response is the final page. */
  signIn(client: CookieJarClient, url: string, login: string, options?: { otp?: string }): Promise<SignInResult>;
  /** Parsed JSON log lines so far. */
  logs: Record<string, any>[];
  /** With `balancer: true`: the load balancer in front of this Drawbridge and its replicas. */
  balancer?: Balancer;
  /**
   * Starts the dev IdP on the issuer's port (after `deferIdp`, or again after `stopIdp`) and sets `idp`. A restarted
   * IdP keeps its storage (grants, refresh tokens, its browser sessions), like an IdP backed by a database.
   */
  startIdp(): Promise<DevIdp>;
  /** Closes the dev IdP (its port then refuses connections); `startIdp()` brings it back on the same port. */
  stopIdp(): Promise<void>;
  close(): Promise<void>;
}

function configText(port: number, issuer: string, app: string, o: StackOptions, client = { id: CLIENT_ID, secret: CLIENT_SECRET }): string {
  const routes = (o.routes ?? DEFAULT_ROUTES).replaceAll('{{PORT}}', String(port)).replaceAll('{{APP}}', app);
  return `listen: "127.0.0.1:${port}"
publicUrl: ${o.tls ? 'https' : 'http'}://auth.localhost:${port}
${o.tls ? `tls: ${o.tls}\n` : ''}admin: { listen: "127.0.0.1:0" }
idp:
  issuer: ${issuer}
  clientId: ${client.id}
${o.noClientSecret ? '' : `  clientSecret: ${client.secret}\n`}  allowInsecureHttp: true
  mfaAcrValues: [mfa]
${(o.idp ?? '').replace(/^/gm, '  ')}
session:
  secret: ${SESSION_SECRET}
  ${o.store ?? 'store: { type: memory, maxSessions: 1000 }'}
${(o.session ?? '').replace(/^/gm, '  ')}
log: { level: debug, format: json }
${o.extra ?? ''}
${routes}`;
}

/** Starts the dev IdP, the sample app and Drawbridge; `close()` stops all three. */
export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const app = await startSampleApp({});
  // The proxy listener is created first: its port goes into publicUrl, the routes and the IdP's redirect URIs.
  const probe = loadConfigText(configText(1, 'http://127.0.0.1:1', app.url, o), 'stack.yaml');
  if (!probe.ok) throw new Error(probe.errors.map(formatIssue).join('\n'));
  const server = createListener(probe.config);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const balancer = o.balancer ? await startBalancer() : undefined;
  const port = balancer?.port ?? (server.address() as AddressInfo).port;
  const publicUrl = `${o.tls ? 'https' : 'http'}://auth.localhost:${port}`;
  let idp: DevIdp | undefined;
  let issuer = 'http://127.0.0.1:9';
  const idpAdapter = o.idpOptions?.adapter ?? createMemoryAdapter();
  const launchIdp = (idpPort?: number) =>
    startDevIdp({
      clients: [
        {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${publicUrl}/.drawbridge/callback`],
          postLogoutRedirectUris: [`${publicUrl}/.drawbridge/sign_out`],
          backchannelLogoutUri: `http://127.0.0.1:${port}/.drawbridge/backchannel_logout`,
          ...o.client,
        },
      ],
      ...o.idpOptions,
      ...(idpPort !== undefined ? { port: idpPort } : {}),
      adapter: idpAdapter,
    });
  let idpPort: number | undefined;
  let external: ExternalIdp | undefined;
  if (o.externalIdp) {
    external = await o.externalIdp({
      redirectUri: `${publicUrl}/.drawbridge/callback`,
      postLogoutRedirectUri: `${publicUrl}/.drawbridge/sign_out`,
      backchannelLogoutUri: `http://127.0.0.1:${port}/.drawbridge/backchannel_logout`,
    });
    issuer = external.issuer;
  } else if (o.deferIdp) {
    idpPort = await reservePort();
    issuer = `http://127.0.0.1:${idpPort}`;
  } else if (!o.noIdp) {
    idp = await launchIdp();
    idpPort = idp.port;
    issuer = idp.issuer;
  }
  const text = configText(port, o.issuer ? o.issuer(issuer) : issuer, app.url, o, external ? { id: external.clientId, secret: external.clientSecret } : undefined);
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-test-'));
  const configFile = join(dir, 'drawbridge.yaml');
  writeFileSync(configFile, text);
  const loaded = loadConfigText(text, configFile);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('\n'));

  const { logs, logStream } = jsonLogs();
  const db = await startDrawbridge({
    config: loaded.config,
    configFile,
    logStream,
    server,
    adminListen: o.adminListen ?? '127.0.0.1:0',
    ...(o.now ? { now: o.now } : {}),
    ...(o.websocketSweepMs !== undefined ? { websocketSweepMs: o.websocketSweepMs } : {}),
    ...(o.idpProbeIntervalMs !== undefined ? { idpProbeIntervalMs: o.idpProbeIntervalMs } : {}),
  }).catch(async (e: unknown) => {
    await external?.close();
    throw e;
  });
  if (balancer) balancer.target = db.port;
  if ((idp && o.waitForIdp !== false) || external) await waitFor(async () => (await db.ready()).checks.idp, 10_000);
  app.setAssertionCheck({ jwksUrl: `http://127.0.0.1:${port}/.drawbridge/jwks.json`, issuer: publicUrl, audience: db.runtime.snapshot().compiled.table.routes.map((r) => r.origin) });

  const resolve = { 'auth.localhost': '127.0.0.1' };
  const resolver = new Proxy(resolve as Record<string, string>, { get: (t, k) => (typeof k === 'string' && k.endsWith('localhost') ? '127.0.0.1' : t[k as string]) });
  const stack: Stack = {
    db,
    ...(idp ? { idp } : {}),
    ...(external ? { external } : {}),
    app,
    port,
    publicUrl,
    configFile,
    url: (host, path = '/') => `http://${host}:${port}${path}`,
    browser: (options = {}) => new CookieJarClient({ resolve: resolver, headers: { accept: 'text/html,application/xhtml+xml' }, ...options }),
    api: (options = {}) => new CookieJarClient({ resolve: resolver, headers: { accept: 'application/json' }, ...options }),
    signIn: (client, url, login, options = {}) => signInAtIdp(client, url, { login, ...(options.otp ? { otp: options.otp } : {}), headers: { accept: 'text/html' } }),
    logs,
    ...(balancer ? { balancer } : {}),
    async startIdp() {
      if (idpPort === undefined) throw new Error('startIdp: the stack was started with noIdp');
      await stack.idp?.close();
      stack.idp = await launchIdp(idpPort);
      return stack.idp;
    },
    async stopIdp() {
      await stack.idp?.close();
    },
    async close() {
      await balancer?.close();
      await db.close();
      await Promise.all([stack.idp?.close(), external?.close(), app.close()]);
    },
  };
  return stack;
}

export { reservePort };

/** A log stream for startDrawbridge that parses every JSON line it is given into `logs`, in order. */
export function jsonLogs(): { logs: Record<string, any>[]; logStream: Writable } {
  const logs: Record<string, any>[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  return { logs, logStream };
}

/** Polls `check` until it is true or `ms` pass. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, every = 50): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`waitFor: condition not met within ${ms} ms`);
}

// ---------------------------------------------------------------------------------------------------
// Helpers for the integration suites below: raw sockets, a movable clock, the session cookie, batching.

/** One answer read off a raw socket. `interim` lists the 1xx statuses seen before it (100 Continue). */
export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ', ' (set-cookie with '\n'). */
  headers: Record<string, string>;
  body: string;
  interim: number[];
  /** Everything the server sent. */
  raw: string;
}

/** Options of {@link rawHttp}. */
export interface RawHttpOptions {
  /** Sent after the head; with `expectContinue`, only once `100 Continue` came (or 1 s passed). */
  body?: string;
  expectContinue?: boolean;
  timeoutMs?: number;
}

/**
 * Sends `head` (request line and header lines, without the final blank line) byte for byte on a new TCP
 * connection to 127.0.0.1:port, then the body, and reads until the server closes (send `Connection: close`).
 * Needed for what node's http client refuses or normalizes: `_` in names, duplicate names, `Expect`.
 */
export function rawHttp(port: number, head: string, options: RawHttpOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let bodySent = false;
    const sendBody = () => {
      if (bodySent) return;
      bodySent = true;
      if (options.body !== undefined) socket.write(options.body);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`rawHttp: no complete answer within ${options.timeoutMs ?? 10_000} ms: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`));
    }, options.timeoutMs ?? 10_000);
    socket.on('connect', () => {
      socket.write(`${head.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '')}\r\n\r\n`);
      if (!options.expectContinue) sendBody();
      else setTimeout(sendBody, 1000).unref();
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.expectContinue && !bodySent && /^HTTP\/1\.1 100 /.test(Buffer.concat(chunks).toString('latin1'))) sendBody();
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseRawResponse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** Parses what a server wrote on a connection it then closed: 1xx answers, then one final answer. */
export function parseRawResponse(raw: string): RawResponse {
  let rest = raw;
  const interim: number[] = [];
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`rawHttp: incomplete answer: ${JSON.stringify(raw.slice(0, 300))}`);
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
    if (!status) throw new Error(`rawHttp: not an HTTP answer: ${JSON.stringify(raw.slice(0, 300))}`);
    rest = rest.slice(end + 4);
    if (status >= 100 && status < 200) {
      interim.push(status);
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}${name === 'set-cookie' ? '\n' : ', '}${value}`;
    }
    let body = rest;
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      body = '';
      let at = 0;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', at);
        const size = parseInt(rest.slice(at, lineEnd), 16);
        if (!(size > 0)) break;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        at = lineEnd + 2 + size + 2;
      }
    }
    return { status, headers, body, interim, raw };
  }
}

/** A clock tests move forward instead of sleeping; pass `now` to startStack. */
export function movableClock(): { now: () => number; advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms;
    },
  };
}

/** The session cookie's name over plain HTTP (the stack serves http). */
export const SESSION_COOKIE = 'drawbridge';

/** The value of the session cookie the client holds for `url`'s host, if any. */
/**
 * The value of the session cookie that `value` (a session cookie issued for any host) would be on `host` of the
 * proxy port, as a hand-off there would give it (each route host has its own value: the MAC covers the origin).
 * For tests that send one session to several hosts and are not about the hand-off. `host` may carry a port.
 */
export function cookieOn(port: number, value: string, host: string, secret = SESSION_SECRET): string {
  return cookieForOrigin(value, `http://${host.includes(':') ? host : `${host}:${port}`}`, secret);
}

/** {@link cookieOn} for an exact origin (scheme://host[:port], normalized as Drawbridge sees the request). */
export function cookieForOrigin(value: string, origin: string, secret = SESSION_SECRET): string {
  const id = Buffer.from(value.split('.')[0]!, 'base64url').toString('hex');
  return sealSessionId(id, deriveKeys(secret).cookieMac, origin);
}

/** Where Drawbridge sends a browser to sign in for `url`: the sign-in start on url's own host (it binds the hand-off). */
export function signInStart(url: string): string {
  return `${new URL(url).origin}/.drawbridge/sign_in?rd=${encodeURIComponent(url)}`;
}

export function sessionCookie(client: CookieJarClient, url: string): string | undefined {
  return client.cookies(url)[SESSION_COOKIE];
}

/** Runs `fn` over `items`, at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The requests the sample app received whose URL contains `marker` (tests put a unique marker in the query). */
export function received(app: SampleApp, marker: string): SampleApp['requests'] {
  return app.requests.filter((r) => r.url.includes(marker));
}

// ---------------------------------------------------------------------------------------------------
// Several replicas: a TCP load balancer in front, and more Drawbridge instances on the same config file.

/** A TCP load balancer on loopback: each new connection goes to whichever port `target` names then. */
export interface Balancer {
  readonly port: number;
  /** The port new connections are sent to; connections already open stay where they are. */
  target: number;
  close(): Promise<void>;
}

/** Starts a {@link Balancer} on an ephemeral loopback port. */
export async function startBalancer(target = 0): Promise<Balancer> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const state = { target };
  const server = net.createServer((client) => {
    const upstream = net.connect(state.target, '127.0.0.1');
    track(client);
    track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    get target() {
      return state.target;
    },
    set target(port: number) {
      state.target = port;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** A second (third...) Drawbridge instance running the stack's configuration file. */
export interface Replica {
  db: Drawbridge;
  /** Parsed JSON log lines of this replica. */
  logs: Record<string, any>[];
  close(): Promise<void>;
}

/**
 * Starts another Drawbridge on the stack's configuration file (same IdP, upstream, publicUrl, routes and session
 * secret) on its own ephemeral port, with its own admin listener. Put a shared store (redis) and a fixed
 * `assertion.keyFile` in the stack's options so the replicas share sessions and signing keys.
 */
export async function startReplica(stack: Stack, options: { now?: () => number } = {}): Promise<Replica> {
  const text = readFileSync(stack.configFile, 'utf8');
  const loaded = loadConfigText(text, stack.configFile);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatIssue).join('\n'));
  const server = createListener(loaded.config);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { logs, logStream } = jsonLogs();
  const db = await startDrawbridge({ config: loaded.config, configFile: stack.configFile, logStream, server, adminListen: '127.0.0.1:0', ...(options.now ? { now: options.now } : {}) });
  if (stack.idp) await waitFor(async () => (await db.ready()).checks.idp, 10_000);
  return { db, logs, close: () => db.close() };
}
