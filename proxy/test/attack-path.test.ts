// proxy/test/attack-path.test.ts — the path normalization matrix over the wire (SPEC §3 steps 1–2, §6): a protected
// /admin route next to a public / route on one host. Every spelling of "/admin" (dot segments, encoded dots and
// slashes, backslashes, "..;", path parameters, NUL and control characters, bad escapes, "#", "%23", case, queries that
// look like paths) is sent byte for byte, anonymously, as bob (denied) and as carol (allowed). No variant reaches
// /admin content unauthorized, and the upstream always receives exactly the normalized path that was authorized
// (Pomerium CVE-2023-33189, oauth2-proxy CVE-2025-54576).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeTarget } from '../src/url/normalize.js';
import { isUnderPrefix } from '../src/url/path-prefix.js';
import { head, headerValues, sendRaw, type WireResponse } from '../../test-support/raw.js';
import { sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { ADMIN_UNDER_PUBLIC_ROUTES } from '../../test-support/routes.js';

const ROUTES = `routes:
${ADMIN_UNDER_PUBLIC_ROUTES}`;

/** How a target must be handled: refused (400), matched to the admin route, or to the public route. */
type Expected = { kind: 'bad' } | { kind: 'admin'; upstream: string } | { kind: 'public'; upstream: string };
const bad: Expected = { kind: 'bad' };
const admin = (upstream: string): Expected => ({ kind: 'admin', upstream });
const pub = (upstream: string): Expected => ({ kind: 'public', upstream });

// [request-target as sent, expected]. `upstream` is the exact URL (normalized path and verbatim query) the upstream gets.
const MATRIX: readonly [string, Expected][] = [
  // controls
  ['/admin', admin('/admin')],
  ['/admin/', admin('/admin/')],
  ['/admin/x', admin('/admin/x')],
  ['/public', pub('/public')],
  // encoded and plain dot segments
  ['/%2e%2e', bad],
  ['/%2E%2E/', bad],
  ['/%2e%2e/admin', bad],
  ['/.%2e/admin', bad],
  ['/./admin', admin('/admin')],
  ['/%2e/admin', admin('/admin')],
  ['/admin/./x', admin('/admin/x')],
  ['/../admin', bad],
  ['/..', bad],
  ['/public/../../admin', bad],
  ['/public/../admin', admin('/admin')],
  ['/public/%2e%2e/admin', admin('/admin')],
  ['/public/.%2E/admin/x', admin('/admin/x')],
  ['/public//../admin', admin('/admin')],
  ['/admin/../public', pub('/public')],
  ['/admin/..', pub('/')],
  ['/admin/x/../../public', pub('/public')],
  ['/.drawbridge/../admin', admin('/admin')],
  // encoded slash and backslash, backslash
  ['/admin%2Fx', bad],
  ['/admin%2fx', bad],
  ['/%2Fadmin', bad],
  ['/public/..%2fadmin', bad],
  ['/public%2F..%2Fadmin', bad],
  ['/public/%2e%2e%2fadmin', bad],
  ['/%5Cadmin', bad],
  ['/public%5c..%5cadmin', bad],
  ['/\\admin', bad],
  ['/public\\..\\admin', bad],
  // repeated slashes
  ['//admin', admin('/admin')],
  ['///admin//x', admin('/admin/x')],
  // "..;" and path parameters
  ['/..;/admin', bad],
  ['/public/..;/admin', bad],
  ['/admin;x', bad],
  ['/admin;/x', bad],
  ['/public;/../admin', bad],
  ['/admin/..;/public', bad],
  ['/%2e%2e;/admin', bad],
  ['/public/..%3b/admin', bad],
  ['/admin%3Bx', pub('/admin%3Bx')],
  // NUL and control characters, raw and encoded
  ['/admin%00', bad],
  ['/admin%00.html', bad],
  ['/%00/admin', bad],
  ['/admin%0d%0aX-Forwarded-User:%20carol', bad],
  ['/admin%7f', bad],
  ['/admin\u0000', bad],
  ['/admin\u0001', bad],
  ['/ad\u0009min', bad],
  ['/admin\u001b', bad],
  ['/admin\u007f', bad],
  ['/admin\u00e9', bad],
  // invalid percent-encoding, overlong UTF-8
  ['/%zz', bad],
  ['/admin%', bad],
  ['/admin%4', bad],
  ['/%%61dmin', bad],
  ['/admin%g0', bad],
  ['/%c0%ae%c0%ae/admin', bad],
  ['/%c0%afadmin', bad],
  // encoded unreserved characters are decoded before matching
  ['/%61dmin', admin('/admin')],
  ['/%61%64%6d%69%6e/x', admin('/admin/x')],
  ['/adm%69n', admin('/admin')],
  ['/%41dmin', pub('/Admin')],
  // case: paths are case-sensitive, the upstream gets exactly what was matched
  ['/ADMIN', pub('/ADMIN')],
  ['/Admin/x', pub('/Admin/x')],
  // near misses are other paths, forwarded as such
  ['/admin..', pub('/admin..')],
  ['/admin.', pub('/admin.')],
  ['/administrator', pub('/administrator')],
  ['/admin%20', pub('/admin%20')],
  // "#" ends the path, "%23" is a character of it
  ['/admin#', admin('/admin')],
  ['/admin#/../public', admin('/admin')],
  ['/public#/../admin', pub('/public')],
  ['/public?x#/../../admin', pub('/public?x')],
  ['/%23/../admin', admin('/admin')],
  ['/public%23/../admin', admin('/admin')],
  ['/admin%23', pub('/admin%23')],
  ['/%23admin', pub('/%23admin')],
  // the query never takes part in matching, and is forwarded verbatim
  ['/admin?/../public', admin('/admin?/../public')],
  ['/public?/admin', pub('/public?/admin')],
  ['/public?x=/../admin', pub('/public?x=/../admin')],
  ['/public?%2F..%2Fadmin', pub('/public?%2F..%2Fadmin')],
  ['/?admin', pub('/?admin')],
  ['/public?/%2e%2e/admin;x', pub('/public?/%2e%2e/admin;x')],
  // not origin form
  ['admin', bad],
  ['*', bad],
  ['http://other.localhost/admin', bad],
];

let s: Stack;
let host: string;
let bob: string;
let carol: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  host = `Host: app.localhost:${s.port}`;
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/admin'), 'bob');
  bob = sessionCookie(b, s.url('app.localhost'))!;
  const c = s.browser();
  await s.signIn(c, s.url('app.localhost', '/admin'), 'carol');
  carol = sessionCookie(c, s.url('app.localhost'))!;
  assert.ok(bob && carol, 'signed in');
});

