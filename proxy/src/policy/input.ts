// policy/input.ts — what a policy decision is made from: who (Identity), what and from where (PolicyInput).
import type { SessionContext } from './context.js';

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
  /** The session's bound context, this request's agent family and the session's risk signals (`context`, `risk` rules). */
  session?: SessionContext;
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
  /** The verified client (device) certificate of this request, when there is one. */
  device?: DeviceCertificate;
}

export interface DeviceCertificate {
  /** SHA-256 of the DER certificate, lower-case hex without colons. */
  fingerprint256: string;
  subject: Readonly<Record<string, string>>;   // e.g. { CN: 'laptop-42', O: 'Example' }
  issuer: Readonly<Record<string, string>>;
  /** subjectAltName entries as 'URI:…', 'DNS:…', 'email:…'. */
  san: readonly string[];
  /** Where it came from: the TLS handshake or a trusted peer's header. */
  source: 'tls' | 'header';
}
