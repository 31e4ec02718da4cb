// forward/assertion.test.ts — the assertion verifies with jose against jwks(), carries every claim, and is cached
// per session key and route.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { AssertionSigner, RouteTokens, type AssertionSubject } from './assertion.js';
import { alice } from './harness.case.js';

const ISSUER = 'https://auth.example.com';
const wiki = { name: 'wiki', origin: 'https://wiki.example.com' };
const admin = { name: 'wiki-admin', origin: 'https://wiki.example.com' };

function p256Pem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

test('assertion: an ES256 JWT that verifies against jwks() with every claim and exp - iat = ttl', async () => {
  let now = 1_750_000_000_123;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now });
  assert.equal(signer.generated, true);
  const token = signer.sign({ sessionKey: 's1:0', route: wiki, identity: alice(), sidHash: 'sid-hash' });
  assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', kid: signer.kid, typ: 'JWT' });
  const { payload } = await jwtVerify(token, createLocalJWKSet(signer.jwks()), {
    issuer: ISSUER,
    audience: wiki.origin,
    algorithms: ['ES256'],
    currentDate: new Date(now),
  });
  assert.deepEqual(payload, {
    iss: ISSUER,
    aud: wiki.origin,
    sub: 'sub-alice',
    user: 'alice',
    email: 'alice@example.com',
    groups: ['engineering', 'staff'],
    name: 'Alice Liddell',
    sid: 'sid-hash',
    amr: ['pwd', 'otp'],
    acr: 'urn:loa:2',
    auth_time: 1_700_000_000,
    iat: 1_750_000_000,
    exp: 1_750_000_120,
    route: 'wiki',
  });
  now += 1000;
  assert.equal(signer.sign({ sessionKey: 's1:0', route: wiki, identity: alice(), sidHash: 'sid-hash' }), token);
});

test('assertion: kid is the RFC 7638 thumbprint; the JWK says alg ES256, use sig', async () => {
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 60_000 });
  const [jwk] = signer.jwks().keys;
  assert.equal(jwk.kid, signer.kid);
  assert.equal(await calculateJwkThumbprint(jwk, 'sha256'), signer.kid);
  assert.equal(jwk.alg, 'ES256');
  assert.equal(jwk.use, 'sig');
  assert.equal(jwk.crv, 'P-256');
  assert.equal('d' in jwk, false);
});

test('assertion: cached per session and route until half the ttl, then re-signed', async () => {
  let now = 1_750_000_000_000;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now });
  const subject = { sessionKey: 's1:0', route: wiki, identity: alice(), sidHash: 'h' };
  const first = signer.sign(subject);
  assert.equal(typeof first, 'string');
  assert.equal(signer.sign(subject), first);
  assert.notEqual(signer.sign({ ...subject, route: admin }), first);
  assert.notEqual(signer.sign({ ...subject, sessionKey: 's1:1' }), first);
  now += 59_000;
  assert.equal(signer.sign(subject), signer.sign(subject));
  now += 2_000;
  const later = signer.sign(subject);
  assert.notEqual(later, first);
  const { payload } = await jwtVerify(later, createLocalJWKSet(signer.jwks()), { currentDate: new Date(now) });
  assert.equal(payload.iat, 1_750_000_061);
  // A route moved to another origin by a reload never reuses the old audience.
  const moved = signer.sign({ ...subject, route: { name: 'wiki', origin: 'https://wiki2.example.com' } });
  assert.notEqual(moved, later);
  assert.equal((await jwtVerify(moved, createLocalJWKSet(signer.jwks()), { currentDate: new Date(now) })).payload.aud, 'https://wiki2.example.com');
});

test('assertion: the cache stays within maxCached, drops the oldest first and lets stale tokens go', async () => {
  let now = 1_750_000_000_000;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now, maxCached: 3 });
  const sign = (key: string) => signer.sign({ sessionKey: key, route: wiki, identity: alice(), sidHash: 'h' });
  const a = sign('a');
  now += 1_000;
  const b = sign('b');
  const c = sign('c');
  assert.equal(signer.cachedCount, 3);
  // Reads do not reorder: 'a' stays the oldest.
  assert.equal(sign('a'), a);
  sign('d');
  assert.equal(signer.cachedCount, 3);
  assert.equal(sign('b'), b);
  assert.equal(sign('c'), c);
  // 'a' was dropped: signed again (another iat), which drops the now-oldest 'b'.
  now += 1_000;
  assert.notEqual(sign('a'), a);
  assert.equal(signer.cachedCount, 3);
  assert.notEqual(sign('b'), b);
  // Past half the ttl every cached token is stale: the next signing clears them out.
  now += 61_000;
  sign('e');
  assert.equal(signer.cachedCount, 1);
});

