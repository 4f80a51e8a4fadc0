import assert from "node:assert/strict";
import { watchTimers } from "../tests/_support/timers.ts";
import { TimeoutQueue } from "./timeout_queue.ts";
import { sleep } from "../tests/_support/wait.ts";

const timedOut = (ms: number) => new Error(`no answer within ${ms} ms`);

Deno.test("TimeoutQueue passes results and failures through, and leaves no timer", async () => {
  const q = new TimeoutQueue(1000, timedOut);
  assert.equal(await q.bound(Promise.resolve(7)), 7);
  await assert.rejects(q.bound(Promise.reject(new Error("boom"))), /boom/);
  assert.equal(q.size, 0); // the sanitizer fails this test if a timer were left armed
});

Deno.test("TimeoutQueue maps results, failures and timeouts in the same promise", async () => {
  const q = new TimeoutQueue(30, timedOut);
  const double = (v: number): number | string => v * 2;
  const caught = (e: unknown): number | string => `caught ${(e as Error).message}`;
  assert.equal(await q.bound(Promise.resolve(7), double, caught), 14);
  assert.equal(await q.bound(Promise.reject(new Error("boom")), double, caught), "caught boom");
  const never = new Promise<number>(() => {});
  assert.equal(await q.bound(never, double, caught), "caught no answer within 30 ms");
  const thrower = (): number | string => {
    throw new Error("mapper");
  };
  await assert.rejects(q.bound(Promise.resolve(1), thrower), /mapper/);
  await assert.rejects(q.bound(Promise.reject(new Error("x")), double, thrower), /mapper/);
  assert.equal(q.size, 0);
});

Deno.test("TimeoutQueue's second stage maps what either mapper returned, a timeout included", async () => {
  const q = new TimeoutQueue(30, timedOut);
  const double = (v: number): number | string => v * 2;
  const caught = (e: unknown): number | string => `caught ${(e as Error).message}`;
  const tag = (u: number | string): string => `[${u}]`;
  assert.equal(await q.bound(Promise.resolve(7), double, caught, tag), "[14]");
  assert.equal(
    await q.bound(Promise.reject(new Error("boom")), double, caught, tag),
    "[caught boom]",
  );
  const never = new Promise<number>(() => {});
  assert.equal(await q.bound(never, double, caught, tag), "[caught no answer within 30 ms]");
  // Without onError a failure skips the second stage and rejects as it is.
  await assert.rejects(q.bound(Promise.reject(new Error("raw")), double, undefined, tag), /raw/);
  const thrower = (): string => {
    throw new Error("stage");
  };
  await assert.rejects(q.bound(Promise.resolve(1), double, caught, thrower), /stage/);
  assert.equal(q.size, 0);
});

Deno.test("TimeoutQueue rejects a call that does not settle in time; a late settle is ignored", async () => {
  const q = new TimeoutQueue(30, timedOut);
  let settle!: (v: number) => void;
  const slow = new Promise<number>((r) => settle = r);
  const started = performance.now();
  await assert.rejects(q.bound(slow), /no answer within 30 ms/);
  assert.ok(performance.now() - started >= 29);
  settle(1); // after the timeout: nothing happens
  const failing = new Promise<number>((_, reject) =>
    setTimeout(() => reject(new Error("late")), 60)
  );
  await assert.rejects(q.bound(failing), /no answer within 30 ms/);
  await sleep(50); // the late rejection is swallowed, never unhandled
  assert.equal(q.size, 0);
});

Deno.test("TimeoutQueue arms one timer for many calls in flight, in order of their deadlines", async () => {
  const q = new TimeoutQueue(40, timedOut);
  const timers = watchTimers();
  const settles: Array<() => void> = [];
  const calls: Array<Promise<unknown>> = [];
  try {
    for (let i = 0; i < 100; i++) {
      calls.push(q.bound(new Promise<void>((r) => settles.push(r))));
    }
    assert.equal(timers.arms, 1);
  } finally {
    timers.restore();
  }
  for (const s of settles.slice(0, 50)) s(); // half answer in time
  const results = await Promise.allSettled(calls);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 50);
  assert.equal(results.filter((r) => r.status === "rejected").length, 50);
  assert.equal(q.size, 0);
});

Deno.test("TimeoutQueue keeps its timer for callers that settle and call again in the same tick, and clears it within that tick", async () => {
  const q = new TimeoutQueue(1000, timedOut);
  const timers = watchTimers();
  try {
    // Eight callers in lockstep, each calling again a few reactions after its call settles (as
    // a caller awaiting an async API does): the queue drains between rounds, within the tick.
    const caller = async () => {
      for (let i = 0; i < 20; i++) await (async () => await q.bound(Promise.resolve(i)))();
    };
    await Promise.all(Array.from({ length: 8 }, caller));
    assert.equal(timers.arms, 1, `one timer for all 160 calls, not ${timers.arms}`);
    await Promise.resolve(); // the idle clear runs a few microtask hops later, in this tick
    for (let i = 0; i < 10; i++) await null;
    assert.equal(timers.clears, 1, "cleared once the burst is over");
  } finally {
    timers.restore();
  }
  assert.equal(q.size, 0); // and the sanitizer sees no timer left
});
