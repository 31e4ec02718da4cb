// proxy/test/attack-forwarded.test.ts — the trusted-hop rule (SPEC §2 trustedProxies, §11) over real sockets:
// behind a trusted proxy, a client hop Drawbridge cannot read (`unknown` as Squid writes it, garbage) is an unknown
// address that no `ip` rule admits, directly or under `not`, never the proxy's own address; `ip:port` and
// `[v6]:port` hops (IIS ARR, Azure Application Gateway) are matched by their address; X-Forwarded-Host and -Proto a
// client sent ahead of what an appending proxy wrote do not win; `Forwarded` is neither read nor passed on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { head, headerValues, marker, sendRaw } from '../../test-support/raw.js';
import { cookieOn, sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';

// 127.0.0.0/8 is both where the test's "proxy" connects from and a range some routes admit, the way an office
// network admits its own load balancer's 10.x address: the old code made an unreadable hop that address.
const ROUTES = `routes:
  - name: lan
    from: http://lan.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - ip: [127.0.0.0/8]
  - name: office
    from: http://office.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - ip: [198.51.100.0/24, 2001:db8::/32]
  - name: inside
    from: http://inside.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - authenticated: true
      deny:
        - not: { ip: [127.0.0.0/8, 198.51.100.0/24] }
  - name: blocklist
    from: http://blocklist.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - not: { ip: [192.0.2.0/24] }
${APP_ROUTE}${PUBLIC_ROUTE}`;

// What proxies write in X-Forwarded-For that is no address: Squid's `unknown`, an RFC 7239 obfuscated name, junk,
// a bad port, an unclosed bracket.
const UNREADABLE = ['unknown', '_hidden', 'garbage', '203.0.113.5:4711x', '[2001:db8::1]:x', '[2001:db8::1'];

let s: Stack;
let alice: string;

before(async () => {
  s = await startStack({ routes: ROUTES, extra: 'trustedProxies: [127.0.0.0/8]' });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  alice = sessionCookie(b, s.url('app.localhost'))!;
  assert.ok(alice);
}, { timeout: 60_000 });

after(async () => {
  await s?.close();
});

/** Sends GET /m-<marker> to `host` through the trusted "proxy" (the test's socket on 127.0.0.1) with `lines`. */
async function send(host: string, lines: string[], options: { cookie?: boolean } = {}) {
  const m = marker('xff');
  const logsBefore = s.logs.length;
  const ex = await sendRaw(
    s.port,
    head(`GET /m-${m} HTTP/1.1`, `Host: ${host}:${s.port}`, 'Accept: application/json', ...(options.cookie === false ? [] : [`Cookie: drawbridge=${cookieOn(s.port, alice, host)}`]), ...lines, 'Connection: close'),
  );
  const isLine = (l: Record<string, any>) => l.event === 'request' && l.path === `/m-${m}`;
  await waitFor(() => s.logs.slice(logsBefore).some(isLine), 5000);
  return { res: ex.first, upstream: s.app.requests.filter((r) => r.url.includes(m)), log: s.logs.slice(logsBefore).find(isLine)! };
}

describe('an unreadable client hop from a trusted proxy is an unknown address no ip rule admits', () => {
  for (const hop of UNREADABLE) {
    test(`X-Forwarded-For: ${hop}`, { timeout: 20_000 }, async () => {
      // allow: ip [the proxy's own range] — it used to become the proxy's address and match.
      const lan = await send('lan.localhost', [`X-Forwarded-For: ${hop}`]);
      assert.equal(lan.res.status, 403, lan.res.body);
      assert.deepEqual(JSON.parse(lan.res.body).reasons.map((r: { code: string }) => r.code), ['no-allow-matched', 'ip-unknown']);
      assert.equal(lan.upstream.length, 0, 'the upstream was not contacted');
      // The log does not claim the proxy's address as the client's, and says which hop could not be read.
      assert.equal(lan.log.ip, '');
      assert.equal(lan.log.ipUnknown, hop);
      assert.deepEqual(lan.log.reasons, ['no-allow-matched', 'ip-unknown']);

      // deny: not ip [office, the proxy's range] — still denies.
      const inside = await send('inside.localhost', [`X-Forwarded-For: ${hop}`]);
      assert.equal(inside.res.status, 403, inside.res.body);
      assert.deepEqual(JSON.parse(inside.res.body).reasons.map((r: { code: string }) => r.code), ['deny-undecided', 'not-undecided', 'ip-unknown']);
      assert.equal(inside.upstream.length, 0);

      // allow: not ip [a blocklist] — does not allow.
      const blocklist = await send('blocklist.localhost', [`X-Forwarded-For: ${hop}`]);
      assert.equal(blocklist.res.status, 403, blocklist.res.body);
      assert.equal(blocklist.upstream.length, 0);
    });
  }

  test('the unreadable hop anywhere right of the client counts; left of it, it is never reached', { timeout: 20_000 }, async () => {
    // The proxy appended junk after a real client, or after a trusted hop: unknown.
    for (const xff of ['198.51.100.7, unknown', '198.51.100.7, 127.0.0.2:99999']) {
      const { res, log } = await send('office.localhost', [`X-Forwarded-For: ${xff}`]);
      assert.equal(res.status, 403, xff);
      assert.equal(log.ip, '', xff);
    }
    // What a client put in front of the hop the proxy appended is never read: the client is 198.51.100.7.
    const { res, log } = await send('office.localhost', ['X-Forwarded-For: unknown, 198.51.100.7']);
    assert.equal(res.status, 200);
    assert.equal(log.ip, '198.51.100.7');
    assert.equal(log.ipUnknown, undefined);
  });

  test('control: with a readable address, the same routes decide by it', { timeout: 20_000 }, async () => {
    assert.equal((await send('blocklist.localhost', ['X-Forwarded-For: 203.0.113.9'])).res.status, 200);
    assert.equal((await send('blocklist.localhost', ['X-Forwarded-For: 192.0.2.9'])).res.status, 403);
    assert.equal((await send('inside.localhost', ['X-Forwarded-For: 198.51.100.9'])).res.status, 200);
    assert.equal((await send('inside.localhost', ['X-Forwarded-For: 203.0.113.9'])).res.status, 403);
    // No X-Forwarded-For at all: the trusted peer's own request (a health check), its own address.
    const own = await send('lan.localhost', []);
    assert.equal(own.res.status, 200);
    assert.equal(own.log.ip, '127.0.0.1');
  });

  test('a public route serves the request; the log line has no client address but the hop it could not read', { timeout: 20_000 }, async () => {
    const { res, upstream, log } = await send('public.localhost', ['X-Forwarded-For: unknown'], { cookie: false });
    assert.equal(res.status, 200);
    assert.equal(log.ip, '');
    assert.equal(log.ipUnknown, 'unknown');
    assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-for'), ['unknown, 127.0.0.1'], 'the chain as received, then the peer');
  });
});

describe('ip:port hops are matched by their address', () => {
  for (const [hop, address] of [
    ['198.51.100.7:4711', '198.51.100.7'],
    ['[2001:db8::1]:4711', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['198.51.100.7:4711, 127.0.0.2:5555', '198.51.100.7'],
  ] as const) {
    test(`X-Forwarded-For: ${hop}`, { timeout: 20_000 }, async () => {
      const { res, upstream, log } = await send('office.localhost', [`X-Forwarded-For: ${hop}`]);
      assert.equal(res.status, 200, res.body);
      assert.equal(upstream.length, 1);
      assert.equal(log.ip, address);
      assert.equal(log.ipUnknown, undefined);
    });
  }

  test('an address with a port outside the ranges is refused, and logged as that address', { timeout: 20_000 }, async () => {
    const { res, log } = await send('office.localhost', ['X-Forwarded-For: 203.0.113.5:4711']);
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body).reasons.map((r: { code: string }) => r.code), ['no-allow-matched', 'ip-outside']);
    assert.equal(log.ip, '203.0.113.5');
    // Nor does it count as the proxy's own range any more.
    assert.equal((await send('lan.localhost', ['X-Forwarded-For: 203.0.113.5:4711'])).res.status, 403);
  });
});

