// policy/rules/risk.ts — `risk: { threshold: 5 }`: the session's recent risk signals (context changes, a burst of
// refusals, a network new for the user), each weighted as configured, add up to at least the threshold.
import type { RiskSignal } from '../context.js';
import { parseDuration } from '../duration.js';
import { defineRule, fail, frozen, type Reason, type SchemaKit, type Verdict } from '../rule.js';

const ANONYMOUS = frozen(fail('user-unauthenticated'));
const NO_SESSION = frozen(fail('risk-low', 'no session: no signals'));

/** Default weights: what one signal adds to the score. */
export const DEFAULT_RISK_WEIGHTS = Object.freeze({ contextChange: 2, denialBurst: 3, newNetwork: 2 });

function riskSchema({ z, duration }: SchemaKit) {
  const weight = z.number().int().min(0).max(1000);
  return z.strictObject({
    threshold: z.number().int().min(1).max(100_000).describe('The rule holds when the score (the weights of the recent signals, added) reaches this.'),
    within: duration.optional().describe('How far back signals count; default 1h.'),
    weights: z
      .strictObject({
        contextChange: weight.optional().describe(`Each change of network, device or browser family seen in the session (default ${DEFAULT_RISK_WEIGHTS.contextChange}).`),
        denialBurst: weight.optional().describe(`A burst of refusals for the session (default ${DEFAULT_RISK_WEIGHTS.denialBurst}), counted once.`),
        newNetwork: weight.optional().describe(`Each network the user had not been seen on before, seen in the session (default ${DEFAULT_RISK_WEIGHTS.newNetwork}).`),
      })
      .optional()
      .describe('What each signal adds to the score.'),
    burst: z
      .strictObject({
        denials: z.number().int().min(2).max(1000).describe('Refusals that make a burst (default 5).'),
        within: duration.describe('...inside this long (default 1m).'),
      })
      .optional()
      .describe('What counts as a burst of refusals; default 5 within 1m.'),
  });
}

/**
 * Holds when the session's signals of the last `within` (default 1h) add up to at least `threshold`: each context
 * change (network prefix, device certificate or browser family different from the last one seen) adds
 * `weights.contextChange`, each network the user had not been seen on adds `weights.newNetwork`, and a burst of
 * refusals (`burst.denials` within `burst.within`) adds `weights.denialBurst` once. The reasons list every signal that
 * counted, with its count and weight: no opaque score. A request without a session has no signals.
 * ```yaml
 * deny:
 *   - risk: { threshold: 4, within: 1h, weights: { contextChange: 2, denialBurst: 3, newNetwork: 2 } }
 * ```
 */
export const riskRule = defineRule({
  name: 'risk',
  description: 'The session’s recent risk signals (context changes, a burst of refusals, networks new for the user), weighted as configured, add up to at least threshold; the reasons list each signal.',
  example: 'risk: { threshold: 4, within: 1h, weights: { contextChange: 2, denialBurst: 3, newNetwork: 2 } }',
  schema: riskSchema,
  compile(r) {
    const windowMs = parseDuration(r.within ?? '1h');
    const w = { ...DEFAULT_RISK_WEIGHTS, ...r.weights };
    const burstCount = r.burst?.denials ?? 5;
    const burstMs = parseDuration(r.burst?.within ?? '1m');
    const span = r.within ?? '1h';
    return function risk({ identity, session, now }): Verdict {
      if (!identity) return ANONYMOUS;
      if (!session) return NO_SESSION;
      const since = now - windowMs;
      let changes = 0;
      let networks = 0;
      const denials: number[] = [];
      for (const s of session.signals) {
        if (s.at < since || s.at > now) continue;
        if (s.kind === 'context-change') changes++;
        else if (s.kind === 'new-network') networks++;
        else denials.push(s.at);
      }
      const burst = largestBurst(denials, burstMs);
      const contributing: Reason[] = [];
      let score = 0;
      if (changes > 0 && w.contextChange > 0) {
        score += changes * w.contextChange;
        contributing.push({ code: 'risk-context-change', detail: `${changes} in the last ${span}, weight ${w.contextChange} each` });
      }
      if (networks > 0 && w.newNetwork > 0) {
        score += networks * w.newNetwork;
        contributing.push({ code: 'risk-new-network', detail: `${networks} in the last ${span}, weight ${w.newNetwork} each` });
      }
      if (burst >= burstCount && w.denialBurst > 0) {
        score += w.denialBurst;
        contributing.push({ code: 'risk-denial-burst', detail: `${burst} refusals within ${r.burst?.within ?? '1m'}, weight ${w.denialBurst}` });
      }
      const head: Reason = { code: score >= r.threshold ? 'risk-ok' : 'risk-low', detail: `score ${score}, threshold ${r.threshold}` };
      return { ok: score >= r.threshold, reasons: [head, ...contributing] };
    };
  },
});

/** The most refusals inside any stretch of `spanMs` (times in any order). */
function largestBurst(times: number[], spanMs: number): number {
  times.sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j]! - times[i]! >= spanMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

/** Signals a session keeps, per kind: enough for any sensible threshold, bounded so a flood cannot grow a record. */
export const SIGNALS_KEPT_PER_KIND = 16;

/** `signals` with `signal` added, the oldest of its kind dropped beyond {@link SIGNALS_KEPT_PER_KIND}. */
export function addSignal(signals: readonly RiskSignal[] | undefined, signal: RiskSignal): RiskSignal[] {
  const next = [...(signals ?? []), signal];
  let same = next.filter((s) => s.kind === signal.kind).length;
  return next.filter((s) => s.kind !== signal.kind || same-- <= SIGNALS_KEPT_PER_KIND);
}
