/**
 * The `close()` contract both lax counters keep (issue 11), as one suite each registers: when the
 * final flush cannot reach the store, `close()` rejects with a StoreError naming how many keys were
 * not written, in bounded time even if the store never answers, with no unhandled rejection;
 * `await using` surfaces the same error.
 */
import assert from "node:assert/strict";
import { StoreError } from "../../core/errors.ts";
import { within } from "../../core/final_flush.ts";
import { RedisStore } from "../../store/redis_store.ts";
import type { Store } from "../../store/types.ts";
import { connectStandalone, startPrivateRedis } from "./servers.ts";
import { SpyStore } from "./spy_store.ts";
import { storeTest } from "./stores.ts";
import { sleep } from "./wait.ts";

/** How long a test lets close() take before calling it hung (the counters' budget is 300 ms). */
const HUNG_MS = 10_000;

/** What the suite needs of a lax counter. */
export interface LaxClosable extends AsyncDisposable {
  readonly pending: number;
  getAll(keys: string[]): Promise<unknown>;
  incAll(entries: Array<[string, number]>): Promise<unknown>;
  inc(key: string): Promise<unknown>;
}

/** One way to close, named in the test. */
export interface CloseVariant<C> {
  name: string;
  close(c: C): Promise<void>;
}

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

/**
 * Registers the close suite for one lax counter class.
 *
 * @param cls the class name, in test names
 * @param make a counter on `store` with `closeTimeoutMs: 300` and no flush due for a long time
 * @param variants the ways to close it (each is tested against failing and hanging stores)
 */
export function laxCloseSuite<C extends LaxClosable>(
  cls: string,
  make: (store: Store, prefix: string) => C,
  variants: readonly CloseVariant<C>[],
): void {
  /** A counter with three keys changed in memory only (warm keys, a flush far away). */
  async function withChanges(store: Store, prefix: string): Promise<C> {
    const c = make(store, prefix);
    await c.getAll(["a", "b", "c"]);
    await c.incAll([["a", 1], ["b", 2], ["c", 3]]);
    assert.equal(c.pending, 3);
    return c;
  }

  for (const fault of ["fail", "hang"] as const) {
    for (const v of variants) {
      storeTest(
        `lax counter close: ${cls}.${v.name} when store calls ${fault} rejects with a StoreError naming the keys`,
        async (fx) => {
          const unhandled = watchUnhandled();
          try {
            const spy = new SpyStore(fx.store);
            const c = await withChanges(spy, fx.prefix);
            spy.fault = fault;
            const closed = await within(v.close(c), HUNG_MS);
            assert.equal(closed.status, "rejected", "close() settles, and rejects");
            if (closed.status === "rejected") isNotWritten(3)(closed.reason);
            await assert.rejects(c.inc("a"), { code: "CLOSED" });
            await v.close(c); // closed: resolves, the error was the first caller's
            await sleep(0); // let unhandled rejections surface
            assert.equal(unhandled.count(), 0, "no unhandled rejection");
            // The sanitizer fails this test if a timer (flush, heartbeat) outlives close().
          } finally {
            unhandled.stop();
          }
        },
      );
    }
  }

  storeTest(
    `lax counter close: await using a ${cls} whose store never answers surfaces the StoreError`,
    async (fx) => {
      const spy = new SpyStore(fx.store);
      const scope = async () => {
        await using c = await withChanges(spy, fx.prefix);
        spy.fault = "hang";
        assert.equal(c.pending, 3); // disposed here, with these unwritten
      };
      const done = await within(scope(), HUNG_MS);
      assert.equal(done.status, "rejected", "disposal settles, and rejects");
      if (done.status === "rejected") isNotWritten(3)(done.reason);
    },
  );

  Deno.test(`lax counter close: ${cls}.close() after its Redis server stopped rejects with a StoreError naming the keys`, async () => {
    const unhandled = watchUnhandled();
    const server = await startPrivateRedis();
    const client = await connectStandalone(server.url);
    const store = new RedisStore(client); // no command timeout: calls wait for a reconnect
    try {
      const c = await withChanges(store, "close-down");
      await server.stop();
      const closed = await within(variants[0]!.close(c), HUNG_MS);
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
}
