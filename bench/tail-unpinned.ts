// bench/tail-unpinned.ts — `node --import tsx bench/tail-unpinned.ts [--rate 2760] [--rounds 4] [--seconds 3]
// [--workers 2,auto] [--no-single] [--no-probe] [--burst] [--no-rate] [--flags="..."]`: not part of `npm run bench`, a
// tool for the unpinned p99 at a fixed rate (the p99-at-half-apache-unpinned target). Every process unpinned, as the
// bench's unpinned pair: Apache + mod_auth_openidc (one mpm_event process per core), `drawbridge serve` (the CLI, as
// deployed, signed in through the dev IdP) once per `--workers` entry, and the bench's single Drawbridge process
// (bench/drawbridge-proxy.ts); one unpinned upstream and one unpinned open-loop generator (bench/load-gen.ts) for all,
// interleaved rounds. A `--workers` entry may set environment variables for that row's processes:
// `auto;NODE_CLUSTER_SCHED_POLICY=none`. Per round and row: the p50/p99 (and the p99 without the first 10% of the
// schedule, and when the slowest request was scheduled), the row's CPU per request (every thread), and from
// /proc/<pid>/schedstat how long each process's main thread waited on a run queue (runnable, no core) and its
// involuntary context switches, for the row's processes, the generator and the upstream; with the probe
// (bench/tail-probe.mjs, preloaded; `--no-probe` leaves it out, it samples the loop every 1 ms) each Drawbridge
// process's event-loop delay and GC pauses. `--burst`: also 32 fresh connections at once per row and round, the time
// to each one's first answer. `--flags`: node options for the serve rows' processes (NODE_OPTIONS).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startDevIdp } from '../e2e/idp/dev-idp.js';
import { signInAtIdp } from '../e2e/idp/sign-in.js';
import { CookieJarClient } from '../e2e/support/http-client.js';
import { accepts, reservePort } from '../test-support/net.js';
import { APACHE_REDIRECT_PATH, apacheConfig, signInThroughApache, startApache } from './apache.js';
import { detectPinning, pinnedCommand, pinSelf, ROOT, startChild } from './child.js';
import type { LoadResult } from './load-gen.js';
import { childPids } from './steps/cpu.js';
import { BENCH_LOGIN, DRAWBRIDGE_CLIENT, workersConfigText } from './steps/peer-rows.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '2760' }, rounds: { type: 'string', default: '4' }, seconds: { type: 'string', default: '3' }, workers: { type: 'string', default: 'auto,1' }, flags: { type: 'string', default: '' }, 'no-single': { type: 'boolean', default: false }, burst: { type: 'boolean', default: false }, 'no-probe': { type: 'boolean', default: false }, 'no-rate': { type: 'boolean', default: false } } });
const rate = Number(values.rate);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const probe = fileURLToPath(new URL('./tail-probe.mjs', import.meta.url));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const APACHE_CLIENT = { clientId: 'apache-bench', clientSecret: 'apache-bench-client-secret-0123456789' };

const pin = detectPinning();
// As the bench: the orchestrator (and the dev IdP in it) on the load CPU; every row's processes over all CPUs.
pinSelf(pin.load);
const cleanups: Array<() => Promise<unknown>> = [];
const probeDir = mkdtempSync(join(tmpdir(), 'drawbridge-tail-probe-'));
cleanups.push(async () => rmSync(probeDir, { recursive: true, force: true }));

/** Main-thread scheduler figures of a process: ns on CPU, ns runnable but waiting, involuntary switches. */
function sched(pid: number): { runNs: number; waitNs: number; nonvol: number } {
  try {
    const [, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    const nonvol = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    // CPU of every thread (GC helpers, Apache's workers); the wait of the main thread (the event loop).
    let runNs = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        runNs += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread gone
      }
    }
    return { runNs, waitNs: wait!, nonvol };
  } catch {
    return { runNs: 0, waitNs: 0, nonvol: 0 };
  }
}
const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

