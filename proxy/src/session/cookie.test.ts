// session/cookie.test.ts — sealing and opening the session cookie, its attributes, and Cookie-header parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  clearCookie,
  cookieValue,
  isOwnCookie,
  loginCookieName,
  newSessionId,
  openSessionCookie,
  parseCookieHeader,
  removeCookie,
  sealSessionId,
  serializeCookie,
  sessionCookieName,
} from './cookie.js';
import { deriveKeys } from './keys.js';

const keys = deriveKeys('cookie test secret, thirty-two bytes or more');
const otherKeys = deriveKeys('a different secret, thirty-two bytes or more');
const ORIGIN = 'https://app.example.com';

test('deriveKeys: distinct 32-byte keys, stable for a secret, different across secrets', () => {
  const again = deriveKeys('cookie test secret, thirty-two bytes or more');
  const names = ['cookieMac', 'storeEncryption', 'csrf', 'loginBinding', 'signOutReturn'] as const;
  const hex = names.map((n) => keys[n].toString('hex'));
  for (const n of names) {
    assert.equal(keys[n].length, 32);
    assert.ok(keys[n].equals(again[n]));
    assert.ok(!keys[n].equals(otherKeys[n]));
  }
  assert.equal(new Set(hex).size, names.length);
  assert.throws(() => deriveKeys(''));
});

test('newSessionId: 64 lower-case hex characters, never repeating', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newSessionId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
});

