import assert from "node:assert/strict";
import { watchTimers } from "../tests/_support/timers.ts";
import { Clock, type ClockEntry } from "./_clock.ts";

function recorder(log: string[], name: string, then?: () => void): ClockEntry {
  return {
    onTime() {
      log.push(name);
      then?.();
    },
  };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("Clock runs entries in time order, each once, and stops when empty", async () => {
  const clock = new Clock();
  const log: string[] = [];
  const now = performance.now();
  clock.schedule(recorder(log, "c"), now + 30);
  clock.schedule(recorder(log, "a"), now + 5);
  clock.schedule(recorder(log, "b"), now + 15);
  assert.equal(clock.size, 3);
  await settle(60);
  assert.deepEqual(log, ["a", "b", "c"]);
  assert.equal(clock.size, 0);
});

Deno.test("Clock: rescheduling moves an entry; cancel forgets it and clears the timer", async () => {
  const clock = new Clock();
  const log: string[] = [];
  const now = performance.now();
  const a = recorder(log, "a");
  const b = recorder(log, "b");
  clock.schedule(a, now + 5);
  clock.schedule(b, now + 10);
  clock.schedule(a, now + 25); // later than b now
  clock.cancel(b);
  clock.cancel(b); // idempotent
  await settle(50);
  assert.deepEqual(log, ["a"]);
  const c = recorder(log, "c");
  clock.schedule(c, performance.now() + 10_000);
  clock.cancel(c); // the sanitizer fails this test if the timer stayed armed
  assert.equal(clock.size, 0);
});

Deno.test("Clock: an entry that schedules itself again runs again; a throwing one stops only itself", async () => {
  const clock = new Clock();
  const log: string[] = [];
  let n = 0;
  const again: ClockEntry = {
    onTime() {
      log.push("again");
      if (++n < 3) clock.schedule(again, performance.now() + 2);
    },
  };
  const bad: ClockEntry = {
    onTime() {
      throw new Error("boom");
    },
  };
  clock.schedule(bad, performance.now() + 1);
  clock.schedule(again, performance.now() + 1);
  await settle(60);
  assert.deepEqual(log, ["again", "again", "again"]);
  assert.equal(clock.size, 0);
});

Deno.test("Clock: many entries keep heap order under random operations", async () => {
  const clock = new Clock();
  const fired: number[] = [];
  const base = performance.now() + 20;
  const entries = Array.from({ length: 200 }, (_, i) => ({
    at: 0,
    onTime() {
      fired.push(this.at);
    },
    i,
  }));
  for (const e of entries) clock.schedule(e, e.at = base + Math.random() * 20);
  for (const e of entries.filter((_, i) => i % 3 === 0)) clock.cancel(e);
  for (const e of entries.filter((_, i) => i % 5 === 0 && i % 3 !== 0)) {
    clock.schedule(e, e.at = base + Math.random() * 20);
  }
  const expected = entries.filter((_, i) => i % 3 !== 0).map((e) => e.at).sort((a, b) => a - b);
  await settle(80);
  assert.deepEqual(fired, expected);
});

Deno.test("Clock: an entry that replaces the last one in the same tick keeps the timer; an empty clock stops it within the tick", async () => {
  const clock = new Clock();
  const timers = watchTimers();
  try {
    const now = performance.now();
    const a: ClockEntry = { onTime() {} };
    const b: ClockEntry = { onTime() {} };
    clock.schedule(a, now + 1000);
    clock.cancel(a); // a hand-off: the old guard leaves...
    await Promise.resolve();
    await Promise.resolve();
    clock.schedule(b, now + 2000); // ...and the new one starts a few reactions later
    assert.equal(timers.arms, 1, "the timer was kept");
    assert.equal(timers.clears, 0);
    clock.cancel(b);
    for (let i = 0; i < 10; i++) await null;
    assert.equal(timers.clears, 1, "stopped once empty, within the tick");
  } finally {
    timers.restore();
  }
});

Deno.test("Clock: an acquisition in flight keeps an empty clock's timer across ticks; it stops once nothing holds it", async () => {
  const clock = new Clock();
  const realSetTimeout = globalThis.setTimeout;
  const timers = watchTimers();
  try {
    const now = performance.now();
    const a: ClockEntry = { onTime() {} };
    const b: ClockEntry = { onTime() {} };
    clock.schedule(a, now + 1000);
    clock.cancel(a); // released...
    clock.hold(); // ...and the next acquisition is on its way
    await new Promise((r) => realSetTimeout(r, 5)); // its round trip: ticks pass
    assert.equal(timers.clears, 0, "kept while the acquisition is in flight");
    clock.unhold(); // it won: its guard starts a reaction later
    await Promise.resolve();
    clock.schedule(b, now + 2000);
    assert.equal(timers.arms, 1, "one timer for both guards");
    clock.cancel(b);
    clock.hold();
    clock.unhold(); // an acquisition that lost: nothing holds the timer any more
    for (let i = 0; i < 10; i++) await null;
    assert.equal(timers.clears, 1, "stopped within the tick");
  } finally {
    timers.restore();
  }
});

Deno.test("Clock: an entry keeps its own place; cancelling it on a clock it is not on changes nothing", async () => {
  const one = new Clock(), other = new Clock();
  const log: string[] = [];
  const now = performance.now();
  const a = recorder(log, "a"), b = recorder(log, "b"), c = recorder(log, "c");
  one.schedule(a, now + 10);
  one.schedule(b, now + 5);
  other.schedule(c, now + 1);
  other.cancel(a); // a's place (0 or 1) is one's, not other's
  other.cancel(b);
  one.cancel(c);
  one.cancel(recorder(log, "never")); // never scheduled
  assert.equal(one.size, 2);
  assert.equal(other.size, 1);
  one.schedule(a, now + 2); // moved ahead of b
  await settle(40);
  assert.deepEqual(log, ["c", "a", "b"]);
  assert.equal(one.size + other.size, 0);
});
