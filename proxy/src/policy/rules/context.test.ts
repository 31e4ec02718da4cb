// policy/rules/context.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionContext } from '../context.js';
import type { DeviceCertificate } from '../input.js';
import { codes, expectVerdict, input, rule, ruleErrors } from '../fixture.case.js';
import { prefixes, REBIND_MAX_AGE_S } from './context.js';

const LAPTOP: DeviceCertificate = { fingerprint256: 'a'.repeat(64), subject: { CN: 'laptop-42' }, issuer: { CN: 'Test CA' }, san: [], source: 'tls' };
const OTHER: DeviceCertificate = { ...LAPTOP, fingerprint256: 'b'.repeat(64) };

function session(over: Partial<SessionContext> = {}): SessionContext {
  return { bound: { ip: '203.0.113.7', agent: 'firefox/linux' }, agent: 'firefox/linux', signals: [], ...over };
}

test('context: the same network (/24), browser and device passes', () => {
  const check = rule({ context: { sameNetwork: '/24', sameAgent: true } });
  expectVerdict(check(input({ ip: '203.0.113.7', session: session() })), true, 'context-ok');
  expectVerdict(check(input({ ip: '203.0.113.200', session: session() })), true, 'context-ok');
});

test('context: another /24 fails with a step-up that asks for a fresh sign-in, and never names the old network', () => {
  const check = rule({ context: { sameNetwork: '/24' } });
  const v = check(input({ ip: '198.51.100.9', session: session() }));
  expectVerdict(v, false, 'context-network-changed');
  assert.deepEqual(v.stepUp, { maxAge: REBIND_MAX_AGE_S });
  assert.ok(!JSON.stringify(v).includes('203.0.113'), 'the page of whoever holds the cookie learns nothing of where the session started');
});

test('context: exact compares whole addresses; an IPv6 client is compared at /48 by default', () => {
  const exact = rule({ context: { sameNetwork: 'exact' } });
  expectVerdict(exact(input({ ip: '203.0.113.8', session: session() })), false, 'context-network-changed');
  expectVerdict(exact(input({ ip: '203.0.113.7', session: session() })), true, 'context-ok');
  const v6 = rule({ context: { sameNetwork: '/24' } });
  const bound6 = session({ bound: { ip: '2001:db8:1:2::5', agent: 'firefox/linux' } });
  expectVerdict(v6(input({ ip: '2001:db8:1:ffff::9', session: bound6 })), true, 'context-ok');
  expectVerdict(v6(input({ ip: '2001:db8:2::9', session: bound6 })), false, 'context-network-changed');
  // IPv4 to IPv6 (or back) is another network.
  expectVerdict(v6(input({ ip: '2001:db8:1::1', session: session() })), false, 'context-network-changed');
  // An IPv4-mapped IPv6 client is its IPv4 address.
  expectVerdict(v6(input({ ip: '::ffff:203.0.113.9', session: session() })), true, 'context-ok');
});

test('context: prefix lengths read as documented', () => {
  assert.deepEqual(prefixes('exact'), [32, 128]);
  assert.deepEqual(prefixes('/24'), [24, 48]);
  assert.deepEqual(prefixes('/48'), [24, 48]);
  assert.deepEqual(prefixes('/16 /40'), [16, 40]);
  assert.deepEqual(prefixes('/56'), [24, 56]);
  assert.equal(prefixes('/129'), undefined);
  assert.equal(prefixes('/33 /48'), undefined);
});

test('context: the schema refuses an empty rule, unknown keys and bad lengths', () => {
  assert.notDeepEqual(ruleErrors({ context: {} }), []);
  assert.notDeepEqual(ruleErrors({ context: { sameNetwork: '/24', sameIp: true } }), []);
  assert.notDeepEqual(ruleErrors({ context: { sameNetwork: '24' } }), []);
  assert.notDeepEqual(ruleErrors({ context: { sameNetwork: '/200' } }), []);
  assert.notDeepEqual(ruleErrors({ context: { sameAgent: false } }), []);
  assert.deepEqual(ruleErrors({ context: { sameNetwork: '/24 /48', sameDevice: true, sameAgent: true, onChange: 'deny' } }), []);
});

test('context: another browser family fails; onChange: deny asks for no step-up', () => {
  const check = rule({ context: { sameAgent: true, onChange: 'deny' } });
  const v = check(input({ session: session({ agent: 'chrome/windows' }) }));
  expectVerdict(v, false, 'context-agent-changed');
  assert.equal(v.stepUp, undefined);
  assert.equal(v.reasons[0]!.detail, 'now chrome/windows');
});

test('context: sameDevice compares the certificate fingerprint, both ways', () => {
  const check = rule({ context: { sameDevice: true } });
  const withCert = session({ bound: { ip: '203.0.113.7', agent: 'firefox/linux', device: LAPTOP.fingerprint256 } });
  expectVerdict(check(input({ device: LAPTOP, session: withCert })), true, 'context-ok');
  expectVerdict(check(input({ session: withCert })), false, 'context-device-changed');
  expectVerdict(check(input({ device: OTHER, session: withCert })), false, 'context-device-changed');
  // Started without a certificate, now with one: another device too.
  expectVerdict(check(input({ device: LAPTOP, session: session() })), false, 'context-device-changed');
  expectVerdict(check(input({ session: session() })), true, 'context-ok');
});

test('context: several changes are all listed', () => {
  const check = rule({ context: { sameNetwork: '/24', sameAgent: true } });
  assert.deepEqual(codes(check(input({ ip: '198.51.100.1', session: session({ agent: 'chrome/macos' }) }))), ['context-network-changed', 'context-agent-changed']);
});

test('context: fail closed — a session from before binding, no session, an unknown address', () => {
  const check = rule({ context: { sameNetwork: '/24' } });
  const legacy = check(input({ session: session({ bound: undefined }) }));
  expectVerdict(legacy, false, 'context-unbound');
  assert.deepEqual(legacy.stepUp, { maxAge: REBIND_MAX_AGE_S }, 'a session from before the upgrade is re-bound by a fresh sign-in');
  expectVerdict(check(input({})), false, 'context-no-session');
  const unknown = check(input({ ip: undefined, session: session() }));
  expectVerdict(unknown, false, 'context-network-unknown');
  assert.equal(unknown.unknown, true);
  expectVerdict(check(input({ ip: '198.51.100.1', session: session({ bound: { agent: 'firefox/linux' } }) })), false, 'context-network-changed');
  expectVerdict(check(input({ session: session() }, null)), false, 'user-unauthenticated');
});
