/**
 * The absolute limiters' operations on every provider and store: reset, refund, block (held in
 * the store: a second limiter sees it; answered from memory while it lasts) and
 * waitUntilAllowed (sleeps on the hints, bounded by timeoutMs and a signal); bad input throws and
 * changes nothing.
 */
import assert from "node:assert/strict";
import { InvalidArgumentError, InvalidKeyError, RateLimitTimeoutError } from "../../core/errors.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import type { Script, Store } from "../../store/types.ts";
import { RateLimiter, type RateLimiterOptions } from "../../ratelimit/rate_limiter.ts";
import type { AbsoluteMethods, Rate, RateLimitDecision } from "../../ratelimit/types.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";

type P = "local" | "redis" | "hybrid";
const PROVIDERS: P[] = ["local", "redis", "hybrid"];

function make(fx: Fixture, options: RateLimiterOptions = {}, store: Store = fx.store) {
  return new RateLimiter({ store, prefix: fx.prefix, ...options });
}

/** The absolute limiter of a provider, with an async face. */
function abs(rl: RateLimiter, p: P) {
  const l: AbsoluteMethods<boolean> = p === "local"
    ? rl.local.absolute
    : p === "redis"
    ? rl.redis.absolute
    : rl.hybrid.absolute;
  return {
    inc: async (k: string, r: Rate, n = 1): Promise<RateLimitDecision> => await l.inc(k, r, n),
    get: async (k: string): Promise<number> => await l.get(k),
    reset: async (k: string): Promise<void> => await l.reset(k),
    refund: async (k: string, n: number): Promise<number> => await l.refund(k, n),
    block: async (k: string, ms: number): Promise<void> => await l.block(k, ms),
    wait: (k: string, r: Rate, n?: number, o?: Parameters<typeof l.waitUntilAllowed>[3]) =>
      l.waitUntilAllowed(k, r, n, o),
  };
}

storeTest("reset forgets the key's usage (all providers)", async (fx, t) => {
  for (const p of PROVIDERS) {
    await t.step(p, async () => {
      await using rl = make(fx, { windowSizeSeconds: 60 });
      const l = abs(rl, p);
      assert.equal((await l.inc(`r-${p}`, 1, 60)).kind, "allowed");
      assert.equal((await l.inc(`r-${p}`, 1)).kind, "rejected");
      await l.reset(`r-${p}`);
      assert.equal(await l.get(`r-${p}`), 0, p);
      const d = await l.inc(`r-${p}`, 1, 1);
      assert.equal(d.kind, "allowed", p);
      assert.equal(d.remaining, 59, p);
      await l.reset(`never-used-${p}`); // an unknown key is fine
    });
  }
});

storeTest(
  "refund gives back the most recent usage, never below zero (all providers)",
  async (fx, t) => {
    for (const p of PROVIDERS) {
      await t.step(p, async () => {
        await using rl = make(fx, { windowSizeSeconds: 60 });
        const l = abs(rl, p);
        const k = `rf-${p}`;
        await l.inc(k, 1, 50);
        await l.inc(k, 1, 10);
        assert.equal((await l.inc(k, 1, 1)).kind, "rejected");
        assert.equal(await l.refund(k, 3), 57, p);
        const d = await l.inc(k, 1, 3);
        assert.equal(d.kind, "allowed", p);
        assert.equal(d.remaining, 0, p);
        assert.equal(await l.refund(k, 1000), 0, p);
        assert.equal(await l.get(k), 0, p);
        assert.equal(await l.refund(k, 1), 0, p);
        assert.equal(await l.refund(`unknown-${p}`, 5), 0, p);
        assert.equal((await l.inc(k, 1, 60)).kind, "allowed", p);
      });
    }
  },
);

