// oidc/claims.test.ts — claims → Identity: nested and namespaced claim names, delimited groups, email_verified
// missing means unverified, unusable auth_time is unknown, userinfo merged without touching the sign-in claims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Identity } from '../policy/input.js';
import { absentClaims, claimsBytes, IdentityClaimTooLongError, identityFromClaims, MAX_GROUPS, MAX_NAME_CHARS, MAX_SUB_CHARS, MAX_USER_CHARS, mergeUserinfo, missingIdentityClaims, statedEmailVerified, usableAuthTime } from './claims.js';
import { keepEmailVerification } from './identity.js';

const NOW = Date.UTC(2025, 5, 2, 10, 30);
const NOW_SEC = NOW / 1000;
const NAMES = { user: 'preferred_username', groups: 'groups' };
const build = (claims: Record<string, unknown>, names: Parameters<typeof identityFromClaims>[1] = NAMES, assumeEmailVerified = false) =>
  identityFromClaims({ sub: 's-1', ...claims }, names, { now: NOW, assumeEmailVerified });

test('groups: an array, one string as one group, or split with groupsDelimiter', () => {
  assert.deepEqual(build({ groups: ['a', 'b', 3, '', null] }).groups, ['a', 'b']);
  assert.deepEqual(build({ groups: 'engineering,staff' }).groups, ['engineering,staff'], 'never split without a delimiter');
  assert.deepEqual(build({ groups: 'engineering, staff,,' }, { ...NAMES, groupsDelimiter: ',' }).groups, ['engineering', 'staff']);
  assert.deepEqual(build({ groups: 'a b' }, { ...NAMES, groupsDelimiter: ' ' }).groups, ['a', 'b']);
  assert.deepEqual(build({ groups: ['x,y'] }, { ...NAMES, groupsDelimiter: ',' }).groups, ['x,y'], 'array elements are never split');
  assert.deepEqual(build({ groups: { a: 1 } }).groups, []);
});

test('nested and namespaced claim names: exact key first, then a dot path', () => {
  const roles = build({ realm_access: { roles: ['admin', 'user'] } }, { user: 'preferred_username', groups: 'realm_access.roles' });
  assert.deepEqual(roles.groups, ['admin', 'user']);
  const uri = build({ 'https://example.com/groups': ['eng'], 'https://example.com/user': 'alice' }, { user: 'https://example.com/user', groups: 'https://example.com/groups' });
  assert.deepEqual(uri.groups, ['eng']);
  assert.equal(uri.user, 'alice');
  const nestedUser = build({ profile: { login: 'bob' }, mail: { primary: 'bob@example.com' } }, { ...NAMES, user: 'profile.login', email: 'mail.primary' });
  assert.equal(nestedUser.user, 'bob');
  assert.equal(nestedUser.email, 'bob@example.com');
});

test('user: the configured claim, else sub; a missing user or groups claim is reported by name', () => {
  assert.equal(build({ preferred_username: 'alice' }).user, 'alice');
  assert.equal(build({}).user, 's-1');
  assert.equal(build({ preferred_username: 7 }).user, 's-1');
  assert.deepEqual(missingIdentityClaims({ sub: 's', preferred_username: 'a', groups: [] }, NAMES), []);
  assert.deepEqual(missingIdentityClaims({ sub: 's', groups: 'x' }, NAMES), ['preferred_username']);
  assert.deepEqual(missingIdentityClaims({ sub: 's', preferred_username: '' }, NAMES), ['preferred_username', 'groups']);
  assert.deepEqual(missingIdentityClaims({ sub: 's', preferred_username: 'a', realm_access: {} }, { ...NAMES, groups: 'realm_access.roles' }), ['realm_access.roles']);
});

test('absentClaims: which mapped claims (user, groups, email, name) an ID token lacks', () => {
  assert.deepEqual(absentClaims({ sub: 's', preferred_username: 'a', groups: [], email: 'e', name: 'n' }, NAMES), []);
  assert.deepEqual(absentClaims({ sub: 's', preferred_username: 'a' }, NAMES), ['groups', 'email', 'name']);
  assert.deepEqual(absentClaims({ sub: 's', preferred_username: 'a', groups: [], mail: 'e', name: 'n' }, { ...NAMES, email: 'mail' }), []);
});

test('email_verified: missing means unverified, unless assumeEmailVerified; false always stands', () => {
  assert.equal(build({ email: 'a@example.com' }).emailVerified, false);
  assert.equal(build({ email: 'a@example.com' }, NAMES, true).emailVerified, true);
  assert.equal(build({ email: 'a@example.com', email_verified: false }, NAMES, true).emailVerified, false);
  assert.equal(build({ email: 'a@example.com', email_verified: 'false' }, NAMES, true).emailVerified, false);
  assert.equal(build({ email: 'a@example.com', email_verified: true }).emailVerified, true);
  assert.equal(build({ email: 'a@example.com', email_verified: 'true' }).emailVerified, true);
  assert.equal(build({ email: 'a@example.com', email_verified: 1 }).emailVerified, false, 'another type says nothing');
  assert.equal(build({}).emailVerified, undefined, 'no email, nothing to verify');
});

