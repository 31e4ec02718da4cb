// tls/client-certificate.ts — device certificates (mutual TLS): the trust the listener and Drawbridge itself check
// them against (`tls.clientCa`, `tls.clientCrl`), the DeviceCertificate a verified one becomes, and the
// X-Forwarded-Client-Cert header (Envoy's format) through which a trusted TLS-terminating proxy passes one on.
import { createHash, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { DeviceCertificate } from '../policy/input.js';
import type { Config } from '../schema/config.js';
import { DrawbridgeError } from '../errors.js';

type TlsConfig = NonNullable<Config['tls']>;

/** Extended key usage: TLS client authentication. */
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
/** At most this many certificates between a device certificate and its root. */
const MAX_CHAIN = 8;
/** Header certificates whose verification is remembered (the same few devices send many requests). */
const MAX_CACHED = 1000;

/** Why a presented certificate is no device certificate (logged; the `device` rule sees no certificate). */
export type DeviceRefusal = 'unknown-issuer' | 'revoked' | 'expired' | 'not-yet-valid' | 'not-for-client-auth' | 'no-crl' | 'crl-expired' | 'malformed' | 'hash-mismatch';

/** The PEM certificates of a bundle, each parsed. */
export function readCertificates(pem: string, where: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw configError(`${where}: no PEM certificate in it`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw configError(`${where}: certificate ${i + 1} cannot be read (${(e as Error).message})`);
    }
  });
}

function readText(file: string, key: string, encoding: BufferEncoding = 'utf8'): string {
  try {
    return readFileSync(file, encoding);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw configError(`${key} (${file}) cannot be read: ${why}`);
  }
}

// ---- a DER reader, just enough for a certificate revocation list (RFC 5280 §5.1) ----

interface Tlv {
  tag: number;
  start: number;
  /** Start of the content. */
  body: number;
  end: number;
}

function tlv(der: Buffer, at: number): Tlv {
  const tag = der[at]!;
  let len = der[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[body + i]!;
    body += n;
  }
  const end = body + len;
  if (tag === undefined || end > der.length) throw new Error('truncated DER');
  return { tag, start: at, body, end };
}