storeTest(
  "block rejects every call with a true retryAfterMs until it ends (all providers)",
  async (fx, t) => {
    for (const p of PROVIDERS) {
      await t.step(p, async () => {
        await using rl = make(fx, { windowSizeSeconds: 1, rateGroupSizeMs: 50, syncIntervalMs: 5 });
        const l = abs(rl, p);
        const k = `b-${p}`;
        assert.equal((await l.inc(k, 100, 1)).kind, "allowed");
        // The usage committed (hybrid: a background sync came in, whose reply says when that
        // usage leaves the window) before the block: the block's rejection still says its end.
        await new Promise((r) => setTimeout(r, 40));
        await l.block(k, 400);
        const d = await l.inc(k, 100, 1);
        assert.equal(d.kind, "rejected", p);
        if (d.kind !== "rejected") return;
        assert.ok(d.retryAfterMs > 250 && d.retryAfterMs <= 400, `${p}: ${d.retryAfterMs}`);
        assert.equal(d.remaining, 0, p);
        assert.ok(d.resetMs > 250 && d.resetMs <= 400, `${p}: resetMs ${d.resetMs}`);
        assert.equal(d.limit, 100, p);
        // Honouring the hint is admitted.
        await new Promise((r) => setTimeout(r, d.retryAfterMs + 20));
        assert.equal((await l.inc(k, 100, 1)).kind, "allowed", p);
        // reset lifts a block.
        await l.block(k, 60_000);
        assert.equal((await l.inc(k, 100, 1)).kind, "rejected", p);
        await l.reset(k);
        assert.equal((await l.inc(k, 100, 1)).kind, "allowed", p);
      });
    }
  },
);

storeTest(
  "a block is held in the store: another limiter on the same store sees it",
  async (fx, t) => {
    for (const p of ["redis", "hybrid"] as P[]) {
      await t.step(p, async () => {
        const other = await fx.another();
        await using a = make(fx, { windowSizeSeconds: 10 });
        await using b = make(fx, { windowSizeSeconds: 10 }, other);
        const la = abs(a, p);
        const lb = abs(b, p);
        const k = `shared-${p}`;
        await la.block(k, 5000);
        const d = await lb.inc(k, 10, 1);
        assert.equal(d.kind, "rejected", p);
        if (d.kind !== "rejected") return;
        assert.ok(d.retryAfterMs > 3000 && d.retryAfterMs <= 5000, `${p}: ${d.retryAfterMs}`);
      });
    }
  },
);

/** A store that counts the script calls it forwards. */
function counting(inner: Store): Store & { calls: number } {
  const s = {
    calls: 0,
    isDistkitStore: true as const,
    run(script: Script, keys: readonly string[], argv: readonly (string | number)[]) {
      s.calls++;
      return inner.run(script, keys, argv);
    },
    subscribe: inner.subscribe.bind(inner),
    close: () => Promise.resolve(),
  };
  return s as unknown as Store & { calls: number };
}

Deno.test("blocked keys are answered from memory: no store call while the block lasts", async () => {
  const inner = new MemoryStore();
  const store = counting(inner);
  await using a = new RateLimiter({ store, windowSizeSeconds: 10 });
  await using b = new RateLimiter({ store: counting(inner), windowSizeSeconds: 10 });
  for (const l of [a.redis.absolute, a.hybrid.absolute]) {
    await l.block("k", 10_000);
    const before = store.calls;
    for (let i = 0; i < 20; i++) assert.equal((await l.inc("k", 10)).kind, "rejected");
    assert.equal(await l.isAllowed("k").then((d) => d.kind), "rejected");
    assert.equal(store.calls, before, "no store call");
  }
  // Another instance learns the block from its first store answer, then answers from memory.
  const bs = (b as unknown as { redis: RateLimiter["redis"] }).redis.absolute;
  assert.equal((await bs.inc("k", 10)).kind, "rejected");
});

Deno.test("block: a caller that honours the answered retryAfterMs is admitted, however late the block reached the store (redis, hybrid)", async (t) => {
  const inner = new MemoryStore();
  // The block call reaches the store 80 ms after it is made (a slow request); the rest at once.
  const store = {
    isDistkitStore: true as const,
    async run(script: Script, keys: readonly string[], argv: readonly (string | number)[]) {
      if (argv.includes("block")) await new Promise((r) => setTimeout(r, 80));
      return await inner.run(script, keys, argv);
    },
    subscribe: inner.subscribe.bind(inner),
    close: () => Promise.resolve(),
  } as unknown as Store;
  await using rl = new RateLimiter({ store, windowSizeSeconds: 1, syncIntervalMs: 5 });
  for (const p of ["redis", "hybrid"] as const) {
    await t.step(p, async () => {
      const l = rl[p].absolute;
      const k = `late-${p}`;
      await l.block(k, 300);
      // Answered from memory: the block as this instance knows it.
      const d = await l.inc(k, 100);
      assert.equal(d.kind, "rejected");
      if (d.kind !== "rejected") return;
      assert.ok(d.retryAfterMs > 250 && d.retryAfterMs <= 300, `retryAfterMs ${d.retryAfterMs}`);
      await new Promise((r) => setTimeout(r, d.retryAfterMs + 5));
      assert.equal((await l.inc(k, 100)).kind, "allowed", "the store's block is over too");
    });
  }
});

