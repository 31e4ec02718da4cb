// oidc/client-auth.ts — how Drawbridge authenticates to the IdP's token endpoint (code exchange, refresh, the
// doctor's probe): client_secret_basic, client_secret_post or private_key_jwt, and the default taken from discovery.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, importPKCS8, type JWK } from 'jose';
import * as oidc from 'openid-client';
import type { TOKEN_ENDPOINT_AUTH_METHODS } from '../schema/config.js';

export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

export interface AuthMethodChoice {
  method: TokenEndpointAuthMethod;
  /** Said in the log at discovery: the IdP does not list the method used. */
  warning?: string;
}

/**
 * The method used: `configured` when set; otherwise client_secret_basic when the discovery document's
 * `token_endpoint_auth_methods_supported` lists it or has no list (basic is the OIDC default), else
 * client_secret_post when listed. private_key_jwt is used only when configured (it needs idp.privateKeyFile).
 */
export function chooseAuthMethod(configured: TokenEndpointAuthMethod | undefined, supported: readonly string[] | undefined): AuthMethodChoice {
  const listed = Array.isArray(supported) ? supported : undefined;
  if (configured) {
    if (listed && !listed.includes(configured)) {
      return { method: configured, warning: `idp.tokenEndpointAuthMethod is ${configured}, which the IdP does not list in token_endpoint_auth_methods_supported (${listed.join(', ')})` };
    }
    return { method: configured };
  }
  if (!listed || listed.includes('client_secret_basic')) return { method: 'client_secret_basic' };
  if (listed.includes('client_secret_post')) return { method: 'client_secret_post' };
  return {
    method: 'client_secret_basic',
    warning: `the IdP lists neither client_secret_basic nor client_secret_post in token_endpoint_auth_methods_supported (${listed.join(', ')}): set idp.tokenEndpointAuthMethod (private_key_jwt with idp.privateKeyFile)`,
  };
}

/** The private key of private_key_jwt, ready to sign client assertions. */
export interface ClientKey {
  key: CryptoKey;
  /** RFC 7638 thumbprint of the public key: the client assertion's `kid`. */
  kid: string;
  alg: string;
  /** What to register at the IdP (the client's JWKS): the public key with kid, alg and use. */
  publicJwk: JWK;
}

/** The JWS algorithm for a private key: RS256 (RSA, at least 2048 bits), PS256 (RSA-PSS), ES256/384/512, Ed25519. */
function algorithmOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      if ((details.modulusLength ?? 0) < 2048) throw new Error('the RSA key is shorter than 2048 bits');
      return key.asymmetricKeyType === 'rsa' ? 'RS256' : 'PS256';
    case 'ec': {
      const alg = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[details.namedCurve ?? ''];
      if (!alg) throw new Error(`unsupported EC curve ${details.namedCurve ?? '?'} (use P-256, P-384 or P-521)`);
      return alg;
    }
    case 'ed25519':
      return 'Ed25519';
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? '?'} (use RSA, EC or Ed25519)`);
  }
}

/** Reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) for private_key_jwt. */
export async function loadClientKey(pem: string): Promise<ClientKey> {
  const keyObject = createPrivateKey(pem);
  if (keyObject.type !== 'private') throw new Error('not a private key');
  const alg = algorithmOf(keyObject);
  const pkcs8 = keyObject.export({ format: 'pem', type: 'pkcs8' }).toString();
  const key = (await importPKCS8(pkcs8, alg)) as CryptoKey;
  const base = createPublicKey(keyObject).export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(base);
  return { key, kid, alg, publicJwk: { ...base, kid, alg, use: 'sig' } };
}

/** The openid-client authentication of `method`. */
export function clientAuthentication(method: TokenEndpointAuthMethod, clientSecret: string | undefined, key: ClientKey | undefined): oidc.ClientAuth {
  switch (method) {
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(clientSecret ?? '');
    case 'client_secret_post':
      return oidc.ClientSecretPost(clientSecret ?? '');
    case 'private_key_jwt':
      if (!key) throw new Error('private_key_jwt needs idp.privateKeyFile');
      return oidc.PrivateKeyJwt({ key: key.key, kid: key.kid });
  }
}
