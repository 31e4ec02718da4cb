// e2e/assertion-verifiers.test.ts — the assertion verifiers of examples/verify-assertion/ (Python, PHP, Go, Java;
// docs/assertion.md shows them) run as child processes against a live Drawbridge over real sockets: a real assertion
// verifies and gives its claims; a tampered signature, another algorithm, another audience, an expired token and a
// token from the future are refused; after a key rotation the verifier fetches the JWKS again for the unknown kid
// (counted in Drawbridge's request log), at most once per cooldown, and again when its keys are older than their
// maximum age. Time is the `NOW` each line passes (no sleeps). A language is skipped only when its runtime is missing.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test, type TestContext } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { received, startReplica, startStack, waitFor, type Replica, type Stack } from '../test-support/stack.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples/verify-assertion');
/** The verifiers' clock leeway and the cooldown the harness is given (seconds). */
const LEEWAY = 30;
const COOLDOWN = 5;
const MAX_AGE = 600;
/** Compiling Go and Java on a busy 2-core machine is slow: once, in `before`, bounded. */
const BUILD_MS = 180_000;
const LIMIT = { timeout: 240_000 };

let s: Stack;
let replica: Replica;
let dir: string;
let appOrigin: string;
let jwksUrl: string;
/** Signed by the first key (kid1) for the `app` route, by the same key for the `other` route, by the rotated key. */
let token1: string;
let tokenOther: string;
let token2: string;

interface Command {
  command: string;
  args: string[];
  cwd: string;
}
/** How to run each language's harness, or why it cannot run here. */
const harness = new Map<string, Promise<Command | { skip: string }>>();

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, timeout: options.timeout ?? 30_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      resolve({ ok: !error, out: `${stdout}${stderr}${error && !stderr ? error.message : ''}` });
    });
  });
}

/** Whether `command` exists on PATH (runs `command args`, e.g. `--version`). */
async function has(command: string, args: string[]): Promise<boolean> {
  return (await run(command, args)).ok;
}

