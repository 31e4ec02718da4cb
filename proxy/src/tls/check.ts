// tls/check.ts — what `validate`, `serve` and reload find in the TLS files a configuration names: unreadable or
// passphrase-protected files, a key that is not the certificate's, expiry (an error, or a warning within 14 days),
// names that do not cover publicUrl's host or a route's, a chain that does not reach a root; upstream pairs and CAs;
// the ACME server's CA bundle.
import { createSecureContext } from 'node:tls';
import { isIP } from 'node:net';
import type { Config } from '../schema/config.js';
import { acmeHosts } from '../config/acme-hosts.js';
import { parseFrom } from '../routes/from.js';
import { CertificateError, certifiedKey, chainProblem, nameCovers, parseCertificates, parsePrivateKey, readPem, type CertifiedKey, type FileLabel } from './certificate.js';
import { policyOptions } from './policy.js';
import { DeviceTrust } from './client-certificate.js';

/** A problem found in a file, located by its configuration path; a warning does not refuse the configuration. */
export interface FileIssue {
  path: (string | number)[];
  message: string;
  warning?: boolean;
}

/** Warn when a certificate expires within this long. */
export const EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

export interface CheckTlsOptions {
  /**
   * 'error' (serve, reload): a file that does not exist is an error. 'warn' (validate without --strict-env): a
   * warning, so that a configuration can be checked away from the machine it runs on; the other checks still run.
   */
  missingFiles?: 'error' | 'warn';
}

/** Checks every TLS file of a (schema- and semantics-valid) configuration. Reads files; `now` is the clock. */
export function checkTlsFiles(config: Config, now: number = Date.now(), options: CheckTlsOptions = {}): FileIssue[] {
  const found: FileIssue[] = [];
  checkAll(config, now, found);
  if (options.missingFiles !== 'warn') return found;
  return found.map((i) => (/cannot be read: no such file$/.test(i.message) ? { ...i, message: `warning: ${i.message} (serve refuses to start without it)`, warning: true } : i));
}

/** The device CA bundles and revocation lists (tls.clientCa/clientCrl, forwardedClientCert): readable, certificates, CRLs signed by them. */
function checkDeviceFiles(config: Config, issues: FileIssue[]): void {
  const sets: { path: string[]; ca: string; crl: string | undefined }[] = [];
  if (config.tls?.clientCa) sets.push({ path: ['tls', 'clientCa', 'clientCrl'], ca: config.tls.clientCa, crl: config.tls.clientCrl });
  const x = config.forwardedClientCert;
  if (x?.caFile) sets.push({ path: ['forwardedClientCert', 'caFile', 'crlFile'], ca: x.caFile, crl: x.crlFile });
  for (const { path: [section, caKey, crlKey], ca, crl } of sets) {
    const keys = { ca: `${section}.${caKey}`, crl: `${section}.${crlKey}` };
    try {
      DeviceTrust.read(ca, crl, keys);
    } catch (e) {
      const message = (e as Error).message;
      issues.push({ path: [section!, message.startsWith(keys.crl) ? crlKey! : caKey!], message });
    }
  }
}

