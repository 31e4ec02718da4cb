// routes/host-index.ts — the route table's lookup structure, flat: host keys and (host, prefix) pairs in open-addressing
// tables of typed arrays, their characters in one pool. A request reads a few lines of a few contiguous arrays instead of
// a Map, its key string, a host object, that host's own Map and the route of every shorter prefix it passes: with
// thousands of routes, each of those is a cache (and TLB) miss. Built once with the table; only read per request.

/** FNV-1a over UTF-16 code units, kept within a small integer (shared with the prefix candidates of a path). */
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const HASH_MASK = 0x3fffffff;

/** Kinds of host key: an exact hostname, or a wildcard's suffix with its dot (`.example.com`). */
export const EXACT = 0;
export const WILD = 1;

/** One host of the table: its key (hostname or wildcard suffix, and the port it names), routes by prefix. */
export interface IndexedHost {
  readonly kind: typeof EXACT | typeof WILD;
  /** The hostname, or for WILD the suffix with its leading dot. */
  readonly name: string;
  readonly port: number | undefined;
  /** Prefix route index (`Route.index`) by prefix, `/` included. */
  readonly prefixes: ReadonlyMap<string, number>;
  readonly hasRegex: boolean;
}

// One record per host in `hosts`: the key's hash, characters (offset, length in `chars`), port (-1: none) and kind,
// then the `/` route (-1: none), the longest prefix, a bit per prefix length below 32 (a candidate of another length
// cannot match, so it is never probed) and whether regex routes follow.
const H_HASH = 0;
const H_OFF = 1;
const H_LEN = 2;
const H_PORT = 3;
const H_KIND = 4;
const H_ROOT = 5;
const H_MAXLEN = 6;
const H_LENGTHS = 7;
const H_REGEX = 8;
const H_STRIDE = 9;

// One slot per (host, prefix) in `pairs`: host + 1 (0: empty slot), the prefix's hash, its route, its id in `prefixes`.
const P_HOST = 0;
const P_HASH = 1;
const P_ROUTE = 2;
const P_PREFIX = 3;
const P_STRIDE = 4;

function mix(hash: number, salt: number): number {
  let h = Math.imul(hash ^ Math.imul(salt + 1, 0x9e3779b1 | 0), 0x85ebca6b | 0);
  h ^= h >>> 15;
  return Math.imul(h, 0xc2b2ae35 | 0) ^ (h >>> 13);
}

function capacity(n: number): number {
  let c = 8;
  while (c < n + (n >> 1) + 1) c *= 2;
  return c;
}

/** The flat host and prefix index of a route table. */
export class HostIndex {
  readonly #hosts: Int32Array;
  /** Host key slots: host id + 1, 0 when empty. */
  readonly #keys: Int32Array;
  readonly #keyMask: number;
  readonly #pairs: Int32Array;
  readonly #pairMask: number;
  /** Distinct prefixes other than `/`: offset and length in `chars`, two numbers each. */
  readonly #prefixes: Int32Array;
  readonly #chars: Uint16Array;
  /** Whether any key names a port, by kind: only then is a port looked up. */
  readonly #ported = [false, false];
  readonly #hasWild: boolean;
  /** Candidate prefixes of one path (length, hash), longest last: scratch of `longestPrefix`. */
  readonly #candLen: Int32Array;
  readonly #candHash: Int32Array;

