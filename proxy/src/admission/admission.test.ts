// admission/admission.test.ts — classify (pure: normalize → reserved path → route, frozen) and admit
// (authenticate → decide → assertion): the synchronous fast path for a store that reads synchronously, a promise
// otherwise, and the same answer either way; fail closed when the store fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../config/load.js';
import { formatIssue } from '../config/locate.js';
import { compileConfig, type CompiledConfig, type Route } from '../routes/compile.js';
import type { Identity } from '../policy/input.js';
import type { LoadResult } from '../session/sessions.js';
import type { SessionRecord } from '../session/store.js';
import { absoluteUrlInput, classify } from './classify.js';
import { admit, givenPrincipal, sessionPrincipal, type Admission, type AdmitContext, type AdmitRequest } from './admit.js';
import { JwksCache } from '../oidc/jwks.js';

function compiled(): CompiledConfig {
  const text = `publicUrl: https://auth.example.com
trustedProxies: [10.0.0.0/8]
idp: { issuer: https://idp.example.com, clientId: c, clientSecret: s }
session: { secret: a-session-secret-that-is-long-enough-0123456789 }
routes:
  - { name: wiki, from: "https://wiki.example.com", to: "http://10.0.0.1:80", policy: { allow: [ { groups: [eng] } ] } }
  - { name: admin, from: "https://wiki.example.com/admin", to: "http://10.0.0.1:80", methods: [GET], policy: { allow: [ { and: [ { groups: [eng] }, { mfa: true } ] } ] } }
  - { name: assets, from: "https://wiki.example.com/static", to: "http://10.0.0.1:80", public: true }
`;
  const r = loadConfigText(text, 't.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return compileConfig(r.config);
}

const C = compiled();
const NOW = Date.parse('2026-12-06T10:00:00Z');
const input = (url: string, method = 'GET') => absoluteUrlInput(url, method) as Exclude<ReturnType<typeof absoluteUrlInput>, string>;

test('classify: reserved paths before routes (after normalization), then the route; 404, 405 and 400 with the path kept when only the host is bad', () => {
  for (const url of ['https://wiki.example.com/.drawbridge/me', 'https://wiki.example.com/admin/../.drawbridge/auth', 'https://wiki.example.com//.drawbridge']) {
    assert.equal(classify(C.table, input(url)).kind, 'reserved', url);
  }
  assert.equal(classify(C.table, input('https://wiki.example.com/.drawbridgex')).kind, 'route');
  const admin = classify(C.table, input('https://WIKI.example.com./admin/%61?q=1'));
  assert.ok(admin.kind === 'route');
  assert.deepEqual([admin.route.name, admin.host, admin.path, admin.query], ['admin', 'wiki.example.com', '/admin/a', 'q=1']);
  assert.ok(Object.isFrozen(admin));
  assert.equal(classify(C.table, input('https://wiki.example.com/admin', 'POST')).kind, 'method-not-allowed');
  assert.equal(classify(C.table, input('https://nowhere.example.com/')).kind, 'no-route');
  assert.deepEqual(classify(C.table, input('https://wiki.example.com/a%2Fb')), { kind: 'bad-request', reason: 'encoded slash (%2F) in path' });
  const badHost = classify(C.table, { scheme: 'https', rawHost: 'a b', target: '/x', method: 'GET' });
  assert.ok(badHost.kind === 'bad-request' && badHost.path === '/x');
  assert.equal(classify(C.table, { ...input('https://wiki.example.com/'), duplicateHost: true }).kind, 'bad-request');
  assert.equal(typeof absoluteUrlInput('wiki.example.com/x', 'GET'), 'string');
});

const alice: Identity = { sub: 'a', user: 'alice', groups: ['eng'], amr: ['pwd'], claims: {}, emailVerified: true, authTime: NOW / 1000 };

function record(identity: Identity): SessionRecord {
  return { id: 's1', identity, tokens: {}, createdAt: NOW, lastSeenAt: NOW, expiresAt: NOW + 3600_000, idleTimeoutMs: 1800_000 } as SessionRecord;
}

/** A context whose store holds `sessions`, read synchronously (memory) or only through a promise (Redis). */
function context(sessions: Record<string, SessionRecord>, sync: boolean, failing = false): AdmitContext & { signed: number; errors: number } {
  const load = (id: string): LoadResult => {
    if (failing) throw new Error('store down');
    const r = sessions[id];
    return r ? { state: 'valid', id, record: r } : { state: 'none' };
  };
  const ctx = {
    signed: 0,
    errors: 0,
    sessions: {
      loadNow: (id: string) => (sync ? load(id) : undefined),
      loadShared: async (id: string) => load(id),
      touchIfDue: () => undefined,
    },
    refresher: { due: () => false, refresh: () => Promise.reject(new Error('no refresh')) },
    oidc: { ready: false, issuer: '', jwksUri: () => new URL('https://idp.example.com/jwks'), jwks: { bearer: new JwksCache() } },
    identities: { bearer: () => alice },
    signer: { sign: () => (ctx.signed++, 'signed.jwt.value') },
    logger: { warn: () => undefined, error: () => void ctx.errors++ },
  };
  return ctx;
}

function request(url: string, extra: Partial<AdmitRequest> = {}): AdmitRequest {
  const c = classify(C.table, input(url));
  assert.ok(c.kind === 'route');
  return { compiled: C, route: c.route as Route, method: 'GET', path: c.path, query: c.query, origin: `https://${c.host}`, ip: '10.0.0.9', now: NOW, requestId: 'r1', ...extra };
}

test('admit: a session the store reads synchronously is admitted without a promise; through a promise otherwise; the same answer', async () => {
  const sessions = { s1: record(alice) };
  const sync = admit(context(sessions, true), request('https://wiki.example.com/page', { sessionId: 's1' }));
  assert.ok(!(sync instanceof Promise), 'the fast path is synchronous');
  const later = admit(context(sessions, false), request('https://wiki.example.com/page', { sessionId: 's1' }));
  assert.ok(later instanceof Promise);
  const a = await later;
  for (const x of [sync as Admission, a]) {
    assert.equal(x.kind, 'allow');
    assert.ok(x.kind === 'allow');
    assert.equal(x.principal?.identity.user, 'alice');
    assert.equal(x.assertion, 'signed.jwt.value');
  }
});

test('admit: anonymous → sign-in on the request origin with rd; lacking MFA → step-up; wrong group → deny; public → allow without identity', async () => {
  const ctx = context({}, true);
  const anon = admit(ctx, request('https://wiki.example.com/page?x=1')) as Admission;
  assert.equal(anon.kind, 'sign-in');
  assert.ok(anon.kind === 'sign-in');
  assert.equal(anon.signIn, `https://wiki.example.com/.drawbridge/sign_in?rd=${encodeURIComponent('https://wiki.example.com/page?x=1')}`);
  const stepUp = admit(ctx, request('https://wiki.example.com/admin', { principal: givenPrincipal(alice) })) as Admission;
  assert.equal(stepUp.kind, 'step-up');
  assert.ok(stepUp.kind === 'step-up' && /&step_up=1&mfa=1/.test(stepUp.signIn) && /insufficient_user_authentication/.test(stepUp.challenge));
  const bob = admit(ctx, request('https://wiki.example.com/', { principal: givenPrincipal({ ...alice, user: 'bob', groups: ['sales'] }) })) as Admission;
  assert.equal(bob.kind, 'deny');
  assert.ok(bob.decision?.reasons.some((r) => r.code === 'groups-unauthorized'));
  const pub = admit(ctx, request('https://wiki.example.com/static/a.css', { sessionId: 's1' })) as Admission;
  assert.ok(pub.kind === 'allow' && pub.principal === undefined && pub.assertion === undefined);
  assert.equal(ctx.signed, 0, 'nothing signed for a refusal or a public route');
});

test('admit: a store that fails is a problem (never allow), synchronous or not, and is logged', async () => {
  for (const sync of [true, false]) {
    const ctx = context({}, sync, true);
    const a = await admit(ctx, request('https://wiki.example.com/', { sessionId: 's1' }));
    assert.deepEqual([a.kind, a.kind === 'problem' ? a.code : ''], ['problem', 'store-unavailable']);
    assert.equal(ctx.errors, 1);
  }
});

test('sessionPrincipal: one principal per frozen (store-shared) record, a new one for the record a write puts in its place; a copy gets its own', () => {
  const identity: Identity = { sub: 's1', user: 'alice', groups: ['eng'], amr: ['pwd'], claims: {}, authTime: 1000 };
  const base: SessionRecord = { id: 'x'.repeat(43), identity, tokens: { refreshAt: 5000, accessToken: 'at' }, createdAt: 0, lastSeenAt: 0, expiresAt: 9e12, idleTimeoutMs: 60_000 };
  const shared = Object.freeze({ ...base });
  const p = sessionPrincipal(shared);
  assert.equal(sessionPrincipal(shared), p, 'read again: the same principal');
  assert.ok(Object.isFrozen(p));
  assert.deepEqual([p.cacheKey, p.accessToken, p.record], [`${base.id}:5000:1000`, 'at', shared]);
  const refreshed = Object.freeze({ ...base, tokens: { refreshAt: 7000, accessToken: 'at2' } });
  const q = sessionPrincipal(refreshed);
  assert.notEqual(q, p);
  assert.deepEqual([q.cacheKey, q.accessToken, q.sid], [`${base.id}:7000:1000`, 'at2', p.sid]);
  const copy = { ...base };
  const c1 = sessionPrincipal(copy);
  assert.notEqual(sessionPrincipal(copy), c1, 'a record its reader may change is never cached');
  assert.deepEqual(c1, { ...p });
});
