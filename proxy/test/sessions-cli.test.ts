// proxy/test/sessions-cli.test.ts — `drawbridge sessions list|revoke` against a running Drawbridge (SPEC §1):
// with a memory store through the admin listener, with a redis store directly; listings never show a token
// or a session id, and a revoked session is gone at the next request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../src/cli/index.js';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { startRedis, type TestRedis } from '../../test-support/redis.js';
import { sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const HTML = { accept: 'text/html' };
const ROUTES = `routes:
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
`;

async function cli(args: string[]): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) }, env: {} });
  return { code, stdout, stderr };
}

/**
 * A copy of the stack's configuration whose `admin.listen` is the admin listener actually running (the stack
 * asks for port 0), as an operator's file names the real address.
 */
function configWithRealAdmin(s: Stack): string {
  const port = new URL(s.db.adminUrl!).port;
  const text = readFileSync(s.configFile, 'utf8');
  const fixed = text.replace(/admin: \{ listen: "127\.0\.0\.1:0" \}/, `admin: { listen: "127.0.0.1:${port}" }`);
  assert.notEqual(fixed, text, 'the admin address was rewritten');
  const file = join(dirname(s.configFile), 'drawbridge-cli.yaml');
  writeFileSync(file, fixed);
  return file;
}

async function signedIn(s: Stack, login: string): Promise<CookieJarClient> {
  const b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', '/'), login);
  assert.equal(response.status, 200, `${login} signed in`);
  return b;
}

/** 302 once the browser's session has ended (sent to sign in); 200 while it lives. */
async function status(s: Stack, b: CookieJarClient): Promise<number> {
  const r = await b.get(s.url('app.localhost', '/'), { headers: HTML, redirect: 'manual' });
  if (r.status === 302) assert.ok(r.location?.startsWith(`${new URL(s.url('app.localhost')).origin}/.drawbridge/sign_in?`), r.location);
  return r.status;
}

/** Everything secret a session holds: its id, its cookie, its IdP tokens. None may appear in a listing. */
async function secretsOf(s: Stack, b: CookieJarClient, login: string): Promise<string[]> {
  const secrets = [sessionCookie(b, s.url('app.localhost'))!];
  for (const r of await s.db.store.list({ user: login })) {
    secrets.push(r.id, ...[r.tokens.idToken, r.tokens.accessToken, r.tokens.refreshToken].filter((t): t is string => typeof t === 'string'));
    if (r.idpSid) secrets.push(r.idpSid);
  }
  return secrets.filter(Boolean);
}

/** The same commands, against whichever store the stack has; `file` is the configuration they read. */
function suite(name: string, setup: () => Promise<{ s: Stack; file: string }>): void {
  describe(name, () => {
    let s: Stack;
    let file: string;

    before(async () => {
      ({ s, file } = await setup());
    });

    after(async () => {
      await s?.close();
    });

    test('list shows alice\u2019s session — user, email, times, a hashed sid — and never a token or the session id', { timeout: 30_000 }, async () => {
      const alice = await signedIn(s, 'alice');
      const listed = await cli(['sessions', 'list', '--config', file]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^SID +USER +EMAIL +LAST SEEN +EXPIRES/m);
      const row = listed.stdout.split('\n').find((l) => / alice +alice@example\.com /.test(l));
      assert.ok(row, listed.stdout);
      assert.match(listed.stdout, /^1 session$/m);
      const json = await cli(['sessions', 'list', '--user', 'alice', '--json', '--config', file]);
      assert.equal(json.code, 0, json.stderr);
      const rows = JSON.parse(json.stdout);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].user, 'alice');
      assert.equal(rows[0].email, 'alice@example.com');
      assert.deepEqual(rows[0].groups, ['engineering']);
      assert.ok(row.startsWith(rows[0].sid), 'the table and the JSON name the same sid');
      for (const t of ['createdAt', 'lastSeenAt', 'expiresAt']) assert.ok(!Number.isNaN(Date.parse(rows[0][t])), t);
      for (const secret of await secretsOf(s, alice, 'alice')) {
        assert.ok(!listed.stdout.includes(secret) && !json.stdout.includes(secret), 'no session id, cookie or IdP token is shown');
      }
      assert.deepEqual(Object.keys(rows[0]).sort(), ['createdAt', 'email', 'expiresAt', 'groups', 'lastSeenAt', 'sid', 'user']);
      const nobody = await cli(['sessions', 'list', '--user', 'nobody', '--config', file]);
      assert.match(nobody.stdout, /^0 sessions$/m);
      assert.equal(await status(s, alice), 200, 'listing changes nothing');
    });

    test('revoke --user alice ends her sessions (next request → sign-in) and nobody else\u2019s', { timeout: 30_000 }, async () => {
      const alice = await signedIn(s, 'alice');
      const alice2 = await signedIn(s, 'alice');
      const carol = await signedIn(s, 'carol');
      const before = (await s.db.store.list({ user: 'alice' })).length;
      assert.ok(before >= 2);
      const revoked = await cli(['sessions', 'revoke', '--user', 'alice', '--config', file]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal(revoked.stdout, `${before} sessions revoked\n`);
      assert.equal(await status(s, alice), 302);
      assert.equal(await status(s, alice2), 302);
      assert.equal(await status(s, carol), 200, 'carol keeps her session');
      const listed = await cli(['sessions', 'list', '--user', 'alice', '--config', file]);
      assert.match(listed.stdout, /^0 sessions$/m);
    });

    test('revoke --all ends every session; revoke without --user or --all is refused', { timeout: 30_000 }, async () => {
      const alice = await signedIn(s, 'alice');
      const bob = await signedIn(s, 'bob');
      const refused = await cli(['sessions', 'revoke', '--config', file]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /--user U, or --all/);
      assert.equal(await status(s, alice), 200, 'nothing was revoked');
      const count = (await s.db.store.list()).length;
      assert.ok(count >= 2);
      const all = await cli(['sessions', 'revoke', '--all', '--config', file]);
      assert.equal(all.code, 0, all.stderr);
      assert.equal(all.stdout, `${count} sessions revoked\n`);
      assert.equal(await status(s, alice), 302);
      assert.equal(await status(s, bob), 302, 'bob must sign in again');
      assert.match((await cli(['sessions', 'list', '--config', file])).stdout, /^0 sessions$/m);
    });
  });
}

suite('memory store, through the admin listener', async () => {
  const s = await startStack({ routes: ROUTES });
  return { s, file: configWithRealAdmin(s) };
});

let redis: TestRedis | undefined;
suite('redis store, directly', async () => {
  redis = await startRedis();
  const s = await startStack({ routes: ROUTES, store: `store: { type: redis, url: "${redis.url}" }`, adminListen: false });
  const close = s.close.bind(s);
  s.close = async () => {
    await close();
    await redis?.stop();
  };
  // The stack's own file: the CLI reaches Redis with the URL and secret it names; no Drawbridge is asked.
  return { s, file: s.configFile };
});

test('a memory store with no Drawbridge running: a clear error, not a hang', { timeout: 30_000 }, async () => {
  const s = await startStack({ noIdp: true });
  const file = configWithRealAdmin(s);
  await s.close();
  const r = await cli(['sessions', 'list', '--config', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /admin listener .* did not answer/);
});
