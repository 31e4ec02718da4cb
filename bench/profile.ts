// bench/profile.ts — `node --import tsx bench/profile.ts [--row auth|redis|public|bare|routes10|routes10k] [--seconds 20]`: a row (default drawbridge-auth-memory) under
// peak load with `node --cpu-prof` on the Drawbridge process, then the top functions by self time during
// the load window only (start-up excluded). Writes bench/out/profile/<row>/ (gitignored).
import { readdirSync, rmSync, statSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { detectPinning, isMain, pinSelf, ROOT, startChild } from './child.js';
import { summarizeProfile, type CpuProfile, type ProfileSummary } from './cpuprofile.js';
import { HOSTS } from './drawbridge-proxy.js';
import type { LoadResult, LoadSpec } from './load-gen.js';
import { hasWrk, runWrk } from './wrk.js';
import { createConnection } from 'node:net';
import { startRedis } from '../test-support/redis.js';

const log = (msg: string) => process.stderr.write(`profile: ${msg}\n`);

/**
 * The source line of a function of the repository's TypeScript. Under tsx the profile's line numbers are those
 * of the transformed module, so the name is looked up in the source instead (first declaration-like match).
 */
function sourceLine(file: string, name: string, fallback: number): number {
  if (!/^(proxy|bench|e2e)\//.test(file) || name.startsWith('(')) return fallback;
  try {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const patterns = [new RegExp(`\\bfunction\\*?\\s+${esc}\\b`), new RegExp(`^\\s*(?:(?:export|async|static|private|public|protected|readonly|override|get|set)\\s+)*#?${esc}\\s*[(<=]`), new RegExp(`\\b(?:const|let)\\s+${esc}\\s*=`)];
    for (const re of patterns) {
      const i = lines.findIndex((l) => re.test(l));
      if (i >= 0) return i + 1;
    }
  } catch {
    // not a readable source file
  }
  return fallback;
}

/** Redis's `INFO commandstats` as command → calls (the redis row: how many commands each request cost). */
export function redisCommandCalls(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => socket.destroy(new Error('INFO commandstats: no answer in 5 s')), 5000);
    socket.on('error', (err) => (clearTimeout(timer), reject(err)));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const header = /^\$(\d+)\r\n/.exec(text);
      if (!header || text.length < header[0].length + Number(header[1])) return;
      clearTimeout(timer);
      socket.end();
      const calls = new Map<string, number>();
      for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
      resolve(calls);
    });
    socket.write('INFO commandstats\r\n');
  });
}

function table(s: ProfileSummary, rows: ProfileSummary['functions'], busyUs: number, which: 'self' | 'total', requests: number): string {
  const lines = [`| # | function | file:line | ${which} % of samples | ${which} % of busy | ${which} µs / request |`, '|---:|---|---|---:|---:|---:|'];
  rows.forEach((f, i) => {
    const us = which === 'self' ? f.selfUs : f.totalUs;
    lines.push(`| ${i + 1} | \`${f.name}\` | ${f.file ? `${f.file}:${f.line}` : ''} | ${((100 * us) / s.sampledUs).toFixed(1)} | ${((100 * us) / busyUs).toFixed(1)} | ${(us / requests).toFixed(2)} |`);
  });
  return lines.join('\n');
}

/** Profiles one row (default: the authenticated memory-store path); resolves with the summary (also written as markdown and JSON). */
export type ProfileRow = 'auth' | 'redis' | 'public' | 'bare' | 'routes10' | 'routes10k';

