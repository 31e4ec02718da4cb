// server/assertion-keys.ts — the assertion's key material as read from the files the configuration names
// (`assertion.keyFile`, `assertion.previousKeys`), at start and at every reload. With `workers`, the primary reads
// them and hands the same PEMs to every worker (a worker never reads them itself), so every worker signs with one key
// and publishes one JWKS, a replacement worker too, whatever happened to the files since.
import { readFileSync } from 'node:fs';
import { DrawbridgeError } from '../errors.js';
import type { Config } from '../schema/config.js';

/** The PEMs the signer is made from. */
export interface AssertionKeyMaterial {
  /** The signing key; absent: keep the key in force (the one generated at start when no keyFile was ever given). */
  privateKeyPem?: string;
  /** The previous public keys, still published in the JWKS. */
  previousPublicKeysPem: string[];
}

/**
 * Reads the files of `assertion`; without a keyFile, `fallbackPem` is the signing key (the primary's, generated at
 * start or read before). Throws `DRB_CONFIG_READ` naming the setting and the file that cannot be read.
 */
export function readAssertionKeys(assertion: Config['assertion'], fallbackPem?: string): AssertionKeyMaterial {
  const read = (setting: string, file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (cause) {
      throw new DrawbridgeError('DRB_CONFIG_READ', `${setting}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { cause });
    }
  };
  const privateKeyPem = assertion.keyFile ? read('assertion.keyFile', assertion.keyFile) : fallbackPem;
  const previousPublicKeysPem = assertion.previousKeys.map((f, i) => read(`assertion.previousKeys[${i}]`, f));
  return { ...(privateKeyPem !== undefined ? { privateKeyPem } : {}), previousPublicKeysPem };
}

/**
 * What a reload may change of `assertion` (the rest waits for a restart): the key files. `header` and `ttl` stay as
 * they run (`kept` names them when they changed); a keyFile taken out keeps the key in force (a new one would be
 * generated only by a restart).
 */
export function reloadableAssertion(running: Config['assertion'], loaded: Config['assertion']): { next: Config['assertion']; kept: string[] } {
  const kept: string[] = [];
  if (loaded.header !== running.header) kept.push('assertion.header');
  if (loaded.ttl !== running.ttl) kept.push('assertion.ttl');
  if (running.keyFile !== undefined && loaded.keyFile === undefined) kept.push('assertion.keyFile');
  return { next: { ...loaded, header: running.header, ttl: running.ttl }, kept };
}
