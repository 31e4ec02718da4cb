// admission/session-context.test.ts — the session's bound context through the admission core: a session started with
// a device certificate is refused without it (whatever the route), `context` routes compare the request with the
// binding, a change is logged once with network prefixes only and becomes a risk signal in the store, refusals are
// counted, a network new for the user is a signal, and a session from before binding must re-bind (fail closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { compileConfig, type CompiledConfig, type Route } from '../routes/compile.js';
import type { DeviceCertificate, Identity } from '../policy/input.js';
import { MemoryStore } from '../session/memory-store.js';
import { userNetworkKey } from '../session/sessions.js';
import type { SessionRecord } from '../session/store.js';
import { JwksCache } from '../oidc/jwks.js';
import { absoluteUrlInput, classify } from './classify.js';
import { admit, type Admission, type AdmitContext, type AdmitRequest } from './admit.js';
import { SessionContexts } from './session-context.js';

function compiled(): CompiledConfig {
  const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: wiki, from: "https://wiki.example.com", to: "http://10.0.0.1:80", policy: { allow: [ { groups: [eng] } ] } }
  - { name: pay, from: "https://pay.example.com", to: "http://10.0.0.1:80", policy: { allow: [ { and: [ { groups: [eng] }, { context: { sameNetwork: /24, sameDevice: true, sameAgent: true } } ] } ] } }
  - { name: strict, from: "https://strict.example.com", to: "http://10.0.0.1:80", policy: { allow: [ { and: [ { groups: [eng] }, { context: { sameAgent: true, onChange: deny } } ] } ] } }
  - { name: risky, from: "https://risky.example.com", to: "http://10.0.0.1:80", policy: { deny: [ { risk: { threshold: 3, weights: { denialBurst: 3 }, burst: { denials: 3, within: 1m } } } ], allow: [ { groups: [eng] } ] } }
