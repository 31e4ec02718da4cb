// policy/rules/mfa.ts — `mfa: true`: the sign-in used a second factor, by its `amr` values or its `acr` (which
// values count comes from `idp.mfa`, handed to compile); failing asks for a step-up sign-in with MFA.
import type { Identity } from '../input.js';
import { defineRule, fail, frozen, pass, type MfaMethods, type Verdict } from '../rule.js';

export type { MfaMethods } from '../rule.js';

/**
 * `amr` values of the IANA registry (RFC 8176 §2) that count as multi-factor by default: each names a factor other
 * than something the user knows, or several factors. `mfa` (multiple factors); possession: `otp`, `hwk`, `swk`,
 * `pop` (a key of either kind), `sms`, `tel` (a call to a registered phone), `mca` (a second channel, e.g. a push
 * approval), `sc` (smart card); inherence: `fpt`, `face`, `iris`, `retina`, `vbm` (voiceprint). Not counted:
 * `pwd`, `pin`, `kba` (something known), `wia` (Windows sign-in, password based), `user` (a presence test),
 * `geo`, `rba` (risk signals, not factors). Names outside the registry (`fido`, `webauthn`, Entra's `ngcmfa`) are
 * the operator's to add through `idp.mfa.amr`.
 */
export const RFC8176_MFA_AMR: readonly string[] = Object.freeze(['mfa', 'otp', 'hwk', 'swk', 'pop', 'sms', 'tel', 'mca', 'sc', 'fpt', 'face', 'iris', 'retina', 'vbm']);

/** The default: the RFC 8176 values above; no `acr` (the configuration adds `idp.mfaAcrValues`). */
export const DEFAULT_MFA_METHODS: MfaMethods = Object.freeze({ amr: RFC8176_MFA_AMR, acr: Object.freeze([]) as readonly string[] });

/**
 * What makes this sign-in multi-factor under `methods` (`amr otp`, `acr urn:example:mfa`), or undefined when nothing
 * does. The one test the `mfa` rule and the step-up callback (signin/step-up.ts) share.
 */
export function multiFactorBy(identity: Pick<Identity, 'amr' | 'acr'>, methods: MfaMethods): string | undefined {
  for (const m of identity.amr) if (methods.amr.includes(m)) return `amr ${m}`;
  if (identity.acr !== undefined && methods.acr.includes(identity.acr)) return `acr ${identity.acr}`;
  return undefined;
}

const MISSING = frozen(fail('mfa-missing', undefined, { mfa: true }));
const ANONYMOUS = frozen(fail('user-unauthenticated'));

/**
 * Passes when the sign-in's `amr` holds one of the values `idp.mfa.amr` lists (by default the RFC 8176 values that
 * name a second factor: mfa, otp, hwk, swk, pop, sms, tel, mca, sc, fpt, face, iris, retina, vbm), or its `acr` is
 * one `idp.mfa.acr` lists (by default `idp.mfaAcrValues`). A failure can be fixed by a step-up sign-in with MFA.
 * ```yaml
 * allow:
 *   - and: [ { groups: [wiki-admins] }, { mfa: true } ]
 * ```
 */
export const mfaRule = defineRule({
  name: 'mfa',
  description: 'The sign-in used multi-factor authentication: amr holds a value idp.mfa.amr lists (RFC 8176 second factors by default), or acr is one idp.mfa.acr lists; failing asks for a step-up.',
  example: 'mfa: true',
  schema: ({ z }) => z.literal(true, { error: 'expected true (write mfa: true)' }),
  compile(_value, ctx) {
    const byAmr = new Map<string, Verdict>(ctx.mfa.amr.map((m) => [m, frozen(pass('mfa-ok', `amr ${m}`))]));
    const byAcr = new Map<string, Verdict>(ctx.mfa.acr.map((a) => [a, frozen(pass('mfa-ok', `acr ${a}`))]));
    return function mfa({ identity }) {
      if (!identity) return ANONYMOUS;
      for (const m of identity.amr) {
        const verdict = byAmr.get(m);
        if (verdict) return verdict;
      }
      return (identity.acr === undefined ? undefined : byAcr.get(identity.acr)) ?? MISSING;
    };
  },
  demands: () => ({ mfa: true }),
});