export async function profileRow(row: ProfileRow, seconds: number, connections: number): Promise<ProfileSummary> {
  const pin = detectPinning();
  pinSelf(pin.load);
  const dir = join(ROOT, 'bench/out/profile', row);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
  const upstreamUrl = `http://127.0.0.1:${upstream.ready.port}`;
  const nodeArgs = ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250'];
  const routes = row === 'routes10' ? 10 : row === 'routes10k' ? 10_000 : undefined;
  // The routes rows of the bench: every route visited equally often, in a shuffled order (bench/wrk-routes.lua).
  // Drawbridge writes the list (bench/drawbridge-proxy.ts): each line carries its host's session cookie, a cookie
  // being valid only on the origin it was set for.
  const requestsFile = routes !== undefined ? join(dir, 'requests') : undefined;
  const requestCount = routes !== undefined ? Math.max(2, Math.ceil(2000 / routes)) * routes : 0;
  const requestArgs = routes !== undefined ? ['--routes', String(routes), '--requests', requestsFile!, '--request-count', String(requestCount)] : [];
  // The redis row: the authenticated path with the Redis store, a redis-server of its own (as the bench's row).
  const redis = row === 'redis' ? await startRedis() : undefined;
  const store = redis?.url ?? 'memory';
  const db =
    row === 'bare'
      ? await startChild<{ port: number; cookie?: string }>('./bare-proxy.ts', [upstreamUrl], { cpu: pin.proxy, nodeArgs })
      : await startChild<{ port: number; cookie?: string }>('./drawbridge-proxy.ts', ['--upstream', upstreamUrl, '--store', store, ...requestArgs], { cpu: pin.proxy, nodeArgs, readyTimeoutMs: 180_000 });
  const generator = hasWrk() ? undefined : await startChild<object>('./load-gen.ts', [], { cpu: pin.load });
  try {
    db.process.send({ type: 'quiet' });
    const host = row === 'auth' || row === 'redis' ? HOSTS.auth : row === 'public' ? HOSTS.public : 'bench.localhost';
    const headers: Record<string, string> = row === 'auth' || row === 'redis' || routes !== undefined ? { cookie: db.ready.cookie! } : {};
    const spec = (s: number): LoadSpec => ({ port: db.ready.port, host, path: '/', headers, connections, durationMs: s * 1000, ...(requestsFile ? { requestsFile } : {}) });
    const load = (s: LoadSpec): Promise<LoadResult> => (generator ? generator.ask<{ result: LoadResult }>({ type: 'run', spec: s }, 'result', s.durationMs + 60_000).then((m) => m.result) : runWrk(s, pin.load));
    // The routes rows' warm-up goes through the whole request list (every route's assertion signed before
    // profiling), however slow the machine: as the bench's own warm-up (bench/steps/load.ts).
    const warmup = routes === undefined ? 3 : 8;
    log(`warm-up ${warmup} s`);
    let sent = 0;
    for (let i = 0; i < 10 && (i === 0 || sent < requestCount); i++) sent += (await load(spec(warmup))).requests;
    const callsBefore = redis ? await redisCommandCalls(redis.port) : undefined;
    const from = await db.ask<{ hrtimeUs: number }>({ type: 'mark' }, 'mark', 5000);
    log(`profiling ${seconds} s under load`);
    const result = await load(spec(seconds));
    const to = await db.ask<{ hrtimeUs: number }>({ type: 'mark' }, 'mark', 5000);
    const callsAfter = redis ? await redisCommandCalls(redis.port) : undefined;
    // Redis commands per request in the load window (the fence's PINGs, session GETs, touches).
    const redisPerRequest = callsAfter
      ? [...callsAfter].map(([cmd, n]) => ({ cmd, perRequest: (n - (callsBefore?.get(cmd) ?? 0)) / result.requests })).filter((c) => c.perRequest > 0).sort((a, b) => b.perRequest - a.perRequest)
      : undefined;
    const bad = Object.entries(result.statuses).filter(([s]) => !/^2/.test(s));
    if (bad.length || result.errors) throw new Error(`the profiled run was not all 2xx: ${JSON.stringify(result.statuses)} ${result.errorDetail}`);
    log(`${Math.round(result.rps)} req/s, p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms`);
    await db.stop(30_000);
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader hooks run in another).
    const file = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile') && f.split('.')[4] === '0')
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const summary = summarizeProfile(profile, ROOT, { fromUs: from.hrtimeUs, toUs: to.hrtimeUs });
    for (const f of summary.functions) f.line = sourceLine(f.file, f.name, f.line);
    if (summary.samples === 0) throw new Error('no sample inside the load window (clock mismatch?)');
    const idle = summary.functions.find((f) => f.name === '(idle)')?.selfUs ?? 0;
    const busy = summary.sampledUs - idle;
    const own = summary.functions.filter((f) => f.file.startsWith('proxy/src/')).sort((a, b) => b.totalUs - a.totalUs);
    const md = [
      `# Profile: ${row === 'bare' ? 'bare-http-proxy' : routes !== undefined ? `drawbridge with ${routes} routes, requests spread over all` : `drawbridge-${row === 'auth' ? 'auth-memory' : row === 'redis' ? 'auth-redis' : 'public'}`} under load`,
      '',
      `${Math.round(result.rps)} req/s over ${seconds} s (${result.tool}, ${connections} connections); ${summary.samples} samples in the load window, ${((100 * busy) / summary.sampledUs).toFixed(1)}% busy. Profile: ${file}`,
      '',
      ...(redisPerRequest ? [`Redis commands per request: ${redisPerRequest.map((c) => `${c.cmd} ${c.perRequest.toFixed(3)}`).join(', ') || 'none'}.`, ''] : []),
      '## Top 25 by self time',
      '',
      table(summary, summary.functions.filter((f) => f.name !== '(idle)').slice(0, 25), busy, 'self', result.requests),
      '',
      '## Self time by area',
      '',
      '| area | % of samples | % of busy | µs / request |',
      '|---|---:|---:|---:|',
      ...summary.areas.map((a) => `| ${a.area} | ${a.selfPct.toFixed(1)} | ${a.area.startsWith('idle') ? '' : ((100 * a.selfUs) / busy).toFixed(1)} | ${(a.selfUs / result.requests).toFixed(2)} |`),
      '',
      '## Drawbridge functions by inclusive time',
      '',
      table(summary, own.slice(0, 20), busy, 'total', result.requests),
      '',
    ].join('\n');
    writeFileSync(join(dir, 'summary.md'), md);
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ result, ...(redisPerRequest ? { redisPerRequest } : {}), summary: { ...summary, functions: summary.functions.slice(0, 200) } }, null, 2));
    process.stdout.write(md);
    return summary;
  } finally {
    await db.stop();
    await generator?.stop();
    await upstream.stop();
    await redis?.stop();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, connections: { type: 'string', default: '32' }, row: { type: 'string', default: 'auth' } } });
  if (!['auth', 'redis', 'public', 'bare', 'routes10', 'routes10k'].includes(values.row!)) throw new Error('--row: auth, redis, public, bare, routes10 or routes10k');
  profileRow(values.row as ProfileRow, Number(values.seconds), Number(values.connections)).then(
    () => process.exit(0),
    (e: Error) => {
      log(`failed: ${e.stack ?? e.message}`);
      process.exit(1);
    },
  );
}