`;
  const r = loadConfigText(text, 't.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return compileConfig(r.config);
}

const C = compiled();
const NOW = Date.parse('2026-12-06T10:00:00Z');
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const LAPTOP: DeviceCertificate = { fingerprint256: 'ab'.repeat(32), subject: { CN: 'laptop-42' }, issuer: { CN: 'Device CA' }, san: ['URI:urn:device:42'], source: 'tls' };
const alice: Identity = { sub: 'a', user: 'alice', groups: ['eng'], amr: ['pwd'], claims: {}, emailVerified: true, authTime: NOW / 1000 };

interface Harness {
  store: MemoryStore;
  ctx: AdmitContext;
  logs: Array<Record<string, unknown>>;
}

function harness(): Harness {
  const store = new MemoryStore({ maxSessions: 100, now: () => NOW });
  const logs: Array<Record<string, unknown>> = [];
  const logger = { warn: (f: Record<string, unknown>) => void logs.push(f), error: (f: Record<string, unknown>) => void logs.push(f) };
  const ctx: AdmitContext = {
    sessions: {
      loadNow: (id) => {
        const record = store.getNow(id);
        return record ? { state: 'valid', id, record } : { state: 'none' };
      },
      loadShared: async (id) => {
        const record = await store.get(id);
        return record ? { state: 'valid', id, record } : { state: 'none' };
      },
      touchIfDue: () => undefined,
    },
    refresher: { due: () => false, refresh: () => Promise.reject(new Error('no refresh')) },
    oidc: { ready: false, issuer: '', jwksUri: () => new URL('https://idp.example.com/jwks'), jwks: { bearer: new JwksCache() } },
    identities: { bearer: () => alice },
    logger,
    contexts: new SessionContexts(store, { warn: logger.warn }, () => 12 * 3600_000),
  };
  return { store, ctx, logs };
}

async function session(h: Harness, id: string, binding?: SessionRecord['binding']): Promise<void> {
  const record: SessionRecord = { id, identity: alice, tokens: {}, createdAt: NOW, lastSeenAt: NOW, expiresAt: NOW + 3600_000, idleTimeoutMs: 1800_000 };
  if (binding) record.binding = binding;
  await h.store.set(record);
}

function request(url: string, extra: Partial<AdmitRequest> = {}): AdmitRequest {
  const c = classify(C.table, absoluteUrlInput(url, 'GET') as Exclude<ReturnType<typeof absoluteUrlInput>, string>);
  assert.ok(c.kind === 'route');
  return { compiled: C, route: c.route as Route, method: 'GET', path: c.path, query: c.query, origin: new URL(url).origin, ip: '203.0.113.7', userAgent: FIREFOX, now: NOW, requestId: 'r1', sessionId: 's1', ...extra };
}

/** Waits (without a timer race) until the store's background write has landed. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail('the background write never landed');
}

test('a session started with a device certificate is refused without that certificate, on every route', async () => {
  const h = harness();
  await session(h, 's1', { ip: '203.0.113.7', agent: 'firefox/linux', device: LAPTOP.fingerprint256 });
  const withCert = (await admit(h.ctx, request('https://wiki.example.com/', { device: LAPTOP }))) as Admission;
  assert.equal(withCert.kind, 'allow');
  for (const url of ['https://wiki.example.com/', 'https://pay.example.com/']) {
    const without = (await admit(h.ctx, request(url))) as Admission;
    assert.equal(without.kind, 'deny', `${url}: the cookie alone is refused`);
    assert.deepEqual(without.kind === 'deny' && without.decision.reasons.map((r) => r.code), ['session-device-required']);
    const other = (await admit(h.ctx, request(url, { device: { ...LAPTOP, fingerprint256: 'cd'.repeat(32) } }))) as Admission;
    assert.equal(other.kind, 'deny', `${url}: another certificate is refused`);
  }
  // A session started without a certificate is not affected by one (the `context` rule's sameDevice decides that).
  const h2 = harness();
  await session(h2, 's1', { ip: '203.0.113.7', agent: 'firefox/linux' });
  assert.equal(((await admit(h2.ctx, request('https://wiki.example.com/', { device: LAPTOP }))) as Admission).kind, 'allow');
  assert.equal(((await admit(h2.ctx, request('https://pay.example.com/', { device: LAPTOP }))) as Admission).kind, 'step-up');
});

test('sameDevice with the certificate: allowed; the same session from another network asks for a step-up that re-binds', async () => {
  const h = harness();
  await session(h, 's1', { ip: '203.0.113.7', agent: 'firefox/linux', device: LAPTOP.fingerprint256 });
  assert.equal(((await admit(h.ctx, request('https://pay.example.com/', { device: LAPTOP }))) as Admission).kind, 'allow');
  const moved = (await admit(h.ctx, request('https://pay.example.com/', { device: LAPTOP, ip: '198.51.100.20' }))) as Admission;
  assert.equal(moved.kind, 'step-up');
  assert.ok(moved.kind === 'step-up' && /&step_up=1&max_age=300/.test(moved.signIn), 'a fresh sign-in (prompt=login, max_age)');
  assert.deepEqual(moved.decision.reasons.map((r) => r.code), ['step-up-required', 'and-unauthorized', 'context-network-changed']);
});

test('a change of context is logged once, with network prefixes only, and becomes a signal in the store', async () => {
  const h = harness();
  await session(h, 's1', { ip: '203.0.113.7', agent: 'firefox/linux' });
  await admit(h.ctx, request('https://wiki.example.com/'));
  assert.equal(h.logs.length, 0, 'the bound context is no change');
  for (let i = 0; i < 3; i++) await admit(h.ctx, request('https://wiki.example.com/', { ip: '198.51.100.20', userAgent: CHROME }));
  const changed = h.logs.filter((l) => l.event === 'session-context-changed');
  assert.equal(changed.length, 1, 'once, not once per request');
  assert.equal(changed[0]!.oldNetwork, '203.0.113.0/24');
  assert.equal(changed[0]!.newNetwork, '198.51.100.0/24');
  assert.equal(changed[0]!.oldAgent, 'firefox/linux');
  assert.equal(changed[0]!.newAgent, 'chrome/windows');
  assert.ok(!JSON.stringify(changed).includes('203.0.113.7') && !JSON.stringify(changed).includes('198.51.100.20'), 'never a full address');
  await until(async () => ((await h.store.get('s1'))?.signals ?? []).some((s) => s.kind === 'new-network'));
  const stored = (await h.store.get('s1'))!;
  assert.deepEqual(stored.seen, { network: '198.51.100.0/24', agent: 'chrome/windows' });
  assert.deepEqual(stored.signals!.map((s) => s.kind).sort(), ['context-change', 'new-network']);
  assert.deepEqual(stored.binding, { ip: '203.0.113.7', agent: 'firefox/linux' }, 'the binding itself changes only at a fresh sign-in');
  // Back on the first network: a change again (logged), but that network is known for alice: no new-network signal.
  await h.store.putOnce(userNetworkKey('a', '203.0.113.0/24'), '1', 3600_000);
  await admit(h.ctx, request('https://wiki.example.com/', { userAgent: CHROME }));
  await until(async () => ((await h.store.get('s1'))?.signals ?? []).filter((s) => s.kind === 'context-change').length === 2);
  assert.equal((await h.store.get('s1'))!.signals!.filter((s) => s.kind === 'new-network').length, 1);
});

test('every change is logged, also one straight after another (before the first is written)', async () => {
  const h = harness();
  await session(h, 's1', { ip: '203.0.113.7', agent: 'firefox/linux' });
  // Synchronous admissions in a row: no background write can land in between.
  const kinds: string[] = [];
  for (const ip of ['198.51.100.20', '203.0.113.7', '198.51.100.21', '198.51.100.22']) kinds.push((admit(h.ctx, request('https://wiki.example.com/', { ip })) as Admission).kind);
  assert.deepEqual(kinds, ['allow', 'allow', 'allow', 'allow']);
  const changed = h.logs.filter((l) => l.event === 'session-context-changed').map((l) => `${l.oldNetwork} > ${l.newNetwork}`);
  assert.deepEqual(changed, ['203.0.113.0/24 > 198.51.100.0/24', '198.51.100.0/24 > 203.0.113.0/24', '203.0.113.0/24 > 198.51.100.0/24'], 'the same /24 again is no change');
});

test('refusals are counted in the store, and a burst of them makes the risk rule deny, with the signal named', async () => {
  const h = harness();
  await session(h, 's1', { ip: '203.0.113.7', agent: 'firefox/linux' });
  assert.equal(((await admit(h.ctx, request('https://risky.example.com/'))) as Admission).kind, 'allow');
  for (let i = 1; i <= 3; i++) {
    const denied = (await admit(h.ctx, request('https://strict.example.com/', { userAgent: CHROME, now: NOW + i * 1000 }))) as Admission;
    assert.equal(denied.kind, 'deny', 'onChange: deny refuses, no step-up');
    assert.deepEqual(denied.decision?.reasons.map((r) => r.code), ['no-allow-matched', 'and-unauthorized', 'context-agent-changed']);
    await until(async () => ((await h.store.get('s1'))?.signals ?? []).filter((s) => s.kind === 'denial').length === i);
  }
  const risky = (await admit(h.ctx, request('https://risky.example.com/', { now: NOW + 5000 }))) as Admission;
  assert.equal(risky.kind, 'deny');
  // The change of browser family that the refusals came from counts too: every contributing signal is listed.
  assert.deepEqual(risky.decision?.reasons.map((r) => r.code), ['deny-matched', 'risk-ok', 'risk-context-change', 'risk-denial-burst']);
  // Two changes (to chrome for the refusals, back to firefox now), 2 each, and the burst, 3.
  assert.equal(risky.decision?.reasons[1]!.detail, 'score 7, threshold 3');
});

test('a session created before binding existed must re-bind on context routes (fail closed), and works elsewhere', async () => {
  const h = harness();
  await session(h, 's1');
  assert.equal(((await admit(h.ctx, request('https://wiki.example.com/'))) as Admission).kind, 'allow');
  const pay = (await admit(h.ctx, request('https://pay.example.com/'))) as Admission;
  assert.equal(pay.kind, 'step-up');
  assert.deepEqual(pay.decision?.reasons.map((r) => r.code), ['step-up-required', 'and-unauthorized', 'context-unbound']);
  assert.equal(h.logs.filter((l) => l.event === 'session-context-changed').length, 0, 'no change to log: nothing was bound');
});

test('the last context is compared field by field: only the certificate, or only the User-Agent, changing is a change; the same again is none', async () => {
  const h = harness();
  await session(h, 's1', { ip: '203.0.113.7', agent: 'firefox/linux' });
  const changes = () => h.logs.filter((l) => l.event === 'session-context-changed');
  admit(h.ctx, request('https://wiki.example.com/'));
  assert.equal(changes().length, 0);
  admit(h.ctx, request('https://wiki.example.com/', { device: LAPTOP }));
  assert.equal(changes().length, 1);
  assert.equal(changes()[0]!.deviceChanged, true);
  admit(h.ctx, request('https://wiki.example.com/', { device: LAPTOP }));
  assert.equal(changes().length, 1, 'the same context again');
  admit(h.ctx, request('https://wiki.example.com/', { device: LAPTOP, userAgent: CHROME }));
  assert.equal(changes().length, 2);
  assert.deepEqual([changes()[1]!.oldAgent, changes()[1]!.newAgent], ['firefox/linux', 'chrome/windows']);
  // The same User-Agent spelled in another string object is the same context.
  admit(h.ctx, request('https://wiki.example.com/', { device: { ...LAPTOP }, userAgent: [...CHROME].join('') }));
  assert.equal(changes().length, 2);
});
