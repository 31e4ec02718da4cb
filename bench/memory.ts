// bench/memory.ts — `node --import tsx bench/memory.ts [--variant NAME=[serve-]dist|source|base[:NODE_FLAG|ENV=VALUE,...]]... [--base DIR]
// [--rounds 4] [--seconds 5]`: the drawbridge-auth-memory row (bench/drawbridge-proxy.ts, memory store, one session
// cookie) and the drawbridge-auth-workers row (`serve-…`: the deployed CLI, `drawbridge serve` with `workers: auto`,
// its primary and worker) in several variants side by side (the compiled build or the TypeScript source, node flags,
// environment), loaded in interleaved rounds with the bench's load generator; prints per variant the CPU µs per request
// (median of rounds; a serve variant's primary and worker together), the resident memory right after the rounds as
// bench/run.ts reads it (the largest process; each one's file-backed and anonymous share) and where it is
// (process.memoryUsage, V8 heap spaces). The A/B tool of the rss-after-load target.
// A variant runs with exactly the node flags it names: as deployed (the bench's rows, bench/steps/common.ts) is with
// Drawbridge's own, proxy/src/server/node-flags.ts (`dist:--max-semi-space-size=8`); besides, this tree's `serve` and
// bench child set V8_RUNTIME_FLAGS themselves unless the variant names its own value (`--heap-growing-percent=0`: V8's).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildForBench } from './build.js';
import { detectPinning, isMain, pinSelf, startChild, type Child } from './child.js';
import type { memoryReport } from './drawbridge-proxy.js';
import { HOSTS } from './drawbridge-proxy.js';
import type { LoadResult, LoadSpec } from './load-gen.js';
import { cpuSeconds, readRss, readRssAnon } from './steps/cpu.js';
import { hasWrk, runWrk } from './wrk.js';
import { startDevIdp } from '../e2e/idp/dev-idp.js';
import { reservePort } from '../test-support/net.js';
import { BENCH_WORKERS, DRAWBRIDGE_CLIENT, startWorkersRow } from './steps/peer-rows.js';

const log = (msg: string) => process.stderr.write(`memory: ${msg}\n`);
const MB = (b: number) => (b / 1e6).toFixed(1);


interface Variant {
  name: string;
  /** `dist`: the build of this tree (bench/build.ts); `base`: the compiled build in --base DIR (another commit's). */
  code: 'dist' | 'source' | 'base';
  /**
   * `child`: the bench's in-process Drawbridge (bench/drawbridge-proxy.ts, as the drawbridge-auth-memory row);
   * `serve`: the deployed CLI, `drawbridge serve` with `workers: auto` (the primary and its one worker on the one
   * proxy core), signed in through the dev IdP, as the drawbridge-auth-workers row (bench/steps/peer-rows.ts).
   */
  kind: 'child' | 'serve';
  nodeArgs: string[];
  /** NAME=VALUE items of the variant's list: environment variables (MALLOC_ARENA_MAX=2). */
  env: Record<string, string>;
}

function parseVariant(s: string): Variant {
  const m = /^([\w.+-]+)=(serve-)?(dist|source|base)(?::(.*))?$/.exec(s);
  if (!m) throw new Error(`--variant ${s}: NAME=[serve-]dist|source|base[:--node-flag,ENV=VALUE,...]`);
  const items = m[4] ? m[4].split(',') : [];
  return {
    name: m[1]!,
    code: m[3] as Variant['code'],
    kind: m[2] ? 'serve' : 'child',
    nodeArgs: items.filter((a) => a.startsWith('-')),
    env: Object.fromEntries(items.filter((a) => !a.startsWith('-')).map((a) => [a.split('=')[0]!, a.slice(a.indexOf('=') + 1)])),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One process's file-backed resident memory from /proc/PID/smaps_rollup (the pages of the node binary and libraries), bytes. */
function residentFile(pid: number): number {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(t)?.[1] ?? 0) * 1024;
    return kb('Rss') - kb('Anonymous');
  } catch {
    return 0;
  }
}

/**
 * Where one process's anonymous resident memory is, from /proc/PID/smaps, bytes: glibc malloc's main arena (`[heap]`)
 * and its thread arenas (mappings at 64 MiB-aligned addresses, glibc's arena heaps), executable mappings (V8's
 * compiled code), and the rest (V8's heap pages, thread stacks, WebAssembly).
 */
