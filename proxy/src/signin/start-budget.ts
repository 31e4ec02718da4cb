// signin/start-budget.ts — how many sign-ins one client network may start (limits.signInsPerNetwork). Every start
// holds a login attempt in the session store for ten minutes, and anyone may start one: unbounded, a single client
// could fill the memory store's login attempts (pushing out other people's sign-ins in progress) or make Redis hold
// as many as it likes. A token bucket per network (an IPv4 address, an IPv6 /64): `perWindow` starts at once, then
// refilled evenly over the window. Per process (each worker and replica counts on its own); the buckets are bounded.
import { LRUCache } from 'lru-cache';

/** The answer to one start: allowed, or refused with the seconds until the network may start one again. */
export type BudgetAnswer = { ok: true } | { ok: false; retryAfterSec: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class StartBudget {
  // At most this many networks tracked; the least recently seen is forgotten first (it starts again full).
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(
    readonly windowMs: number,
    maxNetworks = 10_000,
  ) {
    this.#buckets = new LRUCache<string, Bucket>({ max: maxNetworks });
  }

  /** Takes one start for `network` at `now` (ms), out of `perWindow` per window; 0 means no limit. */
  take(network: string, perWindow: number, now: number): BudgetAnswer {
    if (perWindow <= 0) return { ok: true };
    const msPerToken = this.windowMs / perWindow;
    const bucket = this.#buckets.get(network);
    if (bucket === undefined) {
      this.#buckets.set(network, { tokens: perWindow - 1, at: now });
      return { ok: true };
    }
    // Refilled for the time since the last start, never above the window's allowance (a lowered limit applies at once).
    bucket.tokens = Math.min(perWindow, bucket.tokens + Math.max(0, now - bucket.at) / msPerToken);
    // A clock that went back counts nothing twice.
    bucket.at = Math.max(bucket.at, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil(((1 - bucket.tokens) * msPerToken) / 1000)) };
  }
}
