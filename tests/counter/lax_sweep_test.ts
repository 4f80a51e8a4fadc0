/**
 * LaxCounter's map sweep never drops an entry a call holds across an await (issue 11): a read in
 * flight when a new key makes the map sweep still answers the store's value.
 */
import assert from "node:assert/strict";
import { LaxCounter } from "../../counter/lax_counter.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

/** The map sweeps when a new key arrives and it holds this many entries. */
const SWEEP_AT = 1024;

/** Reads `n` distinct filler keys (at most 1000 a call), so the map holds `n` more entries. */
async function fill(lax: LaxCounter, n: number): Promise<void> {
  const keys = Array.from({ length: n }, (_, i) => `fill${i}`);
  for (let i = 0; i < n; i += 1000) await lax.getAll(keys.slice(i, i + 1000));
}

storeTest(
  "lax counter: LaxCounter.get of a cold key answers the store's value while a new key sweeps",
  async (fx) => {
    await new StrictCounter({ prefix: fx.prefix, store: fx.store }).set("cold", 5);
    const spy = new SpyStore(fx.store);
    await using lax = new LaxCounter({ prefix: fx.prefix, store: spy, allowedLagMs: 60_000 });
    await fill(lax, SWEEP_AT - 1); // fresh entries: the sweep keeps them
    spy.fault = "hang";
    const read = lax.get("cold"); // the map's last entry below the threshold, never synced
    await waitFor(() => spy.held === 1, { timeoutMs: 2000, message: "the read in flight" });
    const other = lax.get("other"); // a new key: the map is full and sweeps
    spy.fault = "none";
    spy.release();
    assert.equal(await read, 5);
    assert.equal(await other, 0);
    assert.equal(await lax.get("cold"), 5, "served warm from memory");
  },
);

storeTest(
  "lax counter: LaxCounter.getAll keeps a warm key it holds while a cold read is in flight",
  async (fx) => {
    const LAG = 100;
    await new StrictCounter({ prefix: fx.prefix, store: fx.store }).setAll([
      ["warm", 7],
      ["cold", 5],
    ]);
    const spy = new SpyStore(fx.store);
    await using lax = new LaxCounter({ prefix: fx.prefix, store: spy, allowedLagMs: LAG });
    await fill(lax, SWEEP_AT - 2);
    assert.equal(await lax.get("warm"), 7);
    const warmAt = performance.now();
    spy.fault = "hang";
    const read = lax.getAll(["warm", "cold"]); // warm from memory, cold from the store
    await waitFor(() => spy.held === 1, { timeoutMs: 2000, message: "the cold read in flight" });
    // While the read is in flight, "warm" ages past the lag; a new key makes the map sweep.
    await waitFor(() => performance.now() - warmAt > LAG, {
      timeoutMs: 2000,
      message: "the lag to pass",
    });
    const other = lax.get("other");
    spy.fault = "none";
    spy.release();
    assert.deepEqual(await read, [["warm", 7], ["cold", 5]]);
    assert.equal(await other, 0);
  },
);
