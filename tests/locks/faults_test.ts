import assert from "node:assert/strict";
import { LockLostError, Mutex, RedisStore, RwLock, StoreError } from "../../mod.ts";
import type { Store } from "../../store/types.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { startPrivateRedis } from "../_support/servers.ts";
import { openTestClient, storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";
import { watchTimers } from "../_support/timers.ts";
import { keyOf, traces, zmembers } from "./_helpers.ts";
import { sleep } from "../_support/wait.ts";

storeTest("Mutex partitioned holder: its signal aborts before another enters", async (fx) => {
  const spy = new SpyStore(fx.store);
  const a = new Mutex({ key: fx.prefix, store: spy, ttlMs: 400 });
  const b = new Mutex({ key: fx.prefix, store: await fx.another(), ttlMs: 400 });
  const ga = await a.lock();
  let abortedAt = Infinity;
  ga.signal.addEventListener("abort", () => abortedAt = performance.now());
  spy.fault = "fail"; // a's renewals can no longer reach the store
  const gb = await b.lock();
  const acquiredAt = performance.now();
  assert.equal(ga.state, "lost");
  assert.ok(ga.signal.reason instanceof LockLostError);
  assert.ok(ga.signal.reason.cause instanceof StoreError, "the last renewal error is the cause");
  assert.ok(abortedAt <= acquiredAt, `aborted ${abortedAt - acquiredAt} ms after b entered`);
  assert.ok(gb.fencingToken > ga.fencingToken);
  spy.fault = "none";
  assert.equal(await ga.release(), "lost", "a stale guard cannot release the new holder");
  assert.equal(gb.state, "acquired");
  assert.equal(await b.tryLock(), null);
  await gb.release();
});

storeTest("RwLock partitioned writer: its signal aborts before a reader enters", async (fx) => {
  const spy = new SpyStore(fx.store);
  const a = new RwLock({ key: fx.prefix, store: spy, ttlMs: 400 });
  const b = new RwLock({ key: fx.prefix, store: await fx.another(), ttlMs: 400 });
  const w = await a.write();
  spy.fault = "fail";
  await using _r = await b.read();
  assert.equal(w.state, "lost");
  spy.fault = "none";
  assert.equal(await w.release(), "lost");
});

storeTest("Mutex guard: a transient store error is retried, not reported", async (fx) => {
  const spy = new SpyStore(fx.store);
  const a = new Mutex({ key: fx.prefix, store: spy, ttlMs: 600 });
  await using g = await a.lock();
  spy.fault = "fail";
  await waitFor(() => spy.count("lock_renew") >= 2, {
    timeoutMs: 2000,
    message: "a failed renewal",
  });
  spy.fault = "none";
  const renewals = spy.count("lock_renew");
  await waitFor(() => spy.count("lock_renew") > renewals, {
    timeoutMs: 2000,
    message: "a renewal",
  });
  await sleep(50);
  assert.equal(g.state, "acquired");
  assert.equal(g.signal.aborted, false);
});

storeTest("Mutex.lock(): a lost reply is retried with the same token", async (fx) => {
  const spy = new SpyStore(fx.store);
  const a = new Mutex({ key: fx.prefix, store: spy, retryIntervalMs: 5 });
  spy.faultScript = "lock_acquire";
  spy.fault = "lose-reply"; // the attempts run, their replies are lost
  const locking = a.lock();
  await waitFor(() => spy.count("lock_acquire") >= 2, { timeoutMs: 2000, message: "two attempts" });
  spy.fault = "none";
  await using g = await locking;
  assert.equal(g.fencingToken, 1, "acquired once, not once per attempt");
  // One-shot: the failed call cleans up after itself.
  const b = new Mutex({ key: `${fx.prefix}-b`, store: spy });
  spy.fault = "lose-reply";
  await assert.rejects(b.tryLock(), StoreError);
  spy.fault = "none";
  assert.deepEqual(Object.keys(await traces(fx, `${fx.prefix}-b`, "mutex")), ["fence"]);
});

storeTest(
  "Mutex.lock(): an attempt the store runs after the won guard's release does not keep the lock",
  async (fx) => {
    // RedisStore reloads a script on NOSCRIPT and sends the call again, so it runs after calls sent
    // behind it: a waiter's poll, in flight when a grant made it the holder, can then run after
    // the guard's release and take the free lock anew, for a guard that is gone (seen in CI with a
    // concurrent SCRIPT FLUSH). Here the spy holds that poll until the release has run.
    const a = new Mutex({ key: fx.prefix, store: fx.store });
    const spy = new SpyStore(await fx.another());
    const w = new Mutex({ key: fx.prefix, store: spy, retryIntervalMs: 5 });
    const g = await a.lock();
    const waiting = w.lock();
    await waitFor(
      async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 1,
      {
        timeoutMs: 2000,
        message: "queued",
      },
    );
    spy.faultScript = "lock_acquire";
    spy.fault = "hang";
    await waitFor(() => spy.held >= 1, { timeoutMs: 3000, message: "a poll in flight" });
    spy.fault = "none";
    await g.release(); // grants the lease to w's queue entry: w holds it without another attempt
    const gw = await waiting;
    assert.equal(await gw.release(), "released");
    spy.release(); // the poll runs now, on a free lock, and takes it
    await waitFor(() => spy.pending === 0, { timeoutMs: 2000, message: "the poll answered" });
    await waitFor(async () => (await traces(fx, fx.prefix, "mutex")).lease === undefined, {
      timeoutMs: 2000,
      message: "the lease the late poll took is released",
    });
    await using again = await a.tryLock();
    assert.ok(again !== null, "the lock is free");
  },
);

storeTest("RwLock crashed waiting writer expires from the queue", async (fx) => {
  const spy = new SpyStore(fx.store);
  const crashing = new RwLock({ key: fx.prefix, store: spy, ttlMs: 30, retryIntervalMs: 5 });
  const r = await new RwLock({ key: fx.prefix, store: fx.store }).read();
  const ctrl = new AbortController();
  const writing = crashing.write({ signal: ctrl.signal });
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "rw", "queue"))).length === 1, {
    timeoutMs: 2000,
    message: "queued",
  });
  spy.fault = "fail"; // the "crashed" writer stops refreshing and cannot clean up
  ctrl.abort(new Error("crash"));
  await assert.rejects(writing, /crash/);
  assert.equal((await zmembers(fx, keyOf(fx.prefix, "rw", "queue"))).length, 1, "still queued");
  const reader = new RwLock({ key: fx.prefix, store: await fx.another(), retryIntervalMs: 5 });
  await using r2 = await reader.read({ timeoutMs: 3000 }); // once the entry expires
  assert.ok(r2.onAttempt >= 1);
  await r.release();
  await crashing.close(); // ends its background cleanup, which keeps failing on this store
});

