// server/cluster-acme.ts — `workers: N` with `tls.acme`: the primary is the one process that orders and renews (it
// outlives the workers); its certificates and pending challenge answers reach every worker through the hand-over
// (tls/acme-hand-over.ts), before the CA is told to validate and before the manager counts an order done.
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { acmeHosts } from '../config/acme-hosts.js';
import { wrap } from '../errors.js';
import type { Config } from '../schema/config.js';
import type { Logger } from '../telemetry/logger.js';
import { AcmeManager } from '../tls/acme.js';
import { AcmeHandOver, type AcmeUpdate } from '../tls/acme-hand-over.js';
import { RedisCertificateStorage } from '../tls/acme-redis-storage.js';
import { DirectoryStorage, type CertificateStorage } from '../tls/acme-storage.js';

export interface AcmeOwnerOptions {
  config: Config;
  logger: Logger;
  /** The primary's registry: drawbridge_acme_* are counted here once, not per worker. */
  registry: Registry;
  /** Gives an update to every worker serving or starting; resolves once each has applied it (or was reported). */
  distribute(update: AcmeUpdate): Promise<void>;
}

/** The primary's ACME client. */
export interface AcmeOwner {
  /** What a worker that starts now installs before it listens. */
  snapshot(): AcmeUpdate[];
  /** Hands the stored certificates to the workers, then orders what is missing or due (in the background). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Builds the primary's certificate manager for `config.tls.acme` (throws on an unreadable caFile, as a single process does). */
export function createAcmeOwner(options: AcmeOwnerOptions): AcmeOwner {
  const { config, logger } = options;
  const acme = config.tls!.acme!;
  let caPem: string | undefined;
  if (acme.caFile) {
    try {
      caPem = readFileSync(acme.caFile, 'utf8');
    } catch (e) {
      throw wrap(`reading tls.acme.caFile ${acme.caFile}`, e, 'DRB_CONFIG_READ');
    }
  }
  const s = config.session.store;
  // As one process does: with the Redis session store, replicas share the account, certificates and HTTP-01 answers.
  const storage: CertificateStorage =
    s.type === 'redis'
      ? new RedisCertificateStorage({ url: s.url, prefix: s.prefix, directoryUrl: acme.directory, secret: config.session.secret, onError: (err) => logger.warn({ event: 'acme', result: 'failure', step: 'storage', error: err.message }) })
      : new DirectoryStorage(acme.storage, acme.directory);
  const handOver = new AcmeHandOver(options.distribute);
  const manager = new AcmeManager({
    hosts: acmeHosts(config).hosts,
    email: acme.email,
    directoryUrl: acme.directory,
    ...(caPem !== undefined ? { caPem } : {}),
    // The workers answer HTTP-01 on the port-80 listener they share, when there is one.
    challengeTypes: acme.httpListen !== false ? acme.challenges : acme.challenges.filter((c) => c !== 'http-01'),
    storage,
    sink: handOver,
    challenges: handOver,
    logger,
    registry: options.registry,
  });
  return {
    snapshot: () => handOver.snapshot(),
    async start() {
      if (storage instanceof RedisCertificateStorage) {
        await storage.start().catch((e: Error) => logger.error({ event: 'acme', result: 'failure', step: 'storage', error: `connecting to Redis for ACME storage: ${e.message}` }));
      }
      await manager.start();
    },
    async close() {
      manager.close();
      if (storage instanceof RedisCertificateStorage) await storage.close();
    },
  };
}
