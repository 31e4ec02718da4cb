// url/normalize.ts — canonical request-target, Host and header-name hygiene (SPEC §3 step 1): the one
// place that decides what path and host a request names, so matching, policy and forwarding see the same strings.

export type PathResult = { ok: true; path: string; query: string } | { ok: false; reason: string };
export type HostResult = { ok: true; host: string; hostname: string; port?: number } | { ok: false; reason: string };

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;
const SEMICOLON = 0x3b;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const COLON = 0x3a;
const DEL = 0x7f;

// Path character classes, indexed by char code (< 128). Anything not listed (and every code >= 128) is rejected.
const C_REJECT = 0;
const C_PLAIN = 1; // kept as is: unreserved, sub-delims other than ';', ':' and '@'
const C_ENCODE = 2; // printable but not allowed raw in a path (RFC 3986); canonicalized to %XX like a browser would
const PATH_CLASS = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) PATH_CLASS[c] = C_PLAIN;
for (const ch of '"<>[]^`{|}') PATH_CLASS[ch.charCodeAt(0)] = C_ENCODE;
for (const ch of '%/;\\?#') PATH_CLASS[ch.charCodeAt(0)] = C_REJECT; // handled explicitly (or never reach the path scan)

// ALPHA / DIGIT / "-" / "." / "_" / "~": the escapes RFC 3986 §6.2.2.2 says to decode.
const UNRESERVED = new Uint8Array(128);
for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~') UNRESERVED[ch.charCodeAt(0)] = 1;

const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX['0123456789abcdef'.charCodeAt(d)] = d;
  HEX['0123456789ABCDEF'.charCodeAt(d)] = d;
}
const PCT: string[] = Array.from({ length: 256 }, (_, b) => '%' + b.toString(16).toUpperCase().padStart(2, '0'));

const REASONS = {
  notOriginForm: 'request-target is not an absolute path (must start with "/")',
  encodedSlash: 'encoded slash (%2F) in path',
  encodedBackslash: 'encoded backslash (%5C) in path',
  backslash: 'backslash in path',
  semicolon: 'semicolon (path parameter) in path',
  dotDotSemicolon: '"..;" segment in path',
  controlPath: 'control character in path',
  encodedControlPath: 'encoded control character in path',
  spacePath: 'space in path (must be percent-encoded)',
  nonAsciiPath: 'non-ASCII character in path (must be percent-encoded)',
  overlongUtf8: 'overlong UTF-8 escape (%C0/%C1) in path',
  badEscapePath: 'invalid percent-encoding in path',
  aboveRoot: 'path climbs above the root ("..")',
  controlQuery: 'control character in query',
  encodedControlQuery: 'encoded control character in query',
  spaceQuery: 'space in query (must be percent-encoded)',
  nonAsciiQuery: 'non-ASCII character in query (must be percent-encoded)',
  badEscapeQuery: 'invalid percent-encoding in query',
  controlFragment: 'control character in fragment',
  hostMissing: 'missing Host header',
  hostTooLong: 'Host header too long',
  hostUserinfo: 'userinfo ("@") in Host header',
  hostChar: 'invalid character in Host header',
  hostEmptyName: 'empty host name in Host header',
  hostEmptyLabel: 'empty label in Host name',
  hostLongLabel: 'Host name label longer than 63 characters',
  hostHyphen: 'Host name label starts or ends with "-"',
  hostLongName: 'Host name longer than 253 characters',
  hostColons: 'more than one ":" in Host header (IPv6 literals need brackets)',
  hostEmptyPort: 'empty port in Host header',
  hostBadPort: 'port in Host header is not a number from 1 to 65535',
  hostBadIpv6: 'invalid IPv6 literal in Host header',
} as const;

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/**
 * Normalizes a request-target in origin form ("/a/b?x=1").
 * Decodes escaped unreserved characters, upper-cases every other escape, resolves "." and ".." and merges "//";
 * refuses encoded slashes and backslashes, "\", ";", control characters, bad escapes and paths climbing above "/".
 * `query` is the text after the first "?" (verbatim, "" when absent); a raw "#" ends path or query and its fragment is dropped.
 */
