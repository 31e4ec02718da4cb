// policy/cidr.ts — IPv4/IPv6 addresses and CIDR ranges without node:net: parsed once at compile,
// matched per request. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) are compared as IPv4.

/** An address: IPv4 as one unsigned 32-bit number, IPv6 as four (most significant first). */
export type IpAddress = { family: 4; value: number } | { family: 6; words: readonly [number, number, number, number] };

/** A parsed range; `text` is the range as written in the configuration. */
export type Cidr =
  | { family: 4; network: number; mask: number; text: string }
  | { family: 6; network: readonly number[]; mask: readonly number[]; text: string };

const PREFIX = /^(0|[1-9]\d{0,2})$/;

// Hand-written scanners: this runs on every request that meets an `ip` rule, so no split or regex.

function parseV4(text: string, start = 0, end = text.length): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      // A leading zero (`010`) is refused: some parsers read it as octal.
      if (digits > 0 && octet === 0) return undefined;
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else return undefined;
  }
  if (digits === 0 || dots !== 3) return undefined;
  return value * 256 + octet;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function parseV6(text: string, end = text.length): [number, number, number, number] | undefined {
  const g = [0, 0, 0, 0, 0, 0, 0, 0];
  let n = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let j = i;
    let v = 0;
    for (let h; j < end && j - i < 5 && (h = hexValue(text.charCodeAt(j))) >= 0; j++) v = v * 16 + h;
    if (j < end && text.charCodeAt(j) === 0x2e) {
      // An embedded IPv4 address ends the address and fills two groups.
      const v4 = parseV4(text, i, end);
      if (v4 === undefined || n > 6) return undefined;
      g[n++] = v4 >>> 16;
      g[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (j === i || j - i > 4 || n === 8) return undefined;
    g[n++] = v;
    if (j === end) break;
    if (text.charCodeAt(j) !== 0x3a) return undefined;
    j++;
    if (text.charCodeAt(j) === 0x3a && j < end) {
      if (gap !== -1) return undefined;
      gap = n;
      j++;
    } else if (j === end) return undefined;
    i = j;
  }
  if (gap === -1 ? n !== 8 : n > 7) return undefined;
  if (gap !== -1) {
    const tail = n - gap;
    for (let k = 0; k < tail; k++) g[7 - k] = g[n - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) g[k] = 0;
  }
  return [((g[0]! << 16) | g[1]!) >>> 0, ((g[2]! << 16) | g[3]!) >>> 0, ((g[4]! << 16) | g[5]!) >>> 0, ((g[6]! << 16) | g[7]!) >>> 0];
}

function isMapped(w: readonly number[]): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

/** Parses an IPv4 or IPv6 address (an IPv6 zone `%eth0` is ignored); undefined when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  if (!text.includes(':')) {
    const value = parseV4(text);
    return value === undefined ? undefined : { family: 4, value };
  }
  const zone = text.indexOf('%');
  const words = parseV6(text, zone === -1 ? text.length : zone);
  if (!words) return undefined;
  return isMapped(words) ? { family: 4, value: words[3] } : { family: 6, words };
}

function maskBits(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

function formatV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(words: readonly number[]): string {
  const g = words.flatMap((w) => [w >>> 16, w & 0xffff]);
  // Compress the longest run of two or more zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a single-address range); an error message otherwise. */
export function parseCidr(text: string): { ok: true; cidr: Cidr } | { ok: false; error: string } {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  const invalid = (why: string) => ({ ok: false as const, error: `invalid CIDR ${JSON.stringify(text)}: ${why}` });
  if (addrText.includes('%')) return invalid('a zone (%...) is not allowed in a range');
  if (prefixText !== undefined && !PREFIX.test(prefixText)) return invalid('the prefix length after / must be a number');
  if (!addrText.includes(':')) {
    const value = parseV4(addrText);
    if (value === undefined) return invalid('not an IPv4 address like 10.0.0.0/8 or an IPv6 address like fd00::/8');
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    if (prefix > 32) return invalid('an IPv4 prefix length is at most 32');
    return v4Cidr(value, prefix, text);
  }
  const words = parseV6(addrText);
  if (!words) return invalid('not an IPv6 address like fd00::/8 or an IPv4 address like 10.0.0.0/8');
  const prefix = prefixText === undefined ? 128 : Number(prefixText);
  if (prefix > 128) return invalid('an IPv6 prefix length is at most 128');
  // A range inside ::ffff:0:0/96 is an IPv4 range, since mapped addresses are compared as IPv4.
  if (isMapped(words) && prefix >= 96) return v4Cidr(words[3], prefix - 96, text);
  const mask = [0, 1, 2, 3].map((i) => maskBits(prefix - 32 * i));
  const network = words.map((w, i) => (w & mask[i]!) >>> 0);
  if (network.some((n, i) => n !== words[i])) {
    return invalid(`bits are set after the /${prefix} prefix; the range starts at ${formatV6(network)}/${prefix}`);
  }
  return { ok: true, cidr: { family: 6, network, mask, text } };

  function v4Cidr(value: number, prefix: number, original: string) {
    const mask = maskBits(prefix);
    const network = (value & mask) >>> 0;
    if (network !== value) {
      return invalid(`bits are set after the /${prefix} prefix; the range starts at ${formatV4(network)}/${prefix}`);
    }
    return { ok: true as const, cidr: { family: 4 as const, network, mask, text: original } };
  }
}

/** True when the address is inside the range. IPv4 ranges hold IPv4 (and IPv4-mapped) addresses only. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family === 4) return ip.family === 4 && (ip.value & cidr.mask) >>> 0 === cidr.network;
  if (ip.family !== 6) return false;
  for (let i = 0; i < 4; i++) if ((ip.words[i]! & cidr.mask[i]!) >>> 0 !== cidr.network[i]) return false;
  return true;
}
