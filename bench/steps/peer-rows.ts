// bench/steps/peer-rows.ts — the real peer and the unpinned mode: the dev IdP with two clients (Apache's and
// Drawbridge's), Apache + mod_auth_openidc pinned to the proxy CPU (one mpm_event process) and unpinned (one per
// core), Drawbridge's memory row unpinned, node-floor unpinned, and `drawbridge serve` with `workers: auto` unpinned. Apache and the workers
// row are signed in once through the dev IdP's real code flow. Apache failing to start fails the bench (no skip).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevIdp, type DevIdp } from '../../e2e/idp/dev-idp.js';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { CookieJarClient } from '../../e2e/support/http-client.js';
import { accepts, reservePort } from '../../test-support/net.js';
import { APACHE_REDIRECT_PATH, APACHE_SESSION_COOKIE, apacheConfig, findApache, signInThroughApache, startApache, type ApacheClient, type RunningApache } from '../apache.js';
import { pinnedCommand, ROOT, startChild, type Child } from '../child.js';
import { BENCH_SESSION_SECRET } from '../drawbridge-proxy.js';
import { drawbridgeChild, log, type BenchRun, type RowPlan } from './common.js';
import { childPids } from './cpu.js';
import type { DbReady } from './drawbridge-rows.js';

/** Who signs in (dev IdP account alice: groups engineering, which both proxies' policies require). */
export const BENCH_LOGIN = 'alice';
const APACHE_CLIENT = { clientId: 'apache-bench', clientSecret: 'apache-bench-client-secret-0123456789' };
export const DRAWBRIDGE_CLIENT = { clientId: 'drawbridge', clientSecret: 'drawbridge-bench-client-secret-0123456789' };
/** The workers row's `workers` (the top-level key of the cluster mode): `auto`, one per core but one, as SPEC §10 measures it. */
export const BENCH_WORKERS = 'auto';
/** mpm_event threads per process: twice the bench's connections (see ApacheConfigOptions), few enough for one core. */
const APACHE_THREADS = 64;

export interface PeerRows {
  idp: DevIdp;
  apache: RunningApache;
  apacheUnpinned: RunningApache;
  /** Drawbridge's memory row started without pinning (the bench's in-process session, as the pinned row). */
  memoryUnpinned: Child<DbReady>;
}

