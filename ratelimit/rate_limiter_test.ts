import assert from "node:assert/strict";
import { ClosedError, InvalidArgumentError, InvalidKeyError, StoreError } from "../core/errors.ts";
import { Comparator } from "../core/comparator.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { RateLimit } from "./rate_limit.ts";
import { RateLimiter, type RateLimiterOptions } from "./rate_limiter.ts";
import { waitFor } from "../tests/_support/wait.ts";

function throwsArg(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message));
}

Deno.test("RateLimit: exact capacity in integer arithmetic", () => {
  let wrong = 0;
  for (let x = 1; x <= 2000; x++) {
    if (RateLimit.perDay(x).capacity(86_400_000) !== x) wrong++;
    if (RateLimit.perHour(x).capacity(3_600_000) !== x) wrong++;
    if (RateLimit.perMinute(x).capacity(60_000) !== x) wrong++;
    if (RateLimit.perWeek(x).capacity(7 * 86_400_000) !== x) wrong++;
  }
  assert.equal(wrong, 0); // trypema gets 336 of these wrong
  assert.equal(RateLimit.perMinute(60).capacity(60_000), RateLimit.perSecond(1).capacity(60_000));
  assert.equal(RateLimit.perSecond(2.9).capacity(1000), 2);
  assert.equal(RateLimit.perSecond(0.3).capacity(10_000), 3);
  assert.equal(RateLimit.perSecond(0.5).capacity(6000), 3);
  assert.equal(RateLimit.perSecond(1.3).hardLimit(1000, 2), 2);
  assert.equal(RateLimit.perSecond(1e-7).capacity(10_000), 0);
  assert.equal(RateLimit.perSecond(1e300).capacity(10_000), Number.MAX_SAFE_INTEGER);
  assert.equal(RateLimit.perMonth(30).periodMs, 30 * 86_400_000);
  for (const bad of [0, -1, NaN, Infinity, "1" as unknown as number]) {
    throwsArg(() => RateLimit.perSecond(bad), /'rate' must be a finite number greater than 0/);
  }
});

Deno.test("RateLimiter validates every option with a message naming it and its range", async (t) => {
  const cases: Array<[RateLimiterOptions, RegExp]> = [
    [{ windowSizeSeconds: 0 }, /'windowSizeSeconds' must be an integer from 1 to 2592000/],
    [{ windowSizeSeconds: 1.5 }, /'windowSizeSeconds'/],
    [{ rateGroupSizeMs: 0 }, /'rateGroupSizeMs' must be an integer from 1 to 10000/],
    [
      { windowSizeSeconds: 1, rateGroupSizeMs: 1001 },
      /'rateGroupSizeMs' must be an integer from 1 to 1000/,
    ],
    [
      { windowSizeSeconds: 86_400, rateGroupSizeMs: 100 },
      /'rateGroupSizeMs' must be an integer from 8640 to/,
    ],
    [{ hardLimitFactor: 0.5 }, /'hardLimitFactor' must be a number from 1 to 1000/],
    [{ hardLimitFactor: NaN }, /'hardLimitFactor'/],
    [{ suppressionFactorCacheMs: 0 }, /'suppressionFactorCacheMs'/],
    [{ syncIntervalMs: 0 }, /'syncIntervalMs' must be an integer from 1 to 60000/],
    [{ storeTimeoutMs: -5 }, /'storeTimeoutMs'/],
    [
      { onStoreError: "retry" as "throw" },
      /'onStoreError' must be "throw", "allow", "deny" or "local"/,
    ],
    [{ now: 5 as unknown as () => number }, /'now' must be a function/],
    [{ store: 42 as unknown as MemoryStore }, /'store'/],
  ];
  for (const [o, re] of cases) {
    const name = Object.entries(o).map(([k, v]) =>
      `${k}: ${typeof v === "string" ? JSON.stringify(v) : String(v)}`
    );
    await t.step(name.join(", "), () => throwsArg(() => new RateLimiter(o), re));
  }
  assert.doesNotThrow(() => new RateLimiter({ prefix: "a:b{c}" }));
  assert.throws(() => new RateLimiter({ prefix: "" }), InvalidKeyError);
  throwsArg(() => new RateLimiter().redis, /The 'redis' provider needs a 'store'/);
  throwsArg(() => new RateLimiter().hybrid, /The 'hybrid' provider needs a 'store'/);
});

