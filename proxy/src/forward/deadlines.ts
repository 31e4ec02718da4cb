// forward/deadlines.ts — the routes' upstream timeouts without a node timer per request: the requests of one timeout
// length expire in the order they were started, so each length keeps its requests in a list, oldest first, and arms
// one timer for the oldest.

/** What a `Deadlines` list links (the list's fields live on the item itself: nothing is allocated per item). */
export interface Deadlined {
  /** When it expires, on the clock's `now()`; meaningful while `dueList` is set. */
  dueAt: number;
  /** The list it is in, undefined when none (never added, removed, or expired). */
  dueList: object | undefined;
  duePrev: Deadlined | undefined;
  dueNext: Deadlined | undefined;
}

/** The clock and timer of a `Deadlines` (tests pass their own). */
export interface DeadlineClock {
  now(): number;
  set(fire: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

const REAL_CLOCK: DeadlineClock = {
  now: () => performance.now(),
  set: (fire, ms) => setTimeout(fire, ms),
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/** The items of one timeout length, oldest first, and the one timer armed for the oldest. */
class DueList<T extends Deadlined> {
  head: T | undefined = undefined;
  tail: T | undefined = undefined;
  /** Armed for the oldest item when it was added (since removed, the timer re-arms for the oldest left). */
  timer: unknown = undefined;

  constructor(
    readonly ms: number,
    private readonly owner: Deadlines<T>,
  ) {}

  readonly fire = (): void => {
    this.timer = undefined;
    this.owner.expireDue(this);
  };
}

/**
 * Calls `expire(item)` once `ms` after `add(item, ms)`, unless `remove(item)` came first: what `setTimeout` per item
 * did, with the same guarantee (never before `ms` has passed; late by at most one timer tick), but one timer per
 * distinct `ms` rather than one per item, and no timer object, closure or argument list per item. An item is in
 * at most one list at a time; `remove` of an item in none is a no-op.
 */
export class Deadlines<T extends Deadlined> {
  private readonly lists = new Map<number, DueList<T>>();

  constructor(
    private readonly expire: (item: T) => void,
    private readonly clock: DeadlineClock = REAL_CLOCK,
  ) {}

  /**
   * Expires `item` in `ms` milliseconds (removing it first from any list it is in). `now`: the clock's time, when the
   * caller has just read it (no second read of the clock); never earlier than that of an item added before.
   */
  add(item: T, ms: number, now: number = this.clock.now()): void {
    if (item.dueList !== undefined) this.remove(item);
    let list = this.lists.get(ms);
    if (list === undefined) this.lists.set(ms, (list = new DueList<T>(ms, this)));
    item.dueAt = now + ms;
    item.dueList = list;
    item.dueNext = undefined;
    item.duePrev = list.tail;
    if (list.tail === undefined) list.head = item;
    else list.tail.dueNext = item;
    list.tail = item;
    if (list.timer === undefined) this.arm(list, ms);
  }

  /** Takes `item` out of its list: it will not expire. */
  remove(item: T): void {
    const list = item.dueList as DueList<T> | undefined;
    if (list === undefined) return;
    const prev = item.duePrev as T | undefined;
    const next = item.dueNext as T | undefined;
    if (prev === undefined) list.head = next;
    else prev.dueNext = next;
    if (next === undefined) list.tail = prev;
    else next.duePrev = prev;
    item.dueList = item.duePrev = item.dueNext = undefined;
    // Nothing left to wait for: no timer keeps the process alive.
    if (list.head === undefined && list.timer !== undefined) {
      this.clock.clear(list.timer);
      list.timer = undefined;
    }
  }

  /** Items in lists (tests). */
  get size(): number {
    let n = 0;
    for (const list of this.lists.values()) for (let i = list.head; i !== undefined; i = i.dueNext as T | undefined) n++;
    return n;
  }

  /** The list's timer fired: expires every item due, then arms for the oldest left. */
  expireDue(list: DueList<T>): void {
    const now = this.clock.now();
    try {
      for (let item = list.head; item !== undefined && item.dueAt <= now; item = list.head) {
        this.remove(item);
        this.expire(item);
      }
    } finally {
      // Even when an expiry threw: the items left still expire (not only once another item is added).
      if (list.head !== undefined && list.timer === undefined) this.arm(list, list.head.dueAt - now);
      else if (list.head === undefined) this.lists.delete(list.ms);
    }
  }

  private arm(list: DueList<T>, ms: number): void {
    // Whole milliseconds, rounded up; fired early anyway (node's loop time lags), the list re-arms for what is left.
    list.timer = this.clock.set(list.fire, Math.max(1, Math.ceil(ms)));
  }
}
