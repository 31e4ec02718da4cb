// proxy/test/access-requests.test.ts — just-in-time access over real sockets (docs/access-requests.md): bob asks from
// the 403 page, carol (wiki-admins, MFA) approves at /.drawbridge/requests, bob's grant is an allow for that route
// only (deny rules still win), logged as grant:<id>, shown on /me, kept across a reload, ended by the admin
// listener or by its expiry on the injected clock (his WebSocket closes then). Refused: self-approval, a
// non-approver, a POST without the CSRF token, an approver whose sign-in is too old (step-up).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAccessWebhookSignature } from '../src/access/webhook.js';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { movableClock, received, sessionCookie, startStack, type Stack } from '../../test-support/stack.js';

const ROUTES = `policies:
  tools:
    allow: [ { groups: [wiki-admins] } ]
    requests:
      approvers: { allow: [ { groups: [wiki-admins] } ] }
      reason: optional
      autoApprove: { allow: [ { groups: [sales] } ] }
routes:
  - name: tools
    from: http://tools.localhost:{{PORT}}
    to: {{APP}}
    policy: tools
  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy: { allow: [ { authenticated: true } ] }
  - name: wiki-admin
    from: http://wiki.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow: [ { groups: [wiki-admins] } ]
      deny: [ { path: [/locked] } ]
    requests:
      approvers: { allow: [ { and: [ { groups: [wiki-admins] }, { mfa: true }, { authAge: 10m } ] } ] }
      maxDuration: 8h
      defaultDuration: 1h
      reason: required
  - name: billing
    from: http://billing.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow: [ { groups: [wiki-admins] } ]
    requests:
      approvers: { allow: [ { groups: [wiki-admins] } ] }
`;

const T = { timeout: 60_000 };
const MIN = 60_000;

/** The value of a hidden field of the page's (first) form. */
function field(body: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(body);
  assert.ok(m, `the page has a ${name} field`);
  return m[1]!.replaceAll('&amp;', '&');
}

