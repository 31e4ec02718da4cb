// tls/acme.ts — automatic certificates (`tls.acme`): obtains a certificate per host name from an ACME CA through
// acme-client (HTTP-01 or TLS-ALPN-01, answered by tls/acme-challenges.ts), stores it (tls/acme-storage.ts), hands it
// to the listener's certificate store (a CertificateSink), and renews it when a third of its lifetime remains. A
// failed order keeps the certificate in use, is logged and counted, and is retried with exponential backoff. Time
// and timers are injected: tests move the clock and call check() instead of sleeping.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import type Acme from 'acme-client';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../telemetry/logger.js';
import type { ChallengeResponder } from './acme-challenges.js';
import type { CertificateStorage, StoredCertificate } from './acme-storage.js';

// acme-client (and its axios) is loaded when certificates are first ordered, not at start: a Drawbridge without
// `tls.acme` never needs its ~15 MB of resident memory (docs/performance.md; proxy/test/lazy-packages.test.ts).
let acmePackage: typeof Acme | undefined;
const acme = (): typeof Acme => (acmePackage ??= createRequire(import.meta.url)('acme-client') as typeof Acme);

/**
 * Where obtained certificates go: the TLS listener's certificate store (SNI selection), or with `workers: N` every
 * worker's (server/cluster-acme.ts: resolves once they all have it). `install` replaces what it served for these
 * names; new connections get the new certificate, open ones keep theirs. It throws (rejects) when the pair is
 * unusable (the manager then keeps the old one).
 */
export interface CertificateSink {
  install(hosts: readonly string[], certPem: string, keyPem: string): void | Promise<void>;
}

export type AcmeChallengeType = 'http-01' | 'tls-alpn-01';

export interface AcmeManagerOptions {
  hosts: readonly string[];
  email: string;
  directoryUrl: string;
  /** Extra CA certificates (PEM) trusted for the ACME server's HTTPS, besides the system roots. */
  caPem?: string;
  /** Challenge types in order of preference. */
  challengeTypes: readonly AcmeChallengeType[];
  storage: CertificateStorage;
  sink: CertificateSink;
  challenges: ChallengeResponder;
  logger: Logger;
  /** Registry for drawbridge_acme_* series (the instance's /metrics). */
  registry?: Registry;
  /** The clock (ms since epoch). */
  now?: () => number;
  /** Runs `fn` after `delayMs`; returns a cancel function. Default: an unref'd setTimeout. */
  schedule?: (delayMs: number, fn: () => void) => () => void;
  /** How acme-client polls a pending order (default: min 1 s, max 10 s, 12 attempts); tests shorten it. */
  poll?: { minMs: number; maxMs: number; attempts: number };
  /** Backoff after a failed order: base · 2^(failures-1), at most max (default 5 min, 12 h). */
  retry?: { baseMs: number; maxMs: number };
}

export interface AcmeHostStatus {
  host: string;
  /** The certificate served (from storage or the CA), if any. */
  notBefore?: number;
  notAfter?: number;
  /** When it is renewed (two thirds of its lifetime). */
  renewAt?: number;
  /** Consecutive failed orders, and when the next is tried. */
  failures: number;
  retryAt?: number;
  lastError?: string;
}

interface HostState {
  cert?: { notBefore: number; notAfter: number; renewAt: number };
  failures: number;
  retryAt?: number;
  lastError?: string;
}

/** How long a replica may hold the ordering lock of a host (an order takes seconds; a crashed holder is outlived). */
const LOCK_MS = 10 * 60_000;
/** When a replica that found the lock taken looks again (by then the holder has stored the certificate, or failed). */
const LOCKED_RETRY_MS = 2 * 60_000;
/** How long a shared HTTP-01 answer lives. */
const CHALLENGE_TTL_MS = 10 * 60_000;

/** The longest a timer waits before the manager looks again (a clock that jumps is noticed within this). */
const MAX_SLEEP_MS = 60 * 60 * 1000;

/** When a certificate is renewed: when a third of its lifetime remains (60 days into a 90-day certificate). */
export function renewalTime(notBefore: number, notAfter: number): number {
  return notAfter - Math.floor((notAfter - notBefore) / 3);
}

