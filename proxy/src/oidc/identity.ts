// oidc/identity.ts — where a session's identity comes from: the ID token, completed (or, at a refresh without an
// ID token, replaced) by the userinfo endpoint as `idp.userinfo` says; the same rules at sign-in and at refresh; and
// the once-per-user log line when a mapped claim is missing.
import type { Config } from '../schema/config.js';
import type { Identity } from '../policy/input.js';
import type { Logger } from '../telemetry/logger.js';
import { absentClaims, identityFromClaims, mergeUserinfo, missingIdentityClaims, SIGN_IN_CLAIMS, statedEmailVerified, type ClaimNames } from './claims.js';
import type { OidcClient, TokenSet } from './client.js';

/** The userinfo endpoint (or a refreshed ID token) named another subject than the sign-in's: refused, never merged. */
export class SubjectMismatchError extends Error {
  constructor(source: 'userinfo' | 'refreshed ID token') {
    super(source === 'userinfo' ? 'the userinfo endpoint names another subject than the ID token' : 'the refreshed ID token names another subject');
    this.name = 'SubjectMismatchError';
  }
}

/** A refreshed identity, or the previous one kept because the userinfo endpoint failed (`userinfoError`). */
export interface RefreshedIdentity {
  identity: Identity;
  /** Where the user's claims came from (for the log): the refreshed ID token, userinfo, both, or nowhere (kept). */
  source: 'id-token' | 'userinfo' | 'id-token+userinfo' | 'unchanged';
  /** Set when the userinfo endpoint was needed and failed: the identity is the previous one, unchanged. */
  userinfoError?: unknown;
}

type Idp = Config['idp'];
/** Entries of the missing-claim log's memory; beyond it, it starts again (a user may then be logged twice). */
const MAX_REMEMBERED = 10_000;

/** Builds identities from the IdP's answers; one per process (it remembers whom it logged). */
export class IdentitySource {
  private readonly logged = new Set<string>();

  constructor(
    private readonly client: Pick<OidcClient, 'userinfo' | 'hasUserinfo'>,
    private readonly logger: Logger,
  ) {}

  /**
   * The identity of a sign-in (its ID token is verified): the ID token's claims, with the userinfo answer's when
   * `idp.userinfo` is `always`, or `auto` and the ID token lacks a mapped claim. Rejects when the userinfo endpoint
   * fails (the caller tells an outage from a refusal) or names another subject ({@link SubjectMismatchError}).
   */
  async signIn(tokens: TokenSet, idp: Idp, now: number, requestId?: string): Promise<Identity> {
    const idClaims = tokens.claims ?? {};
    let claims: Record<string, unknown> = { ...idClaims };
    const sub = typeof idClaims.sub === 'string' ? idClaims.sub : '';
    if (sub && this.wantsUserinfo(idp, idClaims, tokens)) claims = mergeUserinfo(idClaims, await this.userinfo(tokens.accessToken!, sub));
    const identity = identityFromClaims(claims, idp.claims, { now, assumeEmailVerified: idp.assumeEmailVerified, maxClaimsBytes: idp.maxClaimsSize });
    this.noteMissing(identity, claims, idp.claims, requestId);
    return identity;
  }

  /**
   * The identity after a refresh of `previous`'s session, from whichever source has it: the refreshed ID token
   * (completed by userinfo as at sign-in), or, when the refresh answer carries none, the userinfo endpoint with the
   * new access token — then the user's claims are exactly userinfo's (a group or claim gone there is gone here). With
   * neither (no ID token, userinfo `never` or not offered), the previous identity stays. How the user signed in
   * (`auth_time`, `amr`, `acr`) is always the original sign-in's: a refresh is not a sign-in. `email_verified` is
   * never upgraded ({@link keepEmailVerification}). A subject other than the session's rejects with
   * {@link SubjectMismatchError}; a failing userinfo endpoint resolves with the previous identity and `userinfoError`.
   */
  async refresh(tokens: TokenSet, previous: Identity, idp: Idp, now: number, requestId?: string): Promise<RefreshedIdentity> {
    if (tokens.claims && tokens.claims.sub !== previous.sub) throw new SubjectMismatchError('refreshed ID token');
    let claims: Record<string, unknown>;
    let source: RefreshedIdentity['source'];
    if (this.wantsUserinfo(idp, tokens.claims, tokens)) {
      let userinfo: Record<string, unknown>;
      try {
        userinfo = await this.userinfo(tokens.accessToken!, previous.sub);
      } catch (e) {
        if (e instanceof SubjectMismatchError) throw e;
        return { identity: previous, source: 'unchanged', userinfoError: e };
      }
      claims = mergeUserinfo(tokens.claims ?? signInClaims(previous.claims), userinfo);
      source = tokens.claims ? 'id-token+userinfo' : 'userinfo';
    } else if (tokens.claims) {
      claims = { ...tokens.claims };
      source = 'id-token';
    } else {
      return { identity: previous, source: 'unchanged' };
    }
    // The original sign-in's facts, in the claims (`claim:` rules) as in the identity.
    for (const key of ['auth_time', 'amr', 'acr'] as const) {
      if (Object.hasOwn(previous.claims, key)) claims[key] = previous.claims[key];
      else delete claims[key];
    }
    const identity = identityFromClaims(claims, idp.claims, { now, assumeEmailVerified: idp.assumeEmailVerified, maxClaimsBytes: idp.maxClaimsSize });
    identity.amr = previous.amr;
    if (previous.acr !== undefined) identity.acr = previous.acr;
    else delete identity.acr;
    if (previous.authTime !== undefined) identity.authTime = previous.authTime;
    else delete identity.authTime;
    keepEmailVerification(identity, previous, statedEmailVerified(claims, idp.claims));
    this.noteMissing(identity, claims, idp.claims, requestId);
    return { identity, source };
  }

