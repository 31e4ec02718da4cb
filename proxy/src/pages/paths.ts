// pages/paths.ts — every reserved path of Drawbridge, in one place (SPEC §4). They are served on
// every route host (and publicUrl), are never forwarded, and all live under one prefix.
import { isUnderPrefix } from '../url/path-prefix.js';

export const RESERVED_PREFIX = '/.drawbridge';

export const PATHS = Object.freeze({
  signIn: '/.drawbridge/sign_in',
  callback: '/.drawbridge/callback',
  handoff: '/.drawbridge/handoff',
  signOut: '/.drawbridge/sign_out',
  switchUser: '/.drawbridge/switch_user',
  me: '/.drawbridge/me',
  jwks: '/.drawbridge/jwks.json',
  backchannelLogout: '/.drawbridge/backchannel_logout',
  /** GET: the pending access requests the signed-in user may approve; POST: ask for access (the 403 page's form). */
  requests: '/.drawbridge/requests',
  /** POST (CSRF-protected): approve or deny one pending access request (docs/access-requests.md). */
  requestsDecide: '/.drawbridge/requests/decide',
  /** Forward-auth (docs/forward-auth.md): a front proxy asks whether to let a request through, and as whom. */
  auth: '/.drawbridge/auth',
});

/** True for `/.drawbridge` and anything under it (on the normalized path). */
export function isReservedPath(path: string): boolean {
  return isUnderPrefix(path, RESERVED_PREFIX);
}

/** True for the forward-auth endpoint: `/.drawbridge/auth`, or under it (Envoy's `path_prefix` form). */
export function isForwardAuthPath(path: string): boolean {
  return path.startsWith(PATHS.auth) && (path.length === PATHS.auth.length || path.charCodeAt(PATHS.auth.length) === 47);
}

/**
 * True for a raw request-target that asks the forward-auth endpoint (`/.drawbridge/auth`, `?...`, or Envoy's
 * `/.drawbridge/auth/<original>`), before any normalization: the original path must never be resolved against the
 * endpoint's own (`/.drawbridge/auth/../../x` asks about `/../../x`, it is not a request for `/x`).
 */
export function isForwardAuthTarget(target: string): boolean {
  if (!target.startsWith(PATHS.auth)) return false;
  const next = target.charCodeAt(PATHS.auth.length);
  return Number.isNaN(next) || next === 47 || next === 63;
}

/**
 * Where a browser starts signing in to come back to `rd` (an absolute URL already checked by safeReturnTarget):
 * the sign-in path on rd's own origin, so that the route host binds the hand-off to this browser first; publicUrl
 * itself needs no hand-off. `extra` is appended to the query as is (`&name=value...`).
 */
export function signInStartUrl(rd: string, publicOrigin: string, extra = ''): string {
  let origin = publicOrigin;
  try {
    origin = new URL(rd).origin;
  } catch {
    // not absolute: start on publicUrl
  }
  return `${origin}${PATHS.signIn}?rd=${encodeURIComponent(rd)}${extra}`;
}
