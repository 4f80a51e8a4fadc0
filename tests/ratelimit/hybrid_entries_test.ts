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
    const during = rl.hybrid.absolute.inc("k", 1); // reaches the store before the reset
    assert.equal((await during).kind, "rejected");
    assert.ok((await reset).matched);
    assert.equal((await rl.hybrid.absolute.inc("k", 1)).kind, "allowed", "the total is 0 now");
  },
);
