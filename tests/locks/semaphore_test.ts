/**
 * Semaphore conformance on memory, standalone and cluster: the lock checklist adapted (forms,
 * timeouts, abort, retries, close, bad input), weighted FIFO scenarios, mixed ttls, crashed
 * holders and waiters, permits mismatch, and no leftovers.
 */
import assert from "node:assert/strict";
import {
  ClosedError,
  InvalidArgumentError,
  InvalidKeyError,
  LockRetriesExhaustedError,
  LockTimeoutError,
  MemoryStore,
  Semaphore,
  type SemaphoreOptions,
} from "../../mod.ts";
import { semaphoreKeys } from "../../locks/_remote.ts";
import { SEM_ACQUIRE_OP } from "../../locks/_sem_scripts.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { storeTest } from "../_support/stores.ts";
import { sleep, waitFor } from "../_support/wait.ts";
import { rejects, semTraces } from "./_helpers.ts";

storeTest(
  "Semaphore: the forms, available(), waiting(), and only the fence left after",
  async (fx) => {
    const sem = new Semaphore({ key: fx.prefix, store: fx.store, permits: 3 });
    const other = new Semaphore({ key: fx.prefix, store: await fx.another(), permits: 3 });
    assert.equal(await sem.available(), 3);
    assert.equal(await sem.waiting(), 0);
    const a = await sem.acquire(2);
    assert.equal(a.permits, 2);
    assert.equal(a.state, "acquired");
    assert.equal(a.onAttempt, 0);
    assert.equal(await other.available(), 1);
    const b = await other.tryAcquire();
    assert.ok(b !== null && b.fencingToken > a.fencingToken);
    assert.equal(await other.tryAcquire(), null);
    await rejects(other.tryAcquireWithTimeout(1, 50), LockTimeoutError);
    await rejects(other.tryAcquireWithRetries(1, 1), LockRetriesExhaustedError);
    assert.equal(await other.waiting(), 0, "a wait that gave up left the queue");
    const waiting = other.acquire(2, { timeoutMs: 10_000 });
    await waitFor(async () => (await sem.waiting()) === 1, { timeoutMs: 3000, message: "queued" });
    assert.equal(await a.release(), "released");
    assert.equal(await a.release(), "released", "idempotent");
    const c = await waiting;
    assert.ok(c.fencingToken > b.fencingToken);
    assert.equal(await sem.available(), 0);
    await b.release();
    await c.release();
    assert.equal(await sem.available(), 3);
    assert.deepEqual(Object.keys(await semTraces(fx, fx.prefix)), ["fence"]);
    const t = await semTraces(fx, fx.prefix);
    assert.equal(t.fence, -1, "the fence counter persists");
    await sem.close();
    await other.close();
  },
);

storeTest("Semaphore: weighted FIFO, a small later request never passes the head", async (fx) => {
  const s = (store = fx.store) => new Semaphore({ key: fx.prefix, store, permits: 4 });
  const order: string[] = [];
  const big = await s().acquire(3); // 1 left
  const head = s(await fx.another()).acquire(3, { timeoutMs: 10_000 }).then((g) => {
    order.push("head(3)");
    return g;
  });
  await waitFor(async () => (await s().waiting()) === 1, {
    timeoutMs: 3000,
    message: "head queued",
  });
  const small = s().acquire(1, { timeoutMs: 10_000 }).then((g) => {
    order.push("small(1)");
    return g;
  });
  await waitFor(async () => (await s().waiting()) === 2, {
    timeoutMs: 3000,
    message: "small queued",
  });
  assert.equal(await s().tryAcquire(1), null, "a one-shot does not pass the queue either");
  await sleep(50);
  assert.deepEqual(order, [], "the free permit stays free for the head");
  await big.release(); // 4 free: the head (3) and the small one (1) both fit, in order
  const [h, sm] = await Promise.all([head, small]);
  assert.deepEqual(order.sort(), ["head(3)", "small(1)"]);
  assert.ok(sm.fencingToken > h.fencingToken, "granted in queue order");
  assert.equal(await s().available(), 0);
  await h.release();
  await sm.release();
  assert.deepEqual(Object.keys(await semTraces(fx, fx.prefix)), ["fence"]);
});

storeTest("Semaphore: one release grants every waiter that fits, in order", async (fx) => {
  const s = async () => new Semaphore({ key: fx.prefix, store: await fx.another(), permits: 5 });
  const all = await (await s()).acquire(5);
  const got: number[] = [];
  const waits = [];
  for (const n of [2, 1, 2, 3]) {
    const sem = await s();
    waits.push(sem.acquire(n, { timeoutMs: 10_000 }).then((g) => (got.push(n), g)));
    await waitFor(async () => (await sem.waiting()) === waits.length, {
      timeoutMs: 3000,
      message: "queued",
    });
  }
  await all.release();
  const first = await Promise.all(waits.slice(0, 3)); // 2 + 1 + 2 = 5: the 3 waits behind them
  // The grants are made in queue order by one script; each process hears of its own on its own
  // connection, so the order they are heard in is not the order made (seen on a cluster).
  const heard = () => [...got].sort();
  assert.deepEqual(heard(), [1, 2, 2]);
  assert.deepEqual(first.map((g) => g.permits), [2, 1, 2]);
  await sleep(30);
  assert.deepEqual(heard(), [1, 2, 2]);
  await first[0]!.release(); // 2 free: the 3 still does not fit
  await sleep(30);
  assert.deepEqual(heard(), [1, 2, 2]);
  await first[1]!.release(); // 3 free
  const last = await waits[3]!;
  assert.equal(last.permits, 3);
  await first[2]!.release();
  await last.release();
});

