// oidc/claims.ts — ID token (and userinfo, or bearer token) claims → the Identity the policy, headers and
// assertion use. Pure. Defensive about claim shapes: an IdP is input like any other.
import { claimAt } from '../policy/claim-path.js';
import type { Identity } from '../policy/input.js';

/** Which claims make the identity (`idp.claims`): names are exact keys, else dot paths (policy/claim-path.ts). */
export interface ClaimNames {
  user: string;
  groups: string;
  /** Default `email`. */
  email?: string;
  /** Default `name`. */
  name?: string;
  /** Splits a groups claim that is one string; without it such a string is one group. */
  groupsDelimiter?: string;
}

/** What else building an identity takes. */
export interface IdentityOptions {
  /** ms since the epoch: an `auth_time` later than this (beyond clock skew) is unknown. */
  now: number;
  /** `idp.assumeEmailVerified`: an email without `email_verified` counts as verified. */
  assumeEmailVerified?: boolean;
  /**
   * `idp.maxClaimsSize`: most bytes the claims may take as JSON (UTF-8); larger ones are refused
   * ({@link IdentityClaimTooLongError}, unit `bytes`). A session keeps its claims for its whole life: without a bound,
   * one account whose claims are large (an attribute its user can edit at the IdP) makes every session it opens as
   * large. Unset: no bound (a bearer token's claims, bounded by the request's header size and never stored).
   */
  maxClaimsBytes?: number;
}

/**
 * Most groups accepted. More are refused, never cut: the policy's `group` rules must see every group, or a `deny`
 * (or `not`) rule naming one beyond the cut would let the user in.
 */
export const MAX_GROUPS = 5000;

/**
 * Longest `sub` accepted: OpenID Connect Core §2 says it "MUST NOT exceed 255 ASCII characters". The user falls back
 * to it, and every request's headers and assertion carry it.
 */
export const MAX_SUB_CHARS = 255;
/**
 * Longest user and email accepted (UTF-16 code units): 320 is the longest address RFC 3696 allows (64 + 1 + 255).
 * These two name the user to the policy and the upstream: one longer is refused, never cut (a cut value could be
 * someone else's) nor dropped (a rule like `not: { email: … }` would then pass).
 */
export const MAX_USER_CHARS = 320;
/**
 * Longest display name kept (UTF-16 code units); a longer one is cut at a code point boundary. A name is often the
 * user's to edit at the IdP and is only shown: uncapped, one user could make every request's headers and every cached
 * assertion as large as they like.
 */
export const MAX_NAME_CHARS = 256;

/**
 * A claim that names the user is longer than Drawbridge accepts, or the groups claim holds more groups: the sign-in,
 * refresh or bearer token is refused.
 */
export class IdentityClaimTooLongError extends Error {
  constructor(
    /** The claim's configured name (`sub`, `idp.claims.user`, `idp.claims.email`, `idp.claims.groups`). */
    readonly claim: string,
    readonly limit: number,
    /** What `limit` counts; `bytes`: the claims as a whole (`claim` is `claims`), as JSON. */
    readonly unit: 'characters' | 'groups' | 'bytes' = 'characters',
  ) {
    super(
      unit === 'groups'
        ? `the ${claim} claim holds more than ${limit} groups`
        : unit === 'bytes'
          ? `the claims take more than ${limit} bytes (idp.maxClaimsSize)`
          : `the ${claim} claim is longer than ${limit} characters`,
    );
    this.name = 'IdentityClaimTooLongError';
  }

  /** The sentence a page shows: what the IdP sent. */
  get sent(): string {
    if (this.unit === 'bytes') return `claims larger than ${this.limit} bytes`;
    return this.unit === 'groups' ? `more than ${this.limit} groups in ${this.claim}` : `a value of ${this.claim} longer than ${this.limit} characters`;
  }
}
/**
 * An `auth_time` before this (2001-09-09, 1e9 s) is a placeholder (`0`, `1`), never a sign-in: unknown. And one more
 * than the skew ahead of Drawbridge's clock is no sign-in that happened yet.
 */
const EARLIEST_AUTH_TIME_SEC = 1_000_000_000;
const AUTH_TIME_SKEW_SEC = 300;

/**
 * Claims that describe the token or the sign-in rather than the user: the ID token's alone, never taken from a
 * userinfo answer (which could otherwise claim a stronger or fresher sign-in than the ID token did).
 */
