// policy/input.ts — what a policy decision is made from: who (Identity), what and from where (PolicyInput).

/** The signed-in user as the policy, the headers and the assertion see them. */
export interface Identity {
  /** The IdP's stable subject (`sub`). */
  sub: string;
  /** The user name: the claim named by `idp.claims.user` (default `preferred_username`), else `sub` (logged). */
  user: string;
  email?: string;
  /**
   * Whether the IdP verified `email` (`email_verified`; missing counts as false unless `idp.assumeEmailVerified`).
   * Only `true` lets the email match `email`/`domain` rules and reach the upstream.
   */
  emailVerified?: boolean;
  /** Groups from the claim named by `idp.claims.groups`; always an array of strings. */
  groups: readonly string[];
  name?: string;
  /** Authentication methods (`amr`) of the sign-in. */
  amr: readonly string[];
  /** Authentication context class (`acr`) of the sign-in. */
  acr?: string;
  /** When the user last actively authenticated, seconds since the epoch (`auth_time`); undefined when unknown. */
  authTime?: number;
  /** Every claim of the ID token (and the userinfo answer) or bearer token, for `claim:` rules. */
  claims: Readonly<Record<string, unknown>>;
}

/** One request as the policy sees it. Time is an input, never read from the clock inside a rule. */
export interface PolicyInput {
  identity?: Identity;
  /** Upper-case request method. */
  method: string;
  /** The normalized path (no query). */
  path: string;
  /**
   * The client address: the socket peer, or the X-Forwarded-For client of a trusted proxy. Undefined when it is
   * unknown (a trusted proxy sent a client hop that is no address): `ip` rules are then undecided, never true.
   */
  ip: string | undefined;
  /** Request time, milliseconds since the epoch. */
  now: number;
  /**
   * An active access grant of this user for this route (access/), found by admission: the decision allows unless a
   * deny rule matches (or cannot be decided). Only the route's own decision reads it, never a named policy's.
   */
  grant?: { readonly id: string };
}
