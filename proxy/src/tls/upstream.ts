// tls/upstream.ts — the TLS options of an https:// upstream's connection pool, from the route's `upstreamTls`:
// its files read now (a bad one fails the start or the reload), `caFile` added to the system roots unless `caOnly`.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import type { Route } from '../routes/compile.js';
import { DrawbridgeError } from '../errors.js';
import { CertificateError, parseCertificates, readCertifiedKey, readPem, type FileLabel } from './certificate.js';

export interface UpstreamTls {
  /** Options for the route's https.Agent. */
  readonly options: ConnectionOptions;
  /** Changes when a setting or the content of a file changes: routes with equal ones share a pool. */
  readonly fingerprint: string;
}

/**
 * The TLS options of the route's upstream connections. A file that cannot be read, a CA file without certificates,
 * a client certificate whose key does not match (or expired): a DrawbridgeError naming the route, the key and the file.
 */
export function upstreamTls(route: Route, now: number = Date.now()): UpstreamTls {
  const tls = route.upstreamTls;
  const at = (field: string): FileLabel => ({ key: `routes[${route.name}].upstreamTls.${field}`, file: String(tls?.[field as 'caFile'] ?? '') });
  const hash = createHash('sha256');
  const options: ConnectionOptions = {};
  try {
    if (tls?.caFile) {
      const pem = readPem(at('caFile'), 'cert');
      parseCertificates(pem, at('caFile'));
      hash.update(pem);
      // node's `ca` replaces the system roots: they are given too unless caOnly.
      options.ca = tls.caOnly ? [pem] : [...rootCertificates, pem.toString()];
    }
    if (tls?.certFile && tls.keyFile) {
      const pair = readCertifiedKey(at('certFile'), at('keyFile'), now);
      hash.update(pair.certPem).update(pair.keyPem);
      options.cert = pair.certPem;
      options.key = pair.keyPem;
    }
  } catch (e) {
    if (e instanceof CertificateError) throw new DrawbridgeError('DRB_CONFIG_READ', `route "${route.name}": ${e.message}`, { cause: e });
    throw e;
  }
  const { hostname } = route.upstream;
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  // Always explicit: left unset, node derives SNI from the Host header, i.e. the client's host with preserveHost.
  options.servername = tls?.serverName ?? (isIP(bare) ? '' : hostname);
  options.rejectUnauthorized = !(tls?.insecureSkipVerify ?? false);
  options.minVersion = tls?.minVersion ?? 'TLSv1.2';
  hash.update(JSON.stringify([tls?.caOnly === true, options.servername, options.rejectUnauthorized, options.minVersion]));
  return { options, fingerprint: hash.digest('hex') };
}