function anonymousShares(pid: number): { mallocMain: number; mallocArenas: number; exec: number; rest: number } {
  const out = { mallocMain: 0, mallocArenas: 0, exec: 0, rest: 0 };
  let share: keyof typeof out | undefined;
  try {
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (m) {
        const [, start, perms, name] = m;
        share = name === '[heap]' ? 'mallocMain' : name ? undefined : perms!.includes('x') ? 'exec' : BigInt(`0x${start}`) % (64n << 20n) === 0n ? 'mallocArenas' : 'rest';
        continue;
      }
      const a = /^Anonymous:\s+(\d+) kB$/.exec(line);
      if (a && share) out[share] += Number(a[1]) * 1024;
    }
  } catch {
    // gone
  }
  return out;
}

/** A variant under load: where to send requests, the processes whose CPU and memory count. */
interface Subject {
  v: Variant;
  port: number;
  host: string;
  cookie: string;
  pids: () => number[];
  child?: Child<{ port: number; cookie: string }>;
  cpuUs: number[];
  rps: number[];
}

export async function compareMemory(variants: Variant[], rounds: number, seconds: number, connections: number, base?: string): Promise<void> {
  const pin = detectPinning();
  pinSelf(pin.load);
  const dist = variants.some((v) => v.code === 'dist') ? buildForBench(log) : undefined;
  const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
  const generator = hasWrk() ? undefined : await startChild<object>('./load-gen.ts', [], { cpu: pin.load });
  const cleanups: Array<() => Promise<unknown>> = [];
  const subjects: Subject[] = [];
  try {
    const serves = variants.filter((v) => v.kind === 'serve');
    const ports = await Promise.all(serves.map(() => reservePort()));
    const idp = serves.length
      ? await startDevIdp({ clients: [{ ...DRAWBRIDGE_CLIENT, redirectUris: ports.map((p) => `http://auth.localhost:${p}/.drawbridge/callback`) }], accessTokenTtl: 3600, idTokenTtl: 3600 })
      : undefined;
    if (idp) cleanups.push(() => idp.close());
    for (const v of variants) {
      const code = v.code === 'dist' ? { dist } : v.code === 'base' ? { dist: base } : {};
      if (v.kind === 'serve') {
        const port = ports[serves.indexOf(v)]!;
        // Pinned to the proxy core like the other variants: `workers: auto` there is one worker, as on the bench's 2 cores.
        const plan = await startWorkersRow({ pin: { ...pin, all: pin.proxy }, cleanups, ...code }, { idp: idp!, port, publicUrl: `http://auth.localhost:${port}`, upstream, workers: BENCH_WORKERS, nodeArgs: v.nodeArgs, env: v.env });
        if (plan.invalid) throw new Error(`${v.name}: ${plan.invalid}`);
        subjects.push({ v, port, host: plan.host, cookie: plan.headers.cookie!, pids: plan.pidsNow ?? (() => plan.pids), cpuUs: [], rps: [] });
        continue;
      }
      const c = await startChild<{ port: number; cookie: string }>('./drawbridge-proxy.ts', ['--upstream', `http://127.0.0.1:${upstream.ready.port}`, '--store', 'memory'], { cpu: pin.proxy, nodeArgs: v.nodeArgs, env: v.env, ...code });
      cleanups.push(() => c.stop());
      c.process.send({ type: 'quiet' });
      subjects.push({ v, port: c.ready.port, host: HOSTS.auth, cookie: c.ready.cookie, pids: () => [c.process.pid!], child: c, cpuUs: [], rps: [] });
    }
    const spec = (x: Subject, s: number): LoadSpec => ({ port: x.port, host: x.host, path: '/', headers: { cookie: x.cookie }, connections, durationMs: s * 1000 });
    const load = (s: LoadSpec): Promise<LoadResult> => (generator ? generator.ask<{ result: LoadResult }>({ type: 'run', spec: s }, 'result', s.durationMs + 60_000).then((m) => m.result) : runWrk(s, pin.load));
    for (const x of subjects) await load(spec(x, 2));
    const largest = (x: Subject) => Math.max(...x.pids().map(readRss));
    for (let r = 0; r < rounds; r++) {
      const order = [...subjects.slice(r % subjects.length), ...subjects.slice(0, r % subjects.length)];
      for (const x of order) {
        const pids = x.pids();
        const before = cpuSeconds(pids);
        const result = await load(spec(x, seconds));
        const used = cpuSeconds(pids) - before;
        const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
        if (bad.length || result.errors) throw new Error(`${x.v.name}: not all 2xx: ${JSON.stringify(result.statuses)} ${result.errorDetail}`);
        x.cpuUs.push((1e6 * used) / result.requests);
        x.rps.push(result.rps);
        log(`round ${r + 1}/${rounds} ${x.v.name}: ${Math.round(result.rps)} req/s, ${((1e6 * used) / result.requests).toFixed(1)} CPU µs/request, RSS ${MB(largest(x))} MB`);
      }
    }
    // Read first, for every variant, as bench/run.ts reads it: right after the rounds, no GC, no idle wait.
    const after = subjects.map((x) => x.pids().map((pid) => ({ pid, rss: readRss(pid), anon: readRssAnon(pid), file: residentFile(pid), shares: anonymousShares(pid) })));
    const lines = ['| variant | code | node flags, environment | req/s | CPU µs / request | × first | RSS MB | private MB | RSS after a full GC MB | heap used / total MB | external MB | arrayBuffers MB | new space MB | old space MB | code space MB |', '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
    const first = subjects[0]!;
    const details: string[] = [];
    const processes: string[] = [];
    for (const [i, x] of subjects.entries()) {
      const ratio = median(x.cpuUs.map((u, k) => u / first.cpuUs[k]!));
      const flags = [...Object.entries(x.v.env).map(([k, v]) => `${k}=${v}`), ...x.v.nodeArgs].join(' ') || '–';
      const procs = after[i]!;
      const big = procs.reduce((a, b) => (b.rss > a.rss ? b : a));
      for (const [k, p] of procs.entries()) processes.push(`${x.v.name} ${x.v.kind === 'serve' ? (k === 0 ? 'primary' : 'worker') : 'child'} ${p.pid}: RSS ${MB(p.rss)} MB = file-backed ${MB(p.file)} + anonymous ${MB(p.anon)} (malloc main arena ${MB(p.shares.mallocMain)}, thread arenas ${MB(p.shares.mallocArenas)}; executable ${MB(p.shares.exec)}; V8 heap and the rest ${MB(p.shares.rest)})`);
      const head = `| ${x.v.name} | ${x.v.kind === 'serve' ? `serve ${x.v.code}` : x.v.code} | ${flags} | ${Math.round(median(x.rps))} | ${median(x.cpuUs).toFixed(1)} | ${ratio.toFixed(3)} | ${MB(big.rss)} | ${MB(big.anon)}`;
      if (!x.child) {
        lines.push(`${head} | – | – | – | – | – | – | – |`);
        continue;
      }
      const m = await x.child.ask<ReturnType<typeof memoryReport>>({ type: 'memory' }, 'memory', 5000);
      const afterGc = await x.child.ask<ReturnType<typeof memoryReport>>({ type: 'memory', gc: true }, 'memory', 10_000);
      const sp = (n: string) => m.spaces[n]?.size ?? 0;
      lines.push(
        `${head} | ${MB(afterGc.usage.rss)} (heap ${MB(afterGc.usage.heapUsed)} / ${MB(afterGc.usage.heapTotal)}) | ${MB(m.usage.heapUsed)} / ${MB(m.usage.heapTotal)} | ${MB(m.usage.external)} | ${MB(m.usage.arrayBuffers)} | ${MB(sp('new_space'))} | ${MB(sp('old_space'))} | ${MB(sp('code_space'))} |`,
      );
      details.push(`${x.v.name}: ${Object.entries(m.spaces).map(([k, v]) => `${k} ${MB(v.used)}/${MB(v.size)}`).join(', ')}`);
    }
    process.stdout.write(`${lines.join('\n')}\n\nRSS after the rounds per process (the largest in the table; serve: the primary and its worker):\n${processes.join('\n')}\n\nV8 heap spaces, used/size MB:\n${details.join('\n')}\n`);
  } finally {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    await generator?.stop();
    await upstream.stop();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { variant: { type: 'string', multiple: true }, rounds: { type: 'string', default: '4' }, seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' }, base: { type: 'string' } } });
  const variants = (values.variant?.length ? values.variant : ['source=source', 'dist=dist']).map(parseVariant);
    if (variants.some((v) => v.code === 'base') && values.base === undefined) throw new Error('a `base` variant needs --base DIR (a compiled build: DIR/bench/drawbridge-proxy.js)');
  compareMemory(variants, Number(values.rounds), Number(values.seconds), Number(values.connections), values.base).then(
    () => process.exit(0),
    (e: Error) => {
      log(`failed: ${e.stack ?? e.message}`);
      process.exit(1);
    },
  );
}
