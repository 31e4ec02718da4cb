// bench/memory.ts — `node --import tsx bench/memory.ts [--variant NAME=dist|source|base[:NODE_FLAG|ENV=VALUE,...]]... [--base DIR] [--rounds 4]
// [--seconds 5]`: the drawbridge-auth-memory row (bench/drawbridge-proxy.ts, memory store, one session cookie) in
// several variants side by side (the compiled build or the TypeScript source, node flags), loaded in interleaved
// rounds with the bench's load generator; prints per variant the CPU µs per request (median of rounds), the resident
// memory after the rounds and where it is (process.memoryUsage, V8 heap spaces). The A/B tool of the rss-after-load target.
// A variant runs with exactly the node flags it names: as deployed (the bench's rows, bench/steps/common.ts) is with
// Drawbridge's own, proxy/src/server/node-flags.ts (`dist:--max-semi-space-size=8`).
import { parseArgs } from 'node:util';
import { buildForBench } from './build.js';
import { detectPinning, isMain, pinSelf, startChild, type Child } from './child.js';
import type { memoryReport } from './drawbridge-proxy.js';
import { HOSTS } from './drawbridge-proxy.js';
import type { LoadResult, LoadSpec } from './load-gen.js';
import { cpuSeconds, readRss, readRssAnon } from './steps/cpu.js';
import { hasWrk, runWrk } from './wrk.js';

const log = (msg: string) => process.stderr.write(`memory: ${msg}\n`);
const MB = (b: number) => (b / 1e6).toFixed(1);


interface Variant {
  name: string;
  /** `dist`: the build of this tree (bench/build.ts); `base`: the compiled build in --base DIR (another commit's). */
  code: 'dist' | 'source' | 'base';
  nodeArgs: string[];
  /** NAME=VALUE items of the variant's list: environment variables (MALLOC_ARENA_MAX=2). */
  env: Record<string, string>;
}

function parseVariant(s: string): Variant {
  const m = /^([\w.+-]+)=(dist|source|base)(?::(.*))?$/.exec(s);
  if (!m) throw new Error(`--variant ${s}: NAME=dist|source|base[:--node-flag,...]`);
  const items = m[3] ? m[3].split(',') : [];
  return { name: m[1]!, code: m[2] as Variant['code'], nodeArgs: items.filter((a) => a.startsWith('-')), env: Object.fromEntries(items.filter((a) => !a.startsWith('-')).map((a) => [a.split('=')[0]!, a.slice(a.indexOf('=') + 1)])) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function compareMemory(variants: Variant[], rounds: number, seconds: number, connections: number, base?: string): Promise<void> {
  const pin = detectPinning();
  pinSelf(pin.load);
  const dist = variants.some((v) => v.code === 'dist') ? buildForBench(log) : undefined;
  const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.load });
  const generator = hasWrk() ? undefined : await startChild<object>('./load-gen.ts', [], { cpu: pin.load });
  const children: Array<{ v: Variant; c: Child<{ port: number; cookie: string }>; cpuUs: number[]; rps: number[] }> = [];
  try {
    for (const v of variants) {
      const c = await startChild<{ port: number; cookie: string }>('./drawbridge-proxy.ts', ['--upstream', `http://127.0.0.1:${upstream.ready.port}`, '--store', 'memory'], {
        cpu: pin.proxy,
        nodeArgs: v.nodeArgs,
        env: v.env,
        ...(v.code === 'dist' ? { dist } : v.code === 'base' ? { dist: base } : {}),
      });
      c.process.send({ type: 'quiet' });
      children.push({ v, c, cpuUs: [], rps: [] });
    }
    const spec = (c: Child<{ port: number; cookie: string }>, s: number): LoadSpec => ({ port: c.ready.port, host: HOSTS.auth, path: '/', headers: { cookie: c.ready.cookie }, connections, durationMs: s * 1000 });
    const load = (s: LoadSpec): Promise<LoadResult> => (generator ? generator.ask<{ result: LoadResult }>({ type: 'run', spec: s }, 'result', s.durationMs + 60_000).then((m) => m.result) : runWrk(s, pin.load));
    for (const x of children) await load(spec(x.c, 2));
    for (let r = 0; r < rounds; r++) {
      const order = [...children.slice(r % children.length), ...children.slice(0, r % children.length)];
      for (const x of order) {
        const before = cpuSeconds([x.c.process.pid!]);
        const result = await load(spec(x.c, seconds));
        const used = cpuSeconds([x.c.process.pid!]) - before;
        const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
        if (bad.length || result.errors) throw new Error(`${x.v.name}: not all 2xx: ${JSON.stringify(result.statuses)} ${result.errorDetail}`);
        x.cpuUs.push((1e6 * used) / result.requests);
        x.rps.push(result.rps);
        log(`round ${r + 1}/${rounds} ${x.v.name}: ${Math.round(result.rps)} req/s, ${((1e6 * used) / result.requests).toFixed(1)} CPU µs/request, RSS ${MB(readRss(x.c.process.pid!))} MB`);
      }
    }
    const lines = ['| variant | code | node flags | req/s | CPU µs / request | × first | RSS MB | private MB | RSS after a full GC MB | heap used / total MB | external MB | arrayBuffers MB | new space MB | old space MB | code space MB |', '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
    const first = children[0]!;
    const details: string[] = [];
    for (const x of children) {
      const m = await x.c.ask<ReturnType<typeof memoryReport>>({ type: 'memory' }, 'memory', 5000);
      const rss = readRss(x.c.process.pid!);
      const anon = readRssAnon(x.c.process.pid!);
      const afterGc = await x.c.ask<ReturnType<typeof memoryReport>>({ type: 'memory', gc: true }, 'memory', 10_000);
      const ratio = median(x.cpuUs.map((u, i) => u / first.cpuUs[i]!));
      const sp = (n: string) => m.spaces[n]?.size ?? 0;
      lines.push(
        `| ${x.v.name} | ${x.v.code} | ${[...Object.entries(x.v.env).map(([k, v]) => `${k}=${v}`), ...x.v.nodeArgs].join(' ') || '–'} | ${Math.round(median(x.rps))} | ${median(x.cpuUs).toFixed(1)} | ${ratio.toFixed(3)} | ${MB(rss)} | ${MB(anon)} | ${MB(afterGc.usage.rss)} (heap ${MB(afterGc.usage.heapUsed)} / ${MB(afterGc.usage.heapTotal)}) | ${MB(m.usage.heapUsed)} / ${MB(m.usage.heapTotal)} | ${MB(m.usage.external)} | ${MB(m.usage.arrayBuffers)} | ${MB(sp('new_space'))} | ${MB(sp('old_space'))} | ${MB(sp('code_space'))} |`,
      );
      details.push(`${x.v.name}: ${Object.entries(m.spaces).map(([k, v]) => `${k} ${MB(v.used)}/${MB(v.size)}`).join(', ')}`);
    }
    process.stdout.write(`${lines.join('\n')}\n\nV8 heap spaces, used/size MB:\n${details.join('\n')}\n`);
  } finally {
    for (const x of children) await x.c.stop();
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