after(async () => {
  await s?.close();
});

interface Outcome {
  response: WireResponse;
  /** URLs the upstream received for this request. */
  upstream: string[];
  /** The request's log line (absent when node's parser refused it before there was a request). */
  log?: Record<string, any>;
}

/** Sends one GET on its own connection, sequentially, and gathers the answer, the upstream's view and the log line. */
async function get(target: string, cookie?: string): Promise<Outcome> {
  const logsBefore = s.logs.length;
  const seenBefore = s.app.requests.length;
  const ex = await sendRaw(s.port, head(`GET ${target} HTTP/1.1`, host, 'Accept: application/json', ...(cookie ? [`Cookie: drawbridge=${cookie}`] : []), 'Connection: close'));
  await waitFor(() => s.logs.slice(logsBefore).some((l) => l.event === 'request' || l.event === 'client-error'), 3000);
  const log = s.logs.slice(logsBefore).find((l) => l.event === 'request');
  return { response: ex.first, upstream: s.app.requests.slice(seenBefore).map((r) => r.url), ...(log ? { log } : {}) };
}

const who = [
  { name: 'anonymous', cookie: () => undefined },
  { name: 'bob (sales)', cookie: () => bob },
  { name: 'carol (wiki-admins)', cookie: () => carol },
] as const;

