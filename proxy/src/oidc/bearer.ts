// oidc/bearer.ts — API clients on `bearer: true` routes: `Authorization: Bearer <JWT>` verified against
// the IdP's JWKS (cached; refetched on an unknown kid, at most every 30 s), iss, aud, exp, nbf.
import { decodeJwt, errors, jwtVerify } from 'jose';
import { ASYMMETRIC_ALGORITHMS, type JwksCache } from './jwks.js';

/** Allowed clock difference with the IdP for exp/nbf/iat, in seconds. */
export const BEARER_SKEW_SEC = 30;

// Asymmetric algorithms only: `none` and HMAC (e.g. HS256 "signed" with the public key) never verify.
const ALGORITHMS = [...ASYMMETRIC_ALGORITHMS];

export type BearerResult = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

/** The token of an `Authorization: Bearer` header, or undefined when the header is absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (typeof header !== 'string' || header.length < 8) return undefined;
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

/**
 * What a token `verifyBearer` accepted stays bound to (an open WebSocket it admitted): until when it is acceptable —
 * its `exp` plus the clock skew allowed, ms since the epoch — and its audiences. Undefined for a token whose `exp`
 * cannot be read (verifyBearer accepts none).
 */
export function bearerBinding(token: string): { until: number; audiences: readonly string[] } | undefined {
  try {
    const { exp, aud } = decodeJwt(token);
    if (typeof exp !== 'number') return undefined;
    return { until: (exp + BEARER_SKEW_SEC) * 1000, audiences: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [] };
  } catch {
    return undefined;
  }
}

/**
 * Verifies a bearer JWT against the keys at `jwksUri`, cached in `jwks` (the IdP client's bearer-token cache,
 * `OidcClient.jwks.bearer`); never throws — a failure says why in plain words (for the 401 JSON).
 */
export async function verifyBearer(token: string, opts: { jwks: JwksCache; jwksUri: URL; issuer: string; audiences: readonly string[]; now: number }): Promise<BearerResult> {
  if (token.length > 16384) return { ok: false, reason: 'token too large' };
  try {
    const { payload } = await jwtVerify(token, opts.jwks.keys(opts.jwksUri), {
      issuer: opts.issuer,
      audience: [...opts.audiences],
      algorithms: ALGORITHMS,
      currentDate: new Date(opts.now),
      clockTolerance: BEARER_SKEW_SEC,
      requiredClaims: ['exp', 'sub'],
    });
    // Other JWTs the IdP signs for this audience are not access tokens: an ID token (nonce) or a logout token (events).
    if ('events' in payload || 'nonce' in payload) return { ok: false, reason: 'not an access token' };
    if (typeof payload.iat === 'number' && payload.iat > Math.floor(opts.now / 1000) + BEARER_SKEW_SEC) return { ok: false, reason: 'token issued in the future' };
    return { ok: true, claims: { ...payload } };
  } catch (e) {
    return { ok: false, reason: describe(e) };
  }
}

function describe(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'token expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return 'wrong audience';
    if (e.claim === 'iss') return 'wrong issuer';
    if (e.claim === 'nbf') return 'token not yet valid';
    if (e.claim === 'iat') return 'token issued in the future';
    return `invalid claim ${e.claim}`;
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return 'algorithm not allowed';
  if (e instanceof errors.JWKSNoMatchingKey) return 'unknown signing key (kid)';
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return 'malformed token';
  if (e instanceof errors.JWKSTimeout) return 'the identity provider keys could not be fetched';
  return 'invalid token';
}
