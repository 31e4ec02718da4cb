// bench/fixtures.ts — realistic sessions for the bench, built the way the server builds them after sign-in:
// the token endpoint's JSON parsed (an ~800-character signed ID token, an opaque access token, no refresh
// token) and the ID token's claims (a few groups and claims) turned into an Identity by identityFromClaims.
import { randomFillSync } from 'node:crypto';
import { identityFromClaims } from '../proxy/src/oidc/claims.js';
import type { Identity } from '../proxy/src/policy/input.js';
import type { SessionTokens } from '../proxy/src/session/store.js';

const GROUPS = ['engineering', 'wiki-admins', 'on-call', 'staff', 'vpn-users', 'sales', 'design'];

const pool = Buffer.alloc(1 << 16);
let used = pool.length;

/** `n` random bytes from a refilled pool (100,000 sessions need ~40 MB of them; one syscall per 64 KB). */
function random(n: number): Buffer {
  if (used + n > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

/** The ID token claims of user `i`, as JSON text. */
export function claimsJson(i: number, now: number): string {
  const iat = Math.floor(now / 1000);
  return JSON.stringify({
    iss: 'https://idp.example.com',
    sub: `0f3c${i.toString(16).padStart(8, '0')}-7d1e-4b9a-9c52-${random(6).toString('hex')}`,
    aud: 'drawbridge',
    exp: iat + 3600,
    iat,
    auth_time: iat - 60,
    nonce: random(16).toString('base64url'),
    at_hash: random(16).toString('base64url'),
    sid: random(16).toString('hex'),
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
  const signature = random(256).toString('base64url');
  const room = 800 - header.length - signature.length - 2;
  const payload = b64url(claims).slice(0, room).padEnd(room, 'A');
  return `${header}.${payload}.${signature}`;
}

/** A session's identity and tokens for user `i`. Every string is a flat string of its own, as after JSON.parse. */
export function benchSession(i: number, now: number): { identity: Identity; tokens: SessionTokens; idpSid: string } {
  const claimsText = claimsJson(i, now);
  const response = JSON.parse(
    JSON.stringify({ id_token: idTokenFor(claimsText), access_token: random(32).toString('base64url'), token_type: 'Bearer', expires_in: 3600 }),
  ) as { id_token: string; access_token: string };
  const claims = JSON.parse(claimsText) as Record<string, unknown>;
  const identity = identityFromClaims(claims, { user: 'preferred_username', groups: 'groups' }, { now });
  const tokens: SessionTokens = { idToken: response.id_token, accessToken: response.access_token, accessTokenExpiresAt: now + 3_600_000 };
  return { identity, tokens, idpSid: claims.sid as string };
}
