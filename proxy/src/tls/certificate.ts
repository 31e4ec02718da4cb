// tls/certificate.ts — a certificate chain and its private key, read and checked: the PEM parses, the key is not
// passphrase-protected and matches the leaf, the leaf is in its validity period; its names, chain and OCSP URL.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** How a file is named in messages: the configuration key and the path (`tls.keyFile (/etc/drawbridge/tls.key)`). */
export interface FileLabel {
  /** The configuration key, e.g. `tls.certFile`, `tls.certificates[1].keyFile`, `routes[2].upstreamTls.certFile`. */
  key: string;
  file: string;
}

/** A certificate chain and its key, parsed and checked. */
export interface CertifiedKey {
  /** The PEM text of the chain (leaf first) and of the key, as given to node's TLS. */
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
  readonly chain: readonly X509Certificate[];
  readonly leaf: X509Certificate;
  readonly privateKey: KeyObject;
  /** DNS names (lower-case, `*.example.com` for a wildcard) and IP addresses the leaf is valid for. */
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  /** The OCSP responder URL of the leaf's Authority Information Access, when it has one. */
  readonly ocspUrl?: string;
}

/** A pair that cannot be used; `field` says which file is at fault ('cert' or 'key'). */
export class CertificateError extends Error {
  constructor(
    readonly field: 'cert' | 'key',
    message: string,
  ) {
    super(message);
    this.name = 'CertificateError';
  }
}

const label = (l: FileLabel) => `${l.key} (${l.file})`;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads a PEM file; an unreadable one throws a CertificateError naming the key and the file. */
export function readPem(l: FileLabel, field: 'cert' | 'key'): Buffer {
  try {
    return readFileSync(l.file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new CertificateError(field, `${label(l)} cannot be read: ${why}`);
  }
}

/** The certificates of a PEM bundle, in file order; none (or one that does not parse) throws. */
export function parseCertificates(pem: Buffer | string, l: FileLabel, field: 'cert' | 'key' = 'cert'): X509Certificate[] {
  const blocks = String(pem).match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new CertificateError(field, `${label(l)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new CertificateError(field, `${label(l)}: certificate #${i + 1} does not parse: ${(e as Error).message}`);
    }
  });
}

/** The private key of a PEM file; a passphrase-protected or unparsable key throws. */
export function parsePrivateKey(pem: Buffer | string, l: FileLabel): KeyObject {
  const text = String(pem);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    throw new CertificateError('key', `${label(l)} is protected by a passphrase: Drawbridge needs an unencrypted key (openssl pkey -in KEY -out KEY.plain, readable by Drawbridge's user only)`);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new CertificateError('key', `${label(l)} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
  try {
    return createPrivateKey(text);
  } catch (e) {
    throw new CertificateError('key', `${label(l)}: the private key does not parse: ${(e as Error).message}`);
  }
}

/** DNS names and IP addresses of a certificate's subjectAltName (lower-case). */
export function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(part.trim());
    if (m) names.push(m[2]!.toLowerCase().replace(/^"|"$/g, ''));
  }
  return names;
}

/** Whether a certificate name (`*.example.com` one label) covers `host`; a wildcard host needs the same wildcard. */
export function nameCovers(name: string, host: string): boolean {
  const h = host.toLowerCase();
  if (name === h) return true;
  if (!name.startsWith('*.') || h.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === name.slice(2);
}

/**
 * Parses and checks a chain and its key: both parse, the key is unencrypted and belongs to the leaf, and the leaf
 * is valid at `now` (expired or not yet valid: refused). Throws a CertificateError naming the key and the file.
 */
export function certifiedKey(certPem: Buffer, keyPem: Buffer, cert: FileLabel, key: FileLabel, now: number): CertifiedKey {
  const chain = parseCertificates(certPem, cert);
  const leaf = chain[0]!;
  const privateKey = parsePrivateKey(keyPem, key);
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new CertificateError('key', `${label(key)} does not match the certificate of ${label(cert)} (the key of another certificate?)`);
  }
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (now > notAfter) throw new CertificateError('cert', `${label(cert)} expired on ${new Date(notAfter).toISOString()} (${leaf.subject.replace(/\n/g, ', ')})`);
  if (now < notBefore) throw new CertificateError('cert', `${label(cert)} is not valid before ${new Date(notBefore).toISOString()}`);
  const ocsp = /OCSP - URI:(\S+)/.exec(leaf.infoAccess ?? '');
  return { certPem, keyPem, chain, leaf, privateKey, names: certificateNames(leaf), notBefore, notAfter, ...(ocsp ? { ocspUrl: ocsp[1] } : {}) };
}

/** Reads a certificate and key pair from their files and checks it (see `certifiedKey`). */
export function readCertifiedKey(cert: FileLabel, key: FileLabel, now: number): CertifiedKey {
  return certifiedKey(readPem(cert, 'cert'), readPem(key, 'key'), cert, key, now);
}

let roots: X509Certificate[] | undefined;

/**
 * What is wrong with a chain as a client would build it, or undefined: each certificate is signed by the next, and
 * the last is a root the system trusts (or is issued by one). A leaf alone, issued by an intermediate, usually means
 * the intermediate is missing from the file.
 */
export function chainProblem(chain: readonly X509Certificate[], cert: FileLabel): string | undefined {
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      return `${label(cert)}: certificate #${i + 2} did not issue certificate #${i + 1}: the chain must be the leaf first, then each issuer in order`;
    }
  }
  const last = chain[chain.length - 1]!;
  if (last.checkIssued(last)) {
    return chain.length === 1 ? `${label(cert)} is self-signed: only clients told to trust it will connect` : undefined;
  }
  roots ??= rootCertificates.map((pem) => new X509Certificate(pem));
  if (roots.some((root) => last.checkIssued(root) && last.verify(root.publicKey))) return undefined;
  return `${label(cert)}: the chain does not reach a root the system trusts (issuer "${last.issuer.replace(/\n/g, ', ')}"): the intermediate certificate is probably missing — append it after the leaf — or the issuer is a private CA clients must trust`;
}
