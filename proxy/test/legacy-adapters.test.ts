// proxy/test/legacy-adapters.test.ts — identity placeholders in setRequestHeaders and upstreamAuth.basic over real
// sockets, as the sample app receives them: REMOTE_USER-style headers and Basic credentials for the signed-in user;
// a client can never pre-set them (any spelling, anonymous or signed in), its own Authorization never reaches the
// upstream on a Basic route, and claims holding CR/LF, ":", non-ASCII or megabytes inject nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedRequest } from '../../e2e/sample-app/sample-app.js';
import { head, headerValues, sendRaw, type WireResponse } from '../../test-support/raw.js';
import { sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'drawbridge-legacy-'));
const passwordFile = join(dir, 'legacy-password');

const ROUTES = `routes:
  - name: legacy
    from: http://legacy.localhost:{{PORT}}
    to: {{APP}}
    setRequestHeaders:
      Remote-User: "{user}"
      X-Remote-Name: "{name}"
      X-Remote-Dept: "dept={claim:department}"
      X-Remote-Roles: "{claim:roles}"
      X-Remote-Groups: "{groups}"
      X-App-Key: static-value
    upstreamAuth:
      basic: { user: "{user}", passwordFile: "${passwordFile}" }
    policy:
      allow:
        - authenticated: true
  - name: public
    from: http://pub.localhost:{{PORT}}
    to: {{APP}}
    public: true
    setRequestHeaders: { Remote-User: "{user}", X-App-Key: static-value }
    upstreamAuth:
      basic: { user: "{user}", passwordFile: "${passwordFile}" }
  - name: plain
    from: http://legacy.localhost:{{PORT}}/plain
    to: {{APP}}
    stripPrefix: true
    policy:
      allow:
        - authenticated: true
`;

// Claims the assertion does not carry (the sample app, like most servers, refuses requests with over 16 KB of
// headers). Over the 8 KiB cap: plainly, and only once percent-encoded (3,000 × "é" is 6,000 bytes raw, 18,000 encoded).
const HUGE = 'h'.repeat(9_000);
const HUGE_ENCODED = 'é'.repeat(3_000);
const ACCOUNTS = [
  { login: 'crlf', claims: { preferred_username: 'crlf\r\nX-Injected: 1', name: 'Mal\r\nRemote-User: admin', department: 'ops\nX-Injected: 2', email: 'crlf@example.com', email_verified: true, groups: ['a\r\nX-Injected: 3'] } },
  { login: 'colon', claims: { preferred_username: 'admin:x', name: 'Colon', department: 'a:b', email: 'colon@example.com', email_verified: true, groups: [] } },
  { login: 'unicode', claims: { preferred_username: 'zoé', name: 'Zoë 日本 100%', department: 'ingénierie', roles: ['r,1', 'r2'], email: 'zoe@example.com', email_verified: true, groups: ['g1'] } },
  { login: 'huge', claims: { preferred_username: 'huge', name: 'Huge', department: HUGE, roles: [HUGE_ENCODED], email: 'huge@example.com', email_verified: true, groups: [] } },
];

let s: Stack;
const cookies = new Map<string, string>();

before(async () => {
  writeFileSync(passwordFile, 'pässword:1\n');
  s = await startStack({ routes: ROUTES, idpOptions: { accounts: ACCOUNTS } });
});

after(async () => {
  await s?.close();
});

async function cookieOf(login: string): Promise<string> {
  let cookie = cookies.get(login);
  if (cookie) return cookie;
  const b = s.browser();
  const r = await s.signIn(b, s.url('legacy.localhost', '/'), login);
  assert.equal(r.response.status, 200, `${login} signed in: ${r.response.body.slice(0, 200)}`);
  cookie = sessionCookie(b, s.url('legacy.localhost'))!;
  assert.ok(cookie);
  cookies.set(login, cookie);
  return cookie;
}