storeTest(
  "Mutex across a Redis restart: the holder hears of the loss, a waiter gets in",
  async () => {
    await using server = await startPrivateRedis();
    const c1 = await openTestClient(server.url); // this run's client (node-redis, ioredis, ...)
    const c2 = await openTestClient(server.url);
    const s1 = new RedisStore(c1.client);
    const s2 = new RedisStore(c2.client);
    try {
      const a = new Mutex({ key: "restart", store: s1, ttlMs: 600 });
      const b = new Mutex({ key: "restart", store: s2, ttlMs: 600, retryIntervalMs: 10 });
      const g = await a.lock();
      const waiting = b.lock({ timeoutMs: 10_000 });
      await sleep(30);
      await server.restart({ keepData: false });
      const g2 = await waiting;
      await waitFor(() => g.state === "lost", { timeoutMs: 3000, message: "holder lost" });
      assert.ok(g.signal.reason instanceof LockLostError);
      assert.equal(await g.release(), "lost");
      assert.equal(g2.state, "acquired");
      assert.equal(await g2.release(), "released");
      // With the data kept (RDB), the fence counter survives the restart.
      const g3 = await a.lock();
      const before = g3.fencingToken;
      await g3.release();
      await server.restart({ keepData: true });
      const g4 = await b.lock({ timeoutMs: 10_000 });
      assert.ok(g4.fencingToken > before);
      await g4.release();
    } finally {
      await s1.close();
      await s2.close();
      await c1.close();
      await c2.close();
    }
  },
  { kinds: ["standalone"] },
);

Deno.test("a waiter's late win is cleaned up in the background without a timer that outlives it", async () => {
  // Acquire replies arrive late and release calls never answer (a connection just killed):
  // the waiter times out with its winning attempt in flight, and the late win must be
  // abandoned without arming a timer that nothing owns.
  const { MemoryStore } = await import("../../mod.ts");
  const memory = new MemoryStore();
  let releases = 0; // release calls made, never answered
  const slow = new SpyStore(memory);
  const run = slow.run.bind(slow);
  slow.run = async (script, keys, argv) => {
    if (script.name === "lock_release") {
      releases++;
      return await new Promise<never>(() => {});
    }
    const reply = await run(script, keys, argv);
    if (script.name === "lock_acquire") await sleep(40);
    return reply;
  };
  const timers = watchTimers(); // pending: armed, neither fired nor cleared
  try {
    const m = new Mutex({ key: "late-win", store: slow, retryIntervalMs: 5 });
    const holder = new Mutex({ key: "late-win", store: memory });
    const g = await holder.lock();
    const waiting = m.lock({ timeoutMs: 60 });
    // Handled from the start: on a loaded machine the timeout may come before the release below.
    const timedOut = assert.rejects(waiting, { code: "LOCK_TIMEOUT" });
    await sleep(20);
    await g.release(); // the waiter's next attempt wins, but its reply comes after the timeout
    await timedOut;
    await waitFor(() => releases >= 2, {
      timeoutMs: 2000,
      message: "the background clean-up call",
    });
    await sleep(1); // let the clean-up start
    assert.equal(timers.pending.size, 0, "no timer is left running for the background clean-up");
  } finally {
    timers.restore();
    await memory.close();
  }
});

Deno.test("a Store that throws synchronously makes lock attempts fail, not throw", async () => {
  const { MemoryStore, LockTimeoutError } = await import("../../mod.ts");
  const memory = new MemoryStore();
  let acquires = 0;
  const broken: Store = {
    isDistkitStore: true,
    run(script, keys, argv) {
      // The first attempt runs (and queues); the waiter's later attempts throw synchronously.
      if (script.name === "lock_acquire" && acquires++ > 0) throw new StoreError("sync failure");
      return memory.run(script, keys, argv);
    },
    subscribe: (channel, listener) => memory.subscribe(channel, listener),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const holder = await new Mutex({ key: "sync-throw", store: memory }).lock();
  const m = new Mutex({ key: "sync-throw", store: broken, retryIntervalMs: 5 });
  const p = m.tryLock();
  assert.ok(p instanceof Promise);
  assert.equal(await p, null);
  await assert.rejects(m.lock({ timeoutMs: 100 }), LockTimeoutError);
  assert.ok(acquires > 2, "the waiter kept trying");
  await holder.release();
  await memory.close();
});
