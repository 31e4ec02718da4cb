// e2e/idp/keys.ts — the dev IdP's signing keys (one RS256, one ES256, made once per process so a
// restarted IdP keeps its JWKS) and JWT signing with them, including deliberately broken tokens.
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, type JWK, type JWTPayload } from 'jose';

/** Algorithms the IdP holds a key for. */
export type SigningAlg = 'RS256' | 'ES256';

/** A key `signJwt`/`signLogoutToken` accept instead of the IdP's own (what jose's `sign` takes). */
export type ForeignKey = Parameters<SignJWT['sign']>[0];

/** One signing key of the IdP. */
export interface SigningKey {
  alg: SigningAlg;
  kid: string;
  privateKey: KeyObject;
  /** Private JWK with kid, alg and use, as oidc-provider's `jwks` option wants it. */
  privateJwk: JWK;
  publicJwk: JWK;
}

/** Options of `signJwt`. */
export interface SignJwtOptions {
  /** Default RS256. `none` makes an unsigned token (for tests that must refuse it). */
  alg?: SigningAlg | 'none' | (string & {});
  /** The `kid` header; defaults to the kid of the IdP key used. Set to `null` to leave it out. */
  kid?: string | null;
  /** The `typ` header; an empty string leaves it out. */
  typ?: string;
  /** Sign with this key instead of the IdP's (then `alg` must fit the key). */
  key?: ForeignKey;
}

let processKeys: Promise<SigningKey[]> | undefined;

/** The IdP's signing keys, created at first use and shared by every dev IdP of this process. */
export function signingKeys(): Promise<SigningKey[]> {
  processKeys ??= Promise.all([
    makeKey('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })),
    makeKey('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })),
  ]);
  return processKeys;
}

async function makeKey(alg: SigningAlg, pair: { privateKey: KeyObject; publicKey: KeyObject }): Promise<SigningKey> {
  const publicBase = pair.publicKey.export({ format: 'jwk' }) as JsonWebKey as JWK;
  const kid = await calculateJwkThumbprint(publicBase);
  const meta = { kid, alg, use: 'sig' };
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    privateJwk: { ...(pair.privateKey.export({ format: 'jwk' }) as JsonWebKey as JWK), ...meta },
    publicJwk: { ...publicBase, ...meta },
  };
}

/** Signs `payload` as given (no claims added) with the IdP key of `alg`, or with `options.key`. */
export async function signWith(keys: SigningKey[], payload: JWTPayload, options: SignJwtOptions = {}): Promise<string> {
  const alg = options.alg ?? 'RS256';
  const own = keys.find((k) => k.alg === alg);
  const kid = options.kid === null ? undefined : (options.kid ?? (options.key ? undefined : own?.kid));
  const header = { alg, ...(kid === undefined ? {} : { kid }), ...(options.typ ? { typ: options.typ } : {}) };
  if (alg === 'none') {
    const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
    return `${encode(header)}.${encode(payload)}.`;
  }
  const key = options.key ?? own?.privateKey;
  if (!key) throw new Error(`signJwt: the dev IdP has no ${alg} key; pass options.key`);
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}
