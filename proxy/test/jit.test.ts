// proxy/test/jit.test.ts — just-in-time access over real sockets (SPEC §5): `before:` and `after:` grants
// that end and start by themselves at an exact instant, and `time:` windows read in a time zone, all
// judged on the same live session as the injected clock moves; `drawbridge explain --time` agrees.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../src/cli/index.js';
import type { CookieJarClient } from '../../e2e/support/http-client.js';
import { sessionCookie, startStack, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE } from '../../test-support/routes.js';

/** An instant written with a UTC offset of `offsetMin` minutes, e.g. 2030-01-01T05:30:00+05:30. */
function isoWithOffset(ms: number, offsetMin: number): string {
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 19);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

// Instants a few minutes ahead: within the session's idle timeout and before its access token is due
// for refresh, so moving the clock there changes nothing but the grant.
const START = Math.ceil(Date.now() / 1000) * 1000;
const GRANT_ENDS = START + 3 * 60_000;
const GRANT_STARTS = START + 2 * 60_000;

const ROUTES = `routes:
${APP_ROUTE}  - name: until
    from: http://until.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { user: [alice] }, { before: "${isoWithOffset(GRANT_ENDS, 330)}" } ]
  - name: from
    from: http://from.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { user: [alice] }, { after: "${new Date(GRANT_STARTS).toISOString()}" } ]
  - name: hours
    from: http://hours.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and:
            - groups: [engineering]
            - time: { days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00", tz: America/New_York }
`;

/** The injected clock: real time unless pinned to an instant. */
let pinned: number | undefined;
const now = () => pinned ?? Date.now();

let s: Stack;
let b: CookieJarClient;

before(async () => {
  s = await startStack({ routes: ROUTES, now });
  b = s.browser();
  const { response } = await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  assert.equal(response.status, 200);
  // The session reaches every route host once, with the real clock.
  for (const host of ['until.localhost', 'from.localhost', 'hours.localhost']) await b.get(s.url(host, '/'), { headers: { accept: 'text/html' } });
});

after(async () => {
  pinned = undefined;
  await s?.close();
});

/** Pins the clock at `at` and asks `host` as an API client; returns status and body. */
async function at(host: string, when: number | string): Promise<{ status: number; body: any }> {
  pinned = typeof when === 'number' ? when : Date.parse(when);
  try {
    const r = await b.get(s.url(host, '/x'), { headers: { accept: 'application/json' }, redirect: 'manual' });
    return { status: r.status, body: r.status === 200 ? undefined : r.json() };
  } finally {
    pinned = undefined;
  }
}

/** Runs the CLI in-process; returns exit code and output. */
async function cli(args: string[]): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) }, env: {} });
  return { code, stdout, stderr };
}

