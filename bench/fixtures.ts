// bench/fixtures.ts — realistic sessions for the bench: ID token claims as an IdP issues them (a few groups
// and claims), an ~800-character signed ID token, an opaque access token, no refresh token.
import { randomBytes } from 'node:crypto';
import { identityFromClaims } from '../proxy/src/oidc/claims.js';
import type { Identity } from '../proxy/src/policy/input.js';
import type { SessionTokens } from '../proxy/src/session/store.js';

const GROUPS = ['engineering', 'wiki-admins', 'on-call', 'staff', 'vpn-users', 'sales', 'design'];

/** The claims JSON of user `i` (text, as the IdP sends it: parsing it gives every session its own strings). */
export function claimsJson(i: number, now: number): string {
  const iat = Math.floor(now / 1000);
  return JSON.stringify({
    iss: 'https://idp.example.com',
    sub: `0f3c${i.toString(16).padStart(8, '0')}-7d1e-4b9a-9c52-${randomBytes(6).toString('hex')}`,
    aud: 'drawbridge',
    exp: iat + 3600,
    iat,
    auth_time: iat - 60,
    nonce: randomBytes(16).toString('base64url'),
    at_hash: randomBytes(16).toString('base64url'),
    sid: randomBytes(16).toString('hex'),
    acr: 'urn:example:pwd',
    amr: ['pwd', 'otp'],
    preferred_username: `user${i}`,
    email: `user${i}@example.com`,
    email_verified: true,
    name: `Bench User ${i}`,
    groups: [GROUPS[0], GROUPS[1 + (i % 3)], GROUPS[4 + (i % 3)]],
    department: 'R&D',
    employee_id: String(100000 + i),
  });
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** A signed-JWT-shaped ID token for the claims: header, payload and an RS256-sized signature, 800 characters in all. */
export function idTokenFor(claims: string): string {
  const header = b64url('{"alg":"RS256","kid":"k1-2025","typ":"JWT"}');
  const signature = randomBytes(256).toString('base64url');
  const room = 800 - header.length - signature.length - 2;
  const payload = b64url(claims).slice(0, room).padEnd(room, 'A');
  return `${header}.${payload}.${signature}`;
}

/** A session's identity and tokens for user `i`, built the way the server builds them after sign-in. */
export function benchSession(i: number, now: number): { identity: Identity; tokens: SessionTokens; idpSid: string } {
  const text = claimsJson(i, now);
  const claims = JSON.parse(text) as Record<string, unknown>;
  const identity = identityFromClaims(claims, { user: 'preferred_username', groups: 'groups' });
  const tokens: SessionTokens = { idToken: idTokenFor(text), accessToken: randomBytes(32).toString('base64url'), accessTokenExpiresAt: now + 3_600_000 };
  return { identity, tokens, idpSid: claims.sid as string };
}
