// session/record-codec.ts — a session record as one compact string (about 700 bytes for a typical sign-in,
// against 2.3 kB as objects): the memory store keeps sessions in this form between reads.
import { deflateRawSync, inflateRawSync, type ZlibOptions } from 'node:zlib';
import type { Identity } from '../policy/input.js';
import type { SessionRecord, SessionTokens } from './store.js';

// Raw deflate primed with what every record repeats: its own field names and the usual claims and JWT headers.
// Most frequent last (shorter back-references). Changing it only changes the size of records packed afterwards
// in this process; nothing packed outlives the process.
const DICTIONARY = Buffer.from(
  [
    '{"alg":"ES256","typ":"at+jwt","kid":""}{"alg":"RS256","typ":"JWT","kid":""}',
    '"azp":"","aud":["",""],"nbf":,"jti":"","typ":"Bearer","c_hash":"","session_state":"","scope":"openid profile email",',
    '"given_name":"","family_name":"","locale":"","roles":[],"realm_access":{"roles":[]},"resource_access":{},',
    '"amr":["pwd","mfa","otp","hwk","swk","sms","fpt","face"],"acr":"urn:',
    '{"alg":"RS256","kid":"","typ":"JWT"}',
    '{"iss":"https://","sub":"","aud":"","exp":,"iat":,"auth_time":,"nonce":"","at_hash":"","sid":"","acr":"","amr":[',
    '"preferred_username":"","email":"","email_verified":true,"name":"","groups":[',
    '"claims":{"iss":"https://","sub":"',
    '"},"email":"","emailVerified":true,"name":"","acr":"","authTime":1',
    '"binding":{"ip":"","agent":"chrome/windows"},"seen":{"network":"","agent":"firefox/linux"},"signals":[{"kind":"context-change","at":1',
    '},"createdAt":1,"lastSeenAt":1,"expiresAt":1,"idleTimeoutMs":,"idpSid":"',
    '","tokens":{"idToken":[,"",,"",-,""],"accessToken":[-,""],"refreshToken":[-,""],"accessTokenExpiresAt":1,"refreshAt":1}}',
    '{"identity":{"sub":"","user":"","groups":["',
  ].join(''),
);

// Small output chunks come from Buffer's shared pool: a 16 kB buffer per call would leave the C heap fragmented.
const ZLIB: ZlibOptions = { dictionary: DICTIONARY, chunkSize: 1024 };
const TOKEN_FIELDS = ['idToken', 'accessToken', 'refreshToken'] as const;
const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;

/**
 * Packs everything but `id` (the caller keys the string by it); `unpackRecord(id, packRecord(r))` deep-equals `r`.
 * Layout (latin1): the length of the raw section as a base-128 varint, the raw section (token bytes that do not
 * compress: signatures, opaque tokens), then raw deflate of the record's JSON, a newline, and the token bytes
 * that are JSON (a JWT's header and claims, which deflate finds again in the claims just written).
 */
export function packRecord(record: SessionRecord): string {
  const { id: _id, tokens, ...rest } = record;
  const sections: Sections = { json: [], raw: [], rawLength: 0 };
  const packedTokens: Record<string, unknown> = { ...tokens };
  for (const field of TOKEN_FIELDS) {
    const token = tokens[field];
    if (typeof token === 'string') packedTokens[field] = splitToken(token, sections);
  }
  // JSON never holds a raw newline: the body ends at the first one.
  const body = Buffer.from(`${JSON.stringify({ ...rest, tokens: packedTokens })}\n`, 'utf8');
  const deflated = deflateRawSync(sections.json.length === 0 ? body : Buffer.concat([body, ...sections.json]), ZLIB);
  // One buffer, so the string is one flat run of bytes (concatenated strings would keep a tree of pieces).
  return Buffer.concat([varint(sections.rawLength), ...sections.raw, deflated]).toString('latin1');
}

