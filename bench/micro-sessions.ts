// bench/micro-sessions.ts — the "100,000 sessions in the memory store" row: resident memory after a full GC
// with an empty store, then with 100,000 realistic sessions created through Sessions.create, then once more
// after reading every session back (sessions in use). Needs --expose-gc; run in a child process so nothing
// else lives in the heap.
import { MemoryStore } from '../proxy/src/session/memory-store.js';
import { deriveKeys } from '../proxy/src/session/keys.js';
import { Sessions } from '../proxy/src/session/sessions.js';
import { isMain } from './child.js';
import { BENCH_SESSION_SECRET } from './drawbridge-proxy.js';
import { benchSession } from './fixtures.js';

export interface SessionsResult {
  type: 'sessions';
  sessions: number;
  /** Resident set size after a full GC, bytes. */
  emptyRss: number;
  fullRss: number;
  /** V8 heap in use after a full GC, bytes. */
  emptyHeap: number;
  fullHeap: number;
  /** (fullRss - emptyRss) in MB of 10^6 bytes. */
  rssOverEmptyMB: number;
  heapOverEmptyMB: number;
  createMs: number;
  /** After reading every session once (the store keeps the most recently read decoded): bytes, as above. */
  readRss: number;
  readHeap: number;
  rssAfterReadOverEmptyMB: number;
  /** Sessions held decoded after the reads (the store's bound). */
  decoded: number;
  readMs: number;
}

function settle(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  // Several passes: weak references and finalizers can keep garbage for one more cycle.
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage();
}

/** Fills a memory store with `count` sessions and reports resident memory over the empty store. */
export async function measureSessions(count = 100_000): Promise<SessionsResult> {
  const store = new MemoryStore({ maxSessions: count });
  const sessions = new Sessions(store, deriveKeys(BENCH_SESSION_SECRET), { cookieBase: 'drawbridge', idleTimeoutMs: 30 * 60_000, maxLifetimeMs: 12 * 3_600_000 });
  // Exercise every code path once (and let the JIT settle) before the empty measurement.
  const warm = benchSession(0, Date.now());
  const warmId = (await sessions.create(warm.identity, warm.tokens, warm.idpSid, Date.now())).id;
  await store.get(warmId);
  await store.delete(warmId);
  // The ids, to read the sessions back after the measurement; allocated now so the empty figure holds the array.
  const ids = new Array<string>(count).fill('');
  const empty = settle();
  const t0 = performance.now();
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const s = benchSession(i, now);
    ids[i] = (await sessions.create(s.identity, s.tokens, s.idpSid, now)).id;
  }
  const createMs = performance.now() - t0;
  const full = settle();
  const live = await store.count();
  if (live !== count) throw new Error(`expected ${count} sessions in the store, found ${live}`);
  // Sessions in use: every one read once, so the store's bound of decoded sessions is full.
  const t1 = performance.now();
  for (const id of ids) if ((await store.get(id)) === undefined) throw new Error('a session went missing');
  const readMs = performance.now() - t1;
  const read = settle();
  return {
    type: 'sessions',
    sessions: count,
    emptyRss: empty.rss,
    fullRss: full.rss,
    emptyHeap: empty.heapUsed,
    fullHeap: full.heapUsed,
    rssOverEmptyMB: (full.rss - empty.rss) / 1e6,
    heapOverEmptyMB: (full.heapUsed - empty.heapUsed) / 1e6,
    createMs,
    readRss: read.rss,
    readHeap: read.heapUsed,
    rssAfterReadOverEmptyMB: (read.rss - empty.rss) / 1e6,
    decoded: store.decodedUsage().size,
    readMs,
  };
}

if (isMain(import.meta.url)) {
  const count = Number(process.argv[2] ?? 100_000);
  const result = await measureSessions(count);
  if (process.send) process.send({ type: 'ready', result });
  else console.log(JSON.stringify(result, null, 2));
}