/** The wait before the next order after `failures` consecutive failures. */
export function retryDelay(failures: number, retry: { baseMs: number; maxMs: number } = { baseMs: 5 * 60_000, maxMs: 12 * 3600_000 }): number {
  return Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

/**
 * Checks a certificate chain and key before they are served: the key matches, the leaf names `host`. Returns the
 * leaf's validity window.
 */
export function inspectCertificate(host: string, certificate: StoredCertificate): { notBefore: number; notAfter: number } {
  const leaf = new X509Certificate(certificate.certPem);
  if (!leaf.checkPrivateKey(createPrivateKey(certificate.keyPem))) throw new Error('the key does not match the certificate');
  if (leaf.checkHost(host, { wildcards: false }) === undefined) throw new Error(`the certificate does not name ${host}`);
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter) || notAfter <= notBefore) throw new Error('the certificate has no usable validity period');
  return { notBefore, notAfter };
}

/**
 * Per-origin HTTPS agents for acme-client's shared axios instance (a `caFile` for one directory, not the process);
 * counted, since several instances in one process (tests, a restart in place) may use the same directory.
 */
const AGENTS = new Map<string, { agent: https.Agent; ca: string; refs: number }>();
let interceptorInstalled = false;
function trustFor(directoryUrl: string, caPem: string): () => void {
  if (!interceptorInstalled) {
    interceptorInstalled = true;
    acme().axios.interceptors.request.use((config) => {
      const entry = config.url ? AGENTS.get(originOf(config.url)) : undefined;
      if (entry) config.httpsAgent = entry.agent;
      return config;
    });
  }
  const origin = originOf(directoryUrl);
  let entry = AGENTS.get(origin);
  if (!entry || entry.ca !== caPem) {
    entry = { agent: new https.Agent({ ca: [...tls.rootCertificates, caPem] }), ca: caPem, refs: 0 };
    AGENTS.set(origin, entry);
  }
  entry.refs++;
  const mine = entry;
  return () => {
    if (--mine.refs > 0) return;
    if (AGENTS.get(origin) === mine) AGENTS.delete(origin);
    mine.agent.destroy();
  };
}
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

/** Obtains, stores, installs and renews the certificates of `tls.acme`. */
export class AcmeManager {
  private readonly options: AcmeManagerOptions;
  private readonly now: () => number;
  private readonly schedule: (delayMs: number, fn: () => void) => () => void;
  private readonly state = new Map<string, HostState>();
  private readonly orders: Counter<'result'>;
  private readonly expiry: Gauge<'host'>;
  private client: Acme.Client | undefined;
  private running: Promise<AcmeHostStatus[]> | undefined;
  private cancelTimer: (() => void) | undefined;
  private untrust: (() => void) | undefined;
  private closed = false;

