// bench/ab-redis.ts — `node --import tsx bench/ab-redis.ts [rounds] [seconds] [--base DIR]`: not part of
// `npm run bench`, a quicker look at the bench's `auth-redis-rps` target (SPEC §10: the Redis store ≥ 0.7 × the
// memory store's req/s). Drawbridge authenticated with the memory store and with the Redis store (a redis-server
// of its own), pinned as in the bench, in interleaved rounds with wrk; prints per row the req/s, the proxy's CPU µs
// per request, redis-server's CPU µs per request and Redis commands per request, and the redis/memory ratio as the
// median of per-round ratios (as bench/steps/targets.ts computes it). `--base DIR` adds the same two rows from
// another checkout (e.g. a git worktree of the previous commit) to the same rounds, both through tsx; `--dist`
// (without `--base`) runs this checkout compiled, as `npm run bench` does. Drawbridge runs with its node flags and
// malloc setting (bench/steps/common.ts drawbridgeChild), as in the bench.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startRedis, type TestRedis } from '../test-support/redis.js';
import { detectPinning, pinSelf, startChild } from './child.js';
import { buildForBench } from './build.js';
import { drawbridgeChild, median } from './steps/common.js';
import { cpuSeconds } from './steps/cpu.js';
import { redisCommandCalls } from './profile.js';
import { runWrk } from './wrk.js';

const args = process.argv.slice(2);
const baseAt = args.indexOf('--base');
const baseDir = baseAt >= 0 ? args.splice(baseAt, 2)[1] : undefined;
const distAt = args.indexOf('--dist');
if (distAt >= 0) args.splice(distAt, 1);
if (distAt >= 0 && baseDir !== undefined) throw new Error('--dist compares nothing with --base (the base runs through tsx): give one of them');
const dist = distAt >= 0 ? buildForBench((msg) => process.stderr.write(`ab-redis: ${msg}\n`)) : undefined;
const rounds = Number(args[0] ?? 6);
const seconds = Number(args[1] ?? 3);

const pin = detectPinning();
pinSelf(pin.load);
const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
const url = `http://127.0.0.1:${upstream.ready.port}`;

interface Row {
  name: string;
  port: number;
  cookie: string;
  pid: number;
  redis?: TestRedis;
}
const children: Array<{ stop(): Promise<void> }> = [upstream];
const redises: TestRedis[] = [];
async function rowsOf(dir: string | undefined, suffix: string): Promise<Row[]> {
  const module = dir === undefined ? './drawbridge-proxy.ts' : pathToFileURL(join(dir, 'bench/drawbridge-proxy.ts')).href;
  const redis = await startRedis();
  redises.push(redis);
  const out: Row[] = [];
  for (const store of ['memory', redis.url]) {
    const db = await startChild<{ port: number; cookie: string }>(module, ['--upstream', url, '--store', store], { cpu: pin.proxy, ...drawbridgeChild(dir === undefined && dist !== undefined ? { dist } : {}) });
    db.process.send({ type: 'quiet' });
    children.push(db);
    out.push({ name: `${store === 'memory' ? 'memory' : 'redis'}${suffix}`, port: db.ready.port, cookie: db.ready.cookie, pid: db.process.pid!, ...(store === 'memory' ? {} : { redis }) });
  }
  return out;
}
const rows = [...(await rowsOf(undefined, '')), ...(baseDir === undefined ? [] : await rowsOf(baseDir, '-base'))];
const spec = (row: Row, ms: number) => ({ port: row.port, host: 'app.localhost', path: '/', headers: { cookie: row.cookie }, connections: 32, durationMs: ms });
const figures = new Map(rows.map((r) => [r.name, { rps: [] as number[], us: [] as number[], redisUs: [] as number[], commands: [] as number[] }]));
for (const row of rows) await runWrk(spec(row, 2000), pin.load);
for (let round = 0; round < rounds; round++) {
  for (const row of rows) {
    const pids = [row.pid];
    const redisPid = row.redis?.pid;
    const calls0 = row.redis ? await redisCommandCalls(row.redis.port) : undefined;
    const cpu0 = cpuSeconds(pids);
    const redis0 = redisPid === undefined ? 0 : cpuSeconds([redisPid]);
    const result = await runWrk(spec(row, seconds * 1000), pin.load);
    const cpu1 = cpuSeconds(pids);
    const redis1 = redisPid === undefined ? 0 : cpuSeconds([redisPid]);
    const calls1 = row.redis ? await redisCommandCalls(row.redis.port) : undefined;
    const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
    if (bad.length > 0) throw new Error(`${row.name}: non-2xx answers ${JSON.stringify(result.statuses)}`);
    const f = figures.get(row.name)!;
    f.rps.push(result.rps);
    f.us.push((1e6 * (cpu1 - cpu0)) / result.requests);
    f.redisUs.push((1e6 * (redis1 - redis0)) / result.requests);
    // INFO itself is counted too: one call before and one after, subtracted.
    let commands = 0;
    for (const [cmd, n] of calls1 ?? []) commands += n - (calls0?.get(cmd) ?? 0) - (cmd === 'info' ? 1 : 0);
    f.commands.push(commands / result.requests);
  }
}
for (const row of rows) {
  const f = figures.get(row.name)!;
  const redis = row.redis ? `, redis-server ${median(f.redisUs).toFixed(1)} µs CPU/request, ${median(f.commands).toFixed(3)} commands/request` : '';
  console.log(`${row.name.padEnd(11)} ${median(f.rps).toFixed(0).padStart(6)} req/s  ${median(f.us).toFixed(1).padStart(6)} µs CPU/request${redis}`);
}
for (const suffix of baseDir === undefined ? [''] : ['', '-base']) {
  const m = figures.get(`memory${suffix}`)!;
  const r = figures.get(`redis${suffix}`)!;
  const byRps = median(r.rps.map((x, i) => x / m.rps[i]!));
  const byCpu = median(r.us.map((x, i) => m.us[i]! / x));
  console.log(`redis/memory${suffix}: ${byRps.toFixed(3)} by req/s (the target, ≥ 0.7), ${byCpu.toFixed(3)} by proxy CPU`);
}
for (const c of children.reverse()) await c.stop();
for (const r of redises) await r.stop();
process.exit(0);