export function normalizeTarget(target: string): PathResult {
  if (target.charCodeAt(0) !== SLASH) return fail(REASONS.notOriginForm);
  const len = target.length;
  // Fast path: an already-canonical ASCII path is returned as a slice, no allocation beyond it.
  let end = 1;
  let segStart = 1;
  let clean = true;
  for (; end < len; end++) {
    const c = target.charCodeAt(end);
    if (c < 128 && PATH_CLASS[c] === C_PLAIN) continue;
    if (c === SLASH && !isDotOrEmptySegment(target, segStart, end)) {
      segStart = end + 1;
      continue;
    }
    if (c !== QUESTION && c !== HASH) clean = false;
    break;
  }
  if (clean && end > segStart && isDotOrEmptySegment(target, segStart, end)) clean = false;
  let path: string;
  if (clean) {
    path = end === len ? target : target.slice(0, end);
  } else {
    const slow = normalizePathSlow(target);
    if (typeof slow !== 'string') return slow;
    path = slow;
    end = pathEnd(target);
  }
  if (end === len) return { ok: true, path, query: '' };
  if (target.charCodeAt(end) === HASH) {
    const bad = checkFragment(target, end + 1);
    return bad ? fail(bad) : { ok: true, path, query: '' };
  }
  return checkQuery(target, path, end + 1);
}

// True for "", "." and ".." between start and end.
function isDotOrEmptySegment(s: string, start: number, end: number): boolean {
  const n = end - start;
  if (n === 0) return true;
  if (n > 2 || s.charCodeAt(start) !== DOT) return false;
  return n === 1 || s.charCodeAt(start + 1) === DOT;
}

function pathEnd(target: string): number {
  for (let i = 1; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION || c === HASH) return i;
  }
  return target.length;
}

// The general case: segment by segment, decoding and validating as it goes. Returns the path, or a failure.
function normalizePathSlow(target: string): string | { ok: false; reason: string } {
  const len = target.length;
  const out: string[] = [];
  let seg = '';
  let run = 1; // start of the pending run of plain characters
  let trailingSlash = false;
  for (let i = 1; ; i++) {
    const c = i < len ? target.charCodeAt(i) : -1;
    if (c >= 0 && c < 128 && PATH_CLASS[c] === C_PLAIN) continue;
    if (i > run) seg += target.slice(run, i);
    run = i + 1;
    if (c === SLASH || c === -1 || c === QUESTION || c === HASH) {
      if (seg === '' || seg === '.') {
        trailingSlash = true;
      } else if (seg === '..') {
        if (out.length === 0) return fail(REASONS.aboveRoot);
        out.pop();
        trailingSlash = true;
      } else if (seg.charCodeAt(0) === DOT && (seg.startsWith('.%3B') || seg.startsWith('..%3B'))) {
        return fail(REASONS.dotDotSemicolon);
      } else {
        out.push(seg);
        trailingSlash = false;
      }
      if (c !== SLASH) break;
      seg = '';
      continue;
    }
    if (c === PERCENT) {
      const hi = i + 1 < len ? hexAt(target, i + 1) : -1;
      const lo = i + 2 < len ? hexAt(target, i + 2) : -1;
      if (hi < 0 || lo < 0) return fail(REASONS.badEscapePath);
      const b = (hi << 4) | lo;
      if (b < 128 && UNRESERVED[b] === 1) seg += String.fromCharCode(b);
      else if (b === SLASH) return fail(REASONS.encodedSlash);
      else if (b === BACKSLASH) return fail(REASONS.encodedBackslash);
      else if (b < SPACE || b === DEL) return fail(REASONS.encodedControlPath);
      // 0xC0/0xC1 only ever start overlong forms ("%C0%AE" = "."), which old decoders turned into dots and slashes.
      else if (b === 0xc0 || b === 0xc1) return fail(REASONS.overlongUtf8);
      else seg += PCT[b];
      i += 2;
      run = i + 1;
    } else if (c === SEMICOLON) {
      return fail(seg === '.' || seg === '..' ? REASONS.dotDotSemicolon : REASONS.semicolon);
    } else if (c === BACKSLASH) {
      return fail(REASONS.backslash);
    } else if (c < SPACE || c === DEL) {
      return fail(REASONS.controlPath);
    } else if (c === SPACE) {
      return fail(REASONS.spacePath);
    } else if (c >= 128) {
      return fail(REASONS.nonAsciiPath);
    } else {
      seg += PCT[c]; // C_ENCODE
    }
  }
  if (out.length === 0) return '/';
  const joined = '/' + out.join('/');
  return trailingSlash ? joined + '/' : joined;
}

function hexAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? HEX[c] : -1;
}

// The query is forwarded verbatim, so it is only checked: printable ASCII, valid escapes, no escaped controls.
function checkQuery(target: string, path: string, start: number): PathResult {
  const len = target.length;
  let i = start;
  for (; i < len; i++) {
    const c = target.charCodeAt(i);
    if (c > SPACE && c < DEL) {
      if (c === HASH) break;
      if (c !== PERCENT) continue;
      const hi = i + 1 < len ? hexAt(target, i + 1) : -1;
      const lo = i + 2 < len ? hexAt(target, i + 2) : -1;
      if (hi < 0 || lo < 0) return fail(REASONS.badEscapeQuery);
      const b = (hi << 4) | lo;
      if (b < SPACE || b === DEL) return fail(REASONS.encodedControlQuery);
      i += 2;
    } else if (c === SPACE) {
      return fail(REASONS.spaceQuery);
    } else if (c < SPACE || c === DEL) {
      return fail(REASONS.controlQuery);
    } else {
      return fail(REASONS.nonAsciiQuery);
    }
  }
  if (i < len) {
    const bad = checkFragment(target, i + 1);
    if (bad) return fail(bad);
  }
  return { ok: true, path, query: i === len ? target.slice(start) : target.slice(start, i) };
}

// The fragment is dropped unread, but a control character anywhere in the target still refuses the request.
function checkFragment(target: string, start: number): string | undefined {
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < SPACE || c === DEL) return REASONS.controlFragment;
  }
  return undefined;
}

/**
 * Normalizes a Host header value for `scheme` ('http' | 'https').
 * Lower-cases, drops one trailing dot and the scheme's default port. Names must be LDH (letters, digits, "-"
 * inside labels, no "_"); IPv6 literals are bracketed and canonicalized (RFC 5952 / WHATWG: "[::1]").
 * `hostname` keeps IPv6 brackets, so `host` is always `hostname` plus ":port" when `port` (non-default) is set.
 */
export function normalizeHost(raw: string | undefined, scheme: 'http' | 'https'): HostResult {
  if (raw === undefined || raw.length === 0) return fail(REASONS.hostMissing);
  if (raw.length > 300) return fail(REASONS.hostTooLong);
  if (raw.includes('@')) return fail(REASONS.hostUserinfo);
  let hostname: string;
  let i: number;
  if (raw.charCodeAt(0) === 0x5b) {
    const close = raw.indexOf(']');
    const v6 = close < 0 ? undefined : canonicalIpv6(raw, 1, close);
    if (v6 === undefined) return fail(REASONS.hostBadIpv6);
    hostname = '[' + v6 + ']';
    i = close + 1;
  } else {
    i = raw.indexOf(':');
    if (i < 0) i = raw.length;
    else if (raw.includes(':', i + 1)) return fail(REASONS.hostColons);
    const name = checkName(raw, i);
    if (name.reason !== undefined) return fail(name.reason);
    hostname = name.hostname;
  }
  if (i === raw.length) return { ok: true, host: hostname, hostname };
  if (raw.charCodeAt(i) !== COLON) return fail(REASONS.hostChar);
  const digits = raw.length - i - 1;
  if (digits === 0) return fail(REASONS.hostEmptyPort);
  let port = 0;
  for (let j = i + 1; j < raw.length; j++) {
    const c = raw.charCodeAt(j);
    if (c === COLON) return fail(REASONS.hostColons);
    if (c < 0x30 || c > 0x39) return fail(REASONS.hostBadPort);
    port = port * 10 + (c - 0x30);
  }
  // A leading zero ("080") would give two spellings of one port; refuse rather than pick one.
  if (digits > 5 || port < 1 || port > 65535 || raw.charCodeAt(i + 1) === 0x30) return fail(REASONS.hostBadPort);
  if (port === (scheme === 'https' ? 443 : 80)) return { ok: true, host: hostname, hostname };
  return { ok: true, host: hostname + ':' + port, hostname, port };
}