Deno.test("waitUntilAllowed sleeps on the hints, honours timeoutMs and the signal, and leaves no timer", async () => {
  await using rl = new RateLimiter({
    store: new MemoryStore(),
    windowSizeSeconds: 1,
    rateGroupSizeMs: 50,
  });
  for (const l of [rl.local.absolute, rl.redis.absolute, rl.hybrid.absolute]) {
    const k = `w-${crypto.randomUUID()}`;
    assert.equal((await l.inc(k, 3, 3)).kind, "allowed");
    const t0 = performance.now();
    const d = await l.waitUntilAllowed(k, 3, 1, { timeoutMs: 3000 });
    const waited = performance.now() - t0;
    assert.equal(d.kind, "allowed");
    assert.ok(waited >= 900 && waited < 2500, `waited ${waited}`);
    // Cannot fit in time: RateLimitTimeoutError, at once (the hint proves it).
    await l.inc(k, 3, 2);
    const t1 = performance.now();
    const e = await l.waitUntilAllowed(k, 3, 1, { timeoutMs: 100 }).catch((x) => x);
    assert.ok(e instanceof RateLimitTimeoutError, String(e));
    assert.equal(e.code, "RATE_LIMIT_TIMEOUT");
    assert.ok(performance.now() - t1 < 100);
    // Abort: rejects with the signal's reason, clears its timer.
    const c = new AbortController();
    const reason = new Error("stop");
    const p = l.waitUntilAllowed(k, 3, 1, { signal: c.signal });
    setTimeout(() => c.abort(reason), 20);
    await assert.rejects(p, (x) => x === reason);
    // Already aborted: rejects at once, nothing recorded.
    const before = await l.get(k);
    await assert.rejects(
      l.waitUntilAllowed(k, 3, 1, { signal: AbortSignal.abort(reason) }),
      (x) => x === reason,
    );
    assert.equal(await l.get(k), before);
  }
});

storeTest(
  "bad input to the operations throws and changes nothing (all providers)",
  async (fx, t) => {
    for (const p of PROVIDERS) {
      await t.step(p, async () => {
        await using rl = make(fx, { windowSizeSeconds: 60 });
        const l = abs(rl, p);
        const k = `bad-${p}`;
        await l.inc(k, 1, 5);
        for (const n of [-1, 1.5, NaN, Infinity, "2" as unknown as number]) {
          await assert.rejects(l.refund(k, n), InvalidArgumentError, `refund ${n}`);
        }
        for (const ms of [0, -5, 1.5, NaN, 31_536_000_001, "10" as unknown as number]) {
          await assert.rejects(l.block(k, ms), InvalidArgumentError, `block ${ms}`);
        }
        for (const bad of ["", "x".repeat(256)]) {
          await assert.rejects(l.reset(bad), InvalidKeyError);
          await assert.rejects(l.refund(bad, 1), InvalidKeyError);
          await assert.rejects(l.block(bad, 10), InvalidKeyError);
          await assert.rejects(l.wait(bad, 1), InvalidKeyError);
        }
        for (const timeoutMs of [-1, 1.5, NaN]) {
          await assert.rejects(l.wait(k, 1, 1, { timeoutMs }), InvalidArgumentError);
        }
        await assert.rejects(l.wait(k, 1, -1), InvalidArgumentError);
        await assert.rejects(l.wait(k, 1, 61, { timeoutMs: 10 }), InvalidArgumentError);
        await assert.rejects(
          l.wait(k, 1, 1, { signal: {} as AbortSignal }),
          InvalidArgumentError,
        );
        assert.equal(await l.get(k), 5, p);
        assert.equal((await l.inc(k, 1, 0)).kind, "allowed", `${p}: not blocked`);
      });
    }
  },
);
