// proxy/test/logs.test.ts — the request log (SPEC §8): one JSON line per request with every field, for an
// allowed, a denied and a sign-in request and for the sign-in pages; and no line, ever, holding the session
// cookie, the session id, an IdP token, the authorization code, the hand-off code or the login binding.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForms } from '../../e2e/support/http-client.js';
import { signInAtIdp } from '../../e2e/idp/sign-in.js';
import { sessionCookie, startStack, type Stack } from '../../test-support/stack.js';
import { head, sendRaw } from '../../test-support/raw.js';

const FIELDS = ['time', 'level', 'event', 'requestId', 'route', 'method', 'host', 'path', 'status', 'durationMs', 'upstreamMs', 'ip', 'user', 'email', 'decision', 'reasons'];

let s: Stack;
/** Every secret seen during the flows below, by what it is. */
const secrets = new Map<string, string>();
const m = `logs${Date.now()}`;

before(async () => {
  s = await startStack();
  const b = s.browser();
  const cb = `${s.publicUrl}/.drawbridge/callback`;

  // Sign-in, one hop at a time, keeping every one-time value on the way.
  const toIdp = await b.get(s.url('app.localhost', `/deep?${m}`), { stopAt: s.idp!.issuer });
  for (const c of b.storedCookies(s.publicUrl)) if (c.name.startsWith('drawbridge-login-')) secrets.set(`login binding ${c.name}`, c.value);
  const atIdp = await signInAtIdp(b, toIdp.location!, { login: 'alice', stopAt: cb });
  const callback = new URL(atIdp.response.location!);
  secrets.set('authorization code', callback.searchParams.get('code')!);
  const afterCallback = await b.get(callback.href, { redirect: 'manual' });
  const handoff = new URL(afterCallback.location!);
  secrets.set('hand-off code', handoff.searchParams.get('code')!);
  const landed = await b.get(handoff.href);
  assert.equal(landed.status, 200);

  secrets.set('session cookie (publicUrl)', sessionCookie(b, s.publicUrl)!);
  secrets.set('session cookie (route host)', sessionCookie(b, s.url('app.localhost'))!);
  for (const record of await s.db.store.list()) {
    secrets.set('session id', record.id);
    secrets.set('cookie id part', Buffer.from(record.id, 'hex').toString('base64url'));
    if (record.tokens.idToken) secrets.set('ID token', record.tokens.idToken);
    if (record.tokens.accessToken) secrets.set('access token', record.tokens.accessToken);
    if (record.tokens.refreshToken) secrets.set('refresh token', record.tokens.refreshToken);
  }

  // An allowed request, a denied one (bob), and one sent to sign in.
  assert.equal((await b.get(s.url('app.localhost', `/allowed?${m}`))).status, 200);
  const bob = s.browser();
  await s.signIn(bob, s.url('app.localhost', '/'), 'bob');
  assert.equal((await bob.get(s.url('app.localhost', `/denied?${m}`))).status, 403);
  assert.equal((await s.browser().get(s.url('app.localhost', `/anonymous?${m}`), { redirect: 'manual' })).status, 302);

  // A malformed request (two Host headers): refused with 400, the server closes the connection.
  const twoHosts = await sendRaw(s.port, head(`GET /two-hosts?${m} HTTP/1.1`, `Host: app.localhost:${s.port}`, 'Host: other.localhost'));
  assert.equal(twoHosts.responses[0]?.status, 400, twoHosts.raw);

  // A sign-in whose code the IdP refuses: the failure is logged, the codes are not.
  const failing = s.browser();
  const refused = await signInAtIdp(failing, s.url('app.localhost', `/refused?${m}`), { login: 'alice', stopAt: cb, headers: { accept: 'text/html' } });
  const wrong = new URL(refused.response.location!);
  secrets.set('refused authorization code', wrong.searchParams.get('code')!);
  wrong.searchParams.set('code', `${wrong.searchParams.get('code')}tampered`);
  assert.equal((await failing.get(wrong.href)).status, 400);

  // Sign-out, whose redirect to the IdP carries the ID token as id_token_hint.
  const confirm = await b.get(s.url('app.localhost', '/.drawbridge/sign_out'));
  const form = parseForms(confirm.body, confirm.url).find((f) => f.method === 'POST')!;
  secrets.set('CSRF token', form.fields.csrf!);
  const out = await b.post(form.action, { form: form.fields, redirect: 'manual' });
  assert.equal(out.status, 302);
  await b.get(out.location!);
  // Let the last request lines (written when each response closes) arrive.
  await new Promise((r) => setTimeout(r, 100));
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

function requestLine(path: string, predicate: (line: Record<string, any>) => boolean = () => true): Record<string, any> {
  const line = s.logs.find((l) => l.event === 'request' && l.path === path && predicate(l));
  assert.ok(line, `a request line for ${path}`);
  return line;
}

function assertAllFields(line: Record<string, any>, what: string): void {
  for (const field of FIELDS) assert.ok(field in line, `${what}: field ${field} missing in ${JSON.stringify(line)}`);
  assert.ok(!Number.isNaN(Date.parse(line.time)), `${what}: time is a date`);
  assert.equal(typeof line.level, 'string');
  assert.match(line.requestId, /^[0-9a-f-]{36}$/, `${what}: requestId`);
  assert.equal(typeof line.status, 'number');
  assert.equal(typeof line.durationMs, 'number');
  assert.ok(line.upstreamMs === null || typeof line.upstreamMs === 'number', `${what}: upstreamMs`);
  assert.ok(Array.isArray(line.reasons), `${what}: reasons is a list`);
  assert.equal(line.ip, '127.0.0.1');
  assert.equal(typeof line.decision, 'string');
}

test('allow: every field, the user, the upstream time', { timeout: 10_000 }, () => {
  const line = requestLine('/allowed');
  assertAllFields(line, 'allow');
  assert.equal(line.decision, 'allow');
  assert.equal(line.status, 200);
  assert.equal(line.route, 'app');
  assert.equal(line.method, 'GET');
  assert.equal(line.host, `app.localhost:${s.port}`);
  assert.equal(line.user, 'alice');
  assert.equal(line.email, 'alice@example.com');
  assert.equal(typeof line.upstreamMs, 'number');
  assert.ok(line.reasons.length > 0, 'the rule that allowed is named');
});

test('bad-request: the line carries the reason the 400 page shows', { timeout: 10_000 }, () => {
  const line = requestLine('/two-hosts');
  assertAllFields(line, 'bad-request');
  assert.equal(line.decision, 'bad-request');
  assert.equal(line.status, 400);
  assert.equal(line.reason, 'more than one Host header');
  // Only refused requests carry it.
  assert.equal(requestLine('/allowed').reason, undefined);
});

test('deny: every field and the reasons', { timeout: 10_000 }, () => {
  const line = requestLine('/denied');
  assertAllFields(line, 'deny');
  assert.equal(line.decision, 'deny');
  assert.equal(line.status, 403);
  assert.equal(line.route, 'app');
  assert.equal(line.user, 'bob');
  assert.equal(line.email, 'bob@example.com');
  assert.equal(line.upstreamMs, null, 'the upstream was not asked');
  assert.ok(line.reasons.includes('groups-unauthorized'), JSON.stringify(line.reasons));
});

test('sign-in: the protected request sent to sign in, the sign-in start and the callback', { timeout: 10_000 }, () => {
  const anonymous = requestLine('/anonymous');
  assertAllFields(anonymous, 'sign-in needed');
  assert.equal(anonymous.decision, 'sign-in');
  assert.equal(anonymous.status, 302);
  assert.equal(anonymous.user, '');

  const start = requestLine('/.drawbridge/sign_in', (l) => l.decision === 'sign-in-started');
  assertAllFields(start, 'sign-in start');
  assert.equal(start.status, 302);
  assert.equal(start.host, `auth.localhost:${s.port}`);

  const callback = requestLine('/.drawbridge/callback', (l) => l.decision === 'sign-in-success' && l.user === 'alice');
  assertAllFields(callback, 'callback');
  assert.equal(callback.status, 302);
  assert.equal(callback.email, 'alice@example.com');

  // The sign-in event names who signed in, tied to the callback's request line by its request id.
  const event = s.logs.find((l) => l.event === 'sign-in' && l.requestId === callback.requestId);
  assert.ok(event, 'a sign-in event for the callback');
  for (const field of ['time', 'level', 'event', 'requestId', 'user', 'email', 'result', 'ip']) assert.ok(field in event, `sign-in event: ${field}`);
  assert.equal(event.result, 'success');
  assert.equal(event.user, 'alice');

  const failed = s.logs.find((l) => l.event === 'sign-in' && l.result === 'failure');
  assert.ok(failed, 'a failed sign-in is logged');
  assertAllFields(requestLine('/.drawbridge/callback', (l) => l.requestId === failed.requestId), 'failed callback');

  const signOut = s.logs.find((l) => l.event === 'sign-out' && l.result === 'success');
  assert.ok(signOut, 'a sign-out event');
  assert.equal(signOut.user, 'alice');
});

test('no log line holds a cookie, a session id, a token or a code', { timeout: 10_000 }, () => {
  assert.ok(s.logs.length > 20, `${s.logs.length} lines`);
  for (const what of ['authorization code', 'hand-off code', 'session cookie (publicUrl)', 'session cookie (route host)', 'session id', 'ID token', 'access token', 'refresh token']) {
    assert.ok(secrets.get(what), `the test captured the ${what}`);
  }
  for (const line of s.logs) {
    const text = JSON.stringify(line);
    for (const [what, secret] of secrets) assert.ok(!text.includes(secret), `the ${what} is in a log line: ${text.slice(0, 300)}`);
    assert.ok(!/eyJ[\w-]{10,}\.eyJ[\w-]{10,}\./.test(text), `no JWT of any kind: ${text.slice(0, 300)}`);
  }
});
