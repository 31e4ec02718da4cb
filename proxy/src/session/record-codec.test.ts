// session/record-codec.test.ts — packed records come back exactly as they went in, whatever the tokens look like,
// and a signed-in session packs to a fraction of its JSON.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { packRecord, unpackRecord } from './record-codec.js';
import { sampleRecord } from './store.case.js';
import type { SessionRecord } from './store.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** A session as after a real sign-in: the ID token is a JWS whose payload is the claims the identity holds. */
function signedIn(): SessionRecord {
  const now = Date.UTC(2030, 0, 1, 9);
  const record = sampleRecord(now);
  const claims = {
    iss: 'https://idp.example.com',
    sub: record.identity.sub,
    aud: 'drawbridge',
    exp: now / 1000 + 3600,
    iat: now / 1000,
    nonce: randomBytes(16).toString('base64url'),
    sid: record.idpSid,
    preferred_username: record.identity.user,
    email: record.identity.email,
    groups: record.identity.groups,
    name: 'Zoë Ünïcødé 🐙',
  };
  record.identity.claims = claims;
  record.tokens.idToken = `${b64('{"alg":"RS256","kid":"k1","typ":"JWT"}')}.${b64(JSON.stringify(claims))}.${randomBytes(256).toString('base64url')}`;
  record.tokens.accessToken = randomBytes(32).toString('base64url');
  return record;
}

function roundTrip(record: SessionRecord): void {
  const packed = packRecord(record);
  assert.equal(typeof packed, 'string');
  assert.deepEqual(unpackRecord(record.id, packed), record);
}

test('record codec: every field comes back, with or without optional ones', () => {
  roundTrip(sampleRecord(Date.now()));
  roundTrip(sampleRecord(Date.now(), { idpSid: null }));
  const bare = sampleRecord(Date.now());
  bare.tokens = {};
  roundTrip(bare);
  roundTrip(signedIn());
  // The bound context, the context last seen and the risk signals (session binding, docs/device-trust.md).
  const bound = signedIn();
  bound.binding = { ip: '203.0.113.7', device: 'ab'.repeat(32), agent: 'firefox/linux' };
  bound.seen = { network: '198.51.100.0/24', agent: 'chrome/windows' };
  bound.signals = [{ kind: 'context-change', at: 1, detail: 'network 203.0.113.0/24 → 198.51.100.0/24' }, { kind: 'denial', at: 2 }];
  roundTrip(bound);
});

test('record codec: any token string comes back unchanged', () => {
  const tokens = [
    '',
    '.',
    '..',
    'a',
    'abcd',
    'abcde',
    'abcdef',
    'abcdefg',
    'eyJ.id-token-of-alice.sig',
    'AAAA.BBBB.CCCC',
    'AAAA====',
    'ab+/cd+/',
    'ab-_cd-_',
    'a b.c\nd',
    'ünïcødé.🐙.\u0000',
    'abc=.def',
    // Non-canonical base64url: the last character carries bits that re-encoding drops.
    'AB.ABC.ABCD.ABCDF',
    `${b64('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.${randomBytes(256).toString('base64url')}.${randomBytes(12).toString('base64url')}.${randomBytes(300).toString('base64url')}.${randomBytes(16).toString('base64url')}`,
    `${b64('{"x":1}')}.${b64('{"y":"ünïcødé"}')}.`,
    randomBytes(3000).toString('base64url'),
  ];
  for (const token of tokens) {
    const record = sampleRecord(Date.now());
    record.tokens = { idToken: token, accessToken: `${token}x`, refreshToken: `y${token}`, accessTokenExpiresAt: Date.now(), refreshAt: Date.now() };
    roundTrip(record);
  }
});

test('record codec: odd claims come back unchanged', () => {
  const record = sampleRecord(Date.now());
  record.identity.claims = {
    ...record.identity.claims,
    text: 'line\nbreak "quoted" \\ \u2028 \ud800 lone surrogate',
    big: 2 ** 53 - 1,
    fraction: 0.1,
    negative: -3,
    none: null,
    empty: [],
    emptyText: [''],
    deep: { a: [{ b: [true, false, null, 'c'] }] },
  };
  record.identity.groups = [];
  roundTrip(record);
});

test('record codec: a signed-in session packs to under half its JSON', () => {
  const record = signedIn();
  const packed = packRecord(record);
  const json = JSON.stringify(record).length;
  assert.ok(packed.length < json / 2, `packed ${packed.length} bytes, JSON ${json}`);
});

test('record codec: the identity shares the values of its claims', () => {
  const record = signedIn();
  const got = unpackRecord(record.id, packRecord(record));
  assert.equal(got.identity.groups, got.identity.claims.groups);
  assert.deepEqual(got.identity.groups, record.identity.groups);
});

test('record codec: a string it did not pack is refused', () => {
  assert.throws(() => unpackRecord('x', ''));
  assert.throws(() => unpackRecord('x', '\u0000not deflate'));
  assert.throws(() => unpackRecord('x', '\u0005abc'));
});
