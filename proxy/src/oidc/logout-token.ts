// oidc/logout-token.ts — validates an OpenID Connect Back-Channel Logout 1.0 logout token: signature
// (IdP JWKS), iss, aud, iat freshness, typ, the logout event, sub and/or sid, and no nonce. Tokens of the final
// specification and of the widely deployed drafts (typ JWT, no exp) both pass; see verifyLogoutToken.
import { jwtVerify } from 'jose';
import { ASYMMETRIC_ALGORITHMS, type JwksCache } from './jwks.js';

export const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** How old (by `iat`) a logout token may be; also the whole life of a token without `exp`. */
export const LOGOUT_TOKEN_MAX_AGE_SEC = 300;
/** Clock difference allowed with the IdP, both ways. */
export const LOGOUT_TOKEN_SKEW_SEC = 30;
/**
 * `typ` values accepted: the final specification's `logout+jwt` (and its media-type form), and `JWT`, which the
 * drafts and many deployed IdPs send. An absent `typ` passes too (explicit typing is a SHOULD). Any other type (an
 * access token's `at+jwt`, ...) is another kind of token and is refused.
 */
const ACCEPTED_TYPES: ReadonlySet<string> = new Set(['logout+jwt', 'application/logout+jwt', 'jwt']);

export interface LogoutClaims {
  iss: string;
  jti: string;
  sub?: string;
  sid?: string;
}

/**
 * Verifies a logout token against the keys at `jwksUri`, cached in `jwks` (the IdP client's logout-token cache,
 * `OidcClient.jwks.logout`); throws with a plain reason on any defect. `now` in ms.
 *
 * `exp`: the final specification requires it, the drafts deployed by many IdPs do not send it. A token with `exp`
 * must not be expired; a token without one is accepted only while its `iat` is at most LOGOUT_TOKEN_MAX_AGE_SEC old
 * (and at most LOGOUT_TOKEN_SKEW_SEC in the future) — the same window every token gets. Replays within that window are
 * refused by the receiver, which records the `jti` (kept longer than the window) before anything ends.
 */
export async function verifyLogoutToken(token: string, opts: { jwks: JwksCache; jwksUri: URL; issuer: string; audience: string; now: number }): Promise<LogoutClaims> {
  const nowSec = Math.floor(opts.now / 1000);
  const { payload, protectedHeader } = await jwtVerify(token, opts.jwks.keys(opts.jwksUri), {
    issuer: opts.issuer,
    audience: opts.audience,
    algorithms: [...ASYMMETRIC_ALGORITHMS],
    currentDate: new Date(opts.now),
    clockTolerance: LOGOUT_TOKEN_SKEW_SEC,
    requiredClaims: ['iat', 'jti'],
  });
  if (protectedHeader.typ !== undefined && !ACCEPTED_TYPES.has(protectedHeader.typ.toLowerCase())) {
    throw new Error(`logout token typ "${protectedHeader.typ}" is not logout+jwt (or JWT)`);
  }
  const iat = payload.iat!;
  if (iat > nowSec + LOGOUT_TOKEN_SKEW_SEC) throw new Error('logout token issued in the future');
  if (nowSec - iat > LOGOUT_TOKEN_MAX_AGE_SEC) throw new Error('logout token is too old (iat)');
  const events = payload.events as Record<string, unknown> | undefined;
  if (!events || typeof events !== 'object' || typeof events[LOGOUT_EVENT] !== 'object' || events[LOGOUT_EVENT] === null) {
    throw new Error('logout token has no back-channel logout event');
  }
  if ('nonce' in payload) throw new Error('logout token must not contain a nonce');
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  if (!sub && !sid) throw new Error('logout token has neither sub nor sid');
  if (typeof payload.jti !== 'string' || payload.jti === '') throw new Error('logout token has no jti');
  return { iss: payload.iss!, jti: payload.jti, ...(sub ? { sub } : {}), ...(sid ? { sid } : {}) };
}
