// oidc/claims.ts — ID token (or access token) claims → the Identity the policy, headers and
// assertion use. Defensive about claim shapes: an IdP is input like any other.
import type { Identity } from '../policy/input.js';

export interface ClaimNames {
  user: string;
  groups: string;
}

const MAX_GROUPS = 5000;

/**
 * Builds an Identity. `groups` may be an array (non-strings dropped) or a single string, taken as ONE
 * group (never split on commas); anything else means no groups. `email_verified: false` is kept so
 * `email`/`domain` rules refuse the email. The user is the configured claim, else `sub`.
 */
export function identityFromClaims(claims: Readonly<Record<string, unknown>>, names: ClaimNames): Identity {
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  const userClaim = claims[names.user];
  const identity: Identity = {
    sub,
    user: typeof userClaim === 'string' && userClaim !== '' ? userClaim : sub,
    groups: stringList(claims[names.groups]).slice(0, MAX_GROUPS),
    amr: stringList(claims.amr),
    claims: { ...claims },
  };
  if (typeof claims.email === 'string' && claims.email !== '') identity.email = claims.email;
  if (typeof claims.email_verified === 'boolean') identity.emailVerified = claims.email_verified;
  else if (claims.email_verified === 'false') identity.emailVerified = false;
  if (typeof claims.name === 'string' && claims.name !== '') identity.name = claims.name;
  if (typeof claims.acr === 'string') identity.acr = claims.acr;
  if (typeof claims.auth_time === 'number' && Number.isFinite(claims.auth_time)) identity.authTime = claims.auth_time;
  return identity;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && v !== '');
}
