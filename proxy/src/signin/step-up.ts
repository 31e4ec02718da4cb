// signin/step-up.ts — carries what a step-up needs (or what a route demands of a first sign-in) from the
// route that asked for it to the sign-in endpoint (query parameters) and checks, after the IdP answered, that a
// step-up sign-in brings it.
import type { Identity } from '../policy/input.js';
import type { MfaMethods, StepUpNeed } from '../policy/rule.js';
import { multiFactorBy } from '../policy/rules/mfa.js';

/** `&step_up=1&mfa=1&acr=a+b&max_age=900` for the sign-in URL. */
export function stepUpQuery(need: StepUpNeed): string {
  return `&${needParams('step_up', need).toString()}`;
}

/**
 * `&need=1&mfa=1&acr=a+b&max_age=900` for the sign-in URL of an anonymous request: what the route's policy demands
 * of every sign-in (`Decision.signInNeed`), asked of the IdP at the first sign-in. Unlike a step-up it does not
 * force a new sign-in at the IdP (no `prompt=login`), and what comes back is not checked at the callback: the
 * route's policy decides, and asks for a step-up if the IdP did not deliver.
 */
export function signInNeedQuery(need: StepUpNeed): string {
  return `&${needParams('need', need).toString()}`;
}

function needParams(flag: 'step_up' | 'need', need: StepUpNeed): URLSearchParams {
  const q = new URLSearchParams({ [flag]: '1' });
  if (need.mfa) q.set('mfa', '1');
  if (need.acr && need.acr.length > 0) q.set('acr', need.acr.join(' '));
  if (need.maxAge !== undefined) q.set('max_age', String(need.maxAge));
  return q;
}

/** Reads a step-up need back from the sign-in URL's query; undefined when none was asked. */
export function parseStepUp(query: URLSearchParams): StepUpNeed | undefined {
  return query.get('step_up') === '1' ? readNeed(query) : undefined;
}

/** Reads a first sign-in's need ({@link signInNeedQuery}) back; undefined when none was asked, or it asks nothing. */
export function parseSignInNeed(query: URLSearchParams): StepUpNeed | undefined {
  if (query.get('need') !== '1') return undefined;
  const need = readNeed(query);
  return need.mfa || need.acr || need.maxAge !== undefined ? need : undefined;
}

function readNeed(query: URLSearchParams): StepUpNeed {
  const need: StepUpNeed = {};
  if (query.get('mfa') === '1') need.mfa = true;
  const acr = (query.get('acr') ?? '').split(' ').filter((s) => /^[\x21-\x7e]{1,200}$/.test(s)).slice(0, 10);
  if (acr.length > 0) need.acr = acr;
  const maxAge = Number(query.get('max_age'));
  if (query.has('max_age') && Number.isInteger(maxAge) && maxAge >= 0) need.maxAge = maxAge;
  return need;
}

/** The acr_values to ask the IdP for: the route's acr list, or the configured MFA acr values for `mfa`. */
export function acrValuesFor(need: StepUpNeed, mfaAcrValues: readonly string[]): readonly string[] | undefined {
  if (need.acr && need.acr.length > 0) return need.acr;
  if (need.mfa && mfaAcrValues.length > 0) return mfaAcrValues;
  return undefined;
}

/**
 * What the new sign-in still lacks, in plain words; empty when the step-up was satisfied. `mfa` is what counts as
 * multi-factor (the same as the `mfa` rule's, CompiledConfig.mfa).
 */
export function unmetStepUp(need: StepUpNeed, identity: Identity, nowSec: number, mfa: MfaMethods): string[] {
  const missing: string[] = [];
  if (need.mfa && !multiFactorBy(identity, mfa)) missing.push('a multi-factor sign-in');
  if (need.acr && need.acr.length > 0 && (identity.acr === undefined || !need.acr.includes(identity.acr))) {
    missing.push(`an authentication level of ${need.acr.join(' or ')}`);
  }
  // Exactly the authAge rule's test, no slack: a sign-in accepted here that the rule then refuses (an IdP clock
  // running behind) would send the user back to the IdP's form again and again instead of to a clear page.
  // An IdP that sends no usable auth_time (none, 0, a time in the future) even after max_age and prompt=login cannot
  // satisfy the route: say so, rather than send the user round again (the rule would ask for the same step-up).
  if (need.maxAge !== undefined && identity.authTime === undefined) missing.push('a fresh sign-in whose time your identity provider reports (it sent no usable auth_time)');
  else if (need.maxAge !== undefined && nowSec - identity.authTime! > need.maxAge) missing.push('a fresh sign-in');
  return missing;
}