/** The record `packRecord` packed, with this `id`. Throws on a string `packRecord` did not make. */
export function unpackRecord(id: string, packed: string): SessionRecord {
  const bytes = Buffer.from(packed, 'latin1');
  let rawLength = 0;
  let start = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[start++];
    if (byte === undefined || shift > 28) throw new Error('unpackRecord: not a packed session record');
    rawLength += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  const raw = bytes.subarray(start, start + rawLength);
  const inflated = inflateRawSync(bytes.subarray(start + rawLength), ZLIB);
  const end = inflated.indexOf(NEWLINE);
  if (end < 0 || raw.length !== rawLength) throw new Error('unpackRecord: not a packed session record');
  const body = JSON.parse(inflated.toString('utf8', 0, end)) as Omit<SessionRecord, 'id' | 'tokens'> & { tokens: Record<string, unknown> };
  const cursor: Cursor = { json: inflated, jsonAt: end + 1, raw, rawAt: 0 };
  const tokens = body.tokens;
  for (const field of TOKEN_FIELDS) {
    const parts = tokens[field];
    if (Array.isArray(parts)) tokens[field] = joinToken(parts as (number | string)[], cursor);
  }
  // The shape Sessions.create gives a record, so every record in the process shares one hidden class.
  const record: SessionRecord = {
    id,
    identity: shareClaimValues(body.identity),
    tokens: tokens as SessionTokens,
    createdAt: body.createdAt,
    lastSeenAt: body.lastSeenAt,
    expiresAt: body.expiresAt,
    idleTimeoutMs: body.idleTimeoutMs,
  };
  if (body.binding !== undefined) record.binding = body.binding;
  if (body.seen !== undefined) record.seen = body.seen;
  if (body.signals !== undefined) record.signals = body.signals;
  if (body.idpSid !== undefined) {
    const sid = record.identity.claims.sid;
    record.idpSid = sid === body.idpSid ? sid : body.idpSid;
  }
  return record;
}

interface Sections {
  json: Buffer[];
  raw: Buffer[];
  rawLength: number;
}

interface Cursor {
  json: Buffer;
  jsonAt: number;
  raw: Buffer;
  rawAt: number;
}

/**
 * A token as [byte count, rest] per `.`-separated segment: the longest base64url prefix of whole 4-character
 * groups that decodes and re-encodes to itself is kept as bytes (3 for 4 characters) — in the JSON section when
 * it is JSON, as a negative count in the raw section otherwise — and the rest as text. Any string comes back unchanged.
 */
function splitToken(token: string, sections: Sections): (number | string)[] {
  const parts: (number | string)[] = [];
  for (const segment of token.split('.')) {
    const whole = segment.length & ~3;
    const prefix = whole === segment.length ? segment : segment.slice(0, whole);
    const decoded = whole > 0 ? Buffer.from(prefix, 'base64url') : undefined;
    if (decoded === undefined || decoded.length * 4 !== whole * 3 || decoded.toString('base64url') !== prefix) {
      parts.push(0, segment);
    } else if (decoded[0] === OPEN_BRACE) {
      sections.json.push(decoded);
      parts.push(decoded.length, segment.slice(whole));
    } else {
      sections.raw.push(decoded);
      sections.rawLength += decoded.length;
      parts.push(-decoded.length, segment.slice(whole));
    }
  }
  return parts;
}

function joinToken(parts: (number | string)[], at: Cursor): string {
  const segments: string[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const count = parts[i] as number;
    const rest = parts[i + 1] as string;
    if (count > 0) {
      segments.push(at.json.toString('base64url', at.jsonAt, at.jsonAt + count) + rest);
      at.jsonAt += count;
    } else if (count < 0) {
      segments.push(at.raw.toString('base64url', at.rawAt, at.rawAt - count) + rest);
      at.rawAt -= count;
    } else {
      segments.push(rest);
    }
  }
  // join copies into one flat string; `+` would keep a tree of pieces (more objects, more bytes).
  return segments.join('.');
}

/** JSON.parse gives the identity and its claims each a copy of the same strings and lists: let them share one. */
function shareClaimValues(identity: Identity): Identity {
  const values = Object.values(identity.claims);
  const strings = new Map<string, string>();
  for (const value of values) if (typeof value === 'string') strings.set(value, value);
  identity.sub = strings.get(identity.sub) ?? identity.sub;
  identity.user = strings.get(identity.user) ?? identity.user;
  if (identity.email !== undefined) identity.email = strings.get(identity.email) ?? identity.email;
  if (identity.name !== undefined) identity.name = strings.get(identity.name) ?? identity.name;
  if (identity.acr !== undefined) identity.acr = strings.get(identity.acr) ?? identity.acr;
  identity.groups = sameList(identity.groups, values);
  identity.amr = sameList(identity.amr, values);
  return identity;
}

/** The claim value that is a list equal to `list`, else `list`. */
function sameList(list: readonly string[], values: unknown[]): readonly string[] {
  for (const value of values) {
    if (Array.isArray(value) && value.length === list.length && value.every((v, i) => v === list[i])) return value as string[];
  }
  return list;
}

/** Base-128 varint, least significant group first. */
function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}