test('seal then open returns the id', () => {
  const id = newSessionId();
  const sealed = sealSessionId(id, keys.cookieMac, ORIGIN);
  assert.match(sealed, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
  assert.equal(openSessionCookie(sealed, keys.cookieMac, ORIGIN), id);
  assert.equal(Buffer.from(sealed.split('.')[0], 'base64url').toString('hex'), id);
});

test('a sealed value opens on its own origin only: another host, port or scheme gets no session id', () => {
  const id = newSessionId();
  const sealed = sealSessionId(id, keys.cookieMac, ORIGIN);
  assert.equal(openSessionCookie(sealed, keys.cookieMac, ORIGIN), id);
  for (const other of ['https://wiki.example.com', 'https://app.example.com:8443', 'http://app.example.com', 'https://APP.example.com', 'https://app.example.com.', '']) {
    assert.equal(openSessionCookie(sealed, keys.cookieMac, other), undefined, other);
  }
  // Two hosts, two values for one session: the id part is the same, the MAC differs.
  const wiki = sealSessionId(id, keys.cookieMac, 'https://wiki.example.com');
  assert.notEqual(wiki, sealed);
  assert.equal(openSessionCookie(wiki, keys.cookieMac, 'https://wiki.example.com'), id);
});

test('sealSessionId refuses an id that is not 64 lower-case hex', () => {
  assert.throws(() => sealSessionId('abc', keys.cookieMac, ORIGIN), TypeError);
  assert.throws(() => sealSessionId(newSessionId().toUpperCase(), keys.cookieMac, ORIGIN), TypeError);
});

test('open refuses every malformed or forged value without throwing', () => {
  const id = newSessionId();
  const sealed = sealSessionId(id, keys.cookieMac, ORIGIN);
  const [idPart, macPart] = sealed.split('.');
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const other = sealSessionId(newSessionId(), keys.cookieMac, ORIGIN);
  const cases: [string, unknown][] = [
    ['tampered id', `${flip(idPart, 5)}.${macPart}`],
    ['tampered MAC', `${idPart}.${flip(macPart, 10)}`],
    ['MAC of another id', `${idPart}.${other.split('.')[1]}`],
    ['truncated', sealed.slice(0, -1)],
    ['truncated id', `${idPart.slice(1)}.${macPart}`],
    ['longer', `${sealed}A`],
    ['wrong key', sealSessionId(id, otherKeys.cookieMac, ORIGIN)],
    ['extra dot', `${idPart}.${macPart}.`],
    ['extra dots', `${idPart}..${macPart.slice(1)}`],
    ['no dot', `${idPart}A${macPart}`],
    ['standard base64 characters', `${idPart.slice(0, -2)}+/.${macPart}`],
    ['padding', `${idPart}=.${macPart.slice(1)}`],
    ['spaces', ` ${sealed.slice(1)}`],
    ['non-ASCII', `${idPart.slice(0, -1)}é.${macPart}`],
    ['non-canonical base64 (unused bits set)', `${idPart.slice(0, -1)}${String.fromCharCode(idPart.charCodeAt(42) + 1)}.${macPart}`],
    ['empty', ''],
    ['only a dot', '.'],
    ['undefined', undefined],
    ['a number', 42],
    ['the raw id', id],
  ];
  for (const [what, value] of cases) {
    assert.equal(openSessionCookie(value as string, keys.cookieMac, ORIGIN), undefined, what);
  }
  assert.equal(openSessionCookie(sealed, keys.cookieMac, ORIGIN), id, 'the untouched value still opens');
});

test('sessionCookieName: __Host- prefix over HTTPS only', () => {
  assert.equal(sessionCookieName('drawbridge', true), '__Host-drawbridge');
  assert.equal(sessionCookieName('drawbridge', false), 'drawbridge');
});

test('serializeCookie: host-only, Path=/, HttpOnly, Secure over HTTPS, SameSite=Lax', () => {
  const value = sealSessionId(newSessionId(), keys.cookieMac, ORIGIN);
  assert.equal(
    serializeCookie('__Host-drawbridge', value, { secure: true, maxAgeSec: 43200 }),
    `__Host-drawbridge=${value}; Path=/; Max-Age=43200; HttpOnly; Secure; SameSite=Lax`,
  );
  assert.equal(serializeCookie('drawbridge', value, { secure: false }), `drawbridge=${value}; Path=/; HttpOnly; SameSite=Lax`);
  assert.equal(serializeCookie('csrf', 'abc', { secure: false, httpOnly: false, sameSite: 'Strict' }), 'csrf=abc; Path=/; SameSite=Strict');
  assert.ok(!/domain/i.test(serializeCookie('a', 'b', { secure: true, maxAgeSec: 1 })));
  assert.equal(serializeCookie('a', 'b', { secure: false, maxAgeSec: 1.9 }), 'a=b; Path=/; Max-Age=1; HttpOnly; SameSite=Lax');
});

test('serializeCookie refuses names and values that would break the header', () => {
  assert.throws(() => serializeCookie('a;b', 'v', { secure: false }), TypeError);
  assert.throws(() => serializeCookie('', 'v', { secure: false }), TypeError);
  assert.throws(() => serializeCookie('a', 'v; Domain=evil.com', { secure: false }), TypeError);
  assert.throws(() => serializeCookie('a', 'v\r\nSet-Cookie: x=y', { secure: false }), TypeError);
  assert.throws(() => serializeCookie('__Host-a', 'v', { secure: false }), TypeError);
});

test('clearCookie expires the cookie with the same attributes', () => {
  assert.equal(clearCookie('__Host-drawbridge', true), '__Host-drawbridge=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax');
  assert.equal(clearCookie('drawbridge', false), 'drawbridge=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax');
});

test('parseCookieHeader: first occurrence wins, tolerant of spaces and junk, never throws', () => {
  assert.deepEqual([...parseCookieHeader('a=1; b=2;c=3')], [['a', '1'], ['b', '2'], ['c', '3']]);
  assert.deepEqual([...parseCookieHeader('  a = 1 ;;  b=2  ; a=3')], [['a', '1'], ['b', '2']]);
  assert.deepEqual([...parseCookieHeader('a=x=y; b="quoted"; c=')], [['a', 'x=y'], ['b', 'quoted'], ['c', '']]);
  assert.deepEqual([...parseCookieHeader('novalue; =orphan; d=4')], [['d', '4']]);
  assert.equal(parseCookieHeader(undefined).size, 0);
  assert.equal(parseCookieHeader('').size, 0);
  assert.equal(parseCookieHeader(';;;').size, 0);
  assert.equal(parseCookieHeader(['a=1'] as unknown as string).size, 0);
  assert.equal(parseCookieHeader('a=%E0%A4%A').get('a'), '%E0%A4%A');
});

test('removeCookie strips every occurrence of one cookie and keeps the rest', () => {
  assert.equal(removeCookie('a=1; drawbridge=x; b=2', 'drawbridge'), 'a=1; b=2');
  assert.equal(removeCookie('drawbridge=x; a=1; drawbridge=y', 'drawbridge'), 'a=1');
  assert.equal(removeCookie(' drawbridge = x ;a=1', 'drawbridge'), 'a=1');
  assert.equal(removeCookie('drawbridge=x', 'drawbridge'), undefined);
  assert.equal(removeCookie('drawbridge=x; drawbridge=y;', 'drawbridge'), undefined);
  assert.equal(removeCookie(undefined, 'drawbridge'), undefined);
  assert.equal(removeCookie('', 'drawbridge'), undefined);
  assert.equal(removeCookie('a=1;;b=2', 'drawbridge'), 'a=1; b=2');
  // Only the exact name: similar names and the other variant are kept.
  assert.equal(removeCookie('__Host-drawbridge=x; drawbridge2=y; Drawbridge=z', '__Host-drawbridge'), 'drawbridge2=y; Drawbridge=z');
});

test('loginCookieName and isOwnCookie: the sign-in attempt cookies and the session cookie are Drawbridge\'s namespace', () => {
  assert.equal(loginCookieName('drawbridge', true, 'abcdefghijklmnopq'), '__Host-drawbridge-login-abcdefghijkl');
  assert.equal(loginCookieName('drawbridge', false, 'abc'), 'drawbridge-login-abc');
  for (const name of ['drawbridge', '__Host-drawbridge', '__HOST-drawbridge', '__host-drawbridge', 'drawbridge-login-abc', '__Host-drawbridge-login-abc']) {
    assert.equal(isOwnCookie('drawbridge', name), true, name);
  }
  for (const name of ['app', 'drawbridgeish', 'Drawbridge', '__Secure-drawbridge', 'x-drawbridge', '']) assert.equal(isOwnCookie('drawbridge', name), false, name);
});

test('cookieValue: the same answer as parseCookieHeader(header).get(name), for any header', () => {
  const piece = fc.stringMatching(/^[ a-c_=;"\t\u00a0\u2028-]{0,12}$/);
  const name = fc.constantFrom('a', 'b', '_drawbridge', 'a b', '"a"');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 8 }), name, (pieces, n) => {
      const header = pieces.join(';');
      assert.equal(cookieValue(header, n), parseCookieHeader(header).get(n));
    }),
    { numRuns: 5000 },
  );
  assert.equal(cookieValue('  _drawbridge = "v1" ; _drawbridge=v2', '_drawbridge'), 'v1');
  assert.equal(cookieValue('x;y;z;_drawbridge', '_drawbridge'), undefined);
  assert.equal(cookieValue('', 'a'), undefined);
  assert.equal(cookieValue(`${'a;'.repeat(1000)}b=1`, 'b'), '1');
});
