// e2e/forward-auth-caddy.test.ts — forward-auth behind Debian's Caddy (docs/forward-auth.md, the Caddyfile block
// exactly as the page shows it, with this test's ports and host): `forward_auth` asks Drawbridge's
// `/.drawbridge/auth?redirect=1`, copies the identity headers, and passes a refusal to the client as it is;
// Drawbridge's own pages are proxied to it on the route host. A whole sign-in through Caddy (hand-off included),
// the deny answer, and identity headers a client sends never reaching the app.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, requestVia, reservePort, type PlainResponse } from '../test-support/net.js';
import { received, startStack, waitFor, type Stack } from '../test-support/stack.js';

const TIMEOUT = 60_000;
const caddyMissing = spawnSync('caddy', ['version'], { encoding: 'utf8' }).status === 0 ? undefined : 'caddy is not installed (.ci/run installs it)';

let stack: Stack;
let caddy: ChildProcess | undefined;
let caddyDir: string;
let caddyPort: number;
let caddyLog = '';

/** The Caddyfile block of docs/forward-auth.md with this test's site address, Drawbridge and app. */
function caddyfile(port: number, drawbridge: number, app: string): string {
  const doc = readFileSync(new URL('../docs/forward-auth.md', import.meta.url), 'utf8');
  const block = /```caddyfile\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/forward-auth.md has a caddyfile block');
  const edits: [string, string][] = [
    ['legacy.example.com {', `http://legacy.localhost:${port} {\n\tbind 127.0.0.1`],
    ['reverse_proxy drawbridge:8080', `reverse_proxy 127.0.0.1:${drawbridge}`],
    ['forward_auth drawbridge:8080 {', `forward_auth 127.0.0.1:${drawbridge} {`],
    ['reverse_proxy 10.0.0.5:8080', `reverse_proxy ${app}`],
  ];
  let site = block;
  for (const [from, to] of edits) {
    assert.ok(site.includes(from), `the caddyfile block has ${from}`);
    site = site.replace(from, to);
  }
  return `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`;
}

