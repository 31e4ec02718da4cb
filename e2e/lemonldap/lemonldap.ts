// e2e/lemonldap/lemonldap.ts — a throw-away LemonLDAP::NG (Debian's lemonldap-ng) for tests: configured by
// setup.sh in a temporary directory, served by its own nginx and llng-fastcgi-server on a loopback port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reservePort } from '../../test-support/net.js';

const SETUP = fileURLToPath(new URL('./setup.sh', import.meta.url));
const FASTCGI_SERVER = '/usr/sbin/llng-fastcgi-server';
const INSTALL = 'apt-get install lemonldap-ng lemonldap-ng-fastcgi-server (.ci/run does)';
/** How long LL::NG may take to answer its discovery document after start (Perl compiles the portal on first use). */
const START_MS = 60_000;
const STOP_MS = 10_000;

/** Options of {@link startLemonLdap}: the relying party (Drawbridge) registered at the provider. */
export interface LemonLdapOptions {
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** Letters and digits only (LL::NG 2.16 never URL-decodes client credentials). Default `drawbridge`. */
  clientId?: string;
  /** Letters and digits only, 16 or more. Default: random. */
  clientSecret?: string;
  /** Access and ID token lifetime in seconds (default 3600); set it short to force refreshes. */
  accessTokenTtl?: number;
}

/** A running LemonLDAP::NG portal acting as OpenID Connect provider. */
export interface LemonLdap {
  /** `http://127.0.0.1:PORT` (the portal, and the issuer). */
  issuer: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /** The temporary directory holding its configuration, sessions and logs. */
  dir: string;
  /** What the FastCGI server (the portal's own log) and nginx's error log said so far. */
  logs(): string;
  /** Stops nginx and the FastCGI server and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

/** Why LemonLDAP::NG cannot run on this machine, or undefined when it can. */
export function lemonLdapMissing(): string | undefined {
  if (!existsSync(FASTCGI_SERVER)) return `${FASTCGI_SERVER} not found: ${INSTALL}`;
  if (!existsSync('/usr/share/perl5/Lemonldap/NG/Portal/Issuer/OpenIDConnect.pm')) return `the LemonLDAP::NG portal is not installed: ${INSTALL}`;
  if (!nginxBinary()) return 'nginx not found: apt-get install nginx';
  return undefined;
}

function nginxBinary(): string | undefined {
  return ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
}

/**
 * Configures and starts LemonLDAP::NG; resolves once its discovery document answers. Throws (never skips) when
 * lemonldap-ng is not installed or does not come up within a minute, with its logs in the message.
 */
export async function startLemonLdap(options: LemonLdapOptions): Promise<LemonLdap> {
  const missing = lemonLdapMissing();
  if (missing) throw new Error(`LemonLDAP::NG: ${missing}`);
  const clientId = options.clientId ?? 'drawbridge';
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('hex');
  // The port is chosen before nginx binds it (it is part of the configuration): on the rare clash, try another.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce({ ...options, clientId, clientSecret }, await reservePort());
    } catch (e) {
      lastError = e as Error;
      if (!(e instanceof PortTaken)) throw e;
    }
  }
  throw lastError!;
}

class PortTaken extends Error {}

async function startOnce(options: LemonLdapOptions & { clientId: string; clientSecret: string }, port: number): Promise<LemonLdap> {
  const dir = mkdtempSync(join(tmpdir(), 'drawbridge-llng-'));
  // llng-fastcgi-server refuses to run as root; nginx's worker must reach its socket.
  const runAs = process.getuid?.() === 0 ? 'www-data' : undefined;
  const args = [dir, '--port', String(port), '--client-id', options.clientId, '--client-secret', options.clientSecret];
  args.push('--redirect-uri', options.redirectUri, '--post-logout-redirect-uri', options.postLogoutRedirectUri);
  args.push('--access-token-ttl', String(options.accessTokenTtl ?? 3600));
  if (runAs) args.push('--run-as', runAs);
  const setup = spawnSync('bash', [SETUP, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (setup.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`LemonLDAP::NG setup.sh failed (${setup.status ?? setup.signal}): ${setup.stderr}${setup.stdout}`);
  }

  const output: string[] = [];
  const record = (child: ChildProcess) => {
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  };
  const fastcgi = spawn(
    FASTCGI_SERVER,
    ['--foreground', '--proc', '2', '--socket', join(dir, 'llng.sock'), '--pid', join(dir, 'llng.pid'), ...(runAs ? ['--user', runAs, '--group', runAs] : [])],
    { env: { ...process.env, LLNG_DEFAULTCONFFILE: join(dir, 'lemonldap-ng.ini') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  record(fastcgi);
  const nginx = spawn(nginxBinary()!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  record(nginx);
  const children = [fastcgi, nginx];
  const exited = new Map<ChildProcess, Promise<void>>(children.map((c) => [c, new Promise<void>((resolve) => c.once('exit', () => resolve()))]));

  const logs = () => {
    let text = output.join('');
    try {
      text += readFileSync(join(dir, 'nginx-error.log'), 'utf8');
    } catch {
      // not written yet
    }
    return text;
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const all = Promise.all(exited.values());
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_MS).unref());
      if ((await Promise.race([all, timer])) === 'timeout') for (const child of children) child.kill('SIGKILL');
      await all;
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const issuer = `http://127.0.0.1:${port}`;
  try {
    await waitForDiscovery(issuer, children);
  } catch (e) {
    const text = logs();
    await stop();
    if (/Address already in use/.test(text)) throw new PortTaken(`port ${port} is taken`);
    throw new Error(`LemonLDAP::NG did not start: ${(e as Error).message}\n--- its logs ---\n${text.slice(-6000)}`);
  }
  return { issuer, port, clientId: options.clientId, clientSecret: options.clientSecret, dir, logs, stop };
}

/** Polls the discovery document until it is JSON naming `issuer`; fails early when a process exits. */
async function waitForDiscovery(issuer: string, children: ChildProcess[]): Promise<void> {
  const end = Date.now() + START_MS;
  let last = 'no answer yet';
  while (Date.now() < end) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode})`);
    try {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      if (res.ok && (JSON.parse(text) as { issuer?: string }).issuer === issuer) return;
      last = `HTTP ${res.status}: ${text.slice(0, 200)}`;
      // The portal caches a failed initialisation for good: no point waiting for it to change its mind.
      if (/Initialization failed/.test(text)) throw new Error(last);
    } catch (e) {
      if ((e as Error).message === last) throw e;
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no discovery document within ${START_MS / 1000} s (last: ${last})`);
}

