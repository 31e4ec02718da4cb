// tls/acme-storage.ts — where `tls.acme` keeps its account key and each host's certificate and key, so a restart
// serves them at once instead of ordering again (CAs rate-limit). A directory (one per ACME directory URL, so that
// staging and production never mix); tls/acme-redis-storage.ts shares them between replicas.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface StoredCertificate {
  /** The chain as the CA sent it (leaf first), PEM. */
  certPem: string;
  keyPem: string;
}

/** Storage of one ACME account and its certificates. Reads return `undefined` for what was never saved. */
export interface CertificateStorage {
  /** Where it is, for log lines ("directory /var/lib/drawbridge/acme/..."). */
  readonly description: string;
  loadAccountKey(): Promise<string | undefined>;
  saveAccountKey(keyPem: string): Promise<void>;
  load(host: string): Promise<StoredCertificate | undefined>;
  save(host: string, certificate: StoredCertificate): Promise<void>;
  /** Shared storage only: takes the ordering lock of `host` for `ttlMs`; `undefined` when another replica holds it. */
  lock?(host: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
  /** Shared storage only: a pending HTTP-01 answer, so that any replica the CA reaches can give it. */
  saveChallenge?(token: string, host: string, keyAuthorization: string, ttlMs: number): Promise<void>;
  deleteChallenge?(token: string): Promise<void>;
  loadChallenge?(token: string): Promise<{ host: string; keyAuthorization: string } | undefined>;
}

const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

/** A host name as a file or key name component; anything else (a path separator, `..`) is refused. */
export function storageName(host: string): string {
  if (!HOST.test(host) || host.length > 253) throw new Error(`not a host name for ACME storage: ${JSON.stringify(host)}`);
  return host;
}

/** The ACME directory URL as one path component: `https://acme-v02.api.letsencrypt.org/directory` → `acme-v02.api.letsencrypt.org-directory`. */
export function directoryKey(directoryUrl: string): string {
  const u = new URL(directoryUrl);
  return `${u.host}${u.pathname}`.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/-+$/, '').replace(/^\.+/, '_');
}

/**
 * `<root>/<directoryKey>/account-key.pem` and `<root>/<directoryKey>/certificates/<host>/{cert,key}.pem`; directories
 * 0700, files 0600, each written to a temporary file and renamed (a crash never leaves half a key).
 */
export class DirectoryStorage implements CertificateStorage {
  readonly description: string;
  private readonly base: string;

  constructor(root: string, directoryUrl: string) {
    this.base = join(root, directoryKey(directoryUrl));
    this.description = `directory ${this.base}`;
  }

  loadAccountKey(): Promise<string | undefined> {
    return readOptional(join(this.base, 'account-key.pem'));
  }

  async saveAccountKey(keyPem: string): Promise<void> {
    await mkdir(this.base, { recursive: true, mode: 0o700 });
    await writeAtomic(join(this.base, 'account-key.pem'), keyPem);
  }

  async load(host: string): Promise<StoredCertificate | undefined> {
    const dir = join(this.base, 'certificates', storageName(host));
    const [certPem, keyPem] = await Promise.all([readOptional(join(dir, 'cert.pem')), readOptional(join(dir, 'key.pem'))]);
    return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
  }

  async save(host: string, certificate: StoredCertificate): Promise<void> {
    const dir = join(this.base, 'certificates', storageName(host));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The key first: a crash between the two leaves a new key beside the old certificate, which load refuses as a
    // mismatch (ordered again), never an old key the new certificate does not match silently served.
    await writeAtomic(join(dir, 'key.pem'), certificate.keyPem);
    await writeAtomic(join(dir, 'cert.pem'), certificate.certPem);
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}
