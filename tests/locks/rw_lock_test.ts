import assert from "node:assert/strict";
import { LockLostError, LockRetriesExhaustedError, LockTimeoutError, RwLock } from "../../mod.ts";
import { storeTest } from "../_support/stores.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { waitFor } from "../_support/wait.ts";
import { keyOf, rawDel, rejects, rwTraces, traces, untilParts, zmembers } from "./_helpers.ts";
import { sleep } from "../_support/wait.ts";

const queued = (fx: Parameters<Parameters<typeof storeTest>[1]>[0], n: number) =>
  waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "rw", "queue"))).length === n, {
    timeoutMs: 2000,
    message: `${n} queued writers`,
  });

storeTest("RwLock readers share", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  await using r1 = await a.read();
  await using r2 = await b.tryRead();
  assert.ok(r2 !== null);
  assert.equal(r1.state, "acquired");
  assert.equal(r1.onAttempt, 0);
  assert.equal(await b.tryWrite(), null);
});

storeTest("RwLock two read guards of one object hold separate leases", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  const r1 = await a.read();
  await using r2 = await a.read();
  assert.equal(await r1.release(), "released");
  assert.equal(r2.state, "acquired");
  assert.equal(await b.tryWrite(), null, "the other reader still holds");
  assert.equal((await zmembers(fx, keyOf(fx.prefix, "rw", "readers"))).length, 1);
});

storeTest("RwLock a writer excludes readers and writers", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  await using w = await a.write();
  assert.equal(w.onAttempt, 0);
  assert.ok(w.fencingToken >= 1);
  assert.equal(await b.tryRead(), null);
  assert.equal(await b.tryWrite(), null);
  assert.equal(await a.tryWrite(), null, "not re-entrant");
});

storeTest("RwLock a writer waits for every reader", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  const r1 = await a.read();
  const r2 = await a.read();
  let got = false;
  const writing = b.write().then((w) => (got = true, w));
  await queued(fx, 1);
  await r1.release();
  await sleep(30);
  assert.equal(got, false);
  await r2.release();
  await using w = await writing;
  assert.ok(w.onAttempt >= 1);
  assert.deepEqual(await zmembers(fx, keyOf(fx.prefix, "rw", "queue")), [], "left the queue");
});

storeTest("RwLock a reader waits for the writer", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const spy = new SpyStore(await fx.another());
  const b = new RwLock({ key: fx.prefix, store: spy, retryIntervalMs: 10 });
  const w = await a.write();
  const reading = b.read();
  // A second attempt is sent only once the first was answered (attempts are sequential): the
  // first found the writer. (A fixed 30 ms sleep was not always enough under load.)
  await waitFor(() => spy.count() >= 2, { timeoutMs: 5000, message: "a second attempt" });
  await w.release();
  await using r = await reading;
  assert.ok(r.onAttempt >= 1);
});

storeTest("RwLock a waiting writer blocks new readers", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  const r = await a.read();
  const writing = b.write();
  await queued(fx, 1);
  assert.equal(await a.tryRead(), null);
  await rejects(a.tryReadWithTimeout(30), LockTimeoutError);
  await r.release();
  const w = await writing;
  const reading = a.read();
  await sleep(20);
  await w.release();
  await using _r2 = await reading;
});

storeTest("RwLock a failed tryWrite() does not queue nor block readers", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  await using _r = await a.read();
  assert.equal(await b.tryWrite(), null);
  assert.deepEqual(Object.keys(await traces(fx, fx.prefix, "rw")), ["readers"]);
  await using r2 = await b.tryRead();
  assert.ok(r2 !== null);
});

storeTest("RwLock write release lets the next writer in; read dispose too", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  const w = await a.write();
  assert.equal(await w.release(), "released");
  const w2 = await b.tryWrite();
  assert.ok(w2 !== null && w2.fencingToken > w.fencingToken);
  await w2.release();
  {
    await using _r = await a.read();
  }
  await using w3 = await b.tryWrite();
  assert.ok(w3 !== null);
});

storeTest("RwLock leases renew past ttlMs (read and write)", async (fx) => {
  // ttlMs 1,200 (renewals every 400 ms): only a stall of some 680 ms could lose a lease (with
  // 600 ms, a loaded CI machine lost one once); 1,500 ms outlasts the ttl.
  const a = new RwLock({ key: fx.prefix, store: fx.store, ttlMs: 1200 });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  {
    await using w = await a.write();
    await sleep(1500);
    assert.equal(w.state, "acquired");
    assert.equal(await b.tryRead(), null);
  }
  await using r = await a.read();
  await sleep(1500);
  assert.equal(r.state, "acquired");
  assert.equal(await b.tryWrite(), null);
  const t = await traces(fx, fx.prefix, "rw");
  assert.ok(t.readers! > 0 && t.readers! <= 1200);
});

