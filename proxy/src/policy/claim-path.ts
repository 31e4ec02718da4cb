// policy/claim-path.ts — how a configured claim name finds its value in a token's claims: the exact top-level key
// first (`https://example.com/groups`, `cognito:groups`), then a dot-separated path into nested objects
// (`realm_access.roles`). Shared by `idp.claims` (oidc/claims.ts) and the `claim:` rule.

/** Reads one claim's value out of a claims object; undefined when it is absent. */
export type ClaimReader = (claims: Readonly<Record<string, unknown>>) => unknown;

/**
 * The reader for `name`, built once (at compile time). Only own properties of plain objects are followed, never
 * inherited ones (`constructor`, `__proto__`) and never array indexes: a path names nested objects, nothing else.
 */
export function claimReader(name: string): ClaimReader {
  const path = name.split('.');
  const nested = path.length > 1 && path.every((segment) => segment !== '');
  return function read(claims) {
    if (Object.hasOwn(claims, name)) return claims[name];
    if (!nested) return undefined;
    let at: unknown = claims;
    for (const segment of path) {
      if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, segment)) return undefined;
      at = (at as Record<string, unknown>)[segment];
    }
    return at;
  };
}

/** {@link claimReader} applied once. */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  return claimReader(name)(claims);
}