test('assertion: one token per session key, route and device, each read back as signed; a session whose tokens all went stale is dropped', async () => {
  let now = 1_750_000_000_000;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now });
  const fp = 'ab'.repeat(32);
  const subject = { sessionKey: 's1:0', route: wiki, identity: alice(), sidHash: 'h' };
  const tokens = [subject, { ...subject, route: admin }, { ...subject, deviceFingerprint: fp }, { ...subject, route: admin, deviceFingerprint: fp }, { ...subject, sessionKey: 's2:0' }].map((x: AssertionSubject) => [x, signer.sign(x)] as const);
  assert.equal(new Set(tokens.map(([, t]) => t)).size, 5);
  assert.equal(signer.cachedCount, 5);
  assert.equal(signer.cachedSessions, 2);
  for (const [x, t] of tokens) assert.equal(signer.sign(x), t, 'read back as signed');
  const jwks = createLocalJWKSet(signer.jwks());
  for (const [x, t] of tokens) {
    const { payload } = await jwtVerify(t, jwks, { currentDate: new Date(now) });
    assert.equal(payload.route, x.route.name);
    assert.deepEqual(payload.cnf, x.deviceFingerprint === undefined ? undefined : { 'x5t#S256': Buffer.from(fp, 'hex').toString('base64url') });
  }
  now += 61_000;
  signer.sign({ ...subject, sessionKey: 's3:0' });
  assert.equal(signer.cachedCount, 1);
  assert.equal(signer.cachedSessions, 1, 'the sessions whose tokens were all dropped are gone too');
});

test('assertion: a configured key is used; previous keys stay in the JWKS and still verify', async () => {
  const oldKey = p256Pem();
  const newKey = p256Pem();
  const before = await AssertionSigner.create({ privateKeyPem: oldKey.privatePem, issuer: ISSUER, ttlMs: 60_000 });
  const oldToken = before.sign({ sessionKey: 'k', route: wiki, identity: alice(), sidHash: 'h' });
  const after = await AssertionSigner.create({ privateKeyPem: newKey.privatePem, previousPublicKeysPem: [oldKey.publicPem], issuer: ISSUER, ttlMs: 60_000 });
  assert.equal(after.generated, false);
  assert.deepEqual(
    after.jwks().keys.map((k) => k.kid),
    [after.kid, before.kid],
  );
  const jwks = createLocalJWKSet(after.jwks());
  await jwtVerify(oldToken, jwks, { issuer: ISSUER, audience: wiki.origin });
  await jwtVerify(after.sign({ sessionKey: 'k', route: wiki, identity: alice(), sidHash: 'h' }), jwks, { issuer: ISSUER, audience: wiki.origin });
});

test('assertion: a key that is not P-256 is refused', async () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await assert.rejects(AssertionSigner.create({ privateKeyPem: rsa, issuer: ISSUER, ttlMs: 60_000 }), { code: 'DRB_CONFIG_INVALID' });
  await assert.rejects(AssertionSigner.create({ privateKeyPem: 'nope', issuer: ISSUER, ttlMs: 60_000 }), { code: 'DRB_CONFIG_INVALID' });
});

// The route slots the snapshot builds (RouteTokens): the hot path's cache, read from the attacker's side.
const decode = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

test('assertion: route slots give every session its own token on every route, never another session’s or route’s', async () => {
  let now = 1_750_000_000_000;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now });
  const slots = [new RouteTokens(wiki), new RouteTokens({ name: 'crm', origin: 'https://crm.example.com' })];
  const fp = 'cd'.repeat(32);
  // Keys that share prefixes, the same key with and without a device: each its own token.
  const who = [
    { sessionKey: 's1:0', identity: alice(), sidHash: 'h1' },
    { sessionKey: 's2:0', identity: alice({ sub: 'sub-mallory', user: 'mallory' }), sidHash: 'h2' },
    { sessionKey: 's1:00', identity: alice({ sub: 'sub-trent', user: 'trent' }), sidHash: 'h3' },
    { sessionKey: 's1:0', identity: alice(), sidHash: 'h1', deviceFingerprint: fp },
  ];
  const signed = new Map<string, string>();
  // Two visiting orders, twice: the first pass signs, the second reads back (the slot's first session inline, the others in its map).
  for (let pass = 0; pass < 2; pass++) {
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0]]) {
      for (const r of [0, 1, 0]) {
        for (const i of order) {
          const x = who[i]!;
          const slot = slots[r]!;
          const token = signer.sign({ ...x, route: slot, tokens: slot });
          const c = decode(token);
          assert.equal(c.user, x.identity.user);
          assert.equal(c.sid, x.sidHash);
          assert.equal(c.aud, slot.origin);
          assert.equal(c.route, slot.name);
          assert.deepEqual(c.cnf, x.deviceFingerprint === undefined ? undefined : { 'x5t#S256': Buffer.from(fp, 'hex').toString('base64url') });
          const key = `${i}/${r}`;
          if (signed.has(key)) assert.equal(token, signed.get(key), `${key} read back`);
          signed.set(key, token);
        }
      }
    }
    now += 1000;
  }
  assert.equal(new Set(signed.values()).size, 8);
  assert.equal(signer.cachedCount, 8);
  assert.equal(signer.cachedSessions, 3);
  assert.deepEqual(slots.map((s) => s.size), [4, 4]);
});

