// proxy/test/attack-host.test.ts — which host a request is for (SPEC §3 steps 1–3): absolute-form targets naming
// another host, duplicate Host, Host spelled with a trailing dot, a port, upper case or userinfo, hosts no route
// serves, and X-Forwarded-Host from untrusted and trusted peers. The host that is matched is the host that is
// authorized, logged and passed upstream; a host no route serves never reaches an upstream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { head, headerValues, marker, sendRaw, type WireResponse } from '../../test-support/raw.js';
import { sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { APP_ROUTE, PUBLIC_ROUTE } from '../../test-support/routes.js';

const ROUTES = `routes:
${APP_ROUTE}${PUBLIC_ROUTE}  - name: vhost
    from: http://vhost.localhost:{{PORT}}
    to: {{APP}}
    public: true
    preserveHost: true
`;

let s: Stack;
let alice: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/'), 'alice');
  alice = sessionCookie(b, s.url('app.localhost'))!;
  assert.ok(alice);
});

after(async () => {
  await s?.close();
});

interface Seen {
  response: WireResponse;
  upstream: (typeof s.app.requests)[number][];
  log?: Record<string, any>;
}

/** Sends `GET <target>` with the given header lines (a `{m}` in the target is replaced by a fresh marker). */
async function send(stack: Stack, target: string, headers: string[]): Promise<Seen> {
  const m = marker('host');
  const logsBefore = stack.logs.length;
  const ex = await sendRaw(stack.port, head(`GET ${target.replaceAll('{m}', m)} HTTP/1.1`, ...headers, 'Accept: application/json', 'Connection: close'));
  await waitFor(() => stack.logs.slice(logsBefore).some((l) => l.event === 'request' || l.event === 'client-error'), 3000);
  return {
    response: ex.first,
    upstream: stack.app.requests.filter((r) => r.url.includes(m)),
    log: stack.logs.slice(logsBefore).find((l) => l.event === 'request'),
  };
}

describe('the request target names the host only through Host', () => {
  test('absolute-form naming another host is refused', { timeout: 15_000 }, async () => {
    for (const target of ['http://other.localhost/{m}', `http://app.localhost:PORT/{m}`, 'https://public.localhost/{m}', '//app.localhost/{m}']) {
      const { response, upstream } = await send(s, target.replace('PORT', String(s.port)), [`Host: public.localhost:${s.port}`]);
      if (target.startsWith('//')) {
        // Origin form with an empty first segment: a path, never a host.
        assert.equal(response.status, 200, target);
        assert.equal(upstream.length, 1);
        assert.match(upstream[0]!.url, /^\/app\.localhost\/host/, 'forwarded as a path on the Host the client named');
        continue;
      }
      assert.equal(response.status, 400, target);
      assert.equal(upstream.length, 0, `${target}: the upstream was not contacted`);
    }
  });

  test('absolute-form naming the protected host on the public host cannot borrow its policy or reach it', { timeout: 15_000 }, async () => {
    const { response, upstream } = await send(s, `http://app.localhost:${s.port}/{m}`, [`Host: public.localhost:${s.port}`, `Cookie: drawbridge=${alice}`]);
    assert.equal(response.status, 400);
    assert.equal(upstream.length, 0);
  });

  test('two Host headers are refused, whatever their values', { timeout: 15_000 }, async () => {
    for (const pair of [
      [`Host: public.localhost:${s.port}`, `Host: app.localhost:${s.port}`],
      [`Host: app.localhost:${s.port}`, `Host: public.localhost:${s.port}`],
      [`Host: public.localhost:${s.port}`, `Host: public.localhost:${s.port}`],
      [`Host: public.localhost:${s.port}`, `hOsT: evil.example`],
    ]) {
      const { response, upstream, log } = await send(s, '/{m}', pair);
      assert.equal(response.status, 400, pair.join(' + '));
      assert.equal(upstream.length, 0, `${pair.join(' + ')}: the upstream was not contacted`);
      assert.equal(log?.decision, 'bad-request');
    }
  });

  test('no Host, an empty Host, or a Host that is no host name is refused', { timeout: 15_000 }, async () => {
    for (const headers of [
      [],
      ['Host: '],
      [`Host: evil@public.localhost:${s.port}`],
      [`Host: public.localhost:${s.port}@evil.example`],
      [`Host: public.localhost:${s.port}/admin`],
      [`Host: public.localhost :${s.port}`],
      [`Host: public_x.localhost:${s.port}`],
      [`Host: public.localhost:0${s.port}`],
      [`Host: public.localhost:${s.port}:${s.port}`],
      ['Host: public.localhost:99999'],
      ['Host: [::1'],
      [`Host: public.localhost%2F:${s.port}`],
      [`Host: public..localhost:${s.port}`],
    ]) {
      const { response, upstream } = await send(s, '/{m}', headers);
      assert.equal(response.status, 400, JSON.stringify(headers));
      assert.equal(upstream.length, 0, `${JSON.stringify(headers)}: the upstream was not contacted`);
    }
  });

  test('HTTP/1.0 without Host is refused', { timeout: 15_000 }, async () => {
    const before = s.app.requests.length;
    const ex = await sendRaw(s.port, 'GET /x HTTP/1.0\r\n\r\n');
    assert.equal(ex.first.status, 400);
    assert.equal(s.app.requests.length, before);
  });
});

