// digest.ts — SHA-256 of text (UTF-8), in the two encodings Drawbridge stores and compares digests in: store keys,
// session id hashes, bearer token cache keys and the configuration file's checksum.
import { createHash } from 'node:crypto';

/** SHA-256 of `text` (UTF-8), hex. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 of `text` (UTF-8), base64url without padding. */
export function sha256Base64url(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}
