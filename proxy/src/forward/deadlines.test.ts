// forward/deadlines.test.ts — route timeouts on shared timers: an item expires once its time has passed, never
// before, never after it was removed; one timer per timeout length; no timer left once nothing waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deadlines, type DeadlineClock, type Deadlined } from './deadlines.js';

interface Item extends Deadlined {
  name: string;
}

function item(name: string): Item {
  return { name, dueAt: 0, dueList: undefined, duePrev: undefined, dueNext: undefined };
}

/** A clock moved by the test; `advance` fires the timers due, in order, as node would. */
function fakeClock() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fire: () => void }>();
  const clock: DeadlineClock = {
    now: () => now,
    set(fire, ms) {
      timers.set(++seq, { at: now + ms, fire });
      return seq;
    },
    clear(timer) {
      timers.delete(timer as number);
    },
  };
  return {
    clock,
    timers,
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fire();
      }
      now = end;
    },
  };
}

test('Deadlines: each item expires once its own time has passed, in the order added, and never early', () => {
  const c = fakeClock();
  const expired: string[] = [];
  const d = new Deadlines<Item>((i) => expired.push(`${i.name}@${c.clock.now()}`), c.clock);
  d.add(item('a'), 100);
  c.advance(30);
  d.add(item('b'), 100);
  c.advance(69);
  assert.deepEqual(expired, []);
  c.advance(1);
  assert.deepEqual(expired, ['a@100']);
  c.advance(29);
  assert.deepEqual(expired, ['a@100']);
  c.advance(1);
  assert.deepEqual(expired, ['a@100', 'b@130']);
  assert.equal(d.size, 0);
  assert.equal(c.timers.size, 0);
});

test('Deadlines: a removed item never expires, wherever it is in its list; the others still do, on time', () => {
  const c = fakeClock();
  const expired: string[] = [];
  const d = new Deadlines<Item>((i) => expired.push(`${i.name}@${c.clock.now()}`), c.clock);
  const [a, b, x, y] = [item('a'), item('b'), item('x'), item('y')];
  d.add(a, 50);
  c.advance(10);
  d.add(b, 50);
  c.advance(10);
  d.add(x, 50);
  d.add(y, 50);
  d.remove(a);
  d.remove(x);
  d.remove(x);
  assert.equal(d.size, 2);
  c.advance(100);
  assert.deepEqual(expired, ['b@60', 'y@70']);
  // One timer per length was armed at a time.
  assert.equal(c.timers.size, 0);
});

test('Deadlines: one timer per timeout length, whatever the number of items; none once nothing waits', () => {
  const c = fakeClock();
  const expired: string[] = [];
  const d = new Deadlines<Item>((i) => expired.push(i.name), c.clock);
  const items = Array.from({ length: 100 }, (_, i) => item(`i${i}`));
  for (const i of items) d.add(i, 1000);
  const short = item('short');
  d.add(short, 10);
  assert.equal(c.timers.size, 2);
  for (const i of items) d.remove(i);
  assert.equal(c.timers.size, 1);
  c.advance(10);
  assert.deepEqual(expired, ['short']);
  assert.equal(c.timers.size, 0);
  // Added again: moved, not listed twice.
  const again = item('again');
  d.add(again, 20);
  d.add(again, 40);
  assert.equal(d.size, 1);
  c.advance(39);
  assert.deepEqual(expired, ['short']);
  c.advance(1);
  assert.deepEqual(expired, ['short', 'again']);
});

test('Deadlines: a timer that fires before its item is due (a lagging loop clock) re-arms and expires nothing early', () => {
  let now = 0;
  const armed: Array<{ fire: () => void; ms: number }> = [];
  const clock: DeadlineClock = { now: () => now, set: (fire, ms) => armed.push({ fire, ms }), clear() {} };
  const expired: number[] = [];
  const d = new Deadlines<Item>(() => expired.push(now), clock);
  d.add(item('a'), 100);
  now = 99.5;
  armed.shift()!.fire();
  assert.deepEqual(expired, []);
  assert.equal(armed.length, 1);
  assert.equal(armed[0]!.ms, 1);
  now = 100;
  armed.shift()!.fire();
  assert.deepEqual(expired, [100]);
});

test('Deadlines: an expiry that throws does not strand the items after it: they expire on time, with no new add', () => {
  const c = fakeClock();
  const expired: string[] = [];
  const d = new Deadlines<Item>((i) => {
    expired.push(`${i.name}@${c.clock.now()}`);
    if (i.name === 'bad') throw new Error('expiry failed');
  }, c.clock);
  d.add(item('bad'), 100);
  c.advance(10);
  d.add(item('next'), 100);
  assert.throws(() => c.advance(90), /expiry failed/);
  assert.deepEqual(expired, ['bad@100']);
  c.advance(10);
  assert.deepEqual(expired, ['bad@100', 'next@110']);
  assert.equal(d.size, 0);
  assert.equal(c.timers.size, 0);
});

test('add with the time the caller just read: the item is due that long after it, not after a second read of the clock', () => {
  const c = fakeClock();
  const expired: string[] = [];
  const d = new Deadlines<Item>((i) => expired.push(i.name), c.clock);
  c.advance(100);
  const a = item('a');
  // The caller read the clock at 95 (its flight's start), then added the item.
  d.add(a, 50, 95);
  assert.equal(a.dueAt, 145);
  c.advance(44);
  assert.deepEqual(expired, []);
  c.advance(6);
  assert.deepEqual(expired, ['a'], 'expired at 145 or soon after (its timer was armed for 50 from 100)');
  const b = item('b');
  d.add(b, 50);
  assert.equal(b.dueAt, 200, 'without a time: the clock read now');
});