function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end; ) {
    const t = tlv(der, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

function oid(der: Buffer, t: Tlv): string {
  const b = der.subarray(t.body, t.end);
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function time(der: Buffer, t: Tlv): number {
  const s = der.toString('latin1', t.body, t.end);
  const m = (t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/).exec(s);
  if (!m) throw new Error(`unreadable time ${s}`);
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** A serial number as upper-case hex without leading zeros (how both X509Certificate and a CRL are compared). */
function serialKey(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

/** Signature algorithms of a CRL: OID → digest for crypto.verify (null: the key type decides, Ed25519). */
const SIGNATURE_DIGESTS: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
};

/** One parsed revocation list: who signed it, until when it holds, and the serials it revokes. */
interface Crl {
  issuer: X509Certificate;
  nextUpdate: number | undefined;
  revoked: Set<string>;
}

/** Parses one CRL (DER) and finds which CA of `cas` signed it; throws when none did or it cannot be read. */
export function parseCrl(der: Buffer, cas: readonly X509Certificate[]): Crl {
  const list = tlv(der, 0);
  const [tbs, alg, sig] = children(der, list);
  if (!tbs || !alg || !sig || sig.tag !== 0x03) throw new Error('not a certificate revocation list');
  const algOid = oid(der, children(der, alg)[0]!);
  if (!(algOid in SIGNATURE_DIGESTS)) throw new Error(`unsupported signature algorithm ${algOid}`);
  const tbsBytes = der.subarray(tbs.start, tbs.end);
  const signature = der.subarray(sig.body + 1, sig.end);
  const issuer = cas.find((ca) => {
    try {
      return verifySignature(SIGNATURE_DIGESTS[algOid]!, tbsBytes, ca.publicKey as KeyObject, signature);
    } catch {
      return false;
    }
  });
  if (!issuer) throw new Error('signed by no certificate of tls.clientCa');
  let fields = children(der, tbs);
  if (fields[0]?.tag === 0x02) fields = fields.slice(1); // version
  // signature, issuer, thisUpdate, [nextUpdate], [revokedCertificates], [0] extensions
  let i = 3;
  let nextUpdate: number | undefined;
  if (fields[i] && (fields[i]!.tag === 0x17 || fields[i]!.tag === 0x18)) nextUpdate = time(der, fields[i++]!);
  const revoked = new Set<string>();
  if (fields[i]?.tag === 0x30) {
    for (const entry of children(der, fields[i]!)) {
      const serial = children(der, entry)[0]!;
      revoked.add(serialKey(der.toString('hex', serial.body, serial.end)));
    }
  }
  return { issuer, nextUpdate, revoked };
}

function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

// ---- what a certificate says ----

/** `subject`/`issuer` of a certificate: a field given more than once holds its values joined by a newline. */
function nameRecord(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    out[key] = out[key] === undefined ? value : `${out[key]}\n${value}`;
  }
  return Object.freeze(out);
}

/**
 * The entries of node's `subjectAltName` text ("DNS:a, URI:urn:x, email:b"): a value node had to quote (one with
 * a comma or a quote in it) is a JSON string after the prefix, unquoted here.
 */
export function parseSubjectAltName(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const kind = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      next = text.indexOf(',', j + 1);
    } else {
      next = text.indexOf(', ', colon + 1);
      value = text.slice(colon + 1, next < 0 ? text.length : next);
    }
    out.push(`${kind}:${value}`);
    if (next < 0) break;
    i = next + (text[next + 1] === ' ' ? 2 : 1);
  }
  return out;
}

/** What the policy sees of a verified certificate. */
export function deviceOf(cert: X509Certificate, source: DeviceCertificate['source']): DeviceCertificate {
  return Object.freeze({
    fingerprint256: createHash('sha256').update(cert.raw).digest('hex'),
    subject: nameRecord(cert.subject),
    issuer: nameRecord(cert.issuer),
    san: Object.freeze(parseSubjectAltName(cert.subjectAltName)),
    source,
  });
}

// ---- trust ----

/**
 * The device CAs and revocation lists in force: what `tls.clientCa` and `tls.clientCrl` (or the header's own
 * files) hold, read when the configuration is loaded or reloaded. Drawbridge checks every certificate against it
 * at each request (the handshake's verdict too): a reload that revokes a certificate or drops a CA applies to open
 * connections and resumed TLS sessions at once.
 */
export class DeviceTrust {
  readonly cas: readonly X509Certificate[];
  private readonly crls: readonly Crl[];
  private readonly hasCrl: boolean;
  /** PEM bytes for the listener's secure contexts. */
  readonly caPem: string;
  readonly crlPem: string | undefined;

  constructor(caPem: string, crlText: string | undefined, where: { ca: string; crl: string }) {
    this.cas = readCertificates(caPem, where.ca);
    this.caPem = caPem;
    this.hasCrl = crlText !== undefined;
    if (crlText === undefined) {
      this.crls = [];
      this.crlPem = undefined;
      return;
    }
    const ders = crlText.includes('-----BEGIN X509 CRL-----') ? pemBlocks(crlText, 'X509 CRL') : [Buffer.from(crlText, 'latin1')];
    this.crls = ders.map((der, i) => {
      try {
        return parseCrl(der, this.cas);
      } catch (e) {
        throw configError(`${where.crl}: revocation list ${i + 1}: ${(e as Error).message}`);
      }
    });
    this.crlPem = ders.map((d) => `-----BEGIN X509 CRL-----\n${d.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`).join('');
  }

  /** Reads the files. A missing or unreadable file, a bundle with no certificate, a CRL no CA signed: throws. */
  static read(caFile: string, crlFile: string | undefined, keys: { ca: string; crl: string }): DeviceTrust {
    return new DeviceTrust(readText(caFile, keys.ca), crlFile === undefined ? undefined : readText(crlFile, keys.crl, 'latin1'), keys);
  }

  /**
   * Checks a certificate: valid now, no CA, meant for client authentication (when it lists extended key usages), chained
   * through CAs of the bundle up to a self-signed one of it (each valid now), and (with a CRL) not revoked by its
   * issuer's list, which must be there and current. Undefined when it passes, else why not.
   */
  check(cert: X509Certificate, now: number): DeviceRefusal | undefined {
    if (now < Date.parse(cert.validFrom)) return 'not-yet-valid';
    if (now > Date.parse(cert.validTo)) return 'expired';
    // A CA certificate is never a device, even one of the bundle itself.
    if (cert.ca) return 'not-for-client-auth';
    const eku = cert.keyUsage;
    if (eku !== undefined && eku.length > 0 && !eku.includes(CLIENT_AUTH_EKU)) return 'not-for-client-auth';
    let current = cert;
    let issuer: X509Certificate | undefined;
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      const up = this.cas.find((ca) => ca.ca && current.checkIssued(ca) && current.verify(ca.publicKey) && now >= Date.parse(ca.validFrom) && now <= Date.parse(ca.validTo));
      if (!up) return 'unknown-issuer';
      issuer ??= up;
      if (up.checkIssued(up)) break;
      if (depth === MAX_CHAIN - 1) return 'unknown-issuer';
      current = up;
    }
    if (!this.hasCrl) return undefined;
    const crl = this.crls.find((c) => c.issuer === issuer);
    if (!crl) return 'no-crl';
    if (crl.nextUpdate !== undefined && now > crl.nextUpdate) return 'crl-expired';
    return crl.revoked.has(serialKey(cert.serialNumber)) ? 'revoked' : undefined;
  }
}