storeTest(
  "Semaphore: abort, timeout and close leave the queue; the next in line moves up",
  async (fx) => {
    const sem = new Semaphore({ key: fx.prefix, store: fx.store, permits: 2 });
    const held = await sem.acquire(2);
    const ctrl = new AbortController();
    const aborted = sem.acquire(2, { signal: ctrl.signal });
    // Long enough to be seen queued on a loaded machine; handled from the start, so that a timeout
    // before the queue is seen whole is this test's failure, not an unhandled rejection.
    const timed = sem.acquire(1, { timeoutMs: 1000 });
    const timedOut = rejects(timed, LockTimeoutError);
    const closing = new Semaphore({ key: fx.prefix, store: await fx.another(), permits: 2 });
    const closed = closing.acquire(1);
    const behind = sem.acquire(1, { timeoutMs: 10_000 });
    await waitFor(async () => (await sem.waiting()) === 4, { timeoutMs: 3000, message: "queued" });
    ctrl.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    await timedOut;
    await closing.close();
    await rejects(closed, ClosedError);
    await rejects(closing.acquire(), ClosedError);
    await rejects(closing.available(), ClosedError);
    await waitFor(async () => (await sem.waiting()) === 1, { timeoutMs: 3000, message: "left" });
    await held.release();
    const g = await behind;
    assert.equal(g.permits, 1);
    await g.release();
    assert.deepEqual(Object.keys(await semTraces(fx, fx.prefix)), ["fence"]);
    await sem.close();
  },
);

storeTest(
  "Semaphore: a crashed holder's permits come back after its own ttl (mixed ttls)",
  async (fx) => {
    const spy = new SpyStore(await fx.another());
    const short = new Semaphore({ key: fx.prefix, store: spy, permits: 3, ttlMs: 300 });
    const long = new Semaphore({ key: fx.prefix, store: fx.store, permits: 3, ttlMs: 30_000 });
    const keep = await long.acquire(1); // a long-ttl holder that stays
    const crashed = await short.acquire(2);
    spy.fault = "fail"; // it can no longer renew: as good as crashed
    const start = performance.now();
    const g = await long.acquire(2, { timeoutMs: 5000 });
    const waited = performance.now() - start;
    assert.ok(waited < 3000, `waited ${waited} ms`);
    assert.equal(crashed.state, "lost");
    assert.ok(g.fencingToken > crashed.fencingToken);
    assert.equal(keep.state, "acquired", "the long-ttl holder kept its permit");
    spy.fault = "none";
    assert.equal(await crashed.release(), "lost");
    assert.equal(await long.available(), 0, "the stale release freed nothing");
    await g.release();
    await keep.release();
  },
);

storeTest("Semaphore: a crashed waiter leaves the queue by itself", async (fx) => {
  const k = semaphoreKeys("distkit-locks", fx.prefix);
  const sem = new Semaphore({ key: fx.prefix, store: fx.store, permits: 2, retryIntervalMs: 5 });
  const held = await sem.acquire(1);
  // A waiter that queued for 2 permits (200 ms) and then vanished.
  const r = await SEM_ACQUIRE_OP.run(fx.store, k.all, {
    token: "ghost*2/30000/nowhere/ghost",
    n: 2,
    ttlMs: 30_000,
    permits: 2,
    queueMs: 200,
    channel: k.channel,
    key: fx.prefix,
  });
  assert.ok(!r.ok && r.ticket !== undefined);
  assert.equal(await sem.tryAcquire(1), null, "the ghost heads the queue");
  const g = await sem.acquire(1, { timeoutMs: 5000 }); // gets in once the ghost's entry lapses
  assert.equal(await sem.waiting(), 0);
  await g.release();
  await held.release();
  assert.deepEqual(Object.keys(await semTraces(fx, fx.prefix)), ["fence"]);
});