/** GET /echo on `host`, as `login` (or anonymous) with `extra` header lines: the answer and what the upstream received. */
async function probe(host: string, login: string | undefined, extra: string[] = [], path = '/echo'): Promise<{ response: WireResponse; upstream?: RecordedRequest }> {
  const cookie = login ? await cookieOf(login) : undefined;
  const before = s.app.requests.length;
  const logsBefore = s.logs.length;
  const ex = await sendRaw(s.port, head(`GET ${path} HTTP/1.1`, `Host: ${host}.localhost:${s.port}`, 'Accept: application/json', ...(cookie ? [`Cookie: drawbridge=${cookie}`] : []), ...extra, 'Connection: close'));
  await waitFor(() => s.logs.slice(logsBefore).some((l) => l.event === 'request'), 3000);
  const upstream = s.app.requests.slice(before).find((r) => r.url === '/echo');
  return { response: ex.first, ...(upstream ? { upstream } : {}) };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
/** Every header the upstream got, one string, for injection checks. */
const rawText = (r: RecordedRequest) => r.rawHeaders.join('\n');

/** Spellings a client might use to pre-set what the upstream reads as identity (CGI folds `_` and `-`). */
const SPOOF = ['Remote-User: admin', 'remote_user: admin', 'REMOTE-USER: admin', 'X-Remote-Dept: dept=finance', 'X-Remote-Groups: admins', 'Authorization: Basic YWRtaW46YWRtaW4='];

describe('placeholders and Basic credentials reach the upstream', () => {
  test('alice: REMOTE_USER-style headers from her identity, Basic auth for her, the fixed value as written', async () => {
    const { response, upstream } = await probe('legacy', 'alice');
    assert.equal(response.status, 200);
    const h = upstream!.headers;
    assert.equal(h['remote-user'], 'alice');
    assert.equal(h['x-remote-name'], 'Alice Example');
    assert.equal(h['x-remote-groups'], 'engineering');
    assert.equal(h['x-app-key'], 'static-value');
    // No department, no roles claim: those headers are not sent at all.
    assert.equal(h['x-remote-dept'], undefined);
    assert.equal(h['x-remote-roles'], undefined);
    assert.equal(h.authorization, basic('alice', 'pässword:1'));
  });

  test('non-ASCII and array claims are percent-encoded in headers and UTF-8 in Basic credentials', async () => {
    const { upstream } = await probe('legacy', 'unicode');
    const h = upstream!.headers;
    assert.equal(h['remote-user'], 'zo%C3%A9');
    assert.equal(h['x-remote-name'], 'Zo%C3%AB %E6%97%A5%E6%9C%AC 100%25');
    assert.equal(h['x-remote-dept'], 'dept=ing%C3%A9nierie');
    assert.equal(h['x-remote-roles'], 'r%2C1,r2');
    assert.equal(h.authorization, basic('zoé', 'pässword:1'));
  });
});

describe('a client cannot pre-set them', () => {
  test('signed in: every spelling of the templated headers and its own Authorization are replaced', async () => {
    const { upstream } = await probe('legacy', 'alice', SPOOF);
    const raw = rawText(upstream!);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'remote-user'), ['alice']);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'x-remote-dept'), []);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'x-remote-groups'), ['engineering']);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'authorization'), [basic('alice', 'pässword:1')]);
    assert.doesNotMatch(raw, /admin|finance/);
  });

  test('anonymous on a public route: the placeholders have no value, so nothing is sent, and the client\'s copies are gone', async () => {
    const { response, upstream } = await probe('pub', undefined, SPOOF);
    assert.equal(response.status, 200);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'remote-user'), []);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'authorization'), []);
    assert.equal(upstream!.headers['x-app-key'], 'static-value');
    assert.doesNotMatch(rawText(upstream!), /admin|finance/);
  });

  test('a templated name is an identity header on every route: stripped on a route that does not set it', async () => {
    const { upstream } = await probe('legacy', 'alice', SPOOF, '/plain/echo');
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'remote-user'), []);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'x-remote-dept'), []);
    // Authorization is the client's own on a route without upstreamAuth (Drawbridge did not consume it).
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'authorization'), ['Basic YWRtaW46YWRtaW4=']);
  });
});

describe('claims that try to inject', () => {
  test('CR/LF in the user, name, a claim and a group: encoded, no extra header line upstream', async () => {
    const { response, upstream } = await probe('legacy', 'crlf');
    assert.equal(response.status, 200);
    const h = upstream!.headers;
    assert.equal(h['remote-user'], 'crlf%0D%0AX-Injected: 1');
    assert.equal(h['x-remote-name'], 'Mal%0D%0ARemote-User: admin');
    assert.equal(h['x-remote-dept'], 'dept=ops%0AX-Injected: 2');
    assert.equal(h['x-remote-groups'], 'a%0D%0AX-Injected: 3');
    assert.equal(h['x-injected'], undefined);
    assert.deepEqual(headerValues(upstream!.rawHeaders, 'remote-user'), ['crlf%0D%0AX-Injected: 1']);
    // A user name with control characters gets no Basic credentials (RFC 7617).
    assert.equal(h.authorization, undefined);
  });

  test('a user name with ":" sends no Basic credentials (it would read as user "admin"); ":" elsewhere is kept', async () => {
    const { upstream } = await probe('legacy', 'colon');
    const h = upstream!.headers;
    assert.equal(h.authorization, undefined);
    assert.equal(h['remote-user'], 'admin:x');
    assert.equal(h['x-remote-dept'], 'dept=a:b');
  });

  test('values of 9,000 characters (and 3,000 that encode to 18,000): over the 8 KiB cap, those headers are not sent; the request still goes through', async () => {
    const { response, upstream } = await probe('legacy', 'huge');
    assert.equal(response.status, 200);
    const h = upstream!.headers;
    assert.equal(h['x-remote-name'], 'Huge');
    assert.equal(h['x-remote-dept'], undefined);
    assert.equal(h['x-remote-roles'], undefined);
    assert.equal(h['remote-user'], 'huge');
    assert.equal(h.authorization, basic('huge', 'pässword:1'));
  });
});

test('the password file is read again at reload', async () => {
  writeFileSync(passwordFile, 'rotated\r\n');
  const result = await s.db.reload();
  assert.deepEqual(result, { ok: true });
  const { upstream } = await probe('legacy', 'alice');
  assert.equal(upstream!.headers.authorization, basic('alice', 'rotated'));
});