storeTest("RwLock guards turn lost when their lease is deleted", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store, ttlMs: 150 });
  const w = await a.write();
  await rawDel(fx, keyOf(fx.prefix, "rw", "lease"));
  await waitFor(() => w.state === "lost", { timeoutMs: 1000, message: "write lost" });
  assert.ok(w.signal.reason instanceof LockLostError);
  assert.equal(await w.release(), "lost");
  const r = await a.read();
  await rawDel(fx, keyOf(fx.prefix, "rw", "readers"));
  await waitFor(() => r.state === "lost", { timeoutMs: 1000, message: "read lost" });
  assert.ok(r.signal.reason instanceof LockLostError);
  assert.equal(await r.release(), "lost");
});

storeTest("RwLock retry-bounded forms give LockRetriesExhaustedError", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another(), retryIntervalMs: 5 });
  const w = await a.write();
  assert.equal((await rejects(b.tryReadWithRetries(3), LockRetriesExhaustedError)).retries, 3);
  assert.equal((await rejects(b.tryWriteWithRetries(3), LockRetriesExhaustedError)).retries, 3);
  // The give-up's clean-up may land just after the rejection (it gets a short grace): awaited,
  // well before the entry would lapse by itself.
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "rw", "queue"))).length === 0, {
    timeoutMs: 1000,
    message: "the given-up writer's queue entry removed",
  });
  await w.release();
  const r = await a.read();
  const writing = b.tryWriteWithRetries(10_000);
  await queued(fx, 1);
  await r.release();
  await using w2 = await writing;
  assert.ok(w2.onAttempt >= 1);
});

storeTest("RwLock timeouts: tryReadWithTimeout / tryWriteWithTimeout", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another(), maxWaitMs: 40 });
  const w = await a.write();
  await rejects(b.tryReadWithTimeout(30), LockTimeoutError);
  await rejects(b.tryWriteWithTimeout(30), LockTimeoutError);
  await rejects(b.read(), LockTimeoutError);
  await rejects(b.write({ timeoutMs: 1000 }), LockTimeoutError);
  await untilParts(fx, fx.prefix, "rw", ["fence", "lease"]);
  await w.release();
});

storeTest("RwLock an aborted waiting writer leaves the queue and unblocks readers", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another() });
  const r = await a.read();
  const ctrl = new AbortController();
  const writing = b.write({ signal: ctrl.signal });
  await queued(fx, 1);
  const reading = a.read(); // blocked by the queued writer
  await sleep(20);
  ctrl.abort(new Error("cancelled"));
  await assert.rejects(writing, /cancelled/);
  await using _r2 = await reading; // woken by the writer leaving
  // No queue entry is left; the fence counter numbered the writer's ticket (it persists).
  assert.deepEqual(Object.keys(await rwTraces(fx, fx.prefix)).sort(), ["fence", "readers"]);
  await r.release();
});

storeTest("RwLock writers are served first come, first served", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const r = await a.read();
  const order: number[] = [];
  const waits = [];
  for (let i = 0; i < 3; i++) {
    const lock = new RwLock({ key: fx.prefix, store: await fx.another() });
    waits.push(
      lock.write().then(async (w) => {
        order.push(i);
        await w.release();
      }),
    );
    await queued(fx, i + 1);
  }
  await r.release();
  await Promise.all(waits);
  assert.deepEqual(order, [0, 1, 2]);
  let last = 0;
  for (let i = 0; i < 3; i++) {
    const w = await a.write();
    assert.ok(w.fencingToken > last);
    last = w.fencingToken;
    await w.release();
  }
});

storeTest("RwLock mixed ttlMs: a short-ttl caller never evicts a long-ttl reader", async (fx) => {
  // Closed at the end: the timed-out write's clean-up may still be going on then.
  await using long = new RwLock({ key: fx.prefix, store: fx.store, ttlMs: 5000 });
  await using short = new RwLock({ key: fx.prefix, store: await fx.another(), ttlMs: 50 });
  await using r = await long.read();
  await sleep(120);
  assert.equal(await short.tryWrite(), null, "the long reader still counts");
  await rejects(short.tryWriteWithTimeout(60), LockTimeoutError);
  assert.equal(r.state, "acquired");
});

storeTest("RwLock a waiting reader is woken by the release (pub/sub, not polling)", async (fx) => {
  const a = new RwLock({ key: fx.prefix, store: fx.store });
  const b = new RwLock({ key: fx.prefix, store: await fx.another(), retryIntervalMs: 60_000 });
  const w = await a.write();
  const reading = b.read();
  // The waiting reader keeps the marker alive: that is what makes the release publish.
  await waitFor(async () => (await traces(fx, fx.prefix, "rw"))["read-waiters"] !== undefined, {
    timeoutMs: 2000,
    message: "read-waiters marker",
  });
  await sleep(20); // let the post-subscribe attempt settle
  const t0 = performance.now();
  await w.release();
  await using r = await reading;
  const ms = performance.now() - t0;
  assert.ok(ms < 500, `wake-up took ${ms} ms`);
  assert.ok(r.onAttempt >= 1);
}, { pubsub: true });
