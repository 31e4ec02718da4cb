// server/cluster-tls.ts — `workers: N` with `tls`: the primary owns the session-ticket key and its rotation
// (`tls.ticketKeyRotation`), and gives every worker the same key, so a ticket one worker issued resumes on any other.
// Time and the timer are injected: tests move the clock and call tick().
import { newTicketKey } from '../tls/contexts.js';

/** The rotation timer's period at most: a moved clock (or a shorter rotation after a reload) is seen within it. */
const CHECK_MS = 60_000;

export interface TicketKeysOptions {
  /** `tls.ticketKeyRotation` in ms. */
  periodMs: number;
  /** Gives every worker the new key; resolves when they have it (or a failure was reported). */
  distribute(key: Buffer): Promise<void>;
  /** The clock (ms since epoch). */
  now?: () => number;
}

/** The primary's session-ticket key: one for every worker, replaced every `periodMs` for all at once. */
export class TicketKeys {
  private readonly options: TicketKeysOptions;
  private readonly now: () => number;
  private periodMs: number;
  private current: Buffer = newTicketKey();
  private since: number;
  private timer: NodeJS.Timeout | undefined;
  private rotating: Promise<void> | undefined;

  constructor(options: TicketKeysOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.periodMs = options.periodMs;
    this.since = this.now();
  }

  /** The key in force: what a worker that starts now is given. */
  get key(): Buffer {
    return this.current;
  }

  /** A reload changed `tls.ticketKeyRotation`: the next rotation is this long after the last one. */
  setPeriod(periodMs: number): void {
    if (periodMs === this.periodMs) return;
    this.periodMs = periodMs;
    if (this.timer) {
      this.close();
      this.start();
    }
  }

  /** Replaces the key now and gives it to every worker; resolves once distributed. */
  rotate(): Promise<void> {
    this.current = newTicketKey();
    this.since = this.now();
    const run: Promise<void> = this.options.distribute(this.current).finally(() => {
      if (this.rotating === run) this.rotating = undefined;
    });
    this.rotating = run;
    return run;
  }

  /** Rotates when the key is `periodMs` old; returns the distribution, or undefined when not due (or one is under way). */
  tick(): Promise<void> | undefined {
    if (this.rotating || this.now() - this.since < this.periodMs) return undefined;
    return this.rotate();
  }

  /** Starts the rotation timer (unref'd). */
  start(): void {
    this.timer ??= setInterval(() => void this.tick(), Math.max(1, Math.min(this.periodMs, CHECK_MS)));
    this.timer.unref();
  }

  /** Stops the timer. Safe to call twice. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
