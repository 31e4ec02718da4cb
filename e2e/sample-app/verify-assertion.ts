// e2e/sample-app/verify-assertion.ts — the reference verifier of Drawbridge's X-Drawbridge-Assertion
// for Express apps (the docs quote it): ES256 only, keys from Drawbridge's JWKS, issuer and audience pinned.
import type { RequestHandler } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

/** The outcome left in `res.locals.assertion`. */
export interface AssertionResult {
  verified: boolean;
  claims?: JWTPayload;
  error?: string;
}

/** Options of {@link verifyAssertion}. */
export interface VerifyAssertionOptions {
  /** Drawbridge's `https://<publicUrl>/.drawbridge/jwks.json`. */
  jwksUrl: string;
  /** Drawbridge's publicUrl. */
  issuer: string;
  /** This app's origin as a Drawbridge route (`from`). */
  audience: string | string[];
  /** true: record a failure in res.locals.assertion and continue; default false: answer 401. */
  optional?: boolean;
}

/** Express middleware: verifies the assertion header and puts `{ verified, claims | error }` in `res.locals.assertion`. */
export function verifyAssertion({ jwksUrl, issuer, audience, optional = false }: VerifyAssertionOptions): RequestHandler {
  const keys = createRemoteJWKSet(new URL(jwksUrl));
  return async (req, res, next) => {
    try {
      const token = req.get('x-drawbridge-assertion');
      if (!token) throw new Error('no X-Drawbridge-Assertion header');
      const { payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['ES256'] });
      res.locals.assertion = { verified: true, claims: payload } satisfies AssertionResult;
    } catch (error) {
      res.locals.assertion = { verified: false, error: (error as Error).message } satisfies AssertionResult;
      if (!optional) {
        res.status(401).json({ error: 'invalid identity assertion' });
        return;
      }
    }
    next();
  };
}
