// policy/rules/risk.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RiskSignal, SessionContext } from '../context.js';
import { codes, expectVerdict, input, MONDAY_1030_UTC, rule, ruleErrors } from '../fixture.case.js';
import { addSignal, SIGNALS_KEPT_PER_KIND } from './risk.js';

const NOW = MONDAY_1030_UTC;
const MIN = 60_000;

function session(signals: RiskSignal[]): SessionContext {
  return { bound: { ip: '10.1.2.3', agent: 'firefox/linux' }, agent: 'firefox/linux', signals };
}

test('risk: weighted signals that reach the threshold hold, each contributing signal listed', () => {
  const check = rule({ risk: { threshold: 4 } });
  const v = check(input({ session: session([{ kind: 'context-change', at: NOW - 5 * MIN }, { kind: 'new-network', at: NOW - MIN }]) }));
  expectVerdict(v, true, 'risk-ok');
  assert.deepEqual(codes(v), ['risk-ok', 'risk-context-change', 'risk-new-network']);
  assert.equal(v.reasons[0]!.detail, 'score 4, threshold 4');
  assert.equal(v.reasons[1]!.detail, '1 in the last 1h, weight 2 each');
});

test('risk: below the threshold, or signals older than the window, do not hold', () => {
  const check = rule({ risk: { threshold: 4, within: '30m' } });
  expectVerdict(check(input({ session: session([{ kind: 'context-change', at: NOW - 5 * MIN }]) })), false, 'risk-low');
  expectVerdict(check(input({ session: session([{ kind: 'context-change', at: NOW - 31 * MIN }, { kind: 'context-change', at: NOW - 40 * MIN }]) })), false, 'risk-low');
  expectVerdict(check(input({ session: session([]) })), false, 'risk-low');
  expectVerdict(check(input({})), false, 'risk-low');
  expectVerdict(check(input({ session: session([]) }, null)), false, 'user-unauthenticated');
});

test('risk: a burst of refusals counts once; scattered refusals do not', () => {
  const check = rule({ risk: { threshold: 3, burst: { denials: 3, within: '1m' } } });
  const burst = [0, 10, 20, 30].map((s) => ({ kind: 'denial' as const, at: NOW - 5 * MIN + s * 1000 }));
  const v = check(input({ session: session(burst) }));
  expectVerdict(v, true, 'risk-ok');
  assert.deepEqual(codes(v), ['risk-ok', 'risk-denial-burst']);
  assert.equal(v.reasons[1]!.detail, '4 refusals within 1m, weight 3');
  const scattered = [0, 2, 4, 6].map((m) => ({ kind: 'denial' as const, at: NOW - m * MIN }));
  expectVerdict(check(input({ session: session(scattered) })), false, 'risk-low');
});

test('risk: weights come from the configuration (0 turns a signal off)', () => {
  const check = rule({ risk: { threshold: 10, weights: { contextChange: 5, newNetwork: 0 } } });
  const signals: RiskSignal[] = [{ kind: 'context-change', at: NOW }, { kind: 'context-change', at: NOW - MIN }, { kind: 'new-network', at: NOW }];
  const v = check(input({ session: session(signals) }));
  expectVerdict(v, true, 'risk-ok');
  assert.deepEqual(codes(v), ['risk-ok', 'risk-context-change']);
});

test('risk: the schema needs a threshold and knows its keys', () => {
  assert.notDeepEqual(ruleErrors({ risk: {} }), []);
  assert.notDeepEqual(ruleErrors({ risk: { threshold: 3, weights: { denials: 2 } } }), []);
  assert.notDeepEqual(ruleErrors({ risk: { threshold: 3, within: 'soon' } }), []);
  assert.deepEqual(ruleErrors({ risk: { threshold: 3, within: '2h', weights: { contextChange: 1, denialBurst: 2, newNetwork: 3 }, burst: { denials: 4, within: '30s' } } }), []);
});

test('risk: a session keeps a bounded number of signals of each kind, the newest', () => {
  let signals: RiskSignal[] = [{ kind: 'context-change', at: 1 }];
  for (let i = 0; i < 100; i++) signals = addSignal(signals, { kind: 'denial', at: 1000 + i });
  assert.equal(signals.length, SIGNALS_KEPT_PER_KIND + 1);
  assert.equal(signals[0]!.kind, 'context-change', 'a flood of refusals does not push other signals out');
  assert.equal(signals.at(-1)!.at, 1099);
  assert.equal(signals[1]!.at, 1100 - SIGNALS_KEPT_PER_KIND);
});
