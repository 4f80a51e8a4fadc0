/**
 * The hybrid engine's entries across awaits (issue 11): a call that holds an entry while it
 * waits for the store acts on the entry the map holds afterwards, not on a stale copy.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import { storeTest } from "../_support/stores.ts";

storeTest(
  "hybrid absolute: a matched setIf lifts the block of an entry made while it ran",
  async (fx) => {
    const options = { prefix: fx.prefix, windowSizeSeconds: 10, syncIntervalMs: 60_000 };
    await using filler = new RateLimiter({ store: await fx.another(), ...options });
    await using rl = new RateLimiter({ store: fx.store, ...options });
    await filler.hybrid.absolute.setIf("k", 1, Comparator.always, 10); // full: cap 10 (1/s, 10 s)
    const reset = rl.hybrid.absolute.setIf("k", 1, Comparator.always, 0);
    // Made while the setIf runs, so either order is linearizable. Usually its store call runs
    // before the reset (rejected: the window is full, and its entry is blocked until the next sync,
    // a minute away); now and then the reset's continuation runs first and the inc asks the store
    // again after it (admitted, 9 left of the reset window). Seen 2 to 3 times in 40 on iovalkey.
    const during = await rl.hybrid.absolute.inc("k", 1);
    if (during.kind === "allowed") assert.equal(during.remaining, 9);
    else assert.equal(during.kind, "rejected");
    assert.ok((await reset).matched);
    // The block the inc's entry got before the reset is lifted: admitted from the new total.
    const next = await rl.hybrid.absolute.inc("k", 1);
    assert.equal(next.kind, "allowed", "the total is 0 now");
    assert.equal(next.remaining, during.kind === "allowed" ? 8 : 9);
  },
);
