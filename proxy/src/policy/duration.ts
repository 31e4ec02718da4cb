// policy/duration.ts — duration strings (`90s`, `15m`, `12h`, `2d`, `1.5h`, `250ms`): the parser
// and the zod schema every duration field of the configuration uses.
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const HINT = 'a number and a unit (ms, s, m, h, d), like 90s, 15m or 12h';

function toMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isFinite(ms) ? ms : undefined;
}

/** `parseDuration('15m')` → 900000 (milliseconds). Throws on anything but a number and a unit. */
export function parseDuration(text: string): number {
  const ms = toMs(text);
  if (ms === undefined) throw new Error(`invalid duration ${JSON.stringify(text)}: expected ${HINT}`);
  return ms;
}

/** A positive duration string; parse it with `parseDuration` after validation. */
export const durationSchema = z
  .string()
  .regex(DURATION, `expected a duration: ${HINT}`)
  .refine((text) => {
    const ms = toMs(text);
    return ms === undefined || ms > 0;
  }, 'a duration must be greater than zero')
  .refine((text) => !DURATION.test(text) || toMs(text) !== undefined, 'the duration is too large');
