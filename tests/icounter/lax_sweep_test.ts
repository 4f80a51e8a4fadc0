/**
 * LaxInstanceAwareCounter's cache sweep never drops an entry a call holds across an await
 * (issue 11): a read in flight when a new key makes the cache sweep still answers the store's
 * values.
 */
import assert from "node:assert/strict";
import { LaxInstanceAwareCounter } from "../../icounter/lax.ts";
import { StrictInstanceAwareCounter } from "../../icounter/strict.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

/** The cache sweeps when a new key arrives and it holds this many entries. */
const SWEEP_AT = 1024;

/** Reads `n` distinct filler keys (at most 1000 a call), so the cache holds `n` more entries. */
async function fill(c: LaxInstanceAwareCounter, n: number): Promise<void> {
  const keys = Array.from({ length: n }, (_, i) => `fill${i}`);
  for (let i = 0; i < n; i += 1000) await c.getAll(keys.slice(i, i + 1000));
}

storeTest(
  "lax counter: LaxInstanceAwareCounter.get of a cold key answers the store's value while a new key sweeps",
  async (fx) => {
    await using other = new StrictInstanceAwareCounter({ prefix: fx.prefix, store: fx.store });
    await other.inc("cold", 5);
    const spy = new SpyStore(fx.store);
    await using lax = new LaxInstanceAwareCounter({
      prefix: fx.prefix,
      store: spy,
      allowedLagMs: 60_000,
    });
    await fill(lax, SWEEP_AT - 1); // fresh entries: the sweep keeps them
    spy.fault = "hang";
    const read = lax.get("cold"); // the cache's last entry below the threshold, never synced
    await waitFor(() => spy.held === 1, { timeoutMs: 2000, message: "the read in flight" });
    const touch = lax.get("new"); // a new key: the cache is full and sweeps
    spy.fault = "none";
    spy.release();
    assert.deepEqual(await read, { total: 5, mine: 0 });
    assert.deepEqual(await touch, { total: 0, mine: 0 });
    assert.deepEqual(await lax.get("cold"), { total: 5, mine: 0 }, "served warm from memory");
  },
);

for (const op of ["getAll", "incAll"] as const) {
  storeTest(
    `lax counter: LaxInstanceAwareCounter.${op} keeps a warm key it holds while a cold read is in flight`,
    async (fx) => {
      const LAG = 100;
      await using other = new StrictInstanceAwareCounter({ prefix: fx.prefix, store: fx.store });
      await other.incAll([["warm", 7], ["cold", 5]]);
      const spy = new SpyStore(fx.store);
      await using lax = new LaxInstanceAwareCounter({
        prefix: fx.prefix,
        store: spy,
        allowedLagMs: LAG,
        flushIntervalMs: 60_000,
      });
      await fill(lax, SWEEP_AT - 2);
      assert.deepEqual(await lax.get("warm"), { total: 7, mine: 0 });
      const warmAt = performance.now();
      spy.fault = "hang";
      // "warm" from memory, "cold" from the store.
      const call = op === "getAll"
        ? lax.getAll(["warm", "cold"])
        : lax.incAll([["warm", 1], ["cold", 1]]);
      await waitFor(() => spy.held === 1, { timeoutMs: 2000, message: "the cold read in flight" });
      // While the read is in flight, "warm" ages past the lag; a new key makes the cache sweep.
      await waitFor(() => performance.now() - warmAt > LAG, {
        timeoutMs: 2000,
        message: "the lag to pass",
      });
      const touch = lax.get("new");
      spy.fault = "none";
      spy.release();
      const n = op === "getAll" ? 0 : 1;
      assert.deepEqual(await call, [
        ["warm", { total: 7 + n, mine: n }],
        ["cold", { total: 5 + n, mine: n }],
      ]);
      assert.deepEqual(await touch, { total: 0, mine: 0 });
    },
  );
}
