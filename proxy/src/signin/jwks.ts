// signin/jwks.ts — GET /.drawbridge/jwks.json: the assertion signer's public keys (current and previous).
import type { SignInContext, SignInHandler } from './context.js';

/** GET /.drawbridge/jwks.json — the assertion signer's public keys, cacheable for five minutes. */
export function jwks(cx: SignInContext): SignInHandler {
  const { rt } = cx;
  return (_req, res) => {
    res.setHeader('cache-control', 'public, max-age=300');
    res.json(rt.signer.jwks());
  };
}
