// session/keys.ts — derives the independent 32-byte keys of the session layer from `session.secret`
// (HKDF-SHA256, one `info` label per purpose), so no key is ever used for two jobs.
import { hkdfSync } from 'node:crypto';

/** The keys derived from the session secret. Each is 32 bytes; never logged. */
export interface SessionKeys {
  /** HMAC-SHA256 key of the session cookie's MAC. */
  readonly cookieMac: Buffer;
  /** AES-256-GCM key of records at rest in a shared store (redis). */
  readonly storeEncryption: Buffer;
  /** Key of the CSRF tokens of Drawbridge's own forms. */
  readonly csrf: Buffer;
  /** Key that binds a login attempt to the browser that started it. */
  readonly loginBinding: Buffer;
  /** HMAC key of the return target carried through the IdP's sign-out (the end-session `state`). */
  readonly signOutReturn: Buffer;
  /** Key that binds a hand-off to the browser and route host that asked for it (the `hb` ticket and its cookie). */
  readonly handoffBinding: Buffer;
}

// A fixed salt: the secret is the only input entropy; the salt just separates Drawbridge from other HKDF users.
const SALT = 'drawbridge/session-keys/v1';

const LABELS: Record<keyof SessionKeys, string> = {
  cookieMac: 'drawbridge cookie-mac v1',
  storeEncryption: 'drawbridge store-encryption v1',
  csrf: 'drawbridge csrf v1',
  loginBinding: 'drawbridge login-binding v1',
  signOutReturn: 'drawbridge sign-out-return v1',
  handoffBinding: 'drawbridge handoff-binding v1',
};

/** Derives every session key from the secret (whose length, ≥ 32 bytes, the config schema checks). Call once at start. */
export function deriveKeys(secret: string): SessionKeys {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('deriveKeys: the session secret is empty');
  const ikm = Buffer.from(secret, 'utf8');
  const derive = (label: string): Buffer => Buffer.from(hkdfSync('sha256', ikm, SALT, label, 32));
  return Object.freeze({
    cookieMac: derive(LABELS.cookieMac),
    storeEncryption: derive(LABELS.storeEncryption),
    csrf: derive(LABELS.csrf),
    loginBinding: derive(LABELS.loginBinding),
    signOutReturn: derive(LABELS.signOutReturn),
    handoffBinding: derive(LABELS.handoffBinding),
  });
}
