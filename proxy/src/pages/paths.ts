// pages/paths.ts — every reserved path of Drawbridge, in one place (SPEC §4). They are served on
// every route host (and publicUrl), are never forwarded, and all live under one prefix.

export const RESERVED_PREFIX = '/.drawbridge';

export const PATHS = Object.freeze({
  signIn: '/.drawbridge/sign_in',
  callback: '/.drawbridge/callback',
  handoff: '/.drawbridge/handoff',
  signOut: '/.drawbridge/sign_out',
  me: '/.drawbridge/me',
  jwks: '/.drawbridge/jwks.json',
  backchannelLogout: '/.drawbridge/backchannel_logout',
});

/** True for `/.drawbridge` and anything under it (on the normalized path). */
export function isReservedPath(path: string): boolean {
  return path.startsWith(RESERVED_PREFIX) && (path.length === RESERVED_PREFIX.length || path.charCodeAt(RESERVED_PREFIX.length) === 47);
}