/** The listener's options for client certificates: ask for one (never refuse the handshake: see docs/device-trust.md). */
export function clientAuthOptions(tls: Pick<TlsConfig, 'clientCa' | 'clientCrl'>): SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean } {
  if (!tls.clientCa) return {};
  const trust = DeviceTrust.read(tls.clientCa, tls.clientCrl, { ca: 'tls.clientCa', crl: 'tls.clientCrl' });
  return { requestCert: true, rejectUnauthorized: false, ca: trust.caPem, ...(trust.crlPem ? { crl: trust.crlPem } : {}) };
}

// ---- X-Forwarded-Client-Cert ----

/** Splits at `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(text.slice(from, i));
      from = i + 1;
    }
  }
  out.push(text.slice(from));
  return out;
}

/**
 * The fields of the rightmost element of an `X-Forwarded-Client-Cert` header as Envoy writes it
 * (`By=…;Hash=…;Cert="…";Subject="…";URI=…`): the element the proxy nearest Drawbridge added. Keys lower-cased,
 * quoted values unquoted. Undefined without the header.
 */
export function xfccElement(value: string | string[] | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const elements = splitOutsideQuotes(text, ',');
  const last = elements[elements.length - 1]!.trim();
  const fields: Record<string, string> = {};
  for (const pair of splitOutsideQuotes(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq < 1) continue;
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    fields[pair.slice(0, eq).trim().toLowerCase()] = v;
  }
  return fields;
}

/** The device of a trusted proxy's header, or why there is none. Verified results are remembered per certificate. */
export class HeaderDevices {
  private readonly cache = new Map<string, { cert: X509Certificate; device: DeviceCertificate } | DeviceRefusal>();
  constructor(
    /** Lower-case header name. */
    readonly header: string,
    readonly trust: DeviceTrust,
  ) {}

  /** The header's certificate (its `Cert` field, URL-encoded PEM), verified against the trust. */
  resolve(value: string | string[] | undefined, now: number): { device?: DeviceCertificate; refusal?: DeviceRefusal } {
    const fields = xfccElement(value);
    if (fields === undefined) return {};
    const pem = fields['cert'];
    if (!pem) return { refusal: 'malformed' };
    let entry = this.cache.get(pem);
    if (entry === undefined) {
      try {
        const cert = new X509Certificate(decodeURIComponent(pem));
        entry = { cert, device: deviceOf(cert, 'header') };
      } catch {
        entry = 'malformed';
      }
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(pem, entry);
    }
    if (typeof entry === 'string') return { refusal: entry };
    if (fields['hash'] !== undefined && fields['hash'].toLowerCase() !== entry.device.fingerprint256) return { refusal: 'hash-mismatch' };
    const refusal = this.trust.check(entry.cert, now);
    return refusal ? { refusal } : { device: entry.device };
  }
}

function configError(message: string): DrawbridgeError {
  return new DrawbridgeError('DRB_CONFIG_READ', message);
}
