// session/lru.ts — an LRU bounded by a count of entries whose arrays grow with what it holds (docs/deploy.md, "Memory").
import { LRUCache } from 'lru-cache';

const one = (): number => 1;

/**
 * An LRU that holds at most `max` entries, like lru-cache's `max`, but bounded through `maxSize` (each entry sizes
 * 1): with `max`, lru-cache allocates its key, value, link (and with a TTL, time) arrays for `max` entries when it is
 * made, about 32 bytes an entry (48 with a TTL) in every process however few entries it ever holds; this way they grow
 * with the entries held. Eviction is the same: least recently used first, once `max` entries are held.
 */
export function growingLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(max: number, options: Omit<LRUCache.Options<K, V, unknown>, 'max' | 'maxSize' | 'sizeCalculation'> = {}): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, maxSize: max, sizeCalculation: one } as LRUCache.Options<K, V, unknown>);
}
