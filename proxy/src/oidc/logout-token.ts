// oidc/logout-token.ts — validates an OpenID Connect Back-Channel Logout 1.0 logout token: signature
// (IdP JWKS), iss, aud, iat freshness, typ, the logout event, sub and/or sid, and no nonce.
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';

export const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const MAX_AGE_SEC = 300;
const SKEW_SEC = 30;

export interface LogoutClaims {
  iss: string;
  jti: string;
  sub?: string;
  sid?: string;
}

const jwksCache = new Map<string, JWTVerifyGetKey>();

/** The JWKS of an IdP, fetched and cached by jose (refreshed on an unknown `kid`, with a cooldown). */
export function remoteJwks(uri: URL): JWTVerifyGetKey {
  let jwks = jwksCache.get(uri.href);
  if (!jwks) {
    jwks = createRemoteJWKSet(uri, { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 });
    jwksCache.set(uri.href, jwks);
  }
  return jwks;
}

/** Verifies a logout token; throws with a plain reason on any defect. `now` in ms. */
export async function verifyLogoutToken(token: string, opts: { jwksUri: URL; issuer: string; audience: string; now: number }): Promise<LogoutClaims> {
  const nowSec = Math.floor(opts.now / 1000);
  const { payload, protectedHeader } = await jwtVerify(token, remoteJwks(opts.jwksUri), {
    issuer: opts.issuer,
    audience: opts.audience,
    algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
    currentDate: new Date(opts.now),
    clockTolerance: SKEW_SEC,
    requiredClaims: ['iat', 'exp', 'jti'],
  });
  if (protectedHeader.typ !== undefined && protectedHeader.typ.toLowerCase() !== 'logout+jwt' && protectedHeader.typ.toLowerCase() !== 'application/logout+jwt') {
    throw new Error(`logout token typ "${protectedHeader.typ}" is not logout+jwt`);
  }
  const iat = payload.iat!;
  if (iat > nowSec + SKEW_SEC) throw new Error('logout token issued in the future');
  if (nowSec - iat > MAX_AGE_SEC) throw new Error('logout token is too old (iat)');
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