describe('the normalization matrix against /admin next to /', () => {
  for (const [target, expected] of MATRIX) {
    test(JSON.stringify(target), { timeout: 20_000 }, async () => {
      for (const user of who) {
        const what = `${user.name} GET ${JSON.stringify(target)}`;
        const { response, upstream, log } = await get(target, user.cookie());
        if (expected.kind === 'bad') {
          assert.equal(response.status, 400, what);
          assert.deepEqual(upstream, [], `${what}: the upstream was not contacted`);
          if (log) assert.equal(log.decision, 'bad-request', what);
          continue;
        }
        assert.ok(log, `${what}: logged`);
        assert.equal(log.route, expected.kind, `${what}: matched route`);
        const { path } = normalizeTarget(expected.upstream) as { path: string };
        assert.equal(log.path, path, `${what}: the logged (authorized) path`);
        if (expected.kind === 'admin' && user.name !== 'carol (wiki-admins)') {
          assert.equal(response.status, user.cookie() ? 403 : 401, what);
          assert.deepEqual(upstream, [], `${what}: no /admin content without authorization`);
          continue;
        }
        assert.equal(response.status, 200, what);
        assert.equal(log.decision, 'allow', what);
        assert.deepEqual(upstream, [expected.upstream], `${what}: the upstream got exactly the authorized path`);
        assert.equal(JSON.parse(response.body).url, expected.upstream, `${what}: as the upstream itself read it`);
      }
    });
  }
});

test('every request the upstream received had a path that normalizes to itself and was authorized for its route', { timeout: 20_000 }, async () => {
  assert.ok(s.app.requests.length > 50, `${s.app.requests.length} upstream requests`);
  const byId = new Map(s.logs.filter((l) => l.event === 'request').map((l) => [l.requestId, l]));
  for (const r of s.app.requests) {
    const again = normalizeTarget(r.url);
    assert.ok(again.ok, `${r.url} is a valid target`);
    const pathAndQuery = again.query === '' ? again.path : `${again.path}?${again.query}`;
    assert.equal(pathAndQuery, r.url.endsWith('?') ? r.url.slice(0, -1) : r.url, `${r.url} is already normalized`);
    const id = String(r.headers['x-request-id']);
    const log = byId.get(id);
    assert.ok(log, `a log line for request ${id} (${r.url})`);
    assert.equal(log.decision, 'allow');
    assert.equal(log.path, again.path, 'the upstream got the path that was authorized');
    if (isUnderPrefix(again.path, '/admin')) {
      assert.equal(log.route, 'admin', `${r.url} reached the upstream through the admin route only`);
      assert.deepEqual(headerValues(r.rawHeaders, 'x-forwarded-user'), ['carol']);
    }
  }
});

test('reserved paths are answered by Drawbridge under any spelling and never forwarded', { timeout: 20_000 }, async () => {
  for (const target of ['/.drawbridge/jwks.json', '/%2edrawbridge/jwks.json', '/public/../.drawbridge/jwks.json', '//.drawbridge//jwks.json', '/.drawbridge/./jwks.json', '/admin/../.drawbridge/jwks.json']) {
    const { response, upstream } = await get(target);
    assert.equal(response.status, 200, target);
    assert.ok(Array.isArray(JSON.parse(response.body).keys), `${target}: the JWKS`);
    assert.deepEqual(upstream, [], `${target}: not forwarded`);
  }
  for (const target of ['/.drawbridge/nothing', '/.drawbridge', '/.drawbridge/']) {
    const { response, upstream } = await get(target);
    assert.equal(response.status, 404, target);
    assert.deepEqual(upstream, [], `${target}: not forwarded`);
  }
});

test('WebSocket upgrades go through the same normalization and policy', { timeout: 20_000 }, async () => {
  const upgrade = (target: string) =>
    head(`GET ${target} HTTP/1.1`, host, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
  for (const [target, status] of [
    ['/public/../admin/ws', 401],
    ['/%61dmin/ws', 401],
    ['/admin%2fws', 400],
    ['/..;/admin/ws', 400],
    ['/public/%2e%2e/admin/ws', 401],
  ] as const) {
    const before = s.app.requests.length;
    const ex = await sendRaw(s.port, upgrade(target), { timeoutMs: 5000 });
    assert.equal(ex.first.status, status, target);
    assert.equal(s.app.requests.length, before, `${target}: the upstream was not contacted`);
  }
});
