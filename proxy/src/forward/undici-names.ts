// forward/undici-names.ts — the header names Drawbridge sends upstream, made known to undici's request builder, which
// otherwise lower-cases and re-validates as a token every name it does not know, on every request (about 0.4 µs
// for the nine headers Drawbridge adds, issue 16). Names only: undici still checks every value.
import { createRequire } from 'node:module';
import { HEADERS } from '../header-names.js';
import type { HeaderPlan } from './identity-headers.js';

// RFC 9110 §5.6.2 token, lower-case only: exactly the names undici would accept and leave as they are.
const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

type NameRecord = Record<string, string | undefined>;

/**
 * undici's table of well-known header names (name → lower-case name), read by its request builder
 * (lib/core/request.js processHeader: a name found there is neither lower-cased nor validated again). Undefined when
 * this undici has no such table: then nothing is taught and undici checks every name as before.
 */
const RECORD: NameRecord | undefined = (() => {
  try {
    const table = (createRequire(import.meta.url)('undici/lib/core/constants.js') as { headerNameLowerCasedRecord?: unknown }).headerNameLowerCasedRecord;
    return typeof table === 'object' && table !== null ? (table as NameRecord) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Adds each name that is a lower-case token to undici's known names (mapped to itself: what undici's own check
 * would have produced for it, so no request is treated differently, only checked once rather than per request).
 * Any other name is left for undici to check on each request. Returns the names added.
 */
export function teachUndiciHeaderNames(names: Iterable<string>): string[] {
  const added: string[] = [];
  if (RECORD === undefined) return added;
  for (const name of names) {
    if (!LOWER_TOKEN.test(name) || RECORD[name] !== undefined) continue;
    RECORD[name] = name;
    added.push(name);
  }
  return added;
}

/** What undici's builder knows `name` as, without checking it (tests). */
export function undiciKnownHeaderName(name: string): string | undefined {
  return RECORD?.[name];
}

/** Every header name Drawbridge itself sets on a forwarded request under these plans (identity-headers.ts), lower-case. */
export function sentHeaderNames(plans: Iterable<HeaderPlan>, assertionHeader: string): Set<string> {
  const names = new Set<string>([HEADERS.forwardedFor, HEADERS.forwardedProto, HEADERS.forwardedHost, HEADERS.requestId, HEADERS.accessToken, HEADERS.groupsTruncated, assertionHeader.toLowerCase()]);
  for (const plan of plans) {
    for (const name of [plan.user, plan.email, plan.groups, plan.name]) if (name !== undefined) names.add(name);
    for (const h of plan.set) names.add(h.name);
  }
  return names;
}