export const SIGN_IN_CLAIMS: ReadonlySet<string> = new Set(['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'azp', 'at_hash', 'c_hash', 's_hash', 'sid', 'auth_time', 'amr', 'acr']);

/**
 * Builds an Identity. `groups` may be an array (non-strings dropped) or a single string: one group, or split on
 * `groupsDelimiter` (parts trimmed, empty ones dropped); anything else means no groups. The email is verified only
 * when `email_verified` says so for the `email` claim (`true` or `"true"`), or the claim is absent and
 * `assumeEmailVerified` is set; an explicit false always stands. The user is the configured claim, else `sub`.
 * `auth_time` counts only when it is a plausible time ({@link usableAuthTime}). Throws
 * {@link IdentityClaimTooLongError} for claims larger than `maxClaimsBytes`, a `sub`, user or email beyond its limit,
 * or more than {@link MAX_GROUPS} groups; a long name is cut ({@link MAX_NAME_CHARS}).
 */
export function identityFromClaims(claims: Readonly<Record<string, unknown>>, names: ClaimNames, options: IdentityOptions): Identity {
  if (options.maxClaimsBytes !== undefined && claimsBytes(claims) > options.maxClaimsBytes) throw new IdentityClaimTooLongError('claims', options.maxClaimsBytes, 'bytes');
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  if (sub.length > MAX_SUB_CHARS) throw new IdentityClaimTooLongError('sub', MAX_SUB_CHARS);
  const user = nonEmptyString(claimAt(claims, names.user));
  if (user !== undefined && user.length > MAX_USER_CHARS) throw new IdentityClaimTooLongError(names.user, MAX_USER_CHARS);
  const groups = groupList(claimAt(claims, names.groups), names.groupsDelimiter);
  if (groups.length > MAX_GROUPS) throw new IdentityClaimTooLongError(names.groups, MAX_GROUPS, 'groups');
  const identity: Identity = {
    sub,
    user: user ?? sub,
    groups,
    amr: stringList(claims.amr),
    claims: { ...claims },
  };
  const email = nonEmptyString(claimAt(claims, names.email ?? 'email'));
  if (email !== undefined) {
    if (email.length > MAX_USER_CHARS) throw new IdentityClaimTooLongError(names.email ?? 'email', MAX_USER_CHARS);
    identity.email = email;
    identity.emailVerified = statedEmailVerified(claims, names) ?? options.assumeEmailVerified === true;
  }
  const name = nonEmptyString(claimAt(claims, names.name ?? 'name'));
  if (name !== undefined) identity.name = cutName(name);
  if (typeof claims.acr === 'string') identity.acr = claims.acr;
  const authTime = usableAuthTime(claims.auth_time, options.now);
  if (authTime !== undefined) identity.authTime = authTime;
  return identity;
}

/** The claims' size as a session keeps them: UTF-8 bytes of their JSON. */
export function claimsBytes(claims: Readonly<Record<string, unknown>>): number {
  return Buffer.byteLength(JSON.stringify(claims));
}

/**
 * What `email_verified` says of the email the identity uses: a boolean (or the strings `"true"`/`"false"` some IdPs
 * send), or undefined when it says nothing — absent, another type, or the email is taken from another claim than
 * `email` (`email_verified` vouches for `email` only).
 */
export function statedEmailVerified(claims: Readonly<Record<string, unknown>>, names: Pick<ClaimNames, 'email'>): boolean | undefined {
  if ((names.email ?? 'email') !== 'email') return undefined;
  const v = claims.email_verified;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

/** `auth_time` in seconds when it is a plausible sign-in time: a finite number from 2001 to `now` (+ 5 min skew). */
export function usableAuthTime(value: unknown, now: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  if (value < EARLIEST_AUTH_TIME_SEC || value > now / 1000 + AUTH_TIME_SKEW_SEC) return undefined;
  return value;
}

/**
 * The mapped claims (`user`, `groups`, `email`, `name`) these claims lack, by their configured names: with
 * `idp.userinfo: auto`, any of them sends Drawbridge to the userinfo endpoint.
 */
export function absentClaims(claims: Readonly<Record<string, unknown>>, names: ClaimNames): string[] {
  const wanted = [names.user, names.groups, names.email ?? 'email', names.name ?? 'name'];
  return wanted.filter((n) => claimAt(claims, n) === undefined);
}

/** The user and groups claims these claims lack or carry unusably (logged: the user falls back to `sub`, groups are none). */
export function missingIdentityClaims(claims: Readonly<Record<string, unknown>>, names: ClaimNames): string[] {
  const missing: string[] = [];
  if (nonEmptyString(claimAt(claims, names.user)) === undefined) missing.push(names.user);
  const groups = claimAt(claims, names.groups);
  if (typeof groups !== 'string' && !Array.isArray(groups)) missing.push(names.groups);
  return missing;
}

/**
 * The ID token's claims with the userinfo answer's over them, except the sign-in claims ({@link SIGN_IN_CLAIMS}),
 * which stay the ID token's. An email and its `email_verified` travel together: when userinfo names the email, the
 * ID token's `email_verified` (which vouched for the ID token's address) is dropped for userinfo's own.
 */
export function mergeUserinfo(idToken: Readonly<Record<string, unknown>>, userinfo: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...idToken };
  if (Object.hasOwn(userinfo, 'email')) delete merged.email_verified;
  // defineProperty, not assignment: a `__proto__` key from JSON must stay a claim, never become the prototype.
  for (const [key, value] of Object.entries(userinfo)) {
    if (!SIGN_IN_CLAIMS.has(key)) Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

/** The name, cut to MAX_NAME_CHARS without splitting a surrogate pair. */
function cutName(name: string): string {
  if (name.length <= MAX_NAME_CHARS) return name;
  const last = name.charCodeAt(MAX_NAME_CHARS - 1);
  return name.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_NAME_CHARS - 1 : MAX_NAME_CHARS);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function groupList(value: unknown, delimiter: string | undefined): string[] {
  if (typeof value === 'string' && delimiter !== undefined) return value.split(delimiter).map((g) => g.trim()).filter((g) => g !== '');
  return stringList(value);
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && v !== '');
}