test('email_verified vouches for the `email` claim only: an address from another claim is unverified unless assumed', () => {
  const names = { ...NAMES, email: 'upn' };
  assert.equal(build({ upn: 'a@example.com', email_verified: true }, names).emailVerified, false);
  assert.equal(build({ upn: 'a@example.com', email_verified: true }, names, true).emailVerified, true);
  assert.equal(statedEmailVerified({ email_verified: true }, names), undefined);
  assert.equal(statedEmailVerified({ email_verified: true }, {}), true);
});

test('auth_time: absent, 0, negative, a placeholder or in the future is unknown — never 1970', () => {
  for (const value of [undefined, 0, -1, 1, 999_999_999, NOW_SEC + 301, Infinity, NaN, '1700000000', null]) {
    assert.equal(build({ auth_time: value }).authTime, undefined, String(value));
    assert.equal(usableAuthTime(value, NOW), undefined, String(value));
  }
  assert.equal(build({ auth_time: NOW_SEC - 60 }).authTime, NOW_SEC - 60);
  assert.equal(build({ auth_time: NOW_SEC + 120 }).authTime, NOW_SEC + 120, 'within the clock skew');
});

test('mergeUserinfo: userinfo wins for user claims, never for the claims describing the sign-in', () => {
  const id = { sub: 's', iss: 'i', auth_time: 100, amr: ['pwd'], acr: 'pwd', groups: ['old'], email: 'a@example.com', email_verified: true, name: 'A' };
  const merged = mergeUserinfo(id, { sub: 'other', auth_time: 999, amr: ['otp'], acr: 'mfa', iss: 'x', groups: ['new'], department: 'eng' });
  assert.deepEqual(merged, { ...id, groups: ['new'], department: 'eng' });
  // An email and its verification travel together.
  const changed = mergeUserinfo(id, { sub: 's', email: 'b@example.com' });
  assert.equal(changed.email, 'b@example.com');
  assert.equal(changed.email_verified, undefined, 'the ID token vouched for another address');
  assert.equal(mergeUserinfo(id, { sub: 's', email: 'a@example.com', email_verified: false }).email_verified, false);
  // A `__proto__` claim from JSON stays a claim.
  const proto = mergeUserinfo({ sub: 's' }, JSON.parse('{"sub":"s","__proto__":{"polluted":true}}') as Record<string, unknown>);
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.equal((proto as { polluted?: boolean }).polluted, undefined);
  assert.ok(Object.hasOwn(proto, '__proto__'));
});

test('keepEmailVerification: a refresh never upgrades; an unstated verification keeps the same address\u2019s value', () => {
  const who = (email: string, emailVerified: boolean | undefined): Identity => ({ sub: 's', user: 'u', email, ...(emailVerified === undefined ? {} : { emailVerified }), groups: [], amr: [], claims: {} });
  const run = (next: Identity, previous: Identity, stated: boolean | undefined) => (keepEmailVerification(next, previous, stated), next.emailVerified);
  assert.equal(run(who('a@x', true), who('a@x', false), true), false, 'false stays false');
  assert.equal(run(who('a@x', false), who('a@x', true), undefined), true, 'not stated: the earlier value');
  assert.equal(run(who('a@x', false), who('a@x', true), false), false, 'stated false: false');
  assert.equal(run(who('b@x', false), who('a@x', true), undefined), false, 'a new address not stated: unverified');
  assert.equal(run(who('b@x', true), who('a@x', false), true), true, 'a new address stated verified');
});

test('length limits: a sub, user or email beyond its limit is refused by its claim name, never cut or dropped', () => {
  const tooLong = (claim: string, limit: number) => (e: unknown) => e instanceof IdentityClaimTooLongError && e.claim === claim && e.limit === limit;
  // At the limit: kept whole.
  assert.equal(identityFromClaims({ sub: 's'.repeat(MAX_SUB_CHARS) }, NAMES, { now: NOW }).sub.length, MAX_SUB_CHARS);
  assert.equal(build({ preferred_username: 'u'.repeat(MAX_USER_CHARS) }).user.length, MAX_USER_CHARS);
  assert.equal(build({ email: `${'e'.repeat(MAX_USER_CHARS - 12)}@example.com` }).email?.length, MAX_USER_CHARS);
  // One more: refused, naming the configured claim.
  assert.throws(() => identityFromClaims({ sub: 's'.repeat(MAX_SUB_CHARS + 1) }, NAMES, { now: NOW }), tooLong('sub', MAX_SUB_CHARS));
  assert.throws(() => build({ preferred_username: 'u'.repeat(MAX_USER_CHARS + 1) }), tooLong('preferred_username', MAX_USER_CHARS));
  assert.throws(() => build({ email: `${'e'.repeat(MAX_USER_CHARS - 11)}@example.com` }), tooLong('email', MAX_USER_CHARS));
  assert.throws(() => build({ upn: 'x'.repeat(MAX_USER_CHARS + 1) }, { ...NAMES, email: 'upn' }), tooLong('upn', MAX_USER_CHARS));
  assert.throws(() => build({ profile: { login: 'x'.repeat(MAX_USER_CHARS + 1) } }, { ...NAMES, user: 'profile.login' }), tooLong('profile.login', MAX_USER_CHARS));
  // A long value of a claim that is not mapped changes nothing.
  assert.equal(build({ preferred_username: 'alice', nickname: 'n'.repeat(10_000) }).user, 'alice');
});

