/** LaxCounter semantics beyond the shared contract (distkit §12.3 rewritten, DESIGN §3). */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import type { DistkitError } from "../../core/errors.ts";
import { LaxCounter } from "../../counter/lax_counter.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { storeTest } from "../_support/stores.ts";
import { sleep, waitFor } from "../_support/wait.ts";

storeTest(
  "LaxCounter: inc is visible locally at once and reaches the store within the lag",
  async (fx) => {
    // A lag long enough that the flush cannot land between the inc and the check of `pending` (a
    // loaded machine stalled the loop past 20 ms there once), short next to the wait below.
    await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store, allowedLagMs: 300 });
    const strict = new StrictCounter({ prefix: fx.prefix, store: await fx.another() });
    await lax.get("k"); // warm
    assert.equal(await lax.inc("k", 7), 7);
    assert.equal(await lax.get("k"), 7);
    assert.equal(lax.pending, 1);
    await waitFor(async () => (await strict.get("k")) === 7, {
      timeoutMs: 2000,
      message: "the flush",
    });
    // Redis applied the flush; its reply reaches the counter a moment later.
    await waitFor(() => lax.pending === 0, { timeoutMs: 2000, message: "the flush's reply" });
  },
);

storeTest("LaxCounter: a warm inc makes no store call; a burst is one flush call", async (fx) => {
  const spy = new SpyStore(fx.store);
  // A lag far longer than the burst takes, even on a loaded machine: a key stays warm for the lag
  // after its read or flush. With 30 ms, a CI run under load saw the burst outlast the lag and a
  // flush's reply come later than it: the keys went cold, and each inc read its key back.
  await using lax = new LaxCounter({ prefix: fx.prefix, store: spy, allowedLagMs: 1000 });
  const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
  await lax.getAll(keys); // one read warms every key
  assert.equal(spy.count(), 1);
  for (let i = 0; i < 1000; i++) await lax.inc(keys[i % 100]!);
  assert.equal(spy.count(), 1, "incs on warm keys touch only memory");
  await waitFor(() => lax.pending === 0, { timeoutMs: 5000, message: "the flush" });
  assert.equal(spy.count("counter_sync"), 2, "one read, then one flush for the whole burst");
  const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  assert.deepEqual(await strict.getAll(keys.slice(0, 3)), [["k0", 10], ["k1", 10], ["k2", 10]]);
});

storeTest("LaxCounter: no flush is scheduled while nothing is dirty", async (fx) => {
  const spy = new SpyStore(fx.store);
  await using lax = new LaxCounter({ prefix: fx.prefix, store: spy, allowedLagMs: 5 });
  await lax.inc("k");
  await lax.flush();
  const before = spy.count();
  await sleep(50); // ten lags of idleness
  assert.equal(spy.count(), before);
  // The sanitizer also fails this test if a timer outlives close().
});

storeTest("LaxCounter: del includes unflushed deltas and cancels the pending flush", async (fx) => {
  await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store });
  await lax.inc("k", 10);
  assert.equal(await lax.del("k"), 10);
  assert.equal(await lax.get("k"), 0);
  await lax.flush();
  await using reader = new LaxCounter({ prefix: fx.prefix, store: await fx.another() });
  assert.equal(await reader.get("k"), 0);
});

storeTest("LaxCounter: del works on keys this process never touched", async (fx) => {
  const strict = new StrictCounter({ prefix: fx.prefix, store: await fx.another() });
  await strict.set("theirs", 33);
  await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store });
  assert.equal(await lax.del("theirs"), 33);
  assert.equal(await strict.get("theirs"), 0);
});

storeTest("LaxCounter: clear cancels pending flushes and is visible at once", async (fx) => {
  await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store });
  await lax.inc("a", 42);
  await lax.inc("b", 1);
  await lax.clear();
  assert.deepEqual(await lax.getAll(["a", "b"]), [["a", 0], ["b", 0]]);
  assert.equal(lax.pending, 0, "clear settled every delta: nothing is left to resurrect the keys");
  await sleep(60); // three lags: a stray flush would have landed
  const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  assert.deepEqual(await strict.getAll(["a", "b"]), [["a", 0], ["b", 0]]);
  assert.equal(await lax.inc("a"), 1);
});

storeTest("LaxCounter: set is absolute, not a relative correction", async (fx) => {
  // distkit §5.6: A's set(v) became HINCRBY(v - cached); here it is last-writer-wins.
  const a = new LaxCounter({ prefix: fx.prefix, store: fx.store });
  const b = new LaxCounter({ prefix: fx.prefix, store: await fx.another() });
  try {
    await a.get("k");
    await b.set("k", 100); // lands first, a's cache is stale
    assert.equal(await a.set("k", 7), 7);
    const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
    assert.equal(await strict.get("k"), 7);
    // inc(5) then setAll([[k, 20]]) ends at 20
    await a.inc("k", 5);
    await a.setAll([["k", 20]]);
    await a.flush();
    assert.equal(await strict.get("k"), 20);
  } finally {
    await a.close();
    await b.close();
  }
});