describe('access requests, memory store, injected clock', () => {
  const clock = movableClock();
  let s: Stack;
  let bob: CookieJarClient;
  let carol: CookieJarClient;
  let alice: CookieJarClient;
  const wiki = (path = '/') => s.url('wiki.localhost', path);

  before(async () => {
    s = await startStack({ routes: ROUTES, now: clock.now });
    bob = s.browser();
    assert.equal((await s.signIn(bob, wiki('/'), 'bob')).response.status, 403, 'bob is refused by wiki-admin');
    carol = s.browser();
    assert.equal((await s.signIn(carol, s.url('app.localhost', '/'), 'carol')).response.status, 200);
    alice = s.browser();
    assert.equal((await s.signIn(alice, s.url('app.localhost', '/'), 'alice')).response.status, 200);
  });

  after(async () => {
    await s?.close();
  });

  /** Bob asks for `seconds` of access from the 403 page's form (its CSRF token and fields). */
  async function bobAsks(seconds: number, reason = 'fix the broken page') {
    const page = await bob.get(wiki('/'));
    assert.equal(page.status, 403);
    return bob.post(s.url('wiki.localhost', '/.drawbridge/requests'), { form: { csrf: field(page.body, 'csrf'), route: 'wiki-admin', rd: wiki('/'), reason, duration: String(seconds) } });
  }

  /** The id of the pending request carol may approve (from her requests page), and her CSRF token there. */
  async function carolSees(): Promise<{ id: string; csrf: string; body: string }> {
    const page = await carol.get(s.url('app.localhost', '/.drawbridge/requests'));
    assert.equal(page.status, 200, page.body.slice(0, 300));
    const m = /data-request="([0-9a-f-]{36})"/.exec(page.body);
    assert.ok(m, 'a pending request is listed');
    return { id: m[1]!, csrf: field(page.body, 'csrf'), body: page.body };
  }

  test('the 403 page offers "Request access"; API clients get the request URL in the 403 JSON', T, async () => {
    const page = await bob.get(wiki('/'));
    assert.equal(page.status, 403);
    assert.match(page.body, /<form method="post" action="\/\.drawbridge\/requests" id="request-access">/);
    assert.match(page.body, /<option value="3600" selected>1 hour<\/option>/);
    assert.doesNotMatch(page.body, /value="32400"/, 'no duration beyond maxDuration (8h)');
    const api = await bob.get(wiki('/'), { headers: { accept: 'application/json' } });
    assert.equal(api.status, 403);
    assert.equal(api.json().requestAccess, `${new URL(wiki()).origin}/.drawbridge/requests`);
    // A deny rule: no approval could change it, so nothing is offered.
    const locked = await bob.get(wiki('/locked'));
    assert.equal(locked.status, 403);
    assert.doesNotMatch(locked.body, /request-access/);
  });

  test('asking without the CSRF token is refused (nothing recorded)', T, async () => {
    const r = await bob.post(s.url('wiki.localhost', '/.drawbridge/requests'), { form: { route: 'wiki-admin', reason: 'x', duration: '600' } });
    assert.equal(r.status, 403);
    const bad = await bob.post(s.url('wiki.localhost', '/.drawbridge/requests'), { form: { csrf: 'A'.repeat(43), route: 'wiki-admin', reason: 'x', duration: '600' } });
    assert.equal(bad.status, 403);
    assert.equal((await s.db.access.records.pending()).length, 0);
  });

  test('a reason is required, and the duration is bounded by maxDuration', T, async () => {
    const page = await bob.get(wiki('/'));
    const csrf = field(page.body, 'csrf');
    const noReason = await bob.post(s.url('wiki.localhost', '/.drawbridge/requests'), { form: { csrf, route: 'wiki-admin', reason: '  ', duration: '600' } });
    assert.equal(noReason.status, 400);
    const tooLong = await bob.post(s.url('wiki.localhost', '/.drawbridge/requests'), { form: { csrf, route: 'wiki-admin', reason: 'x', duration: String(9 * 3600) } });
    assert.equal(tooLong.status, 400);
    assert.equal((await s.db.access.records.pending()).length, 0);
  });

  test('bob asks; one pending request per user and route; the request is logged', T, async () => {
    const mark = s.logs.length;
    const r = await bobAsks(120);
    assert.equal(r.status, 202, r.body.slice(0, 300));
    assert.match(r.body, /Request sent/);
    const line = s.logs.slice(mark).find((l) => l.event === 'access-request' && l.action === 'created');
    assert.ok(line, 'event=access-request action=created');
    assert.equal(line.subject, 'bob');
    assert.equal(line.route, 'wiki-admin');
    assert.equal(line.reason, 'fix the broken page');
    assert.equal(line.durationSeconds, 120);
    assert.deepEqual(line.deniedBy.slice(0, 1), ['no-allow-matched']);
    const again = await bobAsks(120);
    assert.equal(again.status, 409, 'a second request for the same route waits for the first');
    assert.equal((await s.db.access.records.pending()).length, 1);
  });

  test('nobody approves their own request', T, async () => {
    const page = await bob.get(s.url('wiki.localhost', '/.drawbridge/requests'));
    assert.equal(page.status, 200);
    assert.match(page.body, /Your own request/);
    assert.doesNotMatch(page.body, /value="approve"/);
    const id = /data-request="([0-9a-f-]{36})"/.exec(page.body)![1]!;
    const csrf = field((await bob.get(wiki('/'))).body, 'csrf');
    const r = await bob.post(s.url('wiki.localhost', '/.drawbridge/requests/decide'), { form: { csrf, id, decision: 'approve' } });
    assert.equal(r.status, 403);
    assert.match(r.body, /Nobody approves their own access request/);
    assert.equal((await s.db.access.records.pending()).length, 1, 'still pending');
    assert.equal((await bob.get(wiki('/'))).status, 403);
  });

  test('a user the approvers policy does not allow cannot approve (nor see the request)', T, async () => {
    const page = await alice.get(s.url('app.localhost', '/.drawbridge/requests'));
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.body, /data-request=/);
    const id = (await s.db.access.records.pending())[0]!.id;
    const mark = s.logs.length;
    const denied = await alice.get(wiki('/'));
    assert.equal(denied.status, 403);
    const r = await alice.post(s.url('wiki.localhost', '/.drawbridge/requests/decide'), { form: { csrf: field(denied.body, 'csrf'), id, decision: 'approve' } });
    assert.equal(r.status, 403);
    assert.ok(s.logs.slice(mark).some((l) => l.event === 'access-request' && l.action === 'refused' && l.actor === 'alice'));
    assert.equal((await s.db.access.records.pending()).length, 1);
  });

  test('approving without the CSRF token is refused', T, async () => {
    const { id } = await carolSees();
    const r = await carol.post(s.url('app.localhost', '/.drawbridge/requests/decide'), { form: { id, decision: 'approve' } });
    assert.equal(r.status, 403);
    assert.equal((await s.db.access.records.pending()).length, 1);
    assert.equal((await bob.get(wiki('/'))).status, 403);
  });

  let grantId = '';
  test('carol (wiki-admins, MFA) approves: bob gets in on that route only, logged as grant:<id>, shown on /me', T, async () => {
    const { id, csrf, body } = await carolSees();
    assert.match(body, /fix the broken page/);
    const mark = s.logs.length;
    const r = await carol.post(s.url('app.localhost', '/.drawbridge/requests/decide'), { form: { csrf, id, decision: 'approve' } });
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.match(r.body, /Approved: bob has access to wiki-admin for 2 minutes/);
    const approved = s.logs.slice(mark).find((l) => l.event === 'access-request' && l.action === 'approved');
    assert.equal(approved?.actor, 'carol');
    const granted = s.logs.slice(mark).find((l) => l.event === 'access-grant' && l.action === 'created');
    assert.ok(granted);
    grantId = granted.id;
    assert.equal(granted.subject, 'bob');
    assert.equal(granted.actor, 'carol');
    assert.equal(new Date(granted.expiresAt).getTime() > clock.now(), true);

    const marker = `granted${Date.now()}`;
    const ok = await bob.get(wiki(`/?${marker}`));
    assert.equal(ok.status, 200);
    assert.equal(received(s.app, marker)[0]!.headers['x-forwarded-user'], 'bob');
    const line = s.logs.findLast((l) => l.event === 'request' && l.path === '/' && l.user === 'bob' && l.route === 'wiki-admin');
    assert.equal(line?.decision, 'allow');
    assert.deepEqual(line?.reasons, [`grant:${grantId}`]);
    // A deny rule still wins over the grant; another route is not granted.
    assert.equal((await bob.get(wiki('/locked'))).status, 403);
    assert.equal((await s.signIn(bob, s.url('billing.localhost', '/'), 'bob')).response.status, 403);
    const me = await bob.get(s.url('wiki.localhost', '/.drawbridge/me'), { headers: { accept: 'application/json' } });
    const grants = me.json().grants as Array<{ id: string; route: string; remainingSeconds: number; approver: string }>;
    assert.equal(grants.length, 1);
    assert.equal(grants[0]!.id, grantId);
    assert.equal(grants[0]!.route, 'wiki-admin');
    assert.equal(grants[0]!.approver, 'carol');
    assert.ok(grants[0]!.remainingSeconds > 0 && grants[0]!.remainingSeconds <= 120);
    const mePage = await bob.get(s.url('wiki.localhost', '/.drawbridge/me'));
    assert.match(mePage.body, /Temporary access/);
    assert.match(mePage.body, /approved by carol/);
    // The request is decided: nobody can decide it again.
    const again = await carol.post(s.url('app.localhost', '/.drawbridge/requests/decide'), { form: { csrf, id, decision: 'deny' } });
    assert.equal(again.status, 409);
  });

  test('a route whose named policy declares requests with autoApprove: bob is granted at once, approver auto', T, async () => {
    clock.advance(11_000); // past the per-user rate limit
    const denied = await bob.get(s.url('tools.localhost', '/'));
    assert.equal(denied.status, 403);
    assert.match(denied.body, /Why do you need access\? \(optional\)/);
    const mark = s.logs.length;
    const r = await bob.post(s.url('tools.localhost', '/.drawbridge/requests'), { form: { csrf: field(denied.body, 'csrf'), route: 'tools', reason: '', duration: '600' } });
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.match(r.body, /Access granted/);
    const granted = s.logs.slice(mark).find((l) => l.event === 'access-grant' && l.action === 'created');
    assert.equal(granted?.actor, 'auto');
    assert.equal((await bob.get(s.url('tools.localhost', '/'))).status, 200);
    assert.equal((await s.db.access.records.pending()).length, 0, 'nothing waits for an approver');
    await s.db.access.records.revoke({ route: 'tools' }, 'test');
  });

  test('a reload keeps the grant', T, async () => {
    assert.deepEqual(await s.db.reload(), { ok: true });
    assert.equal((await bob.get(wiki('/'))).status, 200);
  });

  test('the admin listener revokes a grant early; revocation is logged', T, async () => {
    const list = (await (await fetch(`${s.db.adminUrl}/grants?user=bob`)).json()) as Array<{ id: string }>;
    assert.deepEqual(list.map((g) => g.id), [grantId]);
    const noHeader = await fetch(`${s.db.adminUrl}/grants/revoke?id=${grantId}`, { method: 'POST' });
    assert.equal(noHeader.status, 403);
    const mark = s.logs.length;
    const revoked = await fetch(`${s.db.adminUrl}/grants/revoke?id=${grantId}`, { method: 'POST', headers: { 'x-drawbridge-admin': 'revoke' } });
    assert.equal(revoked.status, 200);
    assert.equal(((await revoked.json()) as { revoked: number }).revoked, 1);
    assert.ok(s.logs.slice(mark).some((l) => l.event === 'access-grant' && l.action === 'revoked' && l.actor === 'admin' && l.id === grantId));
    assert.equal((await bob.get(wiki('/'))).status, 403);
  });

  test('the grant expires by itself on the injected clock: bob is denied again, his WebSocket closes, the expiry is logged', T, async () => {
    clock.advance(11_000); // past the per-user rate limit
    assert.equal((await bobAsks(120, 'once more')).status, 202);
    const { id, csrf } = await carolSees();
    assert.equal((await carol.post(s.url('app.localhost', '/.drawbridge/requests/decide'), { form: { csrf, id, decision: 'approve' } })).status, 200);
    grantId = (await s.db.access.records.grants({ user: 'bob' }))[0]!.id;
    assert.equal((await bob.get(wiki('/'))).status, 200);
    const cookie = sessionCookie(bob, wiki('/'))!;
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: `wiki.localhost:${s.port}`, cookie: `drawbridge=${cookie}` } });
    ws.on('error', () => undefined);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    clock.advance(3 * MIN);
    const mark = s.logs.length;
    assert.equal((await bob.get(wiki('/'))).status, 403, 'denied again at once (the decision reads the expiry)');
    await s.db.access.sweep();
    assert.deepEqual(await closed, { code: 1008, reason: 'policy-denied' });
    await s.db.access.sweep();
    const expired = s.logs.filter((l) => l.event === 'access-grant' && l.action === 'expired');
    assert.equal(expired.length, 1, 'logged once');
    assert.equal(expired[0]!.id, grantId);
    assert.ok(s.logs.slice(mark).some((l) => l.event === 'websocket-closed' && l.user === 'bob'));
    const metrics = await (await fetch(`${s.db.adminUrl}/metrics`)).text();
    assert.match(metrics, /drawbridge_access_events_total\{event="access-grant",action="expired",route="wiki-admin"\} 1/);
  });

  test('an approver whose sign-in is older than the approvers policy allows is sent to step up, not let through', T, async () => {
    clock.advance(10 * MIN);
    const r0 = await bobAsks(600, 'again');
    assert.equal(r0.status, 202, r0.body.slice(0, 200));
    const page = await carol.get(s.url('app.localhost', '/.drawbridge/requests'));
    assert.match(page.body, /Sign in again to approve/);
    assert.doesNotMatch(page.body, /value="approve"/);
    const id = /data-request="([0-9a-f-]{36})"/.exec(page.body)![1]!;
    // The form she had open before her sign-in aged: the POST is checked again, at this moment.
    const origin = new URL(s.url('app.localhost')).origin;
    const sid = s.db.runtime.sessions.readId(`drawbridge=${sessionCookie(carol, s.url('app.localhost'))!}`, false, origin)!;
    const csrf = s.db.runtime.sessions.csrfToken(sid);
    const r = await carol.post(s.url('app.localhost', '/.drawbridge/requests/decide'), { form: { csrf, id, decision: 'approve' }, redirect: 'manual' });
    assert.equal(r.status, 302);
    const to = new URL(r.location!);
    assert.equal(to.pathname, '/.drawbridge/sign_in');
    assert.equal(to.searchParams.get('step_up'), '1');
    assert.equal((await s.db.access.records.pending()).length, 1, 'still pending');
  });
});

