// test-support/certs.ts — certificates made at test time with the openssl CLI: a CA, leaves it signs (names, lifetime,
// an OCSP URL), and the files a `tls` block points at.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  certFile: string;
  keyFile: string;
  pem: string;
}

export interface TestCert {
  certFile: string;
  keyFile: string;
  /** The leaf's PEM. */
  pem: string;
  /** The leaf and the CA, for a chain file. */
  chainPem: string;
  keyPem: string;
}

export function certDir(): string {
  return mkdtempSync(join(tmpdir(), 'drawbridge-tls-'));
}

function newKey(kind: 'ec' | 'rsa'): string[] {
  return kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
}

let serial = 0;

/** A self-signed CA valid for `days`. */
export function makeCa(dir: string, name = 'ca', days = 30): TestCa {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', ...newKey('ec'), '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', `/CN=Drawbridge Test ${name}`, '-days', String(days), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'pipe' });
  return { certFile, keyFile, pem: readFileSync(certFile, 'utf8') };
}

/**
 * A leaf signed by `ca` for `names` (DNS names; an address is an IP SAN). The cert file holds the leaf, then the CA
 * unless `leafOnly`.
 */
export function makeCert(dir: string, ca: TestCa, name: string, names: readonly string[], options: { days?: number; key?: 'ec' | 'rsa'; ocspUrl?: string; leafOnly?: boolean } = {}): TestCert {
  const base = join(dir, `${name}-${++serial}`);
  const keyFile = `${base}.key`;
  const csr = `${base}.csr`;
  const leaf = `${base}.leaf.crt`;
  const ext = `${base}.ext`;
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(ext, [`subjectAltName=${san}`, 'basicConstraints=CA:FALSE', 'extendedKeyUsage=serverAuth,clientAuth', ...(options.ocspUrl ? [`authorityInfoAccess=OCSP;URI:${options.ocspUrl}`] : [])].join('\n'));
  execFileSync('openssl', ['req', ...newKey(options.key ?? 'ec'), '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${names[0] ?? name}`], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(Date.now() * 1000 + serial), '-out', leaf, '-days', String(options.days ?? 30), '-extfile', ext], { stdio: 'pipe' });
  const pem = readFileSync(leaf, 'utf8');
  const chainPem = options.leafOnly ? pem : pem + ca.pem;
  const certFile = `${base}.crt`;
  writeFileSync(certFile, chainPem);
  return { certFile, keyFile, pem, chainPem, keyPem: readFileSync(keyFile, 'utf8') };
}

/**
 * A device (client) certificate signed by `ca`: `subject` as openssl writes it (`/CN=laptop-42/O=Example`), the
 * SAN entries (`URI:urn:device:42`), extended key usage clientAuth only.
 */
export function makeDeviceCert(dir: string, ca: TestCa, name: string, options: { subject?: string; san?: readonly string[]; days?: number } = {}): TestCert {
  const base = join(dir, `${name}-${++serial}`);
  const keyFile = `${base}.key`;
  const csr = `${base}.csr`;
  const certFile = `${base}.crt`;
  const ext = `${base}.ext`;
  writeFileSync(ext, [...(options.san?.length ? [`subjectAltName=${options.san.join(',')}`] : []), 'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'].join('\n'));
  execFileSync('openssl', ['req', ...newKey('ec'), '-nodes', '-keyout', keyFile, '-out', csr, '-subj', options.subject ?? `/CN=${name}`], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(Date.now() * 1000 + serial), '-out', certFile, '-days', String(options.days ?? 30), '-extfile', ext], { stdio: 'pipe' });
  const pem = readFileSync(certFile, 'utf8');
  return { certFile, keyFile, pem, chainPem: pem + ca.pem, keyPem: readFileSync(keyFile, 'utf8') };
}

/** A CRL of `ca` (PEM, `openssl ca -gencrl`) revoking `revoked`, written to `file` (returned). */
export function makeCrl(dir: string, ca: TestCa, revoked: readonly TestCert[], file = join(dir, `${++serial}.crl`)): string {
  const db = join(dir, `crl-db-${serial}`);
  writeFileSync(`${db}.index`, '');
  writeFileSync(`${db}.number`, '01\n');
  const config = `${db}.cnf`;
  writeFileSync(config, ['[ca]', 'default_ca = d', '[d]', `database = ${db}.index`, `crlnumber = ${db}.number`, 'default_md = sha256', 'default_crl_days = 30', ''].join('\n'));
  const common = ['-config', config, '-keyfile', ca.keyFile, '-cert', ca.certFile];
  for (const c of revoked) execFileSync('openssl', ['ca', ...common, '-revoke', c.certFile], { stdio: 'pipe' });
  execFileSync('openssl', ['ca', ...common, '-gencrl', '-out', file], { stdio: 'pipe' });
  return file;
}
