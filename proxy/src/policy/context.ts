// policy/context.ts — the context a session is bound to (network, device, user-agent family), this request's, and the
// session's recent risk signals: what the `context` and `risk` rules read (PolicyInput.session). Pure helpers only.
import { parseIp, type IpAddress } from './cidr.js';
import { reason, type Decision } from './decide.js';
import type { DeviceCertificate } from './input.js';

/** Where a session was created: recorded at sign-in, compared on every request by the `context` rule. */
export interface SessionBinding {
  /** The client address at sign-in (the trusted-hop rule); absent when it was unknown. */
  ip?: string;
  /** SHA-256 fingerprint (lower-case hex) of the device certificate the sign-in came with; absent without one. */
  device?: string;
  /** The user-agent family at sign-in ({@link agentFamily}), e.g. `firefox/linux`. */
  agent: string;
}

/** The context a session was last seen in, at the granularity changes are logged and counted: network prefix (/24, /48). */
export interface SeenContext {
  network?: string;
  agent: string;
  device?: string;
}

/** What a risk signal says happened. */
export type RiskSignalKind = 'context-change' | 'denial' | 'new-network';

export const RISK_SIGNAL_KINDS: readonly RiskSignalKind[] = ['context-change', 'denial', 'new-network'];

/** One risk signal of a session: what happened, when (ms since epoch), and in a few words (prefixes, never full addresses). */
export interface RiskSignal {
  kind: RiskSignalKind;
  at: number;
  detail?: string;
}

/** The session side of a request, for the `context` and `risk` rules. Absent for a request without a session (bearer). */
export interface SessionContext {
  /** The context the session was bound to; undefined for a session created before binding existed (fail closed). */
  readonly bound: SessionBinding | undefined;
  /** This request's user-agent family. */
  readonly agent: string;
  /** The session's recent risk signals, oldest first. */
  readonly signals: readonly RiskSignal[];
}

/** The default networks that count as "the same": an IPv4 /24 and an IPv6 /48 (a site). */
export const DEFAULT_V4_PREFIX = 24;
export const DEFAULT_V6_PREFIX = 48;

/**
 * The network of an address as text, for comparisons and logs: `203.0.113.0/24`, `2001:db8:1::/48`; the address
 * itself for prefix lengths of 32/128. IPv4-mapped IPv6 counts as IPv4. Undefined for an unknown or unparsable address.
 */
export function networkOf(ip: string | undefined, v4 = DEFAULT_V4_PREFIX, v6 = DEFAULT_V6_PREFIX): string | undefined {
  if (ip === undefined) return undefined;
  const addr = parseIp(ip);
  return addr === undefined ? undefined : prefixText(addr, v4, v6);
}

function prefixText(addr: IpAddress, v4: number, v6: number): string {
  if (addr.family === 4) {
    const masked = v4 === 0 ? 0 : (addr.value - (addr.value % 2 ** (32 - v4)));
    const text = [masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255].join('.');
    return `${text}/${v4}`;
  }
  const groups: number[] = [];
  for (const word of addr.words) groups.push(word >>> 16, word & 0xffff);
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, v6 - i * 16));
    groups[i] = keep === 0 ? 0 : groups[i]! & ((0xffff << (16 - keep)) & 0xffff);
  }
  // Shortest form: the longest run of zero groups (two or more) becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  const text = best < 0 ? hex.join(':') : `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
  return `${text}/${v6}`;
}

// Most specific first: Edge and Opera also say Chrome, Chrome also says Safari.
const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'edge'],
  [/\bOPR\//, 'opera'],
  [/\b(?:Firefox|FxiOS)\//, 'firefox'],
  [/\b(?:Chrome|Chromium|CriOS)\//, 'chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'safari'],
  [/^curl\//, 'curl'],
  [/^Wget\//, 'wget'],
  [/^python-requests\//, 'python'],
  [/^node\b|^undici\b|^axios\//, 'node'],
  [/^Go-http-client\//, 'go'],
];
const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bAndroid\b/, 'android'],
  [/\b(?:iPhone|iPad|iPod)\b/, 'ios'],
  [/\bCrOS\b/, 'chromeos'],
  [/\bWindows\b/, 'windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macos'],
  [/\bLinux\b|\bX11\b/, 'linux'],
];

/**
 * The family of a User-Agent: browser and operating system, without versions (`chrome/windows`, `firefox/linux`,
 * `curl/other`); `none` without the header. Versions are left out so that a browser update is no context change.
 */
export function agentFamily(userAgent: string | undefined): string {
  if (userAgent === undefined || userAgent === '') return 'none';
  const ua = userAgent.length > 512 ? userAgent.slice(0, 512) : userAgent;
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1] ?? 'other';
  const system = SYSTEMS.find(([re]) => re.test(ua))?.[1] ?? 'other';
  return `${browser}/${system}`;
}

/** The refusal of a request without the device certificate its session was started with (admission/admit.ts). */
export const SESSION_DEVICE_REQUIRED: Decision = Object.freeze({ outcome: 'deny', reasons: Object.freeze([reason('session-device-required')]) as Decision['reasons'] });

/** The context a sign-in binds its new session to: the client address, the device certificate, the browser family. */
export function bindingOf(ip: string | undefined, userAgent: string | undefined, device: DeviceCertificate | undefined): SessionBinding {
  return { ...(ip !== undefined ? { ip } : {}), ...(device ? { device: device.fingerprint256 } : {}), agent: agentFamily(userAgent) };
}