test('assertion: a route slot re-signs after half the ttl, for its first session and the others alike', async () => {
  let now = 1_750_000_000_000;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now });
  const slot = new RouteTokens(wiki);
  const a = { sessionKey: 'a:0', route: wiki, tokens: slot, identity: alice(), sidHash: 'ha' };
  const b = { sessionKey: 'b:0', route: wiki, tokens: slot, identity: alice({ user: 'bob' }), sidHash: 'hb' };
  const [a1, b1] = [signer.sign(a), signer.sign(b)];
  now += 59_999;
  assert.deepEqual([signer.sign(a), signer.sign(b)], [a1, b1]);
  now += 1;
  const [a2, b2] = [signer.sign(a), signer.sign(b)];
  assert.notEqual(a2, a1);
  assert.notEqual(b2, b1);
  assert.deepEqual([decode(a2).iat, decode(b2).iat, decode(a2).user, decode(b2).user], [1_750_000_060, 1_750_000_060, 'alice', 'bob']);
  assert.equal(signer.cachedCount, 2, 're-signing replaces, never adds');
});

test('assertion: a route slot’s refresh time is exact to the millisecond, whatever the clock (before 2025, after 2042, mid-second)', async () => {
  for (const start of [1_000_000_000_999, 1_735_689_599_500, 2_400_000_000_123, 0]) {
    let now = start;
    const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 61_000, now: () => now });
    const slot = new RouteTokens(wiki);
    const a = { sessionKey: 'a:0', route: wiki, tokens: slot, identity: alice(), sidHash: 'ha' };
    const first = signer.sign(a);
    // Signed at floor(start / 1 s); re-signed from iat + 30.5 s on, never before.
    const refresh = Math.floor(start / 1000) * 1000 + 30_500;
    now = refresh - 1;
    assert.equal(signer.sign(a), first, `${start}: cached until its refresh time`);
    now = refresh;
    assert.notEqual(signer.sign(a), first, `${start}: re-signed at its refresh time`);
  }
});

test('assertion: a new snapshot’s slot never serves the old slot’s token, and takes its route and audience from its own route', async () => {
  const now = 1_750_000_000_000;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now });
  const subject = { sessionKey: 's1:0', identity: alice(), sidHash: 'h' };
  const before = new RouteTokens(wiki);
  const old = signer.sign({ ...subject, route: wiki, tokens: before });
  // The same route after a reload: a new slot, a new token (same claims, a fresh signature).
  const same = new RouteTokens(wiki);
  const again = signer.sign({ ...subject, route: wiki, tokens: same });
  assert.notEqual(again, old);
  assert.deepEqual(decode(again), decode(old));
  // The route moved to another origin, or renamed: its own `aud` and `route`.
  const moved = new RouteTokens({ name: 'wiki', origin: 'https://wiki2.example.com' });
  assert.equal(decode(signer.sign({ ...subject, route: moved, tokens: moved })).aud, 'https://wiki2.example.com');
  const renamed = new RouteTokens({ name: 'wiki-new', origin: wiki.origin });
  assert.equal(decode(signer.sign({ ...subject, route: renamed, tokens: renamed })).route, 'wiki-new');
  assert.equal(signer.sign({ ...subject, route: wiki, tokens: before }), old, 'the old slot (requests in flight on the old snapshot) keeps its own');
});

