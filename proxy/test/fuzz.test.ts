// proxy/test/fuzz.test.ts — property-based attacks over raw sockets (fast-check): random paths built from the
// characters normalization bugs live in, random hosts (route hosts, their spellings, junk) and random sets of
// identity headers in random case and `_` spellings, sent as anonymous, denied and allowed users against a running
// stack whose upstream records everything. Invariants: Drawbridge itself never answers 5xx (the upstream is up); the
// upstream never receives a client-set identity value or an un-normalized path; and no request reaches the upstream
// without a request log line saying `allow` for that route with the same request id.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeHost, normalizeTarget } from '../src/url/normalize.js';
import { isUnderPrefix } from '../src/url/path-prefix.js';
import { head, headerPairs, sendRaw } from '../../test-support/raw.js';
import { cookieForOrigin, cookieOn, sessionCookie, startStack, waitFor, type Stack } from '../../test-support/stack.js';
import { ADMIN_UNDER_PUBLIC_ROUTES } from '../../test-support/routes.js';

const ROUTES = `routes:
${ADMIN_UNDER_PUBLIC_ROUTES}  - name: api
    from: http://api.localhost:{{PORT}}
    to: {{APP}}
    identityHeaders: { user: X-Auth-Request-User, email: X-Auth-Request-Email, groups: X-Auth-Request-Groups, name: X-Auth-Request-Name }
    policy:
      allow:
        - authenticated: true
  - name: wild
    from: http://*.wild.localhost:{{PORT}}
    to: {{APP}}
    public: true
`;

const IDENTITY_NAMES = [
  'X-Forwarded-User',
  'X-Forwarded-Email',
  'X-Forwarded-Groups',
  'X-Forwarded-Name',
  'X-Forwarded-Access-Token',
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Drawbridge-Assertion',
  'X-Drawbridge-Groups-Truncated',
  'X-Drawbridge-Whatever',
  'X-Forwarded-Host',
  'X-Forwarded-For',
  'X-Forwarded-Proto',
  'Forwarded',
  'X-Real-IP',
];
// What Drawbridge itself may add under its own prefix.
const OWN_DRAWBRIDGE_HEADERS = new Set(['x-drawbridge-assertion', 'x-drawbridge-groups-truncated']);

const PATH_TOKENS = [
  '.', '..', '%2e', '%2E', '.%2e', '%2e%2e', '/', '//', '%2f', '%2F', '%5c', '%5C', '\\', ';', '..;', '%3b', '#', '%23',
  '?', '%00', '%0a', '%', '%zz', '%4', '%61', '%41', 'admin', 'ADMIN', 'public', 'a', 'x', 'dmin', '~', '-', '_', '%20',
  '.drawbridge', 'echo', '%7f', '@', ':', '&', '=', '%c0%ae',
];

let s: Stack;
let bob: string;
let carol: string;

before(async () => {
  s = await startStack({ routes: ROUTES });
  const b = s.browser();
  await s.signIn(b, s.url('app.localhost', '/admin'), 'bob');
  bob = sessionCookie(b, s.url('app.localhost'))!;
  const c = s.browser();
  await s.signIn(c, s.url('app.localhost', '/admin'), 'carol');
  carol = sessionCookie(c, s.url('app.localhost'))!;
  assert.ok(bob && carol);
});

after(async () => {
  await s?.close();
});

const pathArb = fc
  .array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PATH_TOKENS) }, { weight: 1, arbitrary: fc.stringMatching(/^[a-zA-Z0-9._~%/-]{1,6}$/) }), { maxLength: 14 })
  .map((tokens) => `/${tokens.join('')}`);

const hostArb = (port: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('app.localhost', 'APP.localhost', 'app.localhost.', 'api.localhost', 'Api.LOCALHOST.', 'x.wild.localhost', 'a.b.wild.localhost', 'wild.localhost', 'nothing.localhost', 'auth.localhost').map((h) => `${h}:${port}`) },
    { weight: 2, arbitrary: fc.constantFrom('app.localhost', 'app.localhost:1', `user@app.localhost:${port}`, '', `[::1]:${port}`, `app_localhost:${port}`, `app.localhost:0${port}`, `app.localhost:${port}:${port}`, `-app.localhost:${port}`) },
    { weight: 1, arbitrary: fc.stringMatching(/^[\x21-\x7e]{0,24}$/) },
  );

/** A header name in a random spelling: case per character, `-` or `_` per separator. */
const spellingArb = fc.record({ name: fc.constantFrom(...IDENTITY_NAMES), upper: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }), underscore: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }) }).map(({ name, upper, underscore }) => {
  let sep = 0;
  return [...name].map((ch, i) => (ch === '-' ? (underscore[sep++ % 4] ? '_' : '-') : upper[i % 32] ? ch.toUpperCase() : ch.toLowerCase())).join('');
});

const requestArb = (port: number) =>
  fc.record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'DELETE', 'OPTIONS', 'PUT'),
    path: pathArb,
    host: hostArb(port),
    spoofed: fc.array(spellingArb, { maxLength: 8 }),
    who: fc.constantFrom('anonymous', 'bob', 'carol'),
    hopByHop: fc.boolean(),
  });

interface Violation {
  what: string;
  detail: unknown;
}

