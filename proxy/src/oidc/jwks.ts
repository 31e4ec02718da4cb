// oidc/jwks.ts — the IdP's published keys (jwks_uri), fetched and cached once per URL for every verifier: ID tokens,
// back-channel logout tokens and bearer tokens share one cache (one fetch, one refetch on an unknown `kid`).
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';

const jwksCache = new Map<string, JWTVerifyGetKey>();

/** The JWKS of an IdP, fetched and cached by jose (refreshed on an unknown `kid`, at most every 30 s). */
export function remoteJwks(uri: URL): JWTVerifyGetKey {
  let jwks = jwksCache.get(uri.href);
  if (!jwks) {
    jwks = createRemoteJWKSet(uri, { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 });
    jwksCache.set(uri.href, jwks);
  }
  return jwks;
}

/** Asymmetric JWS algorithms Drawbridge verifies IdP tokens with (`none` and HMAC are never among them). */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