before(async () => {
  if (caddyMissing) return;
  caddyPort = await reservePort();
  const routes = `routes:
  - name: legacy
    from: http://legacy.localhost:${caddyPort}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
`;
  stack = await startStack({ routes, extra: 'trustedProxies: [127.0.0.1/32]' });
  caddyDir = mkdtempSync(join(tmpdir(), 'drawbridge-e2e-caddy-'));
  const file = join(caddyDir, 'Caddyfile');
  writeFileSync(file, caddyfile(caddyPort, stack.port, new URL(stack.app.url).host));
  // Caddy keeps its data and configuration under $HOME/XDG dirs: all inside the test's directory.
  const env = { ...process.env, HOME: caddyDir, XDG_DATA_HOME: join(caddyDir, 'data'), XDG_CONFIG_HOME: join(caddyDir, 'config') };
  caddy = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  caddy.stdout!.on('data', (d: Buffer) => (caddyLog += d.toString()));
  caddy.stderr!.on('data', (d: Buffer) => (caddyLog += d.toString()));
  const exited = new Promise<void>((resolve) => caddy!.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(async () => gone || (await accepts(caddyPort)), 30_000);
  assert.ok(!gone, `caddy exited:\n${caddyLog}`);
});

after(async () => {
  if (caddy && caddy.exitCode === null) {
    const exited = new Promise<void>((resolve) => caddy!.once('exit', () => resolve()));
    caddy.kill('SIGTERM');
    const timer = setTimeout(() => caddy?.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  if (caddyDir) rmSync(caddyDir, { recursive: true, force: true });
  await stack?.close();
});

const legacy = (path: string) => `http://legacy.localhost:${caddyPort}${path}`;

/** A request to Caddy with exactly these headers. */
function viaCaddy(path: string, headers: Record<string, string>): Promise<PlainResponse> {
  return requestVia(caddyPort, `legacy.localhost:${caddyPort}`, path, headers);
}

test('Caddy forward_auth: a browser without a session is sent to sign in on the route host; signed in, it gets the deep link with the identity Drawbridge decided', { skip: caddyMissing, timeout: TIMEOUT }, async () => {
  const first = await viaCaddy('/reports/q3?x=1', { accept: 'text/html' });
  assert.equal(first.status, 302, `${first.status} ${first.body.slice(0, 200)}\n${caddyLog}`);
  const location = new URL(String(first.headers.location), legacy('/'));
  assert.equal(location.origin, `http://legacy.localhost:${caddyPort}`, 'the sign-in starts on the route host, through Caddy');
  assert.equal(location.pathname, '/.drawbridge/sign_in');

  // The whole flow through Caddy: the route host's sign-in start (binding cookie), the IdP, the hand-off back to
  // the route host, and the deep link again, now admitted.
  const client = stack.browser();
  const marker = `caddy-${Date.now()}`;
  const signedIn = await stack.signIn(client, legacy(`/reports/${marker}?x=1`), 'alice');
  assert.equal(signedIn.response.status, 200, signedIn.response.body.slice(0, 300));
  assert.equal(new URL(signedIn.response.url).href, legacy(`/reports/${marker}?x=1`));
  const seen = received(stack.app, marker);
  assert.ok(seen.length >= 1, 'the app got the deep link');
  const last = seen.at(-1)!;
  assert.equal(last.headers['x-forwarded-user'], 'alice', 'the identity forward_auth copied (docs: in a `route` block)');
  assert.ok(String(last.headers['x-drawbridge-assertion'] ?? '').split('.').length === 3, 'the assertion was copied');

  // Signed in, a client-sent identity is replaced: the app sees only what Drawbridge decided.
  const cookie = Object.entries(client.cookies(legacy('/')))
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
  const spoof = `caddy-spoof-in-${Date.now()}`;
  const r = await viaCaddy(`/x/${spoof}`, { cookie, 'x-forwarded-user': 'mallory', 'x-forwarded-groups': 'admins', 'x-drawbridge-assertion': 'forged.forged.forged' });
  assert.equal(r.status, 200);
  const got = received(stack.app, spoof).at(-1)!;
  assert.equal(got.headers['x-forwarded-user'], 'alice');
  assert.doesNotMatch(String(got.headers['x-forwarded-groups']), /admins/);
  assert.notEqual(got.headers['x-drawbridge-assertion'], 'forged.forged.forged');
});

test('Caddy forward_auth: identity headers a client sends never reach the app, and the policy denies through Caddy', { skip: caddyMissing, timeout: TIMEOUT }, async () => {
  const client = stack.browser();
  await stack.signIn(client, legacy('/'), 'bob');
  const cookie = Object.entries(client.cookies(legacy('/')))
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
  assert.ok(cookie, 'a session cookie on the route host');
  // bob is not in engineering: 403 from Drawbridge, passed on by Caddy; the app is never asked.
  const marker = `caddy-deny-${Date.now()}`;
  const denied = await viaCaddy(`/x/${marker}`, { cookie, accept: 'application/json', 'x-forwarded-user': 'alice' });
  assert.equal(denied.status, 403, denied.body.slice(0, 200));
  assert.equal(JSON.parse(denied.body).error, 'forbidden');
  assert.deepEqual(received(stack.app, marker), []);
  // Without a session, a client-sent identity is stripped by Caddy and refused by Drawbridge: never at the app.
  const spoof = `caddy-spoof-${Date.now()}`;
  const anonymous = await viaCaddy(`/x/${spoof}`, { accept: 'application/json', 'x-forwarded-user': 'alice', 'x-drawbridge-assertion': 'forged.forged.forged' });
  assert.equal(anonymous.status, 401);
  assert.deepEqual(received(stack.app, spoof), []);
});
