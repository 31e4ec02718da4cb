// oidc/id-token.ts — the signature of every ID token Drawbridge accepts (sign-in, step-up, refresh), checked
// against the IdP's JWKS with the algorithms its discovery document announces. openid-client checks the claims
// (iss, aud, exp, nonce, max_age) but not the signature of a token that came from the token endpoint.
import { compactVerify, decodeProtectedHeader, errors, type JWTVerifyGetKey } from 'jose';
import { DrawbridgeError } from '../errors.js';
import { ASYMMETRIC_ALGORITHMS } from './jwks.js';

const HMAC_ALGORITHMS: ReadonlySet<string> = new Set(['HS256', 'HS384', 'HS512']);

/** The algorithms an ID token may be signed with: what the IdP announces, of what Drawbridge verifies. */
export interface IdTokenAlgorithms {
  /** Verified with a key of the IdP's JWKS. */
  asymmetric: string[];
  /** Verified with idp.clientSecret (OIDC Core §10.1): only announced ones, and only when a client secret is configured. */
  hmac: string[];
}

/**
 * `announced` is the discovery document's `id_token_signing_alg_values_supported` (REQUIRED by OIDC Discovery; when
 * missing, RS256, the OIDC default). `none` is never accepted, whatever the IdP announces. HMAC algorithms are
 * accepted only when announced and a client secret is configured: OIDC Core §10.1 makes the client secret the MAC
 * key, the one HMAC key both sides know (Auth0 and older IdPs sign with it). An HMAC token made with any other secret
 * fails verification.
 */
export function idTokenAlgorithms(announced: readonly string[] | undefined, clientSecret: string | undefined): IdTokenAlgorithms {
  const list = announced && announced.length > 0 ? announced : ['RS256'];
  return {
    asymmetric: list.filter((alg) => ASYMMETRIC_ALGORITHMS.includes(alg)),
    hmac: clientSecret ? list.filter((alg) => HMAC_ALGORITHMS.has(alg)) : [],
  };
}

/** The ID token was refused: unsigned, an algorithm not allowed, a key not in the JWKS, a bad signature. */
export class IdTokenRejected extends DrawbridgeError {
  constructor(
    message: string,
    /** What to check, for the log. */
    readonly hint: string,
    readonly alg: string | undefined,
    readonly kid: string | undefined,
    cause?: unknown,
  ) {
    super('DRB_ID_TOKEN_INVALID', message, cause === undefined ? undefined : { cause });
    this.name = 'IdTokenRejected';
  }
}

/** True for an ID token refused by {@link verifyIdTokenSignature} (not for an IdP whose keys could not be fetched). */
export function isIdTokenRejected(e: unknown): e is IdTokenRejected {
  return e instanceof IdTokenRejected;
}

const FORGED_HINT =
  'the ID token is not signed by a key the IdP publishes at its jwks_uri: the token endpoint answer was altered (check what sits between Drawbridge and the IdP), or the IdP signs ID tokens with a key it does not publish';

/**
 * Verifies the ID token's signature. Throws IdTokenRejected when the token is refused; throws a DRB_IDP_UNAVAILABLE
 * error when the IdP's keys could not be fetched (an outage: the token is neither accepted nor judged).
 */
export async function verifyIdTokenSignature(token: string, opts: { jwks: JWTVerifyGetKey; jwksUri: URL; algorithms: IdTokenAlgorithms; clientSecret?: string | undefined }): Promise<void> {
  let alg: string | undefined;
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    alg = typeof header.alg === 'string' ? header.alg : undefined;
    kid = typeof header.kid === 'string' ? header.kid : undefined;
  } catch (e) {
    throw new IdTokenRejected('the ID token is not a JWS', FORGED_HINT, undefined, undefined, e);
  }
  const { asymmetric, hmac } = opts.algorithms;
  if (alg === undefined || alg.toLowerCase() === 'none') {
    throw new IdTokenRejected('the ID token is unsigned (alg none)', FORGED_HINT, alg, kid);
  }
  if (alg.toUpperCase().startsWith('HS')) {
    if (!opts.clientSecret || !hmac.includes(alg)) {
      const why = !opts.clientSecret ? 'Drawbridge has no client secret to check it with' : 'the IdP does not announce it in id_token_signing_alg_values_supported';
      throw new IdTokenRejected(`the ID token is signed with ${alg} (HMAC), which is refused: ${why}`, 'configure the client at the IdP to sign ID tokens with RS256 or ES256', alg, kid);
    }
    try {
      await compactVerify(token, new TextEncoder().encode(opts.clientSecret), { algorithms: [alg] });
    } catch (e) {
      throw new IdTokenRejected(`the ID token's ${alg} signature does not verify with idp.clientSecret`, 'the IdP signs ID tokens with HMAC using a secret that is not idp.clientSecret: check idp.clientSecret, or have the IdP sign ID tokens with RS256', alg, kid, e);
    }
    return;
  }
  if (!asymmetric.includes(alg)) {
    throw new IdTokenRejected(`the ID token is signed with ${alg}, which the IdP does not announce (id_token_signing_alg_values_supported: ${asymmetric.concat(hmac).join(', ') || 'none usable'})`, FORGED_HINT, alg, kid);
  }
  try {
    await compactVerify(token, opts.jwks, { algorithms: asymmetric });
  } catch (e) {
    if (e instanceof errors.JWKSNoMatchingKey) throw new IdTokenRejected(`the ID token's key (kid ${kid ?? 'none'}, ${alg}) is not in the IdP's JWKS`, FORGED_HINT, alg, kid, e);
    if (e instanceof errors.JWSSignatureVerificationFailed) throw new IdTokenRejected(`the ID token's ${alg} signature does not verify with the IdP's key (kid ${kid ?? 'none'})`, FORGED_HINT, alg, kid, e);
    if (e instanceof errors.JWKSMultipleMatchingKeys || e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported || e instanceof errors.JWSInvalid || e instanceof errors.JWKInvalid) {
      throw new IdTokenRejected(`the ID token was refused: ${(e as Error).message}`, FORGED_HINT, alg, kid, e);
    }
    // The keys could not be fetched (timeout, connection, non-200, not a JWKS): no verdict on the token.
    throw new DrawbridgeError('DRB_IDP_UNAVAILABLE', `fetching the IdP's keys from ${opts.jwksUri.href}: ${(e as Error).message}`, { cause: e });
  }
}
