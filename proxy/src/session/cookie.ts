// session/cookie.ts — the session cookie: a random 256-bit id sealed with an HMAC bound to the one origin the
// cookie was issued for, its name and attributes, and the Cookie-header parsing the proxy needs to read it and to
// strip it from what it forwards.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Options of `serializeCookie`. The cookie is always host-only (no Domain) with `Path=/`. */
export interface CookieOptions {
  /** Adds `Secure` (HTTPS). Required for `__Host-` names. */
  secure: boolean;
  /** Lifetime in seconds; absent: a browser-session cookie. */
  maxAgeSec?: number;
  /** Default true. */
  httpOnly?: boolean;
  /** Default `Lax`. */
  sameSite?: 'Lax' | 'Strict';
}

/** A session id: 32 random bytes in lower-case hex, always this long. */
export const SESSION_ID_LENGTH = 64;
const ID_RE = /^[0-9a-f]{64}$/;
// 32 bytes in unpadded base64url are 43 characters; the id and the MAC are both 32 bytes.
const B64_32 = 43;
const SEALED_RE = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;
/** The length of every sealed cookie value (`sealSessionId`): the id and the MAC, 43 characters each, and a dot. */
export const SESSION_COOKIE_LENGTH = 2 * B64_32 + 1;
// v2: the MAC covers the origin too (a value issued for one route host is no session on another).
const MAC_LABEL = 'drawbridge-session-v2\0';
// RFC 6265: cookie-name is an HTTP token; cookie-value is cookie-octets (no CTLs, space, DQUOTE, comma, semicolon, backslash).
const NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE_RE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;

/** A fresh session id: 32 random bytes as 64 lower-case hex characters. */
export function newSessionId(): string {
  return randomBytes(32).toString('hex');
}

function mac(id: string, macKey: Uint8Array, origin: string): Buffer {
  return createHmac('sha256', macKey).update(`${MAC_LABEL}${id}\0${origin}`, 'utf8').digest();
}

/**
 * The cookie value for a session id on one origin (scheme://host[:port], as the request addressed it):
 * `base64url(id bytes).base64url(HMAC-SHA256(macKey, label + id + origin))`. Each route host gets its own value.
 */
export function sealSessionId(id: string, macKey: Uint8Array, origin: string): string {
  if (!ID_RE.test(id)) throw new TypeError('sealSessionId: the session id must be 64 lower-case hex characters');
  return `${Buffer.from(id, 'hex').toString('base64url')}.${mac(id, macKey, origin).toString('base64url')}`;
}

/**
 * The session id a cookie value carries when it was issued for `origin`; undefined when it is malformed, its MAC
 * is wrong, or it was issued for another origin. Never throws.
 */
