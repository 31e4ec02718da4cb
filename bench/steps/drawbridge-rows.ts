// bench/steps/drawbridge-rows.ts — the Drawbridge rows: public and signed-in with the memory store (one process),
// signed-in with Redis (skipped with the reason when redis-server cannot start).
import { startRedis, type TestRedis } from '../../test-support/redis.js';
import { startChild, type Child } from '../child.js';
import { drawbridgeChild, type BenchRun, type RowPlan } from './common.js';

export type DbReady = { port: number; cookie: string; user: string };

/** Starts the Drawbridge rows' processes; their plans are appended to `plans`. */
export async function startDrawbridgeRows({ pin, cleanups, dist }: BenchRun, plans: RowPlan[], upstream: Child<{ port: number }>, upstreamUrl: string): Promise<{ memory: Child<DbReady>; redisDb: Child<DbReady> | undefined }> {
  const memory = await startChild<DbReady>('./drawbridge-proxy.ts', ['--upstream', upstreamUrl, '--store', 'memory'], { cpu: pin.proxy, ...drawbridgeChild({ dist }) });
  cleanups.push(() => memory.stop());
  plans.push({ name: 'drawbridge-public', port: memory.ready.port, host: 'public.localhost', headers: {}, upstream, expectUser: null, drawbridge: memory, pids: [memory.process.pid!] });
  plans.push({ name: 'drawbridge-auth-memory', port: memory.ready.port, host: 'app.localhost', headers: { cookie: memory.ready.cookie }, upstream, expectUser: memory.ready.user, drawbridge: memory, pids: [memory.process.pid!] });

  let redis: TestRedis | undefined;
  let redisDb: Child<DbReady> | undefined;
  let redisSkip: string | undefined;
  try {
    redis = await startRedis();
    const r = redis;
    cleanups.push(() => r.stop());
    redisDb = await startChild<DbReady>('./drawbridge-proxy.ts', ['--upstream', upstreamUrl, '--store', redis.url], { cpu: pin.proxy, ...drawbridgeChild({ dist }) });
    const d = redisDb;
    cleanups.push(() => d.stop());
  } catch (e) {
    redisSkip = (e as Error).message.split('\n')[0];
  }
  plans.push({
    name: 'drawbridge-auth-redis',
    port: redisDb?.ready.port ?? 0,
    host: 'app.localhost',
    headers: redisDb ? { cookie: redisDb.ready.cookie } : {},
    upstream,
    expectUser: redisDb?.ready.user ?? null,
    pids: redisDb ? [redisDb.process.pid!] : [],
    ...(redisDb ? { drawbridge: redisDb } : {}),
    ...(redisSkip ? { skipped: redisSkip } : {}),
  });
  return { memory, redisDb };
}