describe('spellings of a served host are that host', () => {
  const spellings = (port: number) => [
    `public.localhost:${port}`,
    `public.localhost.:${port}`,
    `PUBLIC.LocalHost:${port}`,
    `Public.LOCALHOST.:${port}`,
  ];
  test('trailing dot and upper case match the route; the upstream gets the normalized host', { timeout: 15_000 }, async () => {
    for (const h of spellings(s.port)) {
      const { response, upstream, log } = await send(s, '/echo?{m}', [`Host: ${h}`]);
      assert.equal(response.status, 200, h);
      assert.equal(log?.route, 'public', h);
      assert.equal(log?.host, `public.localhost:${s.port}`, `${h}: the logged host`);
      assert.equal(upstream.length, 1);
      assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-host'), [`public.localhost:${s.port}`], h);
      assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'host'), [new URL(s.app.url).host], `${h}: Host is the upstream's own`);
    }
  });

  test('preserveHost passes the host that was matched, normalized, not the raw header', { timeout: 15_000 }, async () => {
    for (const h of [`vhost.localhost:${s.port}`, `VHOST.localhost.:${s.port}`, `vHoSt.LOCALHOST:${s.port}`]) {
      const { response, upstream } = await send(s, '/echo?{m}', [`Host: ${h}`]);
      assert.equal(response.status, 200, h);
      assert.equal(upstream.length, 1);
      assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'host'), [`vhost.localhost:${s.port}`], `${h}: the upstream's virtual host is the authorized one`);
    }
  });

  test('the upper-case spelling of the protected host is protected', { timeout: 15_000 }, async () => {
    for (const h of [`APP.localhost:${s.port}`, `app.localhost.:${s.port}`]) {
      const anonymous = await send(s, '/{m}', [`Host: ${h}`]);
      assert.equal(anonymous.response.status, 401, h);
      assert.equal(anonymous.upstream.length, 0);
      const signedIn = await send(s, '/{m}', [`Host: ${h}`, `Cookie: drawbridge=${alice}`]);
      assert.equal(signedIn.response.status, 200, h);
      assert.deepEqual(headerValues(signedIn.upstream[0]!.rawHeaders, 'x-forwarded-user'), ['alice']);
    }
  });
});