/** Starts the dev IdP, both Apache instances, the unpinned rows' upstream and Drawbridge rows; their plans are appended. */
export async function startPeerRows({ pin, cleanups, dist }: BenchRun, plans: RowPlan[]): Promise<PeerRows> {
  const found = findApache();
  if ('reason' in found) throw new Error(`the apache-mod-auth-openidc rows cannot run: ${found.reason}`);

  // The unpinned rows end at their own upstream, unpinned too (the pinned one shares CPU 0 with the load generator).
  const upstream = await startChild<{ port: number }>('./upstream.ts', [], { cpu: pin.all });
  cleanups.push(() => upstream.stop());

  const apachePort = await reservePort();
  const apacheUnpinnedPort = await reservePort();
  const workersPort = await reservePort();
  const apacheOrigin = (port: number) => `http://apache.localhost:${port}`;
  const publicUrl = `http://auth.localhost:${workersPort}`;
  const idp = await startDevIdp({
    clients: [
      { ...APACHE_CLIENT, redirectUris: [apachePort, apacheUnpinnedPort].map((p) => `${apacheOrigin(p)}${APACHE_REDIRECT_PATH}`) },
      { ...DRAWBRIDGE_CLIENT, redirectUris: [`${publicUrl}/.drawbridge/callback`] },
    ],
    accessTokenTtl: 3600,
    idTokenTtl: 3600,
  });
  cleanups.push(() => idp.close());
  const client: ApacheClient = { issuer: idp.issuer, ...APACHE_CLIENT };
  const passphrase = randomBytes(32).toString('base64url');

  const startOne = async (port: number, cpu: string | undefined, processes: number, upstreamPort: number) => {
    const a = await startApache(port, (dir) => apacheConfig(dir, { port, origin: apacheOrigin(port), upstreamPort, client, processes, threadsPerChild: APACHE_THREADS, passphrase }), {
      binary: found.binary,
      command: (b, args) => pinnedCommand(cpu, b, args),
    });
    cleanups.push(() => a.stop());
    return a;
  };
  // The pinned Apache ends at the pinned rows' upstream (the one of nginx, bare-http-proxy and Drawbridge's rows).
  const pinnedUpstream = plans.find((p) => p.name === 'bare-http-proxy')!.upstream;

  log(`starting Apache + mod_auth_openidc pinned (1 process × ${APACHE_THREADS} threads) and unpinned (${cpus().length} × ${APACHE_THREADS})`);
  const apache = await startOne(apachePort, pin.proxy, 1, pinnedUpstream.ready.port);
  const apacheUnpinned = await startOne(apacheUnpinnedPort, pin.all, cpus().length, upstream.ready.port);
  for (const [name, a, port, up, mode] of [
    ['apache-mod-auth-openidc', apache, apachePort, pinnedUpstream, undefined],
    ['apache-mod-auth-openidc-unpinned', apacheUnpinned, apacheUnpinnedPort, upstream, 'unpinned'],
  ] as const) {
    // A failed sign-in is a bench bug or a broken peer: it fails the bench, with Apache's error log.
    const cookie = await signInThroughApache(apacheOrigin(port), BENCH_LOGIN).catch((e: Error) => {
      throw new Error(`${name}: ${e.message}\n${a.errors().trim().split('\n').slice(-5).join('\n')}`);
    });
    plans.push({ name, port, host: `apache.localhost:${port}`, headers: { cookie }, upstream: up, expectUser: BENCH_LOGIN, expectAssertion: false, cookieName: APACHE_SESSION_COOKIE, pids: a.pids(), pidsNow: () => a.pids(), ...(mode ? { mode } : {}) });
  }

  const memoryUnpinned = await startChild<DbReady>('./drawbridge-proxy.ts', ['--upstream', `http://127.0.0.1:${upstream.ready.port}`, '--store', 'memory'], { cpu: pin.all, ...drawbridgeChild({ dist }) });
  cleanups.push(() => memoryUnpinned.stop());
  plans.push({ name: 'drawbridge-auth-memory-unpinned', port: memoryUnpinned.ready.port, host: 'app.localhost', headers: { cookie: memoryUnpinned.ready.cookie }, upstream, expectUser: memoryUnpinned.ready.user, drawbridge: memoryUnpinned, pids: [memoryUnpinned.process.pid!], mode: 'unpinned' });

  // node-floor (bench/node-floor.ts) unpinned, on the unpinned rows' upstream: what the stack alone reaches here.
  const floorUnpinned = await startChild<{ port: number }>('./node-floor.ts', [`http://127.0.0.1:${upstream.ready.port}`], { cpu: pin.all });
  cleanups.push(() => floorUnpinned.stop());
  plans.push({ name: 'node-floor-unpinned', port: floorUnpinned.ready.port, host: 'bench.localhost', headers: {}, upstream, expectUser: null, pids: [floorUnpinned.process.pid!], mode: 'unpinned' });

  plans.push(await startWorkersRow({ pin, cleanups, ...(dist !== undefined ? { dist } : {}) }, { idp, port: workersPort, publicUrl, upstream, workers: BENCH_WORKERS }));
  return { idp, apache, apacheUnpinned, memoryUnpinned };
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The workers row's configuration: `drawbridge serve` with `workers: N`, the memory store, the dev IdP, one route. */
export function workersConfigText(o: { port: number; adminPort: number; publicUrl: string; issuer: string; upstream: string; workers: number | 'auto' | undefined }): string {
  return `${o.workers === undefined ? '' : `workers: ${o.workers}\n`}listen: "127.0.0.1:${o.port}"
publicUrl: ${o.publicUrl}
admin: { listen: "127.0.0.1:${o.adminPort}" }
idp:
  issuer: ${o.issuer}
  clientId: ${DRAWBRIDGE_CLIENT.clientId}
  clientSecret: ${DRAWBRIDGE_CLIENT.clientSecret}
  allowInsecureHttp: true
session:
  secret: ${BENCH_SESSION_SECRET}
  store: { type: memory, maxSessions: 100000 }
log: { level: info, format: json }
routes:
  - name: app
    from: http://app.localhost:${o.port}
    to: ${o.upstream}
    policy:
      allow:
        - groups: [engineering]
        - email: [admin@example.com]
      deny:
        - not: { ip: [127.0.0.0/8, 10.0.0.0/8] }
`;
}

/**
 * `drawbridge serve --config FILE` (the compiled build's main.js as bin/drawbridge.js runs dist/, or bin/drawbridge.js from
 * source without a build; logs to /dev/null) with `workers: auto`, unpinned,
 * signed in once through the dev IdP. Until the `workers` key exists (cluster mode), the configuration is refused
 * and the row is reported **invalid** with Drawbridge's own error: a failure, never a silent skip.
 */
export async function startWorkersRow(
  { pin, cleanups, dist }: Pick<BenchRun, 'pin' | 'cleanups' | 'dist'>,
  w: { idp: DevIdp; port: number; publicUrl: string; upstream: Child<{ port: number }>; workers: number | 'auto' | undefined; nodeArgs?: string[]; env?: Record<string, string> },
): Promise<RowPlan> {
  const name = 'drawbridge-auth-workers' as const;
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-bench-workers-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'drawbridge.yaml');
  writeFileSync(configFile, workersConfigText({ port: w.port, adminPort: await reservePort(), publicUrl: w.publicUrl, issuer: w.idp.issuer, upstream: `http://127.0.0.1:${w.upstream.ready.port}`, workers: w.workers }));
  // Unpinned: taskset over every CPU undoes the orchestrator's own pinning, which children inherit.
  // The build: what bin/drawbridge.js imports from dist/ (the Docker image), with its node flags; the cluster forks the
  // workers from it too.
  const entry = dist !== undefined ? join(dist, 'proxy/src/main.js') : join(ROOT, 'bin/drawbridge.js');
  const [cmd, args] = pinnedCommand(pin.all, process.execPath, [...(w.nodeArgs ?? drawbridgeChild({ dist }).nodeArgs), entry, 'serve', '--config', configFile]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DRAWBRIDGE_FROM_SOURCE: '1', ...(w.env ?? drawbridgeChild({ dist }).env) } });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  });
  const base: RowPlan = { name, port: w.port, host: `app.localhost:${w.port}`, headers: {}, upstream: w.upstream, expectUser: BENCH_LOGIN, pids: [], mode: 'unpinned' };
  const deadline = Date.now() + 60_000;
  while (!(await accepts(w.port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const why = child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : 'did not listen within 60 s';
      const invalid = `drawbridge serve with workers: ${w.workers ?? '(none)'} ${why}: ${stderr.trim().split('\n').slice(-3).join('; ') || 'no error output'}`;
      log(`${name}: FAILED: ${invalid}`);
      return { ...base, invalid };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The primary and its workers; not tsx's esbuild helper processes (the built image has none).
  const processes = () => [child.pid!, ...childPids(child.pid!).flatMap((p) => [p, ...childPids(p)])].filter((p) => commandName(p) === 'node');
  const origin = `http://app.localhost:${w.port}`;
  try {
    const jar = new CookieJarClient({ resolve: { 'app.localhost': '127.0.0.1', 'auth.localhost': '127.0.0.1' }, headers: { accept: 'text/html,application/xhtml+xml' } });
    const { response } = await signInAtIdp(jar, `${origin}/`, { login: BENCH_LOGIN, headers: { accept: 'text/html' } });
    if (response.status !== 200 || !response.url.startsWith(origin)) throw new Error(`sign-in ended with ${response.status} at ${response.url}: ${response.body.slice(0, 160)}`);
    const value = jar.cookies(`${origin}/`).drawbridge;
    if (value === undefined) throw new Error('sign-in set no drawbridge cookie on the route host');
    return { ...base, headers: { cookie: `drawbridge=${value}` }, pids: processes(), pidsNow: processes };
  } catch (e) {
    const invalid = `signing in through drawbridge serve with workers: ${w.workers ?? '(none)'} failed: ${(e as Error).message}`;
    log(`${name}: FAILED: ${invalid}`);
    return { ...base, invalid };
  }
}