  /**
   * A bearer token's identity (its claims are verified): no userinfo call (the token is the caller's, not a session
   * Drawbridge keeps), the same mapping and the same once-per-user log of missing claims.
   */
  bearer(claims: Record<string, unknown>, idp: Idp, now: number, requestId?: string): Identity {
    const identity = identityFromClaims(claims, idp.claims, { now, assumeEmailVerified: idp.assumeEmailVerified });
    this.noteMissing(identity, claims, idp.claims, requestId);
    return identity;
  }

  /** `always`; or `auto` and no ID token (a refresh) or one that lacks a mapped claim. Never without an endpoint or access token. */
  private wantsUserinfo(idp: Idp, idClaims: Readonly<Record<string, unknown>> | undefined, tokens: TokenSet): boolean {
    if (idp.userinfo === 'never' || !tokens.accessToken || !this.client.hasUserinfo) return false;
    return idp.userinfo === 'always' || idClaims === undefined || absentClaims(idClaims, idp.claims).length > 0;
  }

  private async userinfo(accessToken: string, sub: string): Promise<Record<string, unknown>> {
    const claims = await this.client.userinfo(accessToken);
    if (claims.sub !== sub) throw new SubjectMismatchError('userinfo');
    return claims;
  }

  /**
   * Logs, once per user and set of missing claims, that the user or groups claim was missing or unusable: the user
   * then is `sub`, the groups none. Names only — of the claims missing and of those received — never a value.
   */
  private noteMissing(identity: Identity, claims: Readonly<Record<string, unknown>>, names: ClaimNames, requestId: string | undefined): void {
    const missing = missingIdentityClaims(claims, names);
    if (missing.length === 0) return;
    const key = `${identity.sub}\n${missing.join('\n')}`;
    if (this.logged.has(key)) return;
    if (this.logged.size >= MAX_REMEMBERED) this.logged.clear();
    this.logged.add(key);
    this.logger.warn({
      event: 'claims-missing',
      ...(requestId ? { requestId } : {}),
      sub: identity.sub,
      user: identity.user,
      missing,
      received: Object.keys(claims).sort(),
      hint: 'check idp.claims and what the IdP releases (scopes, claim mappers); the user is sub when the user claim is missing, and has no groups when the groups claim is',
    });
  }
}

/** Only the claims describing the sign-in (kept when a refresh brings the user's claims from userinfo alone). */
function signInClaims(claims: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const key of Object.keys(claims)) if (SIGN_IN_CLAIMS.has(key)) kept[key] = claims[key];
  return kept;
}

/**
 * A refresh never upgrades `email_verified`: an address that was unverified stays unverified for this session (a
 * new sign-in picks up a verification made since); when the refreshed claims do not state it (`stated` undefined),
 * the same address keeps its earlier value, and a changed address keeps what the claims gave it (unverified, unless
 * `idp.assumeEmailVerified`).
 */
export function keepEmailVerification(next: Identity, previous: Identity, stated: boolean | undefined): void {
  if (next.email === undefined) return;
  const sameEmail = next.email === previous.email;
  if (sameEmail && previous.emailVerified === false) next.emailVerified = false;
  else if (sameEmail && stated === undefined && previous.emailVerified !== undefined) next.emailVerified = previous.emailVerified;
}
