// session/handoff-binding.ts — binds a hand-off (a session made on publicUrl, handed to a route host) to the browser
// and the route host that asked for it: the route host sets a random nonce in its own cookie and sends publicUrl a
// MACed ticket naming itself and the nonce's MAC; the hand-off code is redeemed only with that cookie, on that host.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a route host's sign-in start vouches for: this browser (`binding`) asked for a session on `origin`. */
export interface HandoffTicket {
  /** The route host's origin (scheme://host[:port]) where the binding cookie was set. */
  readonly origin: string;
  /** The binding cookie's name suffix (public; several tabs each have their own cookie). */
  readonly cookieId: string;
  /** MAC of the nonce in that cookie (the nonce itself never leaves the route host's cookie). */
  readonly binding: string;
  /** ms since epoch. */
  readonly issuedAt: number;
}

/** A ticket is accepted this long after it was made (as long as a login attempt lives). */
export const HANDOFF_TICKET_TTL_MS = 10 * 60_000;

const COOKIE_ID_RE = /^[A-Za-z0-9_-]{16}$/;
const NONCE_RE = /^[A-Za-z0-9_-]{43}$/;

function mac(key: Uint8Array, label: string, ...parts: string[]): string {
  return createHmac('sha256', key).update(`drawbridge-handoff-${label}\0${parts.join('\0')}`).digest('base64url');
}

/** A new binding for `origin`: the cookie (id and nonce) the route host sets, and the sealed ticket for publicUrl. */
export function newHandoffBinding(key: Uint8Array, origin: string, now: number): { cookieId: string; nonce: string; ticket: string } {
  const cookieId = randomBytes(12).toString('base64url');
  const nonce = randomBytes(32).toString('base64url');
  const ticket: HandoffTicket = { origin, cookieId, binding: mac(key, 'nonce', origin, nonce), issuedAt: now };
  return { cookieId, nonce, ticket: sealTicket(key, ticket) };
}

function sealTicket(key: Uint8Array, t: HandoffTicket): string {
  const payload = Buffer.from(JSON.stringify([t.origin, t.cookieId, t.binding, t.issuedAt])).toString('base64url');
  return `${payload}.${mac(key, 'ticket', payload)}`;
}

/** The ticket a sealed value carries, when its MAC verifies and it is not older than its lifetime; else undefined. */
export function openHandoffTicket(key: Uint8Array, value: string | null | undefined, now: number): HandoffTicket | undefined {
  if (typeof value !== 'string' || value.length > 1024) return undefined;
  const dot = value.indexOf('.');
  if (dot < 1) return undefined;
  const payload = value.slice(0, dot);
  if (!safeEqual(mac(key, 'ticket', payload), value.slice(dot + 1))) return undefined;
  try {
    const [origin, cookieId, binding, issuedAt] = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown[];
    if (typeof origin !== 'string' || typeof cookieId !== 'string' || !COOKIE_ID_RE.test(cookieId) || typeof binding !== 'string' || typeof issuedAt !== 'number') return undefined;
    if (now < issuedAt - 60_000 || now - issuedAt > HANDOFF_TICKET_TTL_MS) return undefined;
    return { origin, cookieId, binding, issuedAt };
  } catch {
    return undefined;
  }
}

/** True when `nonce` (the binding cookie's value on the host redeeming the code) is the one the ticket was made for. */
export function bindingMatches(key: Uint8Array, ticket: Pick<HandoffTicket, 'origin' | 'binding'>, nonce: string | undefined): boolean {
  if (nonce === undefined || !NONCE_RE.test(nonce)) return false;
  return safeEqual(mac(key, 'nonce', ticket.origin, nonce), ticket.binding);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