test('more than MAX_GROUPS groups are refused, never cut: a deny rule must see the group beyond the cut', () => {
  const groups = (n: number) => Array.from({ length: n }, (_, i) => `g${i}`);
  assert.equal(build({ groups: groups(MAX_GROUPS) }).groups.length, MAX_GROUPS, 'at the limit: every group kept');
  const refused = (e: unknown) => e instanceof IdentityClaimTooLongError && e.claim === 'groups' && e.limit === MAX_GROUPS && e.unit === 'groups' && e.message === `the groups claim holds more than ${MAX_GROUPS} groups`;
  assert.throws(() => build({ groups: [...groups(MAX_GROUPS), 'blocked'] }), refused);
  // Counted after the shape is read: one delimited string, and non-strings or empty entries, which are no groups.
  assert.throws(() => build({ groups: [...groups(MAX_GROUPS), 'blocked'].join(',') }, { ...NAMES, groupsDelimiter: ',' }), refused);
  assert.equal(build({ groups: [...groups(MAX_GROUPS), '', 7, null] }).groups.length, MAX_GROUPS);
});

test('claims larger than maxClaimsBytes (UTF-8 JSON) are refused as a whole, never cut; without the option, no bound', () => {
  const base = { sub: 's', preferred_username: 'alice' };
  const sized = (bytes: number, pad = 'x') => {
    const claims: Record<string, unknown> = { ...base, bio: '' };
    const room = bytes - claimsBytes(claims);
    claims.bio = pad.repeat(Math.floor(room / Buffer.byteLength(pad)));
    return claims;
  };
  const limit = 4096;
  const at = sized(limit);
  assert.equal(claimsBytes(at), limit);
  assert.equal(identityFromClaims(at, NAMES, { now: NOW, maxClaimsBytes: limit }).user, 'alice', 'at the limit: accepted');
  const over = { ...at, bio: `${at.bio as string}x` };
  const refused = (e: unknown) => e instanceof IdentityClaimTooLongError && e.claim === 'claims' && e.unit === 'bytes' && e.limit === limit && e.message === `the claims take more than ${limit} bytes (idp.maxClaimsSize)` && e.sent === `claims larger than ${limit} bytes`;
  assert.throws(() => identityFromClaims(over, NAMES, { now: NOW, maxClaimsBytes: limit }), refused);
  // Bytes, not characters: three-byte characters up to the limit (within 2 bytes), then one more is over it, though
  // the JSON has far fewer characters than the limit.
  const wide = sized(limit, '\u20ac');
  assert.ok(JSON.stringify(wide).length < limit);
  assert.throws(() => identityFromClaims({ ...wide, bio: `${wide.bio as string}\u20ac` }, NAMES, { now: NOW, maxClaimsBytes: limit }), refused);
  // Any claim counts, mapped or not, nested or not: the session keeps them all.
  assert.throws(() => identityFromClaims({ ...base, address: { street: 'x'.repeat(limit) } }, NAMES, { now: NOW, maxClaimsBytes: limit }), refused);
  // No bound given (a bearer token, bounded by the request's header size and never stored).
  assert.equal(identityFromClaims(over, NAMES, { now: NOW }).user, 'alice');
});

test('length limits: a long name is cut to MAX_NAME_CHARS at a code point boundary', () => {
  assert.equal(build({ name: 'n'.repeat(MAX_NAME_CHARS) }).name, 'n'.repeat(MAX_NAME_CHARS));
  assert.equal(build({ name: 'n'.repeat(100_000) }).name, 'n'.repeat(MAX_NAME_CHARS));
  // A surrogate pair across the limit is dropped whole, never split into a lone surrogate.
  const emoji = '\u{1F600}';
  const cut = build({ name: `${'n'.repeat(MAX_NAME_CHARS - 1)}${emoji}tail` }).name!;
  assert.equal(cut, 'n'.repeat(MAX_NAME_CHARS - 1));
  assert.equal(build({ name: `${'n'.repeat(MAX_NAME_CHARS - 2)}${emoji}tail` }).name, `${'n'.repeat(MAX_NAME_CHARS - 2)}${emoji}`);
  assert.equal(build({ name: emoji.repeat(MAX_NAME_CHARS) }).name, emoji.repeat(MAX_NAME_CHARS / 2), 'whole pairs only');
});
