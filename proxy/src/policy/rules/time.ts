// policy/rules/time.ts — `time: { days: [mon, fri], from: "08:00", to: "18:00", tz: Europe/Paris }`:
// now is inside a weekly window, read in a time zone.
import { defineRule, frozen, fail, pass, type SchemaKit, type Verdict } from '../rule.js';

/** Indexed like `Date.getUTCDay()`: 0 is Sunday. */
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const SHORT_DAY: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

function timeWindow({ z }: SchemaKit) {
  const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time of day "HH:MM" (00:00 to 23:59); quote it in YAML');

  return z
    .strictObject({
      days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).min(1).optional().describe('Days the window opens on.'),
      from: clock.optional().describe('Start of the window, inclusive; default 00:00.'),
      to: clock.optional().describe('End of the window, exclusive; default end of day. Earlier than from: the window runs past midnight.'),
      tz: z
        .string()
        .refine(isTimeZone, 'expected an IANA time zone like Europe/Paris or UTC')
        .optional()
        .describe('IANA time zone the window is read in; default UTC.'),
    })
    .refine((w) => w.days !== undefined || w.from !== undefined || w.to !== undefined, 'time needs at least one of days, from, to')
    .refine((w) => w.from === undefined || w.from !== w.to, 'from and to are equal: the window would be empty');
}

/**
 * Passes when now, read in `tz` (default UTC), is inside the window: on one of `days` (default
 * every day), from `from` (inclusive, default 00:00) to `to` (exclusive, default end of day). When
 * `to` is earlier than `from` the window runs past midnight, and belongs to the day it opened on:
 * `{ days: [fri], from: "22:00", to: "02:00" }` holds on Saturday at 01:00.
 * ```yaml
 * allow:
 *   - and:
 *       - groups: [support]
 *       - time: { days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00", tz: Europe/Paris }
 * ```
 */
export const timeRule = defineRule({
  name: 'time',
  description: 'Now is inside the window: days [mon..sun], from/to "HH:MM" (to earlier than from runs past midnight), in time zone tz (default UTC).',
  example: 'time: { days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00", tz: Europe/Paris }',
  schema: timeWindow,
  compile(window) {
    const tz = window.tz ?? 'UTC';
    const format = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const days = window.days ? new Set(window.days.map((d) => DAY_NAMES.indexOf(d))) : undefined;
    const from = window.from === undefined ? 0 : minutesOf(window.from);
    const to = window.to === undefined ? 24 * 60 : minutesOf(window.to);

    function judge(now: number): Verdict {
      let day = 0;
      let minutes = 0;
      for (const part of format.formatToParts(now)) {
        if (part.type === 'weekday') day = SHORT_DAY[part.value] ?? 0;
        else if (part.type === 'hour') minutes += Number(part.value) * 60;
        else if (part.type === 'minute') minutes += Number(part.value);
      }
      let inside: boolean;
      let opened = day;
      if (from < to) inside = from <= minutes && minutes < to;
      else if (minutes >= from) inside = true;
      else if (minutes < to) [inside, opened] = [true, (day + 6) % 7];
      else inside = false;
      if (inside && days && !days.has(opened)) inside = false;
      const detail = `${DAY_NAMES[day]} ${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')} ${tz}`;
      return frozen(inside ? pass('time-ok', detail) : fail('time-outside-window', detail));
    }

    // The verdict only changes from one minute to the next (time zone offsets are whole minutes),
    // so the last one is kept: requests within the same minute cost no formatting.
    let lastMinute = Number.NaN;
    let last: Verdict | undefined;
    return function time({ now }) {
      const minute = Math.floor(now / 60_000);
      if (minute !== lastMinute || !last) [lastMinute, last] = [minute, judge(now)];
      return last;
    };
  },
});