storeTest(
  "Semaphore: processes that disagree on permits: the count in use wins, the other is refused",
  async (fx) => {
    const three = new Semaphore({ key: fx.prefix, store: fx.store, permits: 3 });
    const five = new Semaphore({ key: fx.prefix, store: await fx.another(), permits: 5 });
    const g = await three.acquire(3);
    const before = await semTraces(fx, fx.prefix);
    const e = await rejects(five.acquire(1, { timeoutMs: 2000 }), InvalidArgumentError);
    assert.match(e.message, /in use with 3 permits; this Semaphore object has 5/);
    await rejects(five.tryAcquire(1), InvalidArgumentError);
    await rejects(five.tryAcquireWithRetries(1, 3), InvalidArgumentError);
    assert.deepEqual(Object.keys(await semTraces(fx, fx.prefix)), Object.keys(before));
    assert.equal(await five.available(), 0, "available() counts with the permits in use");
    assert.equal(await three.waiting(), 0, "the refused call did not queue");
    await g.release();
    // Idle: the next count applies.
    const g5 = await five.acquire(5);
    await rejects(three.tryAcquire(1), InvalidArgumentError);
    await g5.release();
    await (await three.acquire(3)).release();
  },
);

storeTest(
  "Semaphore: bad input throws a clear error before any I/O and changes nothing",
  async (fx) => {
    const spy = new SpyStore(fx.store);
    const base: SemaphoreOptions = { key: fx.prefix, store: spy, permits: 3 };
    const bad: Array<
      [Partial<SemaphoreOptions>, typeof InvalidArgumentError | typeof InvalidKeyError]
    > = [
      [{ permits: 0 }, InvalidArgumentError],
      [{ permits: -1 }, InvalidArgumentError],
      [{ permits: 1.5 }, InvalidArgumentError],
      [{ permits: NaN }, InvalidArgumentError],
      [{ permits: "3" as unknown as number }, InvalidArgumentError],
      [{ permits: undefined as unknown as number }, InvalidArgumentError],
      [{ permits: 1_000_001 }, InvalidArgumentError],
      [{ key: "" }, InvalidKeyError],
      [{ namespace: "" }, InvalidKeyError],
      [{ ttlMs: 0 }, InvalidArgumentError],
      [{ maxWaitMs: -1 }, InvalidArgumentError],
      [{ retryIntervalMs: 0 }, InvalidArgumentError],
      [{ ownerId: "" }, InvalidArgumentError],
      [{ store: {} as never }, InvalidArgumentError],
    ];
    for (const [o, cls] of bad) {
      assert.throws(
        () => new Semaphore({ ...base, ...o }),
        cls,
        JSON.stringify(o),
      );
    }
    assert.throws(() => new Semaphore(null as never), InvalidArgumentError);
    const sem = new Semaphore(base);
    for (const n of [0, -1, 4, 1.5, NaN, "1" as unknown as number, Infinity]) {
      await rejects(sem.acquire(n), InvalidArgumentError);
      await rejects(sem.tryAcquire(n), InvalidArgumentError);
      await rejects(sem.tryAcquireWithTimeout(n, 10), InvalidArgumentError);
      await rejects(sem.tryAcquireWithRetries(n, 1), InvalidArgumentError);
    }
    await rejects(sem.tryAcquireWithTimeout(1, -1), InvalidArgumentError);
    await rejects(sem.tryAcquireWithRetries(1, -1), InvalidArgumentError);
    await rejects(sem.acquire(1, { timeoutMs: -5 }), InvalidArgumentError);
    await rejects(sem.acquire(1, { signal: "x" as never }), InvalidArgumentError);
    await rejects(sem.acquire(1, 5 as never), InvalidArgumentError);
    assert.equal(spy.count(), 0, "no store call");
    assert.deepEqual(await semTraces(fx, fx.prefix), {});
  },
);

storeTest(
  "Semaphore guard: renews its permits past the ttl; maxWaitMs bounds waits",
  async (fx) => {
    const sem = new Semaphore({
      key: fx.prefix,
      store: fx.store,
      permits: 1,
      // Renewed every 400 ms: room for a loaded machine's stalls (a 200 ms ttl was lost there,
      // and a lock's 600 ms ttl once).
      ttlMs: 1200,
      maxWaitMs: 100,
    });
    const g = await sem.acquire();
    await sleep(1500); // over the ttl: only renewals keep it
    assert.equal(g.state, "acquired");
    assert.equal(g.signal.aborted, false);
    const start = performance.now();
    await rejects(sem.acquire(1, { timeoutMs: 60_000 }), LockTimeoutError);
    assert.ok(performance.now() - start < 2000);
    assert.equal(await g.release(), "released");
    assert.equal(g.state, "released");
  },
);

Deno.test("Semaphore options: defaults and getters", () => {
  const store = new MemoryStore();
  const sem = new Semaphore({ key: "k", store, permits: 7 });
  assert.deepEqual(
    [sem.key, sem.namespace, sem.permits, sem.ttlMs, sem.maxWaitMs, sem.retryIntervalMs],
    ["k", "distkit-locks", 7, 30_000, undefined, 50],
  );
  assert.ok(sem.ownerId.length > 0);
  const o = new Semaphore({
    key: "k",
    store,
    permits: 2,
    namespace: "ns",
    ttlMs: 500,
    ownerId: "me",
    maxWaitMs: 9,
    retryIntervalMs: 5,
  });
  assert.deepEqual([o.namespace, o.ttlMs, o.ownerId, o.maxWaitMs, o.retryIntervalMs], [
    "ns",
    500,
    "me",
    9,
    5,
  ]);
});
