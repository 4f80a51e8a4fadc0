import assert from "node:assert/strict";
import { ClosedError, Mutex, RwLock } from "../../mod.ts";
import { WaitHub } from "../../locks/_hub.ts";
import { storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";
import { keyOf, traces, zmembers } from "./_helpers.ts";

storeTest("Mutex.close(): pending waits reject with ClosedError and leave nothing", async (fx) => {
  const holder = new Mutex({ key: fx.prefix, store: fx.store });
  const store = await fx.another();
  const m = new Mutex({ key: fx.prefix, store, retryIntervalMs: 5 });
  const g = await holder.lock();
  const waits = [m.lock(), m.lock({ timeoutMs: 10_000 }), m.tryLockWithRetries(1000)];
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 3, {
    timeoutMs: 2000,
    message: "three queued",
  });
  const rejected = Promise.all(waits.map((w) => assert.rejects(w, ClosedError)));
  await m.close();
  await rejected;
  // close() waits for the queue's clean-up only a short grace (then it goes on in the
  // background): on a loaded machine it may still be in flight here.
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "mutex", "queue"))).length === 0, {
    timeoutMs: 2000,
    message: "the queue emptied",
  });
  assert.equal(WaitHub.count(store), 0, "the subscription ended");
  if (fx.memory) assert.equal(fx.memory.subscriptionCount, 0);
  // Later calls throw; closing again is a no-op; the holder is untouched.
  await assert.rejects(m.lock(), ClosedError);
  await assert.rejects(m.tryLock(), ClosedError);
  await assert.rejects(m.tryLockWithTimeout(10), ClosedError);
  await m.close();
  assert.equal(g.state, "acquired");
  assert.equal(await g.release(), "released");
  assert.deepEqual(Object.keys(await traces(fx, fx.prefix, "mutex")), ["fence"]);
});

storeTest("Mutex.close() leaves held guards alone; they still release", async (fx) => {
  const m = new Mutex({ key: fx.prefix, store: fx.store, ttlMs: 300 });
  {
    await using _m = m;
    const g = await m.lock();
    await m[Symbol.asyncDispose]();
    assert.equal(g.state, "acquired");
    assert.equal(await new Mutex({ key: fx.prefix, store: fx.store }).tryLock(), null);
    assert.equal(await g.release(), "released");
  }
  await assert.rejects(m.tryLock(), ClosedError);
});

storeTest("RwLock.close(): pending reads and writes reject with ClosedError", async (fx) => {
  const writer = await new RwLock({ key: fx.prefix, store: fx.store }).write();
  const store = await fx.another();
  const rw = new RwLock({ key: fx.prefix, store, retryIntervalMs: 5 });
  const waits = [rw.read(), rw.write({ timeoutMs: 10_000 }), rw.tryReadWithRetries(1000)];
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "rw", "queue"))).length === 1, {
    timeoutMs: 2000,
    message: "the writer queued",
  });
  const rejected = Promise.all(waits.map((w) => assert.rejects(w, ClosedError)));
  await rw.close();
  await rejected;
  await waitFor(async () => (await zmembers(fx, keyOf(fx.prefix, "rw", "queue"))).length === 0, {
    timeoutMs: 2000,
    message: "the queue emptied (in the background, as for the mutex)",
  });
  assert.equal(WaitHub.count(store), 0);
  await assert.rejects(rw.tryRead(), ClosedError);
  await assert.rejects(rw.write(), ClosedError);
  await writer.release();
});