  constructor(options: AcmeManagerOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.schedule =
      options.schedule ??
      ((ms, fn) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return () => clearTimeout(t);
      });
    for (const host of options.hosts) this.state.set(host, { failures: 0 });
    const registers = options.registry ? [options.registry] : [];
    this.orders = new Counter({ name: 'drawbridge_acme_orders_total', help: 'ACME certificate orders by result (success, failure).', labelNames: ['result'], registers });
    this.orders.inc({ result: 'success' }, 0);
    this.orders.inc({ result: 'failure' }, 0);
    this.expiry = new Gauge({ name: 'drawbridge_acme_certificate_expiry_timestamp_seconds', help: 'When the certificate served for each ACME-managed host expires.', labelNames: ['host'], registers });
    if (options.caPem) this.untrust = trustFor(options.directoryUrl, options.caPem);
  }

  /**
   * Installs the stored certificates (awaited: a restart serves them at once), then orders what is missing or due,
   * in the background.
   */
  async start(): Promise<void> {
    for (const host of this.options.hosts) {
      let stored: StoredCertificate | undefined;
      try {
        stored = await this.options.storage.load(host);
      } catch (e) {
        this.options.logger.error({ event: 'acme', host, result: 'failure', step: 'load', error: `reading the stored certificate (${this.options.storage.description}): ${(e as Error).message}` });
      }
      if (!stored) continue;
      try {
        await this.use(host, stored);
        this.options.logger.info({ event: 'acme', host, result: 'loaded', notAfter: new Date(this.state.get(host)!.cert!.notAfter).toISOString() });
      } catch (e) {
        this.options.logger.warn({ event: 'acme', host, result: 'failure', step: 'load', error: `the stored certificate is unusable, ordering a new one: ${(e as Error).message}` });
      }
    }
    void this.check();
  }

  /** Each host's certificate and renewal state. */
  status(): AcmeHostStatus[] {
    return [...this.state].map(([host, s]) => ({
      host,
      ...(s.cert ? { notBefore: s.cert.notBefore, notAfter: s.cert.notAfter, renewAt: s.cert.renewAt } : {}),
      failures: s.failures,
      ...(s.retryAt !== undefined ? { retryAt: s.retryAt } : {}),
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    }));
  }

  /**
   * Orders a certificate for every host that has none or whose renewal time has come (and whose backoff is over),
   * one host after the other; then sets the timer for the next. Concurrent calls share one run.
   */
  check(): Promise<AcmeHostStatus[]> {
    if (this.running) return this.running;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.running = this.runDue().finally(() => {
      this.running = undefined;
      this.arm();
    });
    return this.running;
  }

  /** Stops the timer; an order in flight finishes but is not installed. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.untrust?.();
    this.untrust = undefined;
  }

  private async runDue(): Promise<AcmeHostStatus[]> {
    for (const [host, s] of this.state) {
      if (this.closed) break;
      // Shared storage: another replica's newer certificate is taken at every check, due or not.
      if (this.options.storage.lock) await this.fromStorage(host, s);
      const now = this.now();
      if (s.retryAt !== undefined && now < s.retryAt) continue;
      if (s.cert && now < s.cert.renewAt) continue;
      await this.order(host, s);
    }
    return this.status();
  }

  private async order(host: string, s: HostState): Promise<void> {
    const logger = this.options.logger;
    const renewing = s.cert !== undefined;
    if (await this.fromStorage(host, s)) return;
    let release: (() => Promise<void>) | undefined;
    try {
      release = this.options.storage.lock ? await this.options.storage.lock(host, LOCK_MS) : async () => {};
      if (!release) {
        s.retryAt = this.now() + LOCKED_RETRY_MS;
        logger.info({ event: 'acme', host, result: 'waiting', message: 'another replica is ordering this certificate; its result is picked up from the shared storage' });
        return;
      }
      const client = await this.account();
      const [keyBuf, csr] = await acme().crypto.createCsr({ commonName: host, altNames: [host] }, await acme().crypto.createPrivateEcdsaKey());
      const certPem = await client.auto({
        csr,
        email: this.options.email,
        termsOfServiceAgreed: true,
        // The CA validates from outside; a self-check from here would test this host's own DNS and hairpin NAT.
        skipChallengeVerification: true,
        challengePriority: [...this.options.challengeTypes],
        challengeCreateFn: (authz, challenge, keyAuthorization) => this.present(authz, challenge, keyAuthorization),
        challengeRemoveFn: async (authz, challenge) => this.withdraw(authz.identifier.value, challenge),
      });
      if (this.closed) return;
      const certificate = { certPem, keyPem: keyBuf.toString() };
      await this.use(host, certificate);
      // Served already; a storage failure only means the next start orders again.
      await this.options.storage.save(host, certificate).catch((e: Error) => logger.error({ event: 'acme', host, result: 'failure', step: 'store', error: `storing the certificate (${this.options.storage.description}): ${e.message}` }));
      s.failures = 0;
      delete s.retryAt;
      delete s.lastError;
      this.orders.inc({ result: 'success' });
      logger.info({ event: 'acme', host, result: 'success', renewal: renewing, notAfter: new Date(s.cert!.notAfter).toISOString(), renewAt: new Date(s.cert!.renewAt).toISOString() });
    } catch (e) {
      s.failures++;
      s.retryAt = this.now() + retryDelay(s.failures, this.options.retry);
      s.lastError = (e as Error).message;
      this.orders.inc({ result: 'failure' });
      logger.error({
        event: 'acme',
        host,
        result: 'failure',
        renewal: renewing,
        error: s.lastError,
        failures: s.failures,
        retryAt: new Date(s.retryAt).toISOString(),
        message: s.cert ? `the certificate in use stays (valid until ${new Date(s.cert.notAfter).toISOString()})` : `no certificate for ${host} yet: TLS connections for it are refused`,
      });
    } finally {
      await release?.();
    }
  }

  /**
   * Shared storage: another replica may have stored a newer certificate for `host`. Installs it; returns true when it
   * is not due for renewal (nothing to order).
   */
  private async fromStorage(host: string, s: HostState): Promise<boolean> {
    let stored: StoredCertificate | undefined;
    try {
      stored = await this.options.storage.load(host);
    } catch {
      return false;
    }
    if (!stored) return false;
    try {
      const { notAfter } = inspectCertificate(host, stored);
      if (s.cert && notAfter <= s.cert.notAfter) return false;
      await this.use(host, stored);
    } catch {
      return false;
    }
    s.failures = 0;
    delete s.retryAt;
    delete s.lastError;
    this.options.logger.info({ event: 'acme', host, result: 'loaded', notAfter: new Date(s.cert!.notAfter).toISOString(), message: `a newer certificate from ${this.options.storage.description}` });
    return this.now() < s.cert!.renewAt;
  }

  /** Validates and installs a certificate for `host`, then records its window. Throws (nothing changed) when unusable. */
  private async use(host: string, certificate: StoredCertificate): Promise<void> {
    const { notBefore, notAfter } = inspectCertificate(host, certificate);
    await this.options.sink.install([host], certificate.certPem, certificate.keyPem);
    this.state.get(host)!.cert = { notBefore, notAfter, renewAt: renewalTime(notBefore, notAfter) };
    this.expiry.set({ host }, Math.floor(notAfter / 1000));
  }

  private async present(authz: Acme.Authorization, challenge: { type: string; token: string }, keyAuthorization: string): Promise<void> {
    const host = authz.identifier.value;
    if (challenge.type === 'http-01') {
      await this.options.challenges.setHttp(host, challenge.token, keyAuthorization);
      await this.options.storage.saveChallenge?.(challenge.token, host, keyAuthorization, CHALLENGE_TTL_MS);
      return;
    }
    if (challenge.type === 'tls-alpn-01') {
      const [key, cert] = await acme().crypto.createAlpnCertificate(authz, keyAuthorization);
      return this.options.challenges.setAlpn(host, cert.toString(), key.toString());
    }
    throw new Error(`the CA offers no challenge type Drawbridge answers among ${this.options.challengeTypes.join(', ')} (got ${challenge.type})`);
  }

  private async withdraw(host: string, challenge: { type: string; token: string }): Promise<void> {
    if (challenge.type === 'http-01') {
      await this.options.challenges.deleteHttp(challenge.token);
      await this.options.storage.deleteChallenge?.(challenge.token);
    }
    if (challenge.type === 'tls-alpn-01') await this.options.challenges.deleteAlpn(host);
  }

  /** The ACME client with the stored account key (one is made and stored the first time). */
  private async account(): Promise<Acme.Client> {
    if (this.client) return this.client;
    let accountKey = await this.options.storage.loadAccountKey();
    if (!accountKey) {
      accountKey = (await acme().crypto.createPrivateEcdsaKey()).toString();
      await this.options.storage.saveAccountKey(accountKey);
      // Shared storage: a replica that stored its key first wins, so that all use one account.
      accountKey = (await this.options.storage.loadAccountKey()) ?? accountKey;
      this.options.logger.info({ event: 'acme', result: 'account-key', message: `created an ACME account key in ${this.options.storage.description}` });
    }
    const poll = this.options.poll ?? { minMs: 1000, maxMs: 10_000, attempts: 12 };
    this.client = new (acme().Client)({ directoryUrl: this.options.directoryUrl, accountKey, backoffMin: poll.minMs, backoffMax: poll.maxMs, backoffAttempts: poll.attempts });
    return this.client;
  }

  /** Sets the timer for the next due renewal or retry (at most an hour away). */
  private arm(): void {
    if (this.closed) return;
    const now = this.now();
    let next = now + MAX_SLEEP_MS;
    for (const s of this.state.values()) {
      const due = Math.max(s.retryAt ?? -Infinity, s.cert ? s.cert.renewAt : now);
      next = Math.min(next, due);
    }
    this.cancelTimer = this.schedule(Math.max(0, next - now), () => void this.check());
  }
}