test('before: the grant holds one second before the instant and ends at it — on the same session', { timeout: 30_000 }, async () => {
  const cookie = sessionCookie(b, s.url('until.localhost'));
  assert.ok(cookie);
  assert.equal((await at('until.localhost', GRANT_ENDS - 1000)).status, 200, 'one second before: allowed');
  const ended = await at('until.localhost', GRANT_ENDS);
  assert.equal(ended.status, 403, 'at the instant itself: ended (strictly before)');
  const later = await at('until.localhost', GRANT_ENDS + 1000);
  assert.equal(later.status, 403, 'one second after: denied');
  assert.equal(later.body.error, 'forbidden');
  assert.ok(later.body.reasons.some((r: { code: string }) => r.code === 'grant-expired'), JSON.stringify(later.body.reasons));
  // Denied, not signed out: the session is the same and still works where the grant is not needed.
  assert.equal(sessionCookie(b, s.url('until.localhost')), cookie);
  assert.equal((await at('app.localhost', GRANT_ENDS + 1000)).status, 200);
  assert.equal((await at('until.localhost', GRANT_ENDS - 1000)).status, 200, 'the same session, the same answer for the earlier instant');

  // A browser sees the reason in plain words, and no sign-in redirect.
  pinned = GRANT_ENDS + 1000;
  try {
    const page = await b.get(s.url('until.localhost', '/'), { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.equal(page.status, 403);
    assert.match(page.body, /time-limited access to this route has ended/);
  } finally {
    pinned = undefined;
  }
  const denial = s.logs.findLast((l) => l.event === 'request' && l.route === 'until' && l.status === 403);
  assert.ok(denial?.reasons.includes('grant-expired'), 'the log names the reason');
});

test('after: the grant starts at the instant — denied one second before, allowed from then on', { timeout: 30_000 }, async () => {
  const early = await at('from.localhost', GRANT_STARTS - 1000);
  assert.equal(early.status, 403);
  assert.ok(early.body.reasons.some((r: { code: string }) => r.code === 'grant-not-yet-active'), JSON.stringify(early.body.reasons));
  assert.equal((await at('from.localhost', GRANT_STARTS)).status, 200, 'at the instant itself: started');
  assert.equal((await at('from.localhost', GRANT_STARTS + 1000)).status, 200, 'one second after: allowed');
  assert.equal((await at('from.localhost', GRANT_STARTS - 1000)).status, 403, 'and the earlier instant is still refused');
});

test('time: a weekday 09:00–17:00 window in America/New_York, across the DST change', { timeout: 30_000 }, async () => {
  // Monday 11 March 2024: the day after US clocks moved forward (EDT, UTC-4).
  assert.equal((await at('hours.localhost', '2024-03-11T12:59:00Z')).status, 403, '08:59 EDT (12:59 UTC, inside the window if it were read in UTC)');
  assert.equal((await at('hours.localhost', '2024-03-11T13:00:00Z')).status, 200, '09:00 EDT');
  assert.equal((await at('hours.localhost', '2024-03-11T20:59:00Z')).status, 200, '16:59 EDT');
  const closed = await at('hours.localhost', '2024-03-11T21:00:00Z');
  assert.equal(closed.status, 403, '17:00 EDT: the end is exclusive');
  const reason = closed.body.reasons.find((r: { code: string }) => r.code === 'time-outside-window');
  assert.ok(reason, JSON.stringify(closed.body.reasons));
  assert.equal(reason.detail, 'mon 17:00 America/New_York');
  // Friday 8 March 2024, still EST (UTC-5).
  assert.equal((await at('hours.localhost', '2024-03-08T13:59:00Z')).status, 403, '08:59 EST');
  assert.equal((await at('hours.localhost', '2024-03-08T14:00:00Z')).status, 200, '09:00 EST');
  // Saturday 10:00 local: the right hour on the wrong day.
  assert.equal((await at('hours.localhost', '2024-03-09T15:00:00Z')).status, 403, 'Saturday');
  // Late Friday evening in New York is already Saturday in UTC: the day is the zone's.
  assert.equal((await at('hours.localhost', '2024-03-09T01:00:00Z')).status, 403, 'Friday 20:00 EST (Saturday in UTC) is outside the hours');
  assert.equal((await at('hours.localhost', '2024-03-08T21:30:00Z')).status, 200, 'Friday 16:30 EST (21:30 UTC, outside the window if it were read in UTC)');
});

test('drawbridge explain --time shows the same decisions, with the rule that decided', { timeout: 30_000 }, async () => {
  const user = ['--user', 'alice', '--email', 'alice@example.com', '--groups', 'engineering'];

  const outside = await cli(['explain', s.configFile, '--url', s.url('hours.localhost', '/'), ...user, '--time', '2024-03-11T12:59:00Z']);
  assert.equal(outside.code, 1, `a deny exits 1: ${outside.stderr}`);
  assert.match(outside.stdout, /route: +hours /);
  assert.match(outside.stdout, /time: +2024-03-11T12:59:00\.000Z/);
  assert.match(outside.stdout, /decision: deny/);
  assert.match(outside.stdout, /time-outside-window: .*\(mon 08:59 America\/New_York\)/);

  const inside = await cli(['explain', s.configFile, '--url', s.url('hours.localhost', '/'), ...user, '--time', '2024-03-11T09:00:00-04:00']);
  assert.equal(inside.code, 0, inside.stderr);
  assert.match(inside.stdout, /decision: allow/);
  assert.match(inside.stdout, /time-ok: .*\(mon 09:00 America\/New_York\)/);

  const expired = await cli(['explain', s.configFile, '--url', s.url('until.localhost', '/'), ...user, '--time', new Date(GRANT_ENDS + 1000).toISOString()]);
  assert.match(expired.stdout, /decision: deny/);
  assert.match(expired.stdout, /grant-expired/);
  const granted = await cli(['explain', s.configFile, '--url', s.url('until.localhost', '/'), ...user, '--time', new Date(GRANT_ENDS - 1000).toISOString()]);
  assert.match(granted.stdout, /decision: allow/);
  assert.match(granted.stdout, /before-ok/);

  const early = await cli(['explain', s.configFile, '--url', s.url('from.localhost', '/'), ...user, '--time', new Date(GRANT_STARTS - 1000).toISOString()]);
  assert.match(early.stdout, /decision: deny/);
  assert.match(early.stdout, /grant-not-yet-active/);

  const bad = await cli(['explain', s.configFile, '--url', s.url('hours.localhost', '/'), ...user, '--time', 'next tuesday']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--time "next tuesday" is not an ISO-8601 instant/);
});
