// pages/return-state.ts — carries the sign-out's return target (`rd`) through the IdP's end-session round trip.
// The post_logout_redirect_uri must be exactly the registered URI (oidc-provider compares strings; so do most IdPs),
// so the target cannot ride on it as a query parameter. RP-Initiated Logout 1.0's `state` is made for this: the IdP
// hands it back, untouched, on the post-logout redirect. It is MACed here so only a target Drawbridge itself sent
// comes back, and the caller checks it again against the current routes (safeReturnTarget) before using it.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Longer targets are not carried (the URL to the IdP also holds the ID token); the default target is used instead. */
export const MAX_RETURN_STATE_TARGET = 2048;
const LABEL = 'drawbridge sign-out return v1\0';

function mac(target: string, key: Buffer): string {
  return createHmac('sha256', key).update(LABEL).update(target).digest('base64url');
}

/** `base64url(target).mac`, or undefined when the target is too long to carry. */
export function sealReturnState(target: string, key: Buffer): string | undefined {
  if (target.length === 0 || target.length > MAX_RETURN_STATE_TARGET) return undefined;
  return `${Buffer.from(target, 'utf8').toString('base64url')}.${mac(target, key)}`;
}

/** The target a sealed state carries; undefined when it is absent, malformed or not sealed with this key. */
export function openReturnState(state: string | null | undefined, key: Buffer): string | undefined {
  if (typeof state !== 'string' || state.length > 4 * MAX_RETURN_STATE_TARGET) return undefined;
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(state);
  if (!m) return undefined;
  const target = Buffer.from(m[1]!, 'base64url').toString('utf8');
  if (target.length === 0 || target.length > MAX_RETURN_STATE_TARGET) return undefined;
  const given = Buffer.from(m[2]!);
  const expected = Buffer.from(mac(target, key));
  return given.length === expected.length && timingSafeEqual(given, expected) ? target : undefined;
}
