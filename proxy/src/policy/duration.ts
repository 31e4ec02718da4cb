// policy/duration.ts — duration strings (`90s`, `15m`, `12h`, `2d`, `1.5h`, `250ms`): the parser, and what the zod
// schema every duration field uses (policy/schema-kit.ts `durationSchema`) checks with.

/** A number and a unit. */
export const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const DURATION_HINT = 'a number and a unit (ms, s, m, h, d), like 90s, 15m or 12h';

/** The milliseconds of a duration string, or undefined when it is not one (or too large to be a number). */
export function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isFinite(ms) ? ms : undefined;
}

/** `parseDuration('15m')` → 900000 (milliseconds). Throws on anything but a number and a unit. */
export function parseDuration(text: string): number {
  const ms = durationMs(text);
  if (ms === undefined) throw new Error(`invalid duration ${JSON.stringify(text)}: expected ${DURATION_HINT}`);
  return ms;
}