try {
  const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.all });
  cleanups.push(() => upstream.stop());
  const generator = await startChild<object>('./load-gen.ts', [], { cpu: pin.all });
  cleanups.push(() => generator.stop());
  // `auto`, `2`, or with environment variables for that row's processes: `auto;NODE_CLUSTER_SCHED_POLICY=none`.
  const specs = values.workers.split(',').filter(Boolean).map((spec) => {
    const [w, ...env] = spec.split(';');
    return { spec, workers: w === 'auto' ? ('auto' as const) : Number(w), env: Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) };
  });
  const workerValues = specs.map((x) => x.workers);
  const ports = await Promise.all(workerValues.map(() => reservePort()));
  const apachePort = await reservePort();
  const apacheOrigin = `http://apache.localhost:${apachePort}`;
  const idp = await startDevIdp({
    clients: [
      { ...APACHE_CLIENT, redirectUris: [`${apacheOrigin}${APACHE_REDIRECT_PATH}`] },
      { ...DRAWBRIDGE_CLIENT, redirectUris: ports.map((p) => `http://auth.localhost:${p}/.drawbridge/callback`) },
    ],
    accessTokenTtl: 3600,
    idTokenTtl: 3600,
  });
  cleanups.push(() => idp.close());

  interface Row {
    name: string;
    port: number;
    host: string;
    cookie: string;
    pids: () => number[];
    /** Processes with the probe: answered by IPC (the bench child) or SIGUSR2 (serve). */
    probe?: () => Promise<Array<{ pid: number; delay: { p99Ms: number; maxMs: number }; gc: { count: number; maxMs: number; totalMs: number } }>>;
  }
  const rows: Row[] = [];

  const apache = await startApache(apachePort, (dir) => apacheConfig(dir, { port: apachePort, origin: apacheOrigin, upstreamPort: upstream.ready.port, client: { issuer: idp.issuer, ...APACHE_CLIENT }, processes: cpus().length, threadsPerChild: 64, passphrase: 'tail-unpinned-passphrase-0123456789abcdef' }), { command: (b, args) => pinnedCommand(pin.all, b, args) });
  cleanups.push(() => apache.stop());
  rows.push({ name: 'apache-unpinned', port: apachePort, host: `apache.localhost:${apachePort}`, cookie: await signInThroughApache(apacheOrigin, BENCH_LOGIN), pids: () => apache.pids() });

  for (const [i, workers] of workerValues.entries()) {
    const port = ports[i]!;
    const dir = mkdtempSync(join(tmpdir(), 'drawbridge-tail-serve-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const adminPort = await reservePort();
    writeFileSync(join(dir, 'drawbridge.yaml'), workersConfigText({ port, adminPort, publicUrl: `http://auth.localhost:${port}`, issuer: idp.issuer, upstream: `http://127.0.0.1:${upstream.ready.port}`, workers }));
    const [cmd, args] = pinnedCommand(pin.all, process.execPath, [join(ROOT, 'bin/drawbridge.js'), 'serve', '--config', join(dir, 'drawbridge.yaml')]);
    const { env: extraEnv, spec } = specs[i]!;
    const nodeOptions = `${values['no-probe'] ? '' : `--import ${probe}`} ${values.flags} ${extraEnv.NODE_OPTIONS ?? ''}`.trim();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DRAWBRIDGE_FROM_SOURCE: '1', TAIL_PROBE_DIR: probeDir, ...extraEnv, NODE_OPTIONS: nodeOptions } });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new Error(`serve workers: ${workers} exited`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pids = () => [child.pid!, ...childPids(child.pid!).flatMap((p) => [p, ...childPids(p)])].filter((p) => comm(p) === 'node');
    const origin = `http://app.localhost:${port}`;
    const jar = new CookieJarClient({ resolve: { 'app.localhost': '127.0.0.1', 'auth.localhost': '127.0.0.1' }, headers: { accept: 'text/html,application/xhtml+xml' } });
    // Discovery may still be under way on a busy machine: a few tries.
    let value: string | undefined;
    for (let attempt = 0; attempt < 5 && value === undefined; attempt++) {
      const { response } = await signInAtIdp(jar, `${origin}/`, { login: BENCH_LOGIN, headers: { accept: 'text/html' } }).catch((e: Error) => ({ response: { status: 0, body: e.message } }));
      value = jar.cookies(`${origin}/`).drawbridge;
      if (value === undefined) {
        process.stderr.write(`serve workers: ${workers}: sign-in ended with ${response.status}: ${response.body.slice(0, 120)}\n`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (value === undefined) throw new Error(`serve workers: ${workers}: no cookie`);
    rows.push({
      name: `serve-${spec}`.slice(0, 40),
      port,
      host: `app.localhost:${port}`,
      cookie: `drawbridge=${value}`,
      pids,
      probe: values['no-probe'] ? undefined : async () => {
        const ps = pids();
        for (const p of ps) process.kill(p, 'SIGUSR2');
        await new Promise((r) => setTimeout(r, 300));
        return ps.flatMap((pid) => {
          try {
            return [{ pid, ...JSON.parse(readFileSync(join(probeDir, `${pid}.json`), 'utf8')) }];
          } catch {
            return [];
          }
        });
      },
    });
  }

  if (!values['no-single']) {
    const single = await startChild<{ port: number; cookie: string }>('./drawbridge-proxy.ts', ['--upstream', `http://127.0.0.1:${upstream.ready.port}`, '--store', 'memory'], { cpu: pin.all, nodeArgs: values['no-probe'] ? [] : ['--import', probe] });
    cleanups.push(() => single.stop());
    single.process.send({ type: 'quiet' });
    rows.push({ name: 'bench-single', port: single.ready.port, host: 'app.localhost', cookie: single.ready.cookie, pids: () => [single.process.pid!], probe: values['no-probe'] ? undefined : async () => [{ pid: single.process.pid!, ...(await single.ask<{ delay: { p99Ms: number; maxMs: number }; gc: { count: number; maxMs: number; totalMs: number } }>({ type: 'probe' }, 'probe', 5000)) }] });
  }

  const run = async (row: Row, ms: number, withRate: boolean): Promise<LoadResult> => {
    const spec = { port: row.port, host: row.host, path: '/', headers: { cookie: row.cookie }, connections: 32, durationMs: ms, ...(withRate ? { rate } : {}) };
    return (await generator.ask<{ result: LoadResult }>({ type: 'run', spec }, 'result', ms + 60_000)).result;
  };
  for (const r of rows) await run(r, 1500, false);
  if (values.burst) {
    // Fresh connections: 32 connects at once, each sending its request as soon as it is connected; the time to each
    // answer (what an open-loop run's first requests wait).
    const burst = (r: Row) =>
      Promise.all(
        Array.from({ length: 32 }, () => {
          const t0 = performance.now();
          return new Promise<number>((resolve, reject) => {
            const socket = net.connect({ port: r.port, host: '127.0.0.1', noDelay: true }, () => socket.write(`GET / HTTP/1.1\r\nhost: ${r.host}\r\ncookie: ${r.cookie}\r\n\r\n`));
            socket.once('data', () => {
              resolve(performance.now() - t0);
              socket.destroy();
            });
            socket.once('error', reject);
          });
        }),
      );
    const lines = new Map(rows.map((r) => [r.name, [] as string[]]));
    for (let i = 0; i < rounds; i++) {
      for (const r of i % 2 === 0 ? rows : [...rows].reverse()) {
        const ms = (await burst(r)).sort((x, y) => x - y);
        lines.get(r.name)!.push(`${ms[16]!.toFixed(1)}/${ms[31]!.toFixed(1)}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    for (const r of rows) process.stdout.write(`burst ${r.name.padEnd(34)} median/max ms per round: ${lines.get(r.name)!.join(' ')}\n`);
  }
  const p99s = new Map(rows.map((r) => [r.name, [] as number[]]));
  const genPid = generator.process.pid!;
  const upPid = upstream.process.pid!;
  for (let round = 0; round < (values['no-rate'] ? 0 : rounds); round++) {
    for (const r of round % 2 === 0 ? rows : [...rows].reverse()) {
      await r.probe?.();
      const pids = r.pids();
      const watched = [...pids.map((p) => ({ who: `${comm(p) === 'node' ? 'node' : comm(p)}:${p}`, pid: p })), { who: 'gen', pid: genPid }, { who: 'upstream', pid: upPid }];
      const before = watched.map((w) => sched(w.pid));
      const result = await run(r, seconds * 1000, true);
      const after = watched.map((w) => sched(w.pid));
      const probes = (await r.probe?.()) ?? [];
      const bad = Object.keys(result.statuses).filter((s) => !s.startsWith('2'));
      if (bad.length > 0 || result.errors > 0) throw new Error(`${r.name}: ${JSON.stringify(result.statuses)} ${result.errorDetail}`);
      p99s.get(r.name)!.push(result.p99Ms);
      const perSec = (ns: number) => (ns / 1e6 / seconds).toFixed(0);
      const schedText = watched
        .map((w, i) => `${w.who} cpu ${perSec(after[i]!.runNs - before[i]!.runNs)} wait ${perSec(after[i]!.waitNs - before[i]!.waitNs)} ms/s nv ${after[i]!.nonvol - before[i]!.nonvol}`)
        .join('; ');
      const probeText = probes.map((p) => `${p.pid}: loop p99 ${p.delay.p99Ms.toFixed(1)} max ${p.delay.maxMs.toFixed(1)} gc ${p.gc.count}× max ${p.gc.maxMs.toFixed(1)}`).join('; ');
      const rowCpuNs = pids.reduce((sum, _p, i) => sum + after[i]!.runNs - before[i]!.runNs, 0);
      process.stdout.write(`round ${round + 1} ${r.name.padEnd(34)} ${Math.round(result.rps)} req/s backlog ${result.backlog ?? 0} p50 ${result.p50Ms.toFixed(2)} p99 ${result.p99Ms.toFixed(2)} ms (after the first 10%: ${result.p99SteadyMs?.toFixed(2)}; slowest scheduled at ${result.slowestAtMs?.toFixed(0)} ms), row CPU ${(rowCpuNs / 1e3 / result.requests).toFixed(0)} µs/request\n    sched: ${schedText}\n${probeText ? `    probe: ${probeText}\n` : ''}`);
    }
  }
  const apacheP99 = p99s.get('apache-unpinned')!;
  for (const r of values['no-rate'] ? [] : rows) {
    const xs = p99s.get(r.name)!;
    const ratios = xs.map((x, i) => x / apacheP99[i]!);
    process.stdout.write(`${r.name.padEnd(34)} p99 median ${median(xs).toFixed(2)} ms; per-round p99 / apache: ${ratios.map((x) => x.toFixed(2)).join(' ')} (median ${median(ratios).toFixed(2)})\n`);
  }
} finally {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
}
process.exit(0);