Deno.test("the default bucket follows the window: every window works with no other option", async (t) => {
  // An oversized request's hint is W + g, which shows the bucket size g the limiter chose.
  const cases: Array<[number, number]> = [
    [1, 100],
    [10, 100],
    [100, 100],
    [101, 101],
    [86_400, 86_400],
    [2_592_000, 2_592_000],
  ];
  for (const [windowSizeSeconds, groupMs] of cases) {
    await t.step(`a ${windowSizeSeconds} s window gets ${groupMs} ms buckets`, () => {
      const rl = new RateLimiter({ windowSizeSeconds });
      const d = rl.local.absolute.inc("big", RateLimit.perSecond(1e6), 2 ** 52);
      assert.equal(d.kind, "rejected");
      if (d.kind !== "rejected") return;
      assert.equal(d.retryAfterMs, windowSizeSeconds * 1000 + groupMs);
    });
  }
  // A day with only the window set: perDay(11) admits exactly 11, across the day.
  let now = 1_700_000_000_000;
  const rl = new RateLimiter({ windowSizeSeconds: 86_400, now: () => now });
  let ok = 0;
  for (let i = 0; i < 13; i++) {
    if (rl.local.absolute.inc("day", RateLimit.perDay(11)).kind === "allowed") ok++;
    now += 3_600_000;
  }
  assert.equal(ok, 11);
  // Explicit values are still validated against the window.
  throwsArg(
    () => new RateLimiter({ windowSizeSeconds: 86_400, rateGroupSizeMs: 8639 }),
    /'rateGroupSizeMs' must be an integer from 8640 to 86400000/,
  );
});

Deno.test("bad input through every method throws before any state changes", async () => {
  await using rl = new RateLimiter({ store: new MemoryStore() });
  const limiters = [
    rl.local.absolute,
    rl.local.suppressed,
    rl.redis.absolute,
    rl.redis.suppressed,
    rl.hybrid.absolute,
    rl.hybrid.suppressed,
  ];
  for (const l of limiters) {
    for (const key of ["", "é".repeat(200), "\uD800", 7 as unknown as string]) {
      await assert.rejects(async () => await l.inc(key, 10), InvalidKeyError);
      await assert.rejects(async () => await l.get(key), InvalidKeyError);
      await assert.rejects(async () => await l.isAllowed(key), InvalidKeyError);
      await assert.rejects(
        async () => await l.setIf(key, 10, Comparator.always, 1),
        InvalidKeyError,
      );
    }
    for (const n of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      await assert.rejects(async () => await l.inc("k", 10, n), /'n' must be an integer/);
      await assert.rejects(async () => await l.setIf("k", 10, Comparator.always, n), /'n'/);
    }
    for (const r of [0, -3, NaN, Infinity, "5" as unknown as number]) {
      await assert.rejects(async () => await l.inc("k", r), /'rate' must be/);
    }
    await assert.rejects(
      async () => await l.inc("k", RateLimit.perHour(1)),
      /'rate' must allow at least 1 request per 10 s window/,
    );
    await assert.rejects(
      async () => await l.setIf("k", 10, "eq" as unknown as Comparator, 1),
      /'cmp' must be a Comparator/,
    );
    const v = await l.get("k");
    assert.equal(typeof v === "number" ? v : v.total, 0);
  }
});

Deno.test("local provider: time-driven window with an injected clock", () => {
  let now = 1_000_000;
  const rl = new RateLimiter({ windowSizeSeconds: 10, rateGroupSizeMs: 1000, now: () => now });
  const l = rl.local.absolute;
  const r = RateLimit.perSecond(1); // 10 per window
  assert.equal(l.inc("k", r, 3).kind, "allowed"); // bucket 1000, counts until 1 011 000
  now += 5000;
  assert.equal(l.inc("k", r, 7).kind, "allowed"); // bucket 1005, until 1 016 000
  const d = l.inc("k", r, 2);
  assert.deepEqual(d, {
    kind: "rejected",
    retryAfterMs: 6000,
    remainingAfterWaiting: 3,
    windowSizeSeconds: 10,
    limit: 10,
    remaining: 0,
    resetMs: 6000,
  });
  now += 5999;
  assert.equal(l.inc("k", r, 2).kind, "rejected");
  now += 1;
  assert.equal(l.get("k"), 7);
  assert.equal(l.inc("k", r, 2).kind, "allowed");
  now += 60_000;
  assert.equal(l.get("k"), 0);
  assert.equal(l.size, 0); // an emptied window is forgotten
});

Deno.test("local provider: memory stays bounded without the cleanup loop", () => {
  let now = 0;
  const rl = new RateLimiter({ windowSizeSeconds: 1, rateGroupSizeMs: 100, now: () => now });
  for (let i = 0; i < 50_000; i++) {
    rl.local.absolute.inc(`k${i}`, 10);
    now += 1;
  }
  assert.ok(rl.local.absolute.size < 5000, String(rl.local.absolute.size));
  now += 2000;
  assert.ok(rl.cleanup() > 0);
  assert.equal(rl.local.absolute.size, 0);
});

