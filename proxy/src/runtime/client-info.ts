// runtime/client-info.ts — who is asking, from where, over what: the client address, scheme and
// host, believing X-Forwarded-* only from trusted proxies (SPEC §2 trustedProxies, §11 the trusted-hop rule).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { cidrContains, parseIp, type Cidr } from '../policy/cidr.js';
import type { DeviceCertificate } from '../policy/input.js';
import { requestDevice, type DeviceSettings } from './device.js';

/** At most this many characters of an unreadable client hop go to the log. */
const MAX_UNKNOWN_HOP = 64;

export interface ClientInfo {
  /**
   * The client address: the socket peer, or the first untrusted `X-Forwarded-For` hop behind trusted proxies
   * (its port and brackets removed). Undefined when that hop could not be read (`unknown`, garbage): the address is
   * unknown, and no `ip` rule matches it (policy/rules/ip.ts).
   */
  ip: string | undefined;
  /** When `ip` is undefined: the hop as the trusted proxy sent it (cut to 64 characters), for the log. */
  unknownHop?: string;
  /** True when the socket peer is a trusted proxy. */
  trustedPeer: boolean;
  scheme: 'http' | 'https';
  /** The raw host the client asked for (Host, or the rightmost X-Forwarded-Host from a trusted proxy). */
  rawHost: string | undefined;
  /** The trusted X-Forwarded-For chain to extend, when the peer is trusted. */
  forwardedFor?: string;
  /** The verified device certificate (runtime/device.ts): the handshake's, or a trusted proxy's header's. */
  device?: DeviceCertificate;
  /** Why a certificate presented was not taken as the device (for the log and the device-required page). */
  deviceRefusal?: string;
}

/** True when `ip` lies in one of the trusted ranges. */
export function isTrusted(ip: string | undefined, trusted: readonly Cidr[]): boolean {
  if (!ip || trusted.length === 0) return false;
  const parsed = parseIp(ip);
  return parsed !== undefined && trusted.some((c) => cidrContains(c, parsed));
}

function isPort(text: string, start: number): boolean {
  const length = text.length - start;
  if (length < 1 || length > 5) return false;
  let port = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65535;
}

/**
 * The address of one `X-Forwarded-For` hop, or undefined when it is not one: `203.0.113.5`, `2001:db8::1`, and the
 * forms with a port that IIS ARR and Azure Application Gateway write, `203.0.113.5:4711`, `[2001:db8::1]:4711`,
 * and `[2001:db8::1]`. `unknown` (Squid), an RFC 7239 obfuscated name (`_hidden`), quotes and anything else are
 * not addresses.
 */
export function hopAddress(hop: string): string | undefined {
  let addr = hop;
  if (hop.charCodeAt(0) === 0x5b) {
    // [v6] or [v6]:port
    const close = hop.indexOf(']');
    if (close < 0) return undefined;
    if (close !== hop.length - 1 && !(hop.charCodeAt(close + 1) === 0x3a && isPort(hop, close + 2))) return undefined;
    addr = hop.slice(1, close);
    if (!addr.includes(':')) return undefined;
  } else {
    const colon = hop.indexOf(':');
    // One colon: v4:port. Two or more: a bare IPv6 address (its last group is never a port).
    if (colon >= 0 && colon === hop.lastIndexOf(':')) {
      if (!isPort(hop, colon + 1)) return undefined;
      addr = hop.slice(0, colon);
    }
  }
  return parseIp(addr) === undefined ? undefined : addr;
}

/** The rightmost element of a comma-separated header, trimmed ('' when it is empty); undefined without the header. */
function last(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (v === undefined) return undefined;
  const comma = v.lastIndexOf(',');
  return (comma < 0 ? v : v.slice(comma + 1)).trim();
}

/**
 * Reads the client info of a request; call before stripping headers. From a peer in `trusted`, `X-Forwarded-For`
 * is walked from the right: each hop a trusted proxy appended is read (with `hopAddress`), and the first that is
 * not a trusted proxy is the client; a hop that cannot be read ends the walk with the client address unknown.
 * `X-Forwarded-Host` and `-Proto` count only by their rightmost value: the one written by the trusted proxy
 * nearest Drawbridge (a proxy that appends leaves what the client sent on the left). `Forwarded` is never read.
 */
export function clientInfo(req: IncomingMessage, trusted: readonly Cidr[], devices?: { settings: DeviceSettings | undefined; now: number }): ClientInfo {
  const info = forwardedInfo(req, trusted);
  if (devices?.settings) {
    const d = requestDevice(req, info.trustedPeer, devices.settings, devices.now);
    if (d.device) info.device = d.device;
    if (d.refusal !== undefined) info.deviceRefusal = d.refusal;
  }
  return info;
}

function forwardedInfo(req: IncomingMessage, trusted: readonly Cidr[]): ClientInfo {
  const peer = req.socket.remoteAddress ?? '';
  const tls = (req.socket as TLSSocket).encrypted === true;
  if (!isTrusted(peer, trusted)) return { ip: peer, trustedPeer: false, scheme: tls ? 'https' : 'http', rawHost: req.headers.host };

  const xff = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map((s) => s.trim()).filter((s) => s !== '');
  let ip: string | undefined = peer;
  let unknownHop: string | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = chain[i]!;
    ip = hopAddress(hop);
    if (ip === undefined) {
      // The hop the trusted proxy vouches for is unreadable: the client is unknown, never the proxy itself.
      unknownHop = hop.length > MAX_UNKNOWN_HOP ? hop.slice(0, MAX_UNKNOWN_HOP) : hop;
      break;
    }
    if (!isTrusted(ip, trusted)) break;
  }
  const proto = last(req.headers['x-forwarded-proto'])?.toLowerCase();
  const info: ClientInfo = {
    ip,
    trustedPeer: true,
    scheme: proto === 'https' || proto === 'http' ? proto : tls ? 'https' : 'http',
    rawHost: last(req.headers['x-forwarded-host']) ?? req.headers.host,
  };
  if (unknownHop !== undefined) info.unknownHop = unknownHop;
  if (chain.length > 0) info.forwardedFor = chain.join(', ');
  return info;
}

/** True when the raw request carried more than one Host header (ambiguous: refused). */
export function hasDuplicateHost(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 4 && name.toLowerCase() === 'host' && ++seen > 1) return true;
  }
  return false;
}
