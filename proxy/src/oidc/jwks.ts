// oidc/jwks.ts — the IdP's published keys (jwks_uri), fetched and cached by explicit cache objects: the IdP client
// (oidc/client.ts) owns one per kind of token it verifies (ID tokens, back-channel logout tokens, bearer tokens), so
// what one kind does to its cache (a refetch on an unknown `kid`, and the cooldown after it) never reaches another,
// and two Drawbridge instances in one process share nothing.
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';

/** The JWKS of an IdP by jwks_uri, fetched and cached by jose (refreshed on an unknown `kid`, at most every 30 s). */
export class JwksCache {
  readonly #byUri = new Map<string, JWTVerifyGetKey>();

  /** The keys published at `uri`, fetched on first use. */
  keys(uri: URL): JWTVerifyGetKey {
    let jwks = this.#byUri.get(uri.href);
    if (!jwks) {
      jwks = createRemoteJWKSet(uri, { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 });
      this.#byUri.set(uri.href, jwks);
    }
    return jwks;
  }
}

/** Asymmetric JWS algorithms Drawbridge verifies IdP tokens with (`none` and HMAC are never among them). */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
