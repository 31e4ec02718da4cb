// server/client-info.ts — who is asking, from where, over what: the client address, scheme and
// host, believing X-Forwarded-* only from trusted proxies (SPEC §2 trustedProxies).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { cidrContains, parseIp, type Cidr } from '../policy/cidr.js';

export interface ClientInfo {
  /** The client address (socket peer, or the first untrusted X-Forwarded-For hop behind trusted proxies). */
  ip: string;
  /** True when the socket peer is a trusted proxy. */
  trustedPeer: boolean;
  scheme: 'http' | 'https';
  /** The raw host the client asked for (Host, or X-Forwarded-Host from a trusted proxy). */
  rawHost: string | undefined;
  /** The trusted X-Forwarded-For chain to extend, when the peer is trusted. */
  forwardedFor?: string;
}

/** True when `ip` lies in one of the trusted ranges. */
export function isTrusted(ip: string | undefined, trusted: readonly Cidr[]): boolean {
  if (!ip || trusted.length === 0) return false;
  const parsed = parseIp(ip);
  return parsed !== undefined && trusted.some((c) => cidrContains(c, parsed));
}

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const comma = v.indexOf(',');
  return (comma < 0 ? v : v.slice(0, comma)).trim();
}

/** Reads the client info of a request; call before stripping headers. */
export function clientInfo(req: IncomingMessage, trusted: readonly Cidr[]): ClientInfo {
  const peer = req.socket.remoteAddress ?? '';
  const tls = (req.socket as TLSSocket).encrypted === true;
  if (!isTrusted(peer, trusted)) return { ip: peer, trustedPeer: false, scheme: tls ? 'https' : 'http', rawHost: req.headers.host };

  // Walk X-Forwarded-For from the right: the first hop that is not a trusted proxy is the client.
  const xff = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map((s) => s.trim()).filter((s) => s !== '');
  let ip = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    ip = chain[i];
    if (!isTrusted(ip, trusted)) break;
  }
  if (parseIp(ip) === undefined) ip = peer;
  const proto = first(req.headers['x-forwarded-proto'])?.toLowerCase();
  const info: ClientInfo = {
    ip,
    trustedPeer: true,
    scheme: proto === 'https' || proto === 'http' ? proto : tls ? 'https' : 'http',
    rawHost: first(req.headers['x-forwarded-host']) ?? req.headers.host,
  };
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