test('assertion: with route slots the cache stays within maxCached, oldest first, and forgets emptied sessions', async () => {
  let now = 1_750_000_000_000;
  const signer = await AssertionSigner.create({ issuer: ISSUER, ttlMs: 120_000, now: () => now, maxCached: 3 });
  const slot = new RouteTokens(wiki);
  const other = new RouteTokens(admin);
  const sign = (key: string, tokens = slot) => signer.sign({ sessionKey: key, route: tokens, tokens, identity: alice({ user: key }), sidHash: key });
  const a = sign('a');
  now += 1000;
  const b = sign('b');
  const c = sign('c', other);
  assert.equal(signer.cachedCount, 3);
  assert.equal(sign('a'), a, 'reads do not reorder');
  sign('d');
  assert.equal(signer.cachedCount, 3);
  assert.deepEqual([slot.size, other.size, signer.cachedSessions], [2, 1, 3], "'a' (the slot's first) was dropped with its session");
  assert.equal(sign('b'), b);
  assert.equal(sign('c', other), c);
  now += 1000;
  const a2 = sign('a');
  assert.notEqual(a2, a, 'signed again');
  assert.equal(decode(a2).user, 'a');
  assert.notEqual(sign('b'), b, "'b' was the oldest: dropped");
  now += 61_000;
  sign('e', other);
  assert.deepEqual([signer.cachedCount, signer.cachedSessions, slot.size, other.size], [1, 1, 0, 1]);
});

test('assertion: a rotation (keysFor, useKeys) signs with the new key at once, publishes the new set, and serves no token cached under the old key', async () => {
  const now = 1_750_000_000_000;
  const a = p256Pem();
  const b = p256Pem();
  const signer = await AssertionSigner.create({ issuer: ISSUER, privateKeyPem: a.privatePem, ttlMs: 120_000, now: () => now });
  const kidA = signer.kid;
  const slot = new RouteTokens(wiki);
  const subject = { sessionKey: 's1:0', route: wiki, tokens: slot, identity: alice(), sidHash: 'h' };
  const before = signer.sign(subject);
  signer.sign({ ...subject, sessionKey: 's2:0' });
  signer.sign({ sessionKey: 's1:0', route: admin, identity: alice(), sidHash: 'h' });
  assert.equal(signer.cachedCount, 3);
  // The same key and the same published keys: nothing to rotate.
  assert.equal(signer.keysFor(a.privatePem, []), undefined);
  assert.equal(signer.keysFor(undefined, []), undefined, 'no keyFile: the key in force');
  // Bad material throws, naming it; nothing changed.
  assert.throws(() => signer.keysFor('not a pem', []), /assertion\.keyFile: not a PEM private key/);
  assert.throws(() => signer.keysFor(b.privatePem, ['junk']), /assertion\.previousKeys\[0\]: not a PEM key/);
  assert.equal(signer.kid, kidA);
  assert.equal(signer.sign(subject), before, 'still cached');

  const keys = signer.keysFor(b.privatePem, [a.publicPem]);
  assert.ok(keys);
  assert.equal(signer.kid, kidA, 'keysFor alone changes nothing');
  signer.useKeys(keys);
  assert.notEqual(signer.kid, kidA);
  assert.equal(signer.kid, await calculateJwkThumbprint(signer.jwks().keys[0]!));
  assert.deepEqual(signer.jwks().keys.map((k) => k.kid), [signer.kid, kidA], 'the new key first, the old one still published');
  assert.equal(signer.cachedCount, 0, 'every cached token forgotten');
  assert.equal(slot.size, 0, 'the route slot too');
  const after = signer.sign(subject);
  assert.notEqual(after, before);
  assert.equal(decodeProtectedHeader(after).kid, signer.kid);
  const jwks = createLocalJWKSet(signer.jwks());
  for (const token of [before, after]) await jwtVerify(token, jwks, { issuer: ISSUER, audience: wiki.origin, currentDate: new Date(now) });

  // The old key taken out of the JWKS (it leaked): a token it signed no longer verifies, and none is served.
  signer.useKeys(signer.keysFor(b.privatePem, [])!);
  assert.deepEqual(signer.jwks().keys.map((k) => k.kid), [signer.kid]);
  await assert.rejects(jwtVerify(before, createLocalJWKSet(signer.jwks()), { currentDate: new Date(now) }));
  // Previous keys only (the key in force kept, as with no keyFile): the JWKS changes, the signing key does not.
  const kidB = signer.kid;
  signer.useKeys(signer.keysFor(undefined, [a.publicPem])!);
  assert.equal(signer.kid, kidB);
  assert.deepEqual(signer.jwks().keys.map((k) => k.kid), [kidB, kidA]);
});