  constructor(hosts: readonly IndexedHost[]) {
    const text: number[] = [];
    const put = (s: string): number => {
      const off = text.length;
      for (let i = 0; i < s.length; i++) text.push(s.charCodeAt(i));
      return off;
    };
    const prefixIds = new Map<string, number>();
    const prefixMeta: number[] = [];
    let pairCount = 0;
    let longest = 0;
    for (const h of hosts) pairCount += h.prefixes.size;
    this.#hosts = new Int32Array(hosts.length * H_STRIDE);
    const keyCap = capacity(hosts.length);
    this.#keys = new Int32Array(keyCap);
    this.#keyMask = keyCap - 1;
    const pairCap = capacity(pairCount);
    this.#pairs = new Int32Array(pairCap * P_STRIDE);
    this.#pairMask = pairCap - 1;
    hosts.forEach((host, id) => {
      const o = id * H_STRIDE;
      const hash = HostIndex.#hash(host.name, 0);
      const port = host.port ?? -1;
      this.#hosts[o + H_HASH] = hash;
      this.#hosts[o + H_OFF] = put(host.name);
      this.#hosts[o + H_LEN] = host.name.length;
      this.#hosts[o + H_PORT] = port;
      this.#hosts[o + H_KIND] = host.kind;
      this.#hosts[o + H_ROOT] = host.prefixes.get('/') ?? -1;
      this.#hosts[o + H_REGEX] = host.hasRegex ? 1 : 0;
      if (host.port !== undefined) this.#ported[host.kind] = true;
      let s = mix(hash, port * 2 + host.kind) & this.#keyMask;
      while (this.#keys[s] !== 0) s = (s + 1) & this.#keyMask;
      this.#keys[s] = id + 1;
      let maxLen = 0;
      let lengths = 0;
      for (const [prefix, route] of host.prefixes) {
        if (prefix === '/') continue;
        let pid = prefixIds.get(prefix);
        if (pid === undefined) {
          prefixIds.set(prefix, (pid = prefixIds.size));
          prefixMeta.push(put(prefix), prefix.length);
        }
        if (prefix.length > maxLen) maxLen = prefix.length;
        if (prefix.length < 32) lengths |= 1 << prefix.length;
        const ph = HostIndex.#hash(prefix, 0);
        let p = mix(ph, id) & this.#pairMask;
        while (this.#pairs[p * P_STRIDE + P_HOST] !== 0) p = (p + 1) & this.#pairMask;
        this.#pairs.set([id + 1, ph, route, pid], p * P_STRIDE);
      }
      this.#hosts[o + H_MAXLEN] = maxLen;
      this.#hosts[o + H_LENGTHS] = lengths;
      if (maxLen > longest) longest = maxLen;
    });
    this.#prefixes = Int32Array.from(prefixMeta);
    this.#chars = Uint16Array.from(text);
    this.#hasWild = hosts.some((h) => h.kind === WILD);
    this.#candLen = new Int32Array(longest + 1);
    this.#candHash = new Int32Array(longest + 1);
  }

  static #hash(s: string, start: number): number {
    let h = FNV_OFFSET;
    for (let i = start; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
    return h & HASH_MASK;
  }

  /** The host of this key (hostname[start..] of `kind`, naming `port` or none: -1), or -1. */
  #find(kind: number, hostname: string, start: number, hash: number, port: number): number {
    const len = hostname.length - start;
    let s = mix(hash, port * 2 + kind) & this.#keyMask;
    for (;;) {
      const id = this.#keys[s]! - 1;
      if (id < 0) return -1;
      const o = id * H_STRIDE;
      const hosts = this.#hosts;
      if (hosts[o + H_HASH] === hash && hosts[o + H_PORT] === port && hosts[o + H_KIND] === kind && hosts[o + H_LEN] === len && this.#same(hostname, start, hosts[o + H_OFF]!, len)) return id;
      s = (s + 1) & this.#keyMask;
    }
  }

  #same(s: string, start: number, off: number, len: number): boolean {
    const chars = this.#chars;
    for (let i = 0; i < len; i++) if (s.charCodeAt(start + i) !== chars[off + i]) return false;
    return true;
  }

  /**
   * The host that serves a normalized hostname and port, or -1: exact host with port, exact host, wildcard with port,
   * wildcard (the suffix from the hostname's first dot).
   */
  host(hostname: string, port: number | undefined): number {
    let hash = HostIndex.#hash(hostname, 0);
    let id = port !== undefined && this.#ported[EXACT] ? this.#find(EXACT, hostname, 0, hash, port) : -1;
    if (id < 0) id = this.#find(EXACT, hostname, 0, hash, -1);
    if (id >= 0 || !this.#hasWild) return id;
    const dot = hostname.indexOf('.');
    if (dot <= 0) return -1;
    hash = HostIndex.#hash(hostname, dot);
    id = port !== undefined && this.#ported[WILD] ? this.#find(WILD, hostname, dot, hash, port) : -1;
    return id >= 0 ? id : this.#find(WILD, hostname, dot, hash, -1);
  }

  /** Whether the host has regex routes (tried after its prefixes). */
  hasRegex(host: number): boolean {
    return this.#hosts[host * H_STRIDE + H_REGEX] === 1;
  }

  /**
   * The route index of the host's longest segment-aware prefix of `path`, or -1. The candidates are path[0, j) for
   * every `/` at j > 0 and the whole path (without a trailing `/`), then `/`; they are probed longest first.
   */
  longestPrefix(host: number, path: string): number {
    const hosts = this.#hosts;
    const o = host * H_STRIDE;
    const maxLen = hosts[o + H_MAXLEN]!;
    const lengths = hosts[o + H_LENGTHS]!;
    const end = path.length > 1 && path.charCodeAt(path.length - 1) === 47 ? path.length - 1 : path.length;
    const limit = end < maxLen ? end : maxLen;
    const candLen = this.#candLen;
    const candHash = this.#candHash;
    let n = 0;
    let h = FNV_OFFSET;
    for (let i = 0; i < limit; i++) {
      const c = path.charCodeAt(i);
      if (c === 47 && i > 0 && (i > 31 || ((lengths >>> i) & 1) === 1)) {
        candLen[n] = i;
        candHash[n++] = h & HASH_MASK;
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    if (limit > 0 && (limit === end || path.charCodeAt(limit) === 47) && (limit > 31 || ((lengths >>> limit) & 1) === 1)) {
      candLen[n] = limit;
      candHash[n++] = h & HASH_MASK;
    }
    while (n-- > 0) {
      const route = this.#pair(host, candHash[n]!, candLen[n]!, path);
      if (route >= 0) return route;
    }
    return hosts[o + H_ROOT]!;
  }

  /** The route of the host's prefix path[0, len) (`hash` its hash), or -1. */
  #pair(host: number, hash: number, len: number, path: string): number {
    const pairs = this.#pairs;
    let p = mix(hash, host) & this.#pairMask;
    for (;;) {
      const o = p * P_STRIDE;
      const h = pairs[o + P_HOST]! - 1;
      if (h < 0) return -1;
      if (h === host && pairs[o + P_HASH] === hash) {
        const pid = pairs[o + P_PREFIX]! * 2;
        if (this.#prefixes[pid + 1] === len && this.#same(path, 0, this.#prefixes[pid]!, len)) return pairs[o + P_ROUTE]!;
      }
      p = (p + 1) & this.#pairMask;
    }
  }
}