// Validates raw[0, end) as an LDH name (one trailing dot allowed) and returns it lower-cased without the dot.
function checkName(raw: string, end: number): { hostname: string; reason?: undefined } | { hostname?: undefined; reason: string } {
  if (end > 0 && raw.charCodeAt(end - 1) === DOT) end--;
  if (end === 0) return { reason: raw.charCodeAt(0) === DOT ? REASONS.hostEmptyLabel : REASONS.hostEmptyName };
  if (end > 253) return { reason: REASONS.hostLongName };
  let labelStart = 0;
  let upper = false;
  for (let i = 0; i <= end; i++) {
    const c = i < end ? raw.charCodeAt(i) : DOT;
    if (c === DOT) {
      const n = i - labelStart;
      if (n === 0) return { reason: REASONS.hostEmptyLabel };
      if (n > 63) return { reason: REASONS.hostLongLabel };
      if (raw.charCodeAt(labelStart) === 0x2d || raw.charCodeAt(i - 1) === 0x2d) return { reason: REASONS.hostHyphen };
      labelStart = i + 1;
    } else if (c >= 0x41 && c <= 0x5a) {
      upper = true;
    } else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d)) {
      return { reason: REASONS.hostChar };
    }
  }
  const name = end === raw.length ? raw : raw.slice(0, end);
  return { hostname: upper ? name.toLowerCase() : name };
}

// Parses raw[start, end) as an IPv6 address (no zone id) and serializes it canonically, or returns undefined.
function canonicalIpv6(raw: string, start: number, end: number): string | undefined {
  const pieces: number[] = [];
  let compress = -1;
  let i = start;
  if (end - start < 2) return undefined;
  if (raw.charCodeAt(i) === COLON) {
    if (raw.charCodeAt(i + 1) !== COLON) return undefined;
    compress = 0;
    i += 2;
  }
  while (i < end) {
    if (pieces.length === 8) return undefined;
    const pieceStart = i;
    let value = 0;
    let n = 0;
    for (; i < end && n < 5; i++, n++) {
      const h = hexAt(raw, i);
      if (h < 0) break;
      value = value * 16 + h;
    }
    if (n === 0) return undefined;
    if (i < end && raw.charCodeAt(i) === DOT) {
      if (pieces.length > 6) return undefined;
      const v4 = parseIpv4(raw, pieceStart, end);
      if (v4 === undefined) return undefined;
      pieces.push(v4 >>> 16, v4 & 0xffff);
      i = end;
      break;
    }
    if (n > 4) return undefined;
    pieces.push(value);
    if (i === end) break;
    if (raw.charCodeAt(i) !== COLON) return undefined;
    i++;
    if (i < end && raw.charCodeAt(i) === COLON) {
      if (compress >= 0) return undefined;
      compress = pieces.length;
      i++;
    } else if (i === end) {
      return undefined;
    }
  }
  if (compress < 0 ? pieces.length !== 8 : pieces.length > 7) return undefined;
  if (compress >= 0) pieces.splice(compress, 0, ...new Array<number>(8 - pieces.length).fill(0));
  return serializeIpv6(pieces);
}

function parseIpv4(raw: string, start: number, end: number): number | undefined {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    let octet = 0;
    const octetStart = i;
    for (; i < end; i++) {
      const c = raw.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      octet = octet * 10 + (c - 0x30);
    }
    const n = i - octetStart;
    if (n === 0 || n > 3 || octet > 255 || (n > 1 && raw.charCodeAt(octetStart) === 0x30)) return undefined;
    value = value * 256 + octet;
    parts++;
    if (parts < 4) {
      if (raw.charCodeAt(i) !== DOT) return undefined;
      i++;
    }
  }
  return i === end ? value : undefined;
}

// WHATWG URL serialization: lower-case hex, no leading zeros, the first longest run (>= 2) of zero pieces as "::".
function serializeIpv6(pieces: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (pieces[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && pieces[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += pieces[i].toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