storeTest(
  "LaxCounter: conditional ops compare the store's value, not a stale cache",
  async (fx) => {
    await using writer = new LaxCounter({ prefix: fx.prefix, store: fx.store });
    await using reader = new LaxCounter({ prefix: fx.prefix, store: await fx.another() });
    assert.equal(await reader.get("k"), 0); // reader caches 0
    await writer.set("k", 7);
    assert.deepEqual(await reader.incIf("k", Comparator.eq(7), 3), {
      value: 10,
      previous: 7,
      matched: true,
    });
    assert.deepEqual(await reader.setIf("k", Comparator.eq(10), 20), {
      value: 20,
      previous: 10,
      matched: true,
    });
    // settled first: pending local deltas are part of the compared value
    await reader.inc("k", 1);
    assert.deepEqual(await reader.incIf("k", Comparator.eq(21), 1), {
      value: 22,
      previous: 21,
      matched: true,
    });
  },
);

storeTest(
  "LaxCounter: a cold key is read before inc returns, fresh keys from memory",
  async (fx) => {
    const strict = new StrictCounter({ prefix: fx.prefix, store: await fx.another() });
    await strict.set("k", 40);
    await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store, allowedLagMs: 10 });
    assert.equal(await lax.inc("k", 2), 42);
    await lax.flush();
    await strict.inc("k", 100); // another process writes
    await sleep(25); // our copy goes stale
    assert.equal(await lax.get("k"), 142);
  },
);

storeTest("LaxCounter: resent flushes after lost replies are applied exactly once", async (fx) => {
  const spy = new SpyStore(fx.store);
  await using lax = new LaxCounter({ prefix: fx.prefix, store: spy, allowedLagMs: 5 });
  await lax.get("k");
  spy.fault = "lose-reply";
  spy.faultScript = "counter_sync";
  for (let i = 0; i < 10; i++) await lax.inc("k");
  await assert.rejects(lax.flush(), { code: "STORE_ERROR" }); // applied, reply lost
  await assert.rejects(lax.flush(), { code: "STORE_ERROR" }); // resent, ignored, reply lost
  for (let i = 0; i < 5; i++) await lax.inc("k");
  spy.fault = "none";
  await lax.flush();
  assert.equal(lax.pending, 0);
  const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  assert.equal(await strict.get("k"), 15);
  assert.equal(await lax.get("k"), 15);
});

storeTest(
  "LaxCounter: buffering continues through an outage; nothing lost after it",
  async (fx) => {
    const spy = new SpyStore(fx.store);
    const errors: DistkitError[] = [];
    await using lax = new LaxCounter({
      prefix: fx.prefix,
      store: spy,
      allowedLagMs: 5,
      onError: (e) => errors.push(e),
    });
    await lax.get("k");
    spy.fault = "fail";
    for (let i = 0; i < 50; i++) assert.equal(await lax.inc("k"), i + 1);
    assert.equal(await lax.inc("cold", 3), 3, "a cold inc during an outage buffers too");
    await waitFor(() => errors.length >= 2, {
      timeoutMs: 2000,
      message: "background flush failures",
    });
    assert.equal(errors[0]!.code, "STORE_ERROR");
    assert.equal(lax.pending, 2);
    spy.fault = "none";
    await waitFor(() => lax.pending === 0, {
      timeoutMs: 3000,
      message: "the retry after the outage",
    });
    const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
    assert.deepEqual(await strict.getAll(["k", "cold"]), [["k", 50], ["cold", 3]]);
  },
);

storeTest("LaxCounter: close() flushes, then calls throw ClosedError", async (fx) => {
  const lax = new LaxCounter({ prefix: fx.prefix, store: fx.store, allowedLagMs: 10_000 });
  await lax.incAll([["a", 1], ["b", 2]]);
  await lax.close();
  await lax.close(); // idempotent
  const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  assert.deepEqual(await strict.getAll(["a", "b"]), [["a", 1], ["b", 2]]);
  await assert.rejects(lax.inc("a"), { code: "CLOSED" });
});

storeTest("LaxCounter: incAll on cold keys reports values on top of the store's", async (fx) => {
  const strict = new StrictCounter({ prefix: fx.prefix, store: await fx.another() });
  await strict.set("k", 10);
  await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store });
  assert.deepEqual(await lax.incAll([["k", 1], ["j", 2], ["k", 3]]), [["k", 11], ["j", 2], [
    "k",
    14,
  ]]);
  await lax.flush();
  assert.deepEqual(await strict.getAll(["k", "j"]), [["k", 14], ["j", 2]]);
});

storeTest("LaxCounter: more dirty keys than one batch holds are all flushed", async (fx) => {
  await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store, allowedLagMs: 5 });
  const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);
  for (let i = 0; i < keys.length; i += 1000) await lax.getAll(keys.slice(i, i + 1000));
  for (const k of keys) await lax.inc(k, 2);
  await waitFor(() => lax.pending === 0, { timeoutMs: 5000, message: "every batch" });
  const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  const values = await strict.getAll(keys.slice(0, 1000));
  assert.ok(values.every(([, v]) => v === 2));
  assert.deepEqual(await strict.getAll(["k2499"]), [["k2499", 2]]);
});