test('random paths, hosts and identity headers: no 5xx, nothing spoofed or un-normalized upstream, nothing forwarded without an allow', { timeout: 240_000 }, async () => {
  let forwarded = 0;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(requestArb(s.port), async (r) => {
      runs++;
      const seenBefore = s.app.requests.length;
      const logsBefore = s.logs.length;
      const signedIn = r.who === 'bob' ? bob : r.who === 'carol' ? carol : undefined;
      // The session's own cookie value for the host asked (each host has its own, bound to its normalized origin).
      const host = normalizeHost(r.host, 'http');
      const cookie = signedIn && host.ok ? cookieForOrigin(signedIn, `http://${host.host}`) : signedIn;
      const body = r.method === 'POST' || r.method === 'PUT' ? 'payload' : undefined;
      const lines = [
        `${r.method} ${r.path} HTTP/1.1`,
        `Host: ${r.host}`,
        'Accept: application/json',
        ...(cookie ? [`Cookie: drawbridge=${cookie}`] : []),
        ...r.spoofed.map((name, i) => `${name}: SPOOF-${i}`),
        ...(r.hopByHop && r.spoofed.length ? [`Connection: close, ${r.spoofed.join(', ')}, X-Request-Id`] : ['Connection: close']),
        ...(body !== undefined ? [`Content-Length: ${body.length}`] : []),
      ];
      const ex = await sendRaw(s.port, head(...lines) + (body ?? ''), { timeoutMs: 5000 });
      const violations: Violation[] = [];
      if (ex.timedOut) violations.push({ what: 'no answer', detail: ex.raw.slice(0, 200) });
      if (ex.responses.length !== 1) violations.push({ what: 'not exactly one response', detail: ex.raw.slice(0, 300) });
      for (const res of ex.responses) if (res.status >= 500) violations.push({ what: `Drawbridge answered ${res.status}`, detail: res.body.slice(0, 300) });

      const upstream = s.app.requests.slice(seenBefore);
      if (upstream.length > 0) await waitFor(() => s.logs.slice(logsBefore).some((l) => l.event === 'request'), 2000);
      const logs = new Map(s.logs.filter((l) => l.event === 'request').map((l) => [l.requestId, l]));
      for (const u of upstream) {
        forwarded++;
        const spoofed = headerPairs(u.rawHeaders).filter(([, v]) => v.includes('SPOOF'));
        if (spoofed.length) violations.push({ what: 'client-set identity upstream', detail: spoofed });
        const foreign = headerPairs(u.rawHeaders).filter(([n]) => n.startsWith('x-drawbridge-') && !OWN_DRAWBRIDGE_HEADERS.has(n));
        if (foreign.length) violations.push({ what: 'foreign x-drawbridge-* upstream', detail: foreign });
        const again = normalizeTarget(u.url);
        const pathAndQuery = again.ok ? (again.query === '' ? again.path : `${again.path}?${again.query}`) : undefined;
        if (pathAndQuery !== u.url) violations.push({ what: 'un-normalized path upstream', detail: u.url });
        const ids = headerPairs(u.rawHeaders).filter(([n]) => n === 'x-request-id');
        const log = ids.length === 1 ? logs.get(ids[0]![1]) : undefined;
        if (!log) violations.push({ what: 'upstream request without its log line', detail: ids });
        else {
          if (log.decision !== 'allow') violations.push({ what: 'forwarded without allow', detail: log });
          if (again.ok && log.path !== again.path) violations.push({ what: 'forwarded a path other than the authorized one', detail: [log.path, u.url] });
          if (again.ok && log.host.startsWith('app.localhost') && isUnderPrefix(again.path, '/admin') && (log.route !== 'admin' || log.user !== 'carol')) {
            violations.push({ what: '/admin reached without the admin route allowing carol', detail: log });
          }
        }
      }
      assert.deepEqual(violations, [], `${JSON.stringify(r)}`);
    }),
    { numRuns: 400, interruptAfterTimeLimit: 150_000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
  );
  assert.ok(runs >= 50, `${runs} runs`);
  assert.ok(forwarded >= 20, `enough requests reached the upstream to mean something (${forwarded} of ${runs})`);
});

test('allowed requests with random identity spellings: the upstream has Drawbridge’s identity and only it', { timeout: 120_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(spellingArb, { minLength: 1, maxLength: 12 }), fc.constantFrom('api.localhost', 'app.localhost'), fc.boolean(), async (spoofed, hostName, hop) => {
      const m = `fz${Math.random().toString(36).slice(2)}`;
      const path = hostName === 'app.localhost' ? `/admin/echo?${m}` : `/echo?${m}`;
      const ex = await sendRaw(
        s.port,
        head(`GET ${path} HTTP/1.1`, `Host: ${hostName}:${s.port}`, 'Accept: application/json', `Cookie: drawbridge=${cookieOn(s.port, carol, hostName)}`, ...spoofed.map((n, i) => `${n}: SPOOF-${i}`), hop ? `Connection: close, ${spoofed.join(', ')}` : 'Connection: close'),
      );
      assert.equal(ex.first.status, 200);
      const [u] = s.app.requests.filter((q) => q.url.includes(m));
      assert.ok(u);
      const pairs = headerPairs(u.rawHeaders);
      assert.deepEqual(
        pairs.filter(([, v]) => v.includes('SPOOF')),
        [],
      );
      const userHeader = hostName === 'api.localhost' ? 'x-auth-request-user' : 'x-forwarded-user';
      assert.deepEqual(
        pairs.filter(([n]) => n === userHeader).map(([, v]) => v),
        ['carol'],
      );
      assert.equal(pairs.filter(([n]) => n === 'x-drawbridge-assertion').length, 1);
      assert.equal(pairs.filter(([n]) => n === 'x-forwarded-for').length, 1);
      assert.equal(pairs.filter(([n]) => n === 'x-request-id').length, 1);
    }),
    { numRuns: 150, interruptAfterTimeLimit: 60_000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
  );
});