function checkAll(config: Config, now: number, issues: FileIssue[]): void {
  checkDeviceFiles(config, issues);
  const tls = config.tls;
  if (tls) {
    const served: CertifiedKey[] = [];
    const pairs: { path: (string | number)[]; cert: FileLabel; key: FileLabel }[] = [];
    if (tls.certFile && tls.keyFile) pairs.push({ path: ['tls'], cert: { key: 'tls.certFile', file: tls.certFile }, key: { key: 'tls.keyFile', file: tls.keyFile } });
    tls.certificates.forEach((c, i) => pairs.push({ path: ['tls', 'certificates', i], cert: { key: `tls.certificates[${i}].certFile`, file: c.certFile }, key: { key: `tls.certificates[${i}].keyFile`, file: c.keyFile } }));
    for (const pair of pairs) {
      const certified = checkPair(pair.path, pair.cert, pair.key, now, issues);
      if (!certified) continue;
      served.push(certified);
      const chain = chainProblem(certified.chain, pair.cert);
      if (chain) issues.push({ path: [...pair.path, 'certFile'], message: `warning: ${chain}`, warning: true });
    }
    try {
      createSecureContext(policyOptions(tls));
    } catch (e) {
      const field = tls.curves !== undefined && /curve|group/i.test((e as Error).message) ? 'curves' : tls.ciphers !== undefined ? 'ciphers' : 'minVersion';
      issues.push({ path: ['tls', field], message: `tls.${field} is refused by OpenSSL: ${(e as Error).message.replace(/^error:[0-9A-F]+:[^:]*::/, '')}` });
    }
    // Every name Drawbridge answers on over TLS must be covered, or browsers refuse the connection.
    if (served.length === pairs.length && served.length > 0) {
      // Names tls.acme obtains certificates for are covered by those (validate checks what ACME can obtain).
      const acmeManaged = new Set(tls.acme ? acmeHosts(config).hosts : []);
      const covered = (host: string) => acmeManaged.has(host.toLowerCase()) || served.some((c) => (isIP(host) ? c.names.includes(host) : c.names.some((n) => nameCovers(n, host))));
      const names = served.map((c) => c.names.join(', ') || 'no DNS name').join('; ');
      let publicHost: string | undefined;
      try {
        publicHost = new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, '');
      } catch {
        // the schema reports it
      }
      if (publicHost && !covered(publicHost)) issues.push({ path: ['publicUrl'], message: `no certificate of tls covers publicUrl's host ${publicHost} (the certificates name: ${names})` });
      config.routes.forEach((route, i) => {
        const from = parseFrom(route.from);
        if ('error' in from || !/^https:/i.test(route.from)) return;
        const host = `${from.wildcard ? '*.' : ''}${from.hostname}`;
        if (!covered(host)) issues.push({ path: ['routes', i, 'from'], message: `no certificate of tls covers route "${route.name}"'s host ${host} (the certificates name: ${names})` });
      });
    }
  }
  // The CA bundle trusted for the ACME server's HTTPS: an unreadable one would otherwise fail only at the first order.
  if (tls?.acme?.caFile) checkCaFile(['tls', 'acme', 'caFile'], { key: 'tls.acme.caFile', file: tls.acme.caFile }, issues);
  config.routes.forEach((route, i) => {
    const up = route.upstreamTls;
    if (!up) return;
    const at = (field: string): FileLabel => ({ key: `routes[${i}].upstreamTls.${field}`, file: String(up[field as 'caFile'] ?? '') });
    if (up.caFile) checkCaFile(['routes', i, 'upstreamTls', 'caFile'], at('caFile'), issues);
    if (up.certFile && up.keyFile) checkPair(['routes', i, 'upstreamTls'], at('certFile'), at('keyFile'), now, issues);
  });
}

/** A CA bundle: readable, and at least one PEM certificate that parses. */
function checkCaFile(path: (string | number)[], file: FileLabel, issues: FileIssue[]): void {
  try {
    parseCertificates(readPem(file, 'cert'), file);
  } catch (e) {
    issues.push({ path, message: (e as Error).message });
  }
}

/** Reads and checks one pair; its problems are added at the key of the file at fault. */
function checkPair(path: (string | number)[], cert: FileLabel, key: FileLabel, now: number, issues: FileIssue[]): CertifiedKey | undefined {
  const certAt = [...path, 'certFile'];
  const keyAt = [...path, 'keyFile'];
  let certPem: Buffer | undefined;
  let keyPem: Buffer | undefined;
  try {
    certPem = readPem(cert, 'cert');
    parseCertificates(certPem, cert);
  } catch (e) {
    issues.push({ path: certAt, message: (e as Error).message });
    certPem = undefined;
  }
  try {
    keyPem = readPem(key, 'key');
    parsePrivateKey(keyPem, key);
  } catch (e) {
    issues.push({ path: keyAt, message: (e as Error).message });
    keyPem = undefined;
  }
  if (!certPem || !keyPem) return undefined;
  try {
    const certified = certifiedKey(certPem, keyPem, cert, key, now);
    if (certified.notAfter - now < EXPIRY_WARNING_MS) {
      const days = Math.max(0, Math.floor((certified.notAfter - now) / (24 * 3600 * 1000)));
      issues.push({ path: certAt, message: `warning: ${cert.key} (${cert.file}) expires on ${new Date(certified.notAfter).toISOString()}, in ${days} day${days === 1 ? '' : 's'}: renew it`, warning: true });
    }
    return certified;
  } catch (e) {
    if (!(e instanceof CertificateError)) throw e;
    issues.push({ path: e.field === 'cert' ? certAt : keyAt, message: e.message });
    return undefined;
  }
}