describe('hosts and ports no route serves', () => {
  test('404, and the upstream is never contacted', { timeout: 15_000 }, async () => {
    for (const h of ['nothing.localhost:PORT', 'public.localhost', 'public.localhost:80', 'public.localhost:1', 'localhost:PORT', '127.0.0.1:PORT', '[::1]:PORT', 'auth.localhost.evil.example:PORT', 'xpublic.localhost:PORT', 'public.localhost.evil:PORT']) {
      const value = h.replace('PORT', String(s.port));
      const { response, upstream, log } = await send(s, '/{m}', [`Host: ${value}`, `Cookie: drawbridge=${alice}`]);
      assert.equal(response.status, 404, value);
      assert.equal(upstream.length, 0, `${value}: the upstream was not contacted`);
      assert.equal(log?.decision, 'no-route', value);
    }
  });
});

describe('X-Forwarded-Host from an untrusted peer', () => {
  test('is ignored for matching', { timeout: 15_000 }, async () => {
    const unserved = await send(s, '/{m}', [`Host: nothing.localhost:${s.port}`, `X-Forwarded-Host: public.localhost:${s.port}`]);
    assert.equal(unserved.response.status, 404);
    assert.equal(unserved.upstream.length, 0);
    // A public Host cannot be turned into the protected host, nor the protected host into the public one.
    const toProtected = await send(s, '/echo?{m}', [`Host: public.localhost:${s.port}`, `X-Forwarded-Host: app.localhost:${s.port}`]);
    assert.equal(toProtected.response.status, 200);
    assert.equal(toProtected.log?.route, 'public');
    const toPublic = await send(s, '/{m}', [`Host: app.localhost:${s.port}`, `X-Forwarded-Host: public.localhost:${s.port}`]);
    assert.equal(toPublic.response.status, 401, 'the protected host stays protected');
    assert.equal(toPublic.upstream.length, 0);
  });

  test('is replaced upstream by the host that was matched', { timeout: 15_000 }, async () => {
    for (const variant of ['X-Forwarded-Host', 'x-forwarded-host', 'X_Forwarded_Host', 'X-FORWARDED-HOST', 'X-Forwarded_Host']) {
      const { response, upstream } = await send(s, '/echo?{m}', [`Host: public.localhost:${s.port}`, `${variant}: evil.example`, `${variant}: evil2.example`, 'Forwarded: host=evil.example']);
      assert.equal(response.status, 200, variant);
      assert.equal(upstream.length, 1);
      assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-host'), [`public.localhost:${s.port}`], variant);
      assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'forwarded'), [], variant);
    }
  });
});

describe('X-Forwarded-Host from a trusted proxy', () => {
  let t: Stack;
  before(async () => {
    t = await startStack({ routes: ROUTES, extra: 'trustedProxies: [127.0.0.1/32]' });
  });
  after(async () => {
    await t?.close();
  });

  test('is believed, normalized, matched, and passed on as matched', { timeout: 15_000 }, async () => {
    const { response, upstream, log } = await send(t, '/echo?{m}', [`Host: nothing.localhost:${t.port}`, `X-Forwarded-Host: PUBLIC.localhost.:${t.port}`]);
    assert.equal(response.status, 200);
    assert.equal(log?.route, 'public');
    assert.deepEqual(headerValues(upstream[0]!.rawHeaders, 'x-forwarded-host'), [`public.localhost:${t.port}`]);
  });

  test('an invalid one is refused, not ignored', { timeout: 15_000 }, async () => {
    for (const xfh of [`evil@public.localhost:${t.port}`, `public.localhost:${t.port}/x`, 'public_localhost']) {
      const { response, upstream } = await send(t, '/{m}', [`Host: public.localhost:${t.port}`, `X-Forwarded-Host: ${xfh}`]);
      assert.equal(response.status, 400, xfh);
      assert.equal(upstream.length, 0, xfh);
    }
  });

  test('an unserved one is a 404 even when Host is served', { timeout: 15_000 }, async () => {
    const { response, upstream } = await send(t, '/{m}', [`Host: public.localhost:${t.port}`, `X-Forwarded-Host: nothing.localhost:${t.port}`]);
    assert.equal(response.status, 404);
    assert.equal(upstream.length, 0);
  });
});
