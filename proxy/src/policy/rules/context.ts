// policy/rules/context.ts — `context: { sameNetwork: /24, sameDevice: true, sameAgent: true }`: the request comes from
// the context its session was bound to at sign-in; a change asks for a fresh sign-in (which rebinds) or denies.
import { DEFAULT_V4_PREFIX, DEFAULT_V6_PREFIX, networkOf } from '../context.js';
import { defineRule, fail, frozen, pass, type Reason, type StepUpNeed, type SchemaKit, type Verdict } from '../rule.js';

/**
 * How fresh the re-authentication after a context change must be (seconds, `max_age`). The step-up also sends
 * `prompt=login`; the callback checks `auth_time` against this, so a cookie thief without the password cannot rebind.
 */
export const REBIND_MAX_AGE_S = 300;

const OK = frozen(pass('context-ok'));
const ANONYMOUS = frozen(fail('user-unauthenticated'));
const NO_SESSION = frozen(fail('context-no-session'));
// The address is unknown (a trusted proxy's unreadable hop): whether it is the same network cannot be decided.
const UNKNOWN: Verdict = frozen({ ok: false, unknown: true, reasons: [{ code: 'context-network-unknown' }] });


/** `exact` → [32, 128]; `/N` → IPv4 /N when N ≤ 32, else IPv6 /N (the other family keeps its default); `/A /B` → both. */
export function prefixes(text: string): [number, number] | undefined {
  if (text === 'exact') return [32, 128];
  const lengths = text.split(/\s+/).map((p) => Number(p.slice(1)));
  if (lengths.length === 2) return lengths[0]! <= 32 && lengths[1]! <= 128 ? [lengths[0]!, lengths[1]!] : undefined;
  const n = lengths[0]!;
  if (n <= 32) return [n, DEFAULT_V6_PREFIX];
  return n <= 128 ? [DEFAULT_V4_PREFIX, n] : undefined;
}

function contextSchema({ z }: SchemaKit) {
  const network = z
    .string()
    .regex(/^(exact|\/\d{1,3}(\s+\/\d{1,3})?)$/, 'expected exact, a prefix length like /24, or an IPv4 and an IPv6 length like "/24 /48"')
    .refine((s) => prefixes(s) !== undefined, 'prefix lengths: IPv4 at most /32, IPv6 at most /128 ("/24 /48": IPv4 first)');
  return z
    .strictObject({
      sameNetwork: network.optional().describe('The client network must be the one the session started on: exact, /24 (IPv4; IPv6 /48), /48 (IPv6; IPv4 /24) or "/24 /48".'),
      sameDevice: z.literal(true).optional().describe('The device certificate must be the one the session started with (or none, if it started without).'),
      sameAgent: z.literal(true).optional().describe('The user-agent family (browser and operating system, not versions) must be the one the session started with.'),
      onChange: z.enum(['step-up', 'deny']).optional().describe('What a change means: step-up (default) asks for a fresh sign-in, which binds the session anew; deny refuses.'),
    })
    .refine((c) => c.sameNetwork !== undefined || c.sameDevice !== undefined || c.sameAgent !== undefined, 'context needs at least one of sameNetwork, sameDevice, sameAgent');
}

/**
 * Passes when the request comes from the context its session was bound to at sign-in: the same network (at the
 * prefix length given), the same device certificate, the same browser family. A change fails the rule with reasons
 * that say what changed; with `onChange: step-up` (the default) the failure asks for a fresh sign-in of the same user
 * (`prompt=login`, `max_age`), whose new session is bound to the new context. A session created before binding
 * existed counts as changed (fail closed), and so does a request without a session (a bearer token).
 * ```yaml
 * allow:
 *   - and: [ { groups: [finance] }, { context: { sameNetwork: /24, sameAgent: true } } ]
 * ```
 */
export const contextRule = defineRule({
  name: 'context',
  description: 'The request comes from the context the session was bound to at sign-in (network prefix, device certificate, browser family); a change asks for a fresh sign-in (onChange: step-up, default) or denies.',
  example: 'context: { sameNetwork: /24, sameAgent: true }',
  schema: contextSchema,
  compile(c) {
    const lengths = c.sameNetwork === undefined ? undefined : prefixes(c.sameNetwork)!;
    const stepUp: StepUpNeed | undefined = c.onChange === 'deny' ? undefined : Object.freeze({ maxAge: REBIND_MAX_AGE_S });
    const unbound = frozen(fail('context-unbound', undefined, stepUp));
    const networkChanged: Reason = Object.freeze({ code: 'context-network-changed', detail: c.sameNetwork === 'exact' ? 'compared exactly' : `compared at IPv4 /${lengths?.[0]}, IPv6 /${lengths?.[1]}` });
    return function context({ identity, session, ip, device }) {
      if (!identity) return ANONYMOUS;
      if (!session) return NO_SESSION;
      const bound = session.bound;
      if (!bound) return unbound;
      const changes: Reason[] = [];
      if (lengths) {
        if (ip === undefined) return UNKNOWN;
        const now = networkOf(ip, lengths[0], lengths[1]);
        if (now === undefined) return UNKNOWN;
        // The reasons reach the page of whoever holds the cookie: they never name the network the session started on.
        if (now !== networkOf(bound.ip, lengths[0], lengths[1])) changes.push(networkChanged);
      }
      if (c.sameDevice && (device?.fingerprint256 ?? '') !== (bound.device ?? '')) {
        changes.push({ code: 'context-device-changed', detail: bound.device ? (device ? 'another device certificate' : 'no device certificate') : 'started without a device certificate' });
      }
      if (c.sameAgent && session.agent !== bound.agent) changes.push({ code: 'context-agent-changed', detail: `now ${session.agent}` });
      if (changes.length === 0) return OK;
      const v: Verdict = { ok: false, reasons: changes };
      if (stepUp) v.stepUp = stepUp;
      return v;
    };
  },
});
