// policy/rules/ip.ts — `ip: [10.0.0.0/8, fd00::/8]`: the client address is in one of the listed ranges.
import { cidrContains, parseCidr, parseIp, type Cidr } from '../cidr.js';
import { defineRule, fail, frozen, pass, type Verdict } from '../rule.js';

// An unknown client address (a trusted proxy's unreadable X-Forwarded-For hop): undecided, never a match.
const UNKNOWN: Verdict = frozen({ ok: false, unknown: true, reasons: [{ code: 'ip-unknown' }] });

/**
 * Passes when the client address (the socket peer, or the `X-Forwarded-For` client of a trusted
 * proxy) is in one of these ranges. IPv4-mapped IPv6 clients (`::ffff:10.1.2.3`) match IPv4 ranges.
 * An unknown (or unparsable) address is undecided: it matches no range, and `not` of it is undecided too.
 * ```yaml
 * deny:
 *   - not: { ip: [10.0.0.0/8, 192.168.0.0/16, fd00::/8] }
 * ```
 */
export const ipRule = defineRule({
  name: 'ip',
  description: 'The client address is in one of these CIDR ranges (IPv4 or IPv6; a bare address is a single-address range).',
  example: 'ip: [10.0.0.0/8, 192.168.0.0/16, fd00::/8]',
  schema: ({ z, cidr }) => z.array(cidr).min(1),
  compile(ranges) {
    const entries: Array<{ cidr: Cidr; ok: Verdict }> = ranges.map((text) => {
      const parsed = parseCidr(text);
      // The schema has already rejected invalid ranges; reaching this means the config skipped validation.
      if (!parsed.ok) throw new Error(parsed.error);
      return { cidr: parsed.cidr, ok: frozen(pass('ip-ok', text)) };
    });
    return function ip(input) {
      const addr = input.ip === undefined ? undefined : parseIp(input.ip);
      if (addr === undefined) return UNKNOWN;
      for (const { cidr, ok } of entries) if (cidrContains(cidr, addr)) return ok;
      return fail('ip-outside', input.ip);
    };
  },
});