export function openSessionCookie(value: string | undefined, macKey: Uint8Array, origin: string): string | undefined {
  try {
    if (typeof value !== 'string' || value.length !== SESSION_COOKIE_LENGTH || !SEALED_RE.test(value)) return undefined;
    const idPart = value.slice(0, B64_32);
    const macPart = value.slice(B64_32 + 1);
    const idBytes = Buffer.from(idPart, 'base64url');
    const given = Buffer.from(macPart, 'base64url');
    // Only the canonical encoding is accepted: the unused low bits of the last character must be zero.
    if (idBytes.length !== 32 || given.length !== 32) return undefined;
    if (idBytes.toString('base64url') !== idPart || given.toString('base64url') !== macPart) return undefined;
    const id = idBytes.toString('hex');
    return timingSafeEqual(mac(id, macKey, origin), given) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The cookie's name: `__Host-<base>` over HTTPS (host-only, Secure, Path=/ enforced by the browser), else `<base>`. */
export function sessionCookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}

/** The cookie binding one sign-in attempt to its browser: `[__Host-]<base>-login-<first 12 characters of state>`. */
export function loginCookieName(base: string, secure: boolean, state: string): string {
  return `${sessionCookieName(base, secure)}-login-${state.slice(0, 12)}`;
}

/** The cookie binding one hand-off to the browser that asked for it on a route host: `[__Host-]<base>-handoff-<id>`. */
export function handoffCookieName(base: string, secure: boolean, id: string): string {
  return `${sessionCookieName(base, secure)}-handoff-${id}`;
}

/** The cookie binding a pending user switch (a step-up that came back as another user) to the browser that got the page. */
export function switchCookieName(base: string, secure: boolean): string {
  return `${sessionCookieName(base, secure)}-switch`;
}

/** The short-lived cookie that tells the signed-out page, after the IdP's end-session, that a sign-out happened. */
export function signedOutCookieName(base: string, secure: boolean): string {
  return `${sessionCookieName(base, secure)}-signed-out`;
}

/**
 * True for a name in Drawbridge's cookie namespace: `<base>`, `<base>-*` (sign-in attempts), with or without the
 * `__Host-` prefix (in any case, as browsers match it). An upstream's Set-Cookie for one of these is dropped.
 */
export function isOwnCookie(base: string, name: string): boolean {
  const bare = name.toLowerCase().startsWith('__host-') ? name.slice(7) : name;
  return bare === base || bare.startsWith(`${base}-`);
}

/** A `Set-Cookie` header value: host-only, `Path=/`, `HttpOnly` unless disabled, `SameSite=Lax` unless `Strict`. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  if (!NAME_RE.test(name)) throw new TypeError(`serializeCookie: invalid cookie name ${JSON.stringify(name)}`);
  if (!VALUE_RE.test(value)) throw new TypeError(`serializeCookie: invalid characters in the value of cookie ${name}`);
  if (name.startsWith('__Host-') && !options.secure) throw new TypeError(`serializeCookie: ${name} needs the Secure attribute`);
  const parts = [`${name}=${value}`, 'Path=/'];
  if (options.maxAgeSec !== undefined) {
    const maxAge = Math.max(0, Math.floor(options.maxAgeSec));
    parts.push(`Max-Age=${maxAge}`);
    if (maxAge === 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  }
  if (options.httpOnly ?? true) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  parts.push(`SameSite=${options.sameSite ?? 'Lax'}`);
  return parts.join('; ');
}

/** A `Set-Cookie` header value that deletes the cookie (same attributes, empty value, `Max-Age=0`). */
export function clearCookie(name: string, secure: boolean): string {
  return serializeCookie(name, '', { secure, maxAgeSec: 0 });
}

/** Parses a Cookie header into name → value; the first occurrence of a name wins. Tolerant, never throws. */
export function parseCookieHeader(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (typeof header !== 'string') return cookies;
  for (const piece of header.split(';')) {
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    const name = piece.slice(0, eq).trim();
    if (name === '' || cookies.has(name)) continue;
    let value = piece.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    cookies.set(name, value);
  }
  return cookies;
}

/**
 * The value of cookie `name` in a Cookie header, exactly as `parseCookieHeader(header).get(name)` (first
 * occurrence, trimmed, quotes removed), without building the map: the per-request session-cookie read.
 */
export function cookieValue(header: string, name: string): string | undefined {
  const end = header.length;
  let start = 0;
  // The next '=' at or after `start`, kept across pieces without one (so a header of many bare pieces is one pass).
  let eq = header.indexOf('=');
  while (start < end) {
    let stop = header.indexOf(';', start);
    if (stop < 0) stop = end;
    if (eq >= 0 && eq < start) eq = header.indexOf('=', start);
    if (eq >= 0 && eq < stop && eq - start >= name.length && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, stop).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    start = stop + 1;
  }
  return undefined;
}

/**
 * The Cookie header without the cookies whose name `drop` picks (a piece without `=` is a nameless cookie, name
 * ''); undefined when nothing is left. Never throws.
 */
export function removeCookies(header: string | undefined, drop: (name: string) => boolean): string | undefined {
  if (typeof header !== 'string') return undefined;
  let kept = '';
  let start = 0;
  const end = header.length;
  while (start < end) {
    let stop = header.indexOf(';', start);
    if (stop < 0) stop = end;
    const piece = header.slice(start, stop).trim();
    start = stop + 1;
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    if (drop(eq < 0 ? '' : piece.slice(0, eq).trimEnd())) continue;
    kept = kept === '' ? piece : `${kept}; ${piece}`;
  }
  return kept === '' ? undefined : kept;
}

/** The Cookie header without any occurrence of cookie `name`; undefined when nothing is left. Never throws. */
export function removeCookie(header: string | undefined, name: string): string | undefined {
  return removeCookies(header, (n) => n === name);
}
