/**
 * LaxCounter.close() when the final flush cannot reach the store (issue 11): it rejects with a
 * StoreError naming how many keys were not written, in bounded time even if the store never
 * answers, with no unhandled rejection; `await using` surfaces the same error.
 */
import assert from "node:assert/strict";
import { StoreError } from "../../core/errors.ts";
import { within } from "../../core/final_flush.ts";
import { LaxCounter } from "../../counter/lax_counter.ts";
import { RedisStore } from "../../store/redis_store.ts";
import type { Store } from "../../store/types.ts";
import { connectStandalone, startPrivateRedis } from "../_support/servers.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { storeTest } from "../_support/stores.ts";
import { sleep } from "../_support/wait.ts";

/** How long a test lets close() take before calling it hung (the counters' budget is 300 ms). */
const HUNG_MS = 10_000;

/** Counts unhandled rejections until `stop()`; each is marked handled so it is reported once. */
function watchUnhandled(): { count(): number; stop(): void } {
  let n = 0;
  const on = (e: PromiseRejectionEvent) => {
    n++;
    e.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", on);
  return { count: () => n, stop: () => globalThis.removeEventListener("unhandledrejection", on) };
}

function isNotWritten(keys: number): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof StoreError, `a StoreError, got ${e}`);
    assert.match(e.message, new RegExp(`\\b${keys} keys were not written\\b`));
    return true;
  };
}

/** A counter with three keys changed in memory only (warm keys, a flush far away). */
async function withChanges(store: Store, prefix: string): Promise<LaxCounter> {
  const lax = new LaxCounter({ prefix, store, allowedLagMs: 60_000, closeTimeoutMs: 300 });
  await lax.getAll(["a", "b", "c"]);
  await lax.incAll([["a", 1], ["b", 2], ["c", 3]]);
  assert.equal(lax.pending, 3);
  return lax;
}

for (const fault of ["fail", "hang"] as const) {
  storeTest(
    `lax counter close: LaxCounter.close() when store calls ${fault} rejects with a StoreError naming the keys`,
    async (fx) => {
      const unhandled = watchUnhandled();
      try {
        const spy = new SpyStore(fx.store);
        const lax = await withChanges(spy, fx.prefix);
        spy.fault = fault;
        const closed = await within(lax.close(), HUNG_MS);
        assert.equal(closed.status, "rejected", "close() settles, and rejects");
        if (closed.status === "rejected") isNotWritten(3)(closed.reason);
        await assert.rejects(lax.inc("a"), { code: "CLOSED" });
        await lax.close(); // closed: resolves, the error was the first caller's
        await sleep(0); // let unhandled rejections surface
        assert.equal(unhandled.count(), 0, "no unhandled rejection");
        // The sanitizer fails this test if the counter's timer outlives close().
      } finally {
        unhandled.stop();
      }
    },
  );
}

storeTest(
  "lax counter close: await using a LaxCounter whose store never answers surfaces the StoreError",
  async (fx) => {
    const spy = new SpyStore(fx.store);
    const scope = async () => {
      await using lax = await withChanges(spy, fx.prefix);
      spy.fault = "hang";
      assert.equal(lax.pending, 3); // disposed here, with these unwritten
    };
    const done = await within(scope(), HUNG_MS);
    assert.equal(done.status, "rejected", "disposal settles, and rejects");
    if (done.status === "rejected") isNotWritten(3)(done.reason);
  },
);

Deno.test("lax counter close: LaxCounter.close() after its Redis server stopped rejects with a StoreError naming the keys", async () => {
  const unhandled = watchUnhandled();
  const server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const store = new RedisStore(client); // no command timeout: calls wait for a reconnect
  try {
    const lax = await withChanges(store, "close-down");
    await server.stop();
    const closed = await within(lax.close(), HUNG_MS);
    assert.equal(closed.status, "rejected", "close() settles, and rejects");
    if (closed.status === "rejected") isNotWritten(3)(closed.reason);
  } finally {
    await store.close().catch(() => {});
    client.destroy(); // drops the queued calls; the abandoned flush handles their rejection
    await server.stop();
    await sleep(0);
    unhandled.stop();
  }
  assert.equal(unhandled.count(), 0, "no unhandled rejection");
});