function prepareHarnesses(): void {
  const python = join(EXAMPLES, 'python');
  harness.set(
    'python',
    (async () => {
      if (!(await has('python3', ['--version']))) return { skip: 'python3 is not installed' };
      if (!(await has('python3', ['-c', 'import cryptography.hazmat.primitives.asymmetric.ec']))) return { skip: 'python3-cryptography is not installed (.ci/run installs it)' };
      return { command: 'python3', args: ['verify_cli.py'], cwd: python };
    })(),
  );
  harness.set(
    'php',
    (async () => {
      if (!(await has('php', ['--version']))) return { skip: 'php is not installed (Debian: php-cli)' };
      if (!(await has('php', ['-r', 'exit(function_exists("openssl_verify") ? 0 : 1);']))) return { skip: "php's openssl extension is missing" };
      return { command: 'php', args: ['verify_cli.php'], cwd: join(EXAMPLES, 'php') };
    })(),
  );
  harness.set(
    'go',
    (async () => {
      if (!(await has('go', ['version']))) return { skip: 'go is not installed (Debian: golang-go)' };
      // Offline (the example needs no module), with a build cache even where HOME is not set.
      const env = { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod', ...(process.env.HOME || process.env.GOCACHE ? {} : { GOCACHE: join(dir, 'go-cache') }) };
      const binary = join(dir, 'verify-go');
      const build = await run('go', ['build', '-o', binary, '.'], { cwd: join(EXAMPLES, 'go'), env, timeout: BUILD_MS });
      assert.ok(build.ok, `go build: ${build.out}`);
      return { command: binary, args: [], cwd: dir };
    })(),
  );
  harness.set(
    'java',
    (async () => {
      if (!(await has('javac', ['-version'])) || !(await has('java', ['-version']))) return { skip: 'java and javac are not installed (Debian: default-jdk-headless)' };
      const classes = join(dir, 'java-classes');
      const build = await run('javac', ['-Xlint:all', '-Werror', '-d', classes, 'DrawbridgeAssertion.java', 'VerifyCli.java'], { cwd: join(EXAMPLES, 'java'), timeout: BUILD_MS });
      assert.ok(build.ok, `javac: ${build.out}`);
      return { command: 'java', args: ['-cp', classes, 'VerifyCli'], cwd: dir };
    })(),
  );
}

/** A verifier process: one JSON answer per `TOKEN NOW` line. */
class Verifier {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  private stderr = '';
  private exited = false;

  constructor(cmd: Command, issuer = s.publicUrl) {
    this.child = spawn(cmd.command, [...cmd.args, jwksUrl, issuer, appOrigin, String(COOLDOWN)], {
      cwd: cmd.cwd,
      // Nothing written into the repository (no __pycache__ beside the example).
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    const ended = () => {
      this.exited = true;
      this.waiting?.('');
    };
    // 'close': after the process exited and its output was read to the end.
    this.child.on('close', ended);
    this.child.on('error', (error) => {
      this.stderr += error.message;
      ended();
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (this.waiting) this.waiting(line);
      else this.lines.push(line);
    });
  }

  /** Verifies `token` as of `now` (seconds since the epoch). */
  async verify(token: string, now: number): Promise<{ ok: boolean; claims?: Record<string, unknown>; error?: string }> {
    this.child.stdin.write(`${token} ${now}\n`);
    const line =
      this.lines.shift() ??
      (await new Promise<string>((resolve, reject) => {
        if (this.exited) return resolve('');
        const timer = setTimeout(() => reject(new Error(`no answer within 60 s; stderr: ${this.stderr}`)), 60_000);
        this.waiting = (l) => {
          clearTimeout(timer);
          this.waiting = undefined;
          resolve(l);
        };
      }));
    assert.ok(line, `the verifier exited; stderr: ${this.stderr}`);
    return JSON.parse(line) as { ok: boolean; claims?: Record<string, unknown>; error?: string };
  }

  close(): void {
    this.child.stdin.end();
    if (!this.exited) this.child.kill();
  }
}

/** Requests for the JWKS that reached Drawbridge (the first instance and the rotated replica). */
function jwksFetches(): number {
  return [...s.logs, ...(replica?.logs ?? [])].filter((l) => l.event === 'request' && l.path === '/.drawbridge/jwks.json').length;
}

/** The assertion the sample app received for the request carrying `marker`. */
function assertionOf(marker: string): string {
  const token = received(s.app, marker).at(-1)?.headers['x-drawbridge-assertion'];
  assert.ok(typeof token === 'string' && token.split('.').length === 3, `an assertion reached the app for ${marker}`);
  return token;
}

async function signedInAssertion(host: string, marker: string): Promise<string> {
  const browser = s.browser();
  const { response } = await s.signIn(browser, s.url(host, `/?${marker}`), 'alice');
  assert.equal(response.status, 200);
  return assertionOf(marker);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drawbridge-verifiers-'));
  prepareHarnesses();
  // A build that fails fails its language's test, when it awaits the promise; not the process now.
  for (const ready of harness.values()) ready.catch(() => undefined);
  const first = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const second = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writeFileSync(join(dir, 'first.pem'), first.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(join(dir, 'first.pub.pem'), first.publicKey.export({ format: 'pem', type: 'spki' }));
  writeFileSync(join(dir, 'second.pem'), second.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  s = await startStack({
    balancer: true,
    extra: `assertion: { keyFile: ${join(dir, 'first.pem')} }`,
    routes: `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { groups: [engineering] } ] }
  - name: other
    from: http://other.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { groups: [engineering] } ] }
`,
  });
  // The sample app verifies assertions itself, fetching the JWKS: not here, so that every fetch counted is a verifier's.
  s.app.setAssertionCheck({});
  appOrigin = `http://app.localhost:${s.port}`;
  jwksUrl = `http://127.0.0.1:${s.port}/.drawbridge/jwks.json`;
  token1 = await signedInAssertion('app.localhost', 'verifiers-first');
  tokenOther = await signedInAssertion('other.localhost', 'verifiers-other');

  // The rotation: a second instance signs with a new key and still publishes the first one (assertion.previousKeys).
  // It is started on the same (rewritten) file, and the load balancer sends new connections to it while a test
  // verifies the rotated token; every other time they go to the first instance, whose JWKS has the first key only.
  const text = readFileSync(s.configFile, 'utf8');
  writeFileSync(s.configFile, text.replace(/^assertion: .*$/m, `assertion: { keyFile: ${join(dir, 'second.pem')}, previousKeys: [${join(dir, 'first.pub.pem')}] }`));
  replica = await startReplica(s);
  s.balancer!.target = replica.db.port;
  token2 = await signedInAssertion('app.localhost', 'verifiers-rotated');
  s.balancer!.target = s.db.port;
  assert.notEqual(decodeProtectedHeader(token2).kid, decodeProtectedHeader(token1).kid, 'the rotated token has another kid');
  assert.equal(jwksFetches(), 0, 'nothing fetched the JWKS yet');
}, LIMIT);

after(async () => {
  await replica?.close();
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Sends new connections to `port`, and ends idle keep-alive connections to the other instance. */
function rotateTo(which: 'first' | 'replica'): void {
  const [to, from] = which === 'replica' ? [replica.db, s.db] : [s.db, replica.db];
  s.balancer!.target = to.port;
  (from.server as Server).closeIdleConnections();
}

/** A token with another header (same payload and signature): `alg` and `kid` as given. */
function withHeader(token: string, header: Record<string, unknown>): string {
  const [, payload, signature] = token.split('.');
  return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${payload}.${signature}`;
}

/** The token with one character of its signature changed (in the middle: every bit there counts). */
function tampered(token: string): string {
  const at = token.lastIndexOf('.') + 20;
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

async function scenario(language: string, t: TestContext): Promise<void> {
  const cmd = await harness.get(language)!;
  if ('skip' in cmd) {
    t.skip(cmd.skip);
    return;
  }
  const v = new Verifier(cmd);
  try {
    const claims1 = decodeJwt(token1);
    const exp = claims1.exp!;
    const iat = claims1.iat!;
    const T = Math.max(Math.floor(Date.now() / 1000), iat);
    const base = jwksFetches();

    // A real assertion: verified, its claims returned as they were signed; the JWKS fetched once.
    const valid = await v.verify(token1, T);
    assert.deepEqual(valid, { ok: true, claims: claims1 }, JSON.stringify(valid));
    assert.equal(valid.claims!.aud, appOrigin);
    assert.equal(valid.claims!.user, 'alice');
    await waitFor(() => jwksFetches() === base + 1, 10_000);

    // The key rotates now (new connections go to the instance with the new key; idle keep-alive connections to the
    // first are closed, which the verifiers see during the next lines, none of which fetches the JWKS).
    rotateTo('replica');

    // Refused: a changed signature, changed claims, another algorithm, a crit header, no kid, a token for another application.
    const forged = await v.verify(tampered(token1), T);
    assert.equal(forged.ok, false);
    assert.match(forged.error!, /signature/i);
    const [head, , sig] = token1.split('.');
    const mallory = `${head}.${Buffer.from(JSON.stringify({ ...claims1, user: 'mallory', groups: ['admins'] })).toString('base64url')}.${sig}`;
    const changedClaims = await v.verify(mallory, T);
    assert.equal(changedClaims.ok, false);
    assert.match(changedClaims.error!, /signature/i);
    const crit = await v.verify(withHeader(token1, { ...decodeProtectedHeader(token1), crit: ['exp'] }), T);
    assert.equal(crit.ok, false);
    assert.match(crit.error!, /crit/i);
    const noKid = await v.verify(withHeader(token1, { alg: 'ES256', typ: 'JWT' }), T);
    assert.equal(noKid.ok, false);
    assert.match(noKid.error!, /kid/i);
    const hs256 = await v.verify(withHeader(token1, { ...decodeProtectedHeader(token1), alg: 'HS256' }), T);
    assert.equal(hs256.ok, false);
    assert.match(hs256.error!, /alg/i);
    const none = await v.verify(withHeader(token1, { alg: 'none', typ: 'JWT' }).replace(/\.[^.]*$/, '.'), T);
    assert.equal(none.ok, false);
    const otherApp = await v.verify(tokenOther, T);
    assert.equal(otherApp.ok, false);
    assert.match(otherApp.error!, /aud/i);

    // Time: the leeway after exp, expired beyond it, issued in the future.
    assert.equal((await v.verify(token1, exp + LEEWAY - 1)).ok, true, 'within the leeway');
    const expired = await v.verify(token1, exp + LEEWAY);
    assert.equal(expired.ok, false);
    assert.match(expired.error!, /expired/i);
    const early = await v.verify(token1, iat - LEEWAY - 1);
    assert.equal(early.ok, false);
    assert.match(early.error!, /future/i);
    assert.equal(jwksFetches(), base + 1, 'known keys are not fetched again');

    // The rotation: the new kid is unknown, so the JWKS is fetched again (from the instance that rotated).
    const rotated = await v.verify(token2, T + COOLDOWN + 1);
    assert.deepEqual(rotated, { ok: true, claims: decodeJwt(token2) }, JSON.stringify(rotated));
    await waitFor(() => jwksFetches() === base + 2, 10_000);
    assert.equal((await v.verify(token1, T + COOLDOWN + 1)).ok, true, 'the previous key is still published');
    // A kid nobody publishes: within the cooldown, no fetch; after it, one fetch; refused both times.
    const unknown = withHeader(token1, { alg: 'ES256', kid: 'retired-key', typ: 'JWT' });
    const within = await v.verify(unknown, T + COOLDOWN + 2);
    assert.equal(within.ok, false);
    assert.match(within.error!, /kid/i);
    assert.equal(jwksFetches(), base + 2, 'no fetch within the cooldown');
    const later = await v.verify(unknown, T + 2 * COOLDOWN + 2);
    assert.equal(later.ok, false);
    assert.match(later.error!, /kid/i);
    await waitFor(() => jwksFetches() === base + 3, 10_000);
    // Keys older than their maximum age are fetched again before use (here the token has expired by then).
    const stale = await v.verify(token2, T + 2 * COOLDOWN + 2 + MAX_AGE);
    assert.equal(stale.ok, false);
    assert.match(stale.error!, /expired/i);
    await waitFor(() => jwksFetches() === base + 4, 10_000);
    assert.equal(jwksFetches(), base + 4);

    // A verifier that expects another Drawbridge (another issuer) refuses this one's tokens.
    const elsewhere = new Verifier(cmd, 'https://auth.example.com');
    try {
      const wrongIssuer = await elsewhere.verify(token1, T);
      assert.equal(wrongIssuer.ok, false);
      assert.match(wrongIssuer.error!, /iss/i);
    } finally {
      elsewhere.close();
    }
  } finally {
    v.close();
    rotateTo('first');
  }
}

for (const language of ['python', 'php', 'go', 'java']) {
  test(`the ${language} verifier: claims of a real assertion; refuses forged, other-alg, other-audience, other-issuer, expired and future tokens; fetches the JWKS again for an unknown kid, at most once per cooldown`, LIMIT, (t) => scenario(language, t));
}