describe('X-Forwarded-Host and -Proto sent by a client ahead of an appending proxy do not win', () => {
  test('X-Forwarded-Host: the value the proxy appended is the host matched, authorized and passed on', { timeout: 20_000 }, async () => {
    // The client asks for the protected host; the proxy, which serves it the public host, appends that one. As one
    // comma-joined header, and as two header lines (a proxy that adds a header of its own).
    for (const lines of [
      [`X-Forwarded-Host: app.localhost:${s.port}, public.localhost:${s.port}`],
      [`X-Forwarded-Host: app.localhost:${s.port}`, `X-Forwarded-Host: public.localhost:${s.port}`],
    ]) {
      const { res, upstream, log } = await send('public.localhost', lines, { cookie: false });
      assert.equal(res.status, 200, `${lines.join(' | ')}: ${res.body}`);
      assert.equal(log.route, 'public');
      assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-host'), [`public.localhost:${s.port}`]);
    }
  });

  test('X-Forwarded-Proto: the scheme the proxy appended is the one believed and passed on', { timeout: 20_000 }, async () => {
    for (const lines of [['X-Forwarded-Proto: https, http'], ['X-Forwarded-Proto: https', 'X-Forwarded-Proto: http']]) {
      // Over https the session cookie would be __Host-drawbridge: with the client's https believed, alice's cookie is no session.
      const { res, upstream } = await send('app.localhost', [...lines, 'X-Forwarded-For: 198.51.100.7']);
      assert.equal(res.status, 200, `${lines.join(' | ')}: ${res.body}`);
      assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-proto'), ['http']);
    }
  });
});

test('Forwarded (RFC 7239) from a trusted proxy is not read and not passed on', { timeout: 20_000 }, async () => {
  const forwarded = `Forwarded: for=127.0.0.9;host=app.localhost:${s.port};proto=https`;
  // It names an address in the route's range: not read, so the unreadable X-Forwarded-For hop still decides.
  const lan = await send('lan.localhost', [forwarded, 'X-Forwarded-For: unknown']);
  assert.equal(lan.res.status, 403);
  const { res, upstream, log } = await send('public.localhost', [forwarded, 'X-Forwarded-For: 198.51.100.7'], { cookie: false });
  assert.equal(res.status, 200);
  assert.equal(log.route, 'public', 'its host= is not read');
  assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'forwarded'), [], 'not passed on: the upstream reads Drawbridge’s X-Forwarded-*');
  assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-proto'), ['http']);
  assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-for'), ['198.51.100.7, 127.0.0.1']);
});