Deno.test("local suppressed: unknown keys create no state; snapshot and factor", () => {
  let now = 0;
  const rl = new RateLimiter({ hardLimitFactor: 2, now: () => now, random: () => 0.99 });
  const l = rl.local.suppressed;
  assert.equal(l.getSuppressionFactor("x"), 0);
  assert.deepEqual(l.get("x"), { total: 0, declined: 0, suppressionFactor: 0 });
  assert.equal(l.size, 0);
  for (let i = 0; i < 100; i++) l.inc("k", 10);
  assert.equal(l.getSuppressionFactor("k"), 1 - (100 / 100) * ((200 - 100) / 100));
  const d = l.inc("k", 10); // p = 1 at 101 observed? (hard − accepted)/(hard − soft) = 1, soft/observed < 1
  assert.equal(d.kind, "suppressed");
  assert.equal(l.get("k").total, 101);
  now += 20_000;
  assert.equal(l.get("k").total, 0);
});

Deno.test("cleanup loop: idempotent start/stop; close clears every timer; closed throws", async () => {
  const store = new MemoryStore();
  const rl = new RateLimiter({ store });
  rl.runCleanupLoop({ intervalMs: 10 });
  rl.runCleanupLoop({ intervalMs: 20 });
  assert.equal(rl.cleanupLoopRunning, true);
  rl.stopCleanupLoop();
  rl.stopCleanupLoop();
  assert.equal(rl.cleanupLoopRunning, false);
  rl.runCleanupLoop();
  await rl.hybrid.absolute.inc("k", 10); // starts the hybrid sync timer
  throwsArg(() => rl.runCleanupLoop({ intervalMs: 1 }), /'intervalMs' must be an integer from 10/);
  await rl.close();
  assert.equal(rl.cleanupLoopRunning, false);
  assert.throws(() => rl.local.absolute.inc("k", 10), ClosedError);
  assert.throws(() => rl.redis, ClosedError);
  assert.throws(() => rl.hybrid, ClosedError);
  await rl.close(); // idempotent
});

Deno.test("onStoreError: throw, allow, deny, local — answered within the bound, then recovery", async (t) => {
  for (const policy of ["throw", "allow", "deny", "local"] as const) {
    await t.step(policy, async () => {
      const store = new MemoryStore();
      await using rl = new RateLimiter({ store, onStoreError: policy, storeTimeoutMs: 50 });
      await rl.redis.absolute.inc("k", 1, 10);
      store.failure = new StoreError("down");
      for (const l of [rl.redis.absolute, rl.hybrid.absolute]) {
        const t0 = performance.now();
        if (policy === "throw") {
          await assert.rejects(() => l.inc("k2", 1), StoreError);
        } else {
          const d = await l.inc("k2", 1, 3);
          assert.equal(d.kind, policy === "deny" ? "rejected" : "allowed", policy);
        }
        assert.ok(performance.now() - t0 < 1000); // bounded by storeTimeoutMs (50), not hanging
      }
      if (policy === "local") {
        // The fallback enforces the capacity in-process.
        assert.equal((await rl.redis.absolute.inc("k3", 1, 10)).kind, "allowed");
        assert.equal((await rl.redis.absolute.inc("k3", 1, 1)).kind, "rejected");
      }
      const sd = policy === "throw" ? undefined : await rl.redis.suppressed.inc("s", 1);
      if (policy === "deny") {
        assert.deepEqual(sd, {
          kind: "suppressed",
          suppressionFactor: 1,
          isAllowed: false,
          limit: 10,
          remaining: 0,
          resetMs: 0,
        });
      }
      store.failure = undefined;
      // Recovery: after the breaker's short backoff a probe goes through.
      await waitFor(
        async () => {
          try {
            const d = await rl.redis.absolute.inc("k", 1);
            return d.kind === "rejected" && d.remainingAfterWaiting === 10;
          } catch {
            return false; // the breaker is still open
          }
        },
        { timeoutMs: 3000, intervalMs: 10, message: "recovery after the outage" },
      );
    });
  }
});

Deno.test("a timed-out store call is bounded by storeTimeoutMs", async () => {
  const store = new MemoryStore();
  const slow = {
    isDistkitStore: true as const,
    run: () => new Promise<never>(() => {}),
    subscribe: store.subscribe.bind(store),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await using rl = new RateLimiter({ store: slow, onStoreError: "allow", storeTimeoutMs: 30 });
  const t0 = performance.now();
  assert.equal((await rl.redis.absolute.inc("k", 1)).kind, "allowed");
  assert.equal((await rl.hybrid.absolute.inc("k", 1)).kind, "allowed");
  assert.ok(performance.now() - t0 < 1500);
});