describe('access requests tell the webhook, signed', () => {
  let s: Stack;
  let receiver: http.Server;
  const deliveries: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  let arrived: () => void = () => undefined;
  const SECRET = 'the-webhook-secret-of-this-test';

  /** Resolves once `n` deliveries have arrived. */
  async function count(n: number): Promise<void> {
    while (deliveries.length < n) await new Promise<void>((resolve) => (arrived = resolve));
  }

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.writeHead(204).end();
        arrived();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const secretFile = join(mkdtempSync(join(tmpdir(), 'drawbridge-webhook-')), 'secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    s = await startStack({ routes: ROUTES, extra: `accessRequests: { webhook: { url: "${url}", secretFile: ${secretFile} } }` });
  });

  after(async () => {
    await s?.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  test('bob asks and carol approves: the receiver gets both events, signed with the secret file\'s key, with a link to the approvers\' page', T, async () => {
    const bob = s.browser();
    assert.equal((await s.signIn(bob, s.url('billing.localhost', '/'), 'bob')).response.status, 403);
    const page = await bob.get(s.url('billing.localhost', '/'));
    const asked = await bob.post(s.url('billing.localhost', '/.drawbridge/requests'), { form: { csrf: field(page.body, 'csrf'), route: 'billing', rd: s.url('billing.localhost', '/'), reason: 'month end', duration: '3600' } });
    assert.equal(asked.status, 202, asked.body.slice(0, 300));
    await count(1);
    const carol = s.browser();
    await s.signIn(carol, s.url('app.localhost', '/'), 'carol');
    const list = await carol.get(s.url('app.localhost', '/.drawbridge/requests'));
    const id = /data-request="([0-9a-f-]{36})"/.exec(list.body)![1]!;
    const approved = await carol.post(s.url('app.localhost', '/.drawbridge/requests/decide'), { form: { csrf: field(list.body, 'csrf'), id, decision: 'approve' } });
    assert.equal(approved.status, 200, approved.body.slice(0, 300));
    await count(2);
    const now = Math.floor(Date.now() / 1000);
    for (const d of deliveries) {
      assert.ok(verifyAccessWebhookSignature(SECRET, String(d.headers['x-drawbridge-signature']), d.body, now), 'signed with the key of secretFile (trailing newline trimmed)');
      assert.equal(verifyAccessWebhookSignature('another-key', String(d.headers['x-drawbridge-signature']), d.body, now), false);
    }
    const [created, decided] = deliveries.map((d) => JSON.parse(d.body));
    assert.deepEqual([created.event, created.route, created.user, created.reason, created.durationSeconds], ['access-request.created', 'billing', 'bob', 'month end', 3600]);
    assert.deepEqual([decided.event, decided.id, decided.actor], ['access-request.approved', id, 'carol']);
    assert.equal(created.url, `${s.publicUrl}/.drawbridge/requests`);
    assert.match(created.text, /bob/);
    assert.equal(deliveries[0]!.headers['x-drawbridge-event'], 'access-request.created');
  });
});
