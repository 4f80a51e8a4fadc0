/**
 * Conformance of the three providers on memory, standalone Redis and the cluster: trypema's
 * checklist (reference §8) rewritten to our semantics, and the same decision sequences through
 * local, store-backed and hybrid.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { RateLimit } from "../../ratelimit/rate_limit.ts";
import { RateLimiter, type RateLimiterOptions } from "../../ratelimit/rate_limiter.ts";
import type { Rate, RateLimitDecision } from "../../ratelimit/types.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

type P = "local" | "redis" | "hybrid";
const PROVIDERS: P[] = ["local", "redis", "hybrid"];

function make(fx: Fixture, options: RateLimiterOptions = {}): RateLimiter {
  return new RateLimiter({ store: fx.store, prefix: fx.prefix, ...options });
}

/** The absolute limiter of a provider, with an async face. */
function abs(rl: RateLimiter, p: P) {
  const l = p === "local"
    ? rl.local.absolute
    : p === "redis"
    ? rl.redis.absolute
    : rl.hybrid.absolute;
  return {
    inc: async (k: string, r: Rate, n = 1) => await l.inc(k, r, n),
    isAllowed: async (k: string) => await l.isAllowed(k),
    get: async (k: string) => await l.get(k),
    setIf: async (k: string, r: Rate, c: Comparator, n: number) => await l.setIf(k, r, c, n),
  };
}

function sup(rl: RateLimiter, p: P) {
  const l = p === "local"
    ? rl.local.suppressed
    : p === "redis"
    ? rl.redis.suppressed
    : rl.hybrid.suppressed;
  return {
    inc: async (k: string, r: Rate, n = 1) => await l.inc(k, r, n),
    get: async (k: string) => await l.get(k),
    factor: async (k: string) => await l.getSuppressionFactor(k),
    setIf: async (k: string, r: Rate, c: Comparator, n: number) => await l.setIf(k, r, c, n),
  };
}

function admitted(d: RateLimitDecision): boolean {
  return d.kind === "allowed" || (d.kind === "suppressed" && d.isAllowed);
}

storeTest("every provider gives the same decisions for the same sequence", async (fx, t) => {
  const seq = [9, 2, 1, 1, 0, 3, 11, 10, 1];
  const results: Record<string, string[]> = {};
  const remaining: Record<string, number[]> = {};
  for (const p of PROVIDERS) {
    await t.step(p, async () => {
      await using rl = make(fx, { windowSizeSeconds: 60 });
      const l = abs(rl, p);
      results[p] = [];
      remaining[p] = [];
      for (const n of seq) {
        const d = await l.inc(`seq-${p}`, RateLimit.perMinute(10), n);
        results[p]!.push(d.kind);
        if (d.kind === "rejected") remaining[p]!.push(d.remainingAfterWaiting);
      }
      assert.equal(await l.get(`seq-${p}`), 10, p);
    });
  }
  const expected = [
    "allowed",
    "rejected",
    "allowed",
    "rejected",
    "allowed",
    "rejected",
    "rejected",
    "rejected",
    "rejected",
  ];
  for (const p of PROVIDERS) assert.deepEqual(results[p], expected, p);
  // The hints depend on how real time split the usage into buckets; they are checked exactly
  // with injected time in ratelimit/_model_test.ts and rate_limiter_test.ts.
  for (const p of PROVIDERS) for (const r of remaining[p]!) assert.ok(r >= 0 && r <= 10, p);
});

storeTest("capacity is exact: perDay(11) over a day admits 11 (all providers)", async (fx, t) => {
  for (const p of PROVIDERS) {
    await t.step(p, async () => {
      await using rl = make(fx, { windowSizeSeconds: 86_400, rateGroupSizeMs: 60_000 });
      const l = abs(rl, p);
      let ok = 0;
      for (let i = 0; i < 13; i++) {
        if ((await l.inc(`day-${p}`, RateLimit.perDay(11))).kind === "allowed") ok++;
      }
      assert.equal(ok, 11, p);
    });
  }
});

storeTest(
  "a day window with no other option: perDay(11) admits exactly 11 (all providers)",
  async (fx, t) => {
    for (const p of PROVIDERS) {
      await t.step(p, async () => {
        await using rl = make(fx, { windowSizeSeconds: 86_400 });
        const l = abs(rl, p);
        let ok = 0;
        for (let i = 0; i < 13; i++) {
          if ((await l.inc(`dflt-day-${p}`, RateLimit.perDay(11))).kind === "allowed") ok++;
        }
        assert.equal(ok, 11, p);
        assert.equal(await l.get(`dflt-day-${p}`), 11, p);
      });
    }
  },
);

storeTest(
  "an oversized request is rejected with a truthful hint, not retryAfterMs 0",
  async (fx, t) => {
    for (const p of PROVIDERS) {
      await t.step(p, async () => {
        await using rl = make(fx, { windowSizeSeconds: 10, rateGroupSizeMs: 100 });
        const l = abs(rl, p);
        const d = await l.inc(`big-${p}`, 1, 11);
        assert.deepEqual(d, {
          kind: "rejected",
          retryAfterMs: 10_100,
          remainingAfterWaiting: 10,
          windowSizeSeconds: 10,
          limit: 10,
          remaining: 10,
          resetMs: 0,
        }, p);
        assert.equal(await l.get(`big-${p}`), 0, p);
      });
    }
  },
);

storeTest(
  "rejection hints: the oldest usage that must expire, and what fits then",
  async (fx, t) => {
    for (const p of ["local", "redis"] as P[]) {
      await t.step(p, async () => {
        await using rl = make(fx, { windowSizeSeconds: 10, rateGroupSizeMs: 10_000 });
        const l = abs(rl, p);
        assert.equal((await l.inc(`h-${p}`, 1, 10)).kind, "allowed");
        const d = await l.inc(`h-${p}`, 1, 4);
        assert.equal(d.kind, "rejected");
        if (d.kind !== "rejected") return;
        assert.equal(d.remainingAfterWaiting, 10);
        assert.ok(d.retryAfterMs > 10_000 && d.retryAfterMs <= 20_000, String(d.retryAfterMs));
        const again = await l.isAllowed(`h-${p}`);
        assert.ok(again.kind === "rejected" && again.remainingAfterWaiting === 10);
        assert.ok(Math.abs(again.retryAfterMs - d.retryAfterMs) < 1000);
      });
    }
  },
);

storeTest("usage expires with the window and admission resumes", async (fx, t) => {
  for (const p of PROVIDERS) {
    await t.step(p, async () => {
      await using rl = make(fx, { windowSizeSeconds: 1, rateGroupSizeMs: 50, syncIntervalMs: 5 });
      const l = abs(rl, p);
      assert.equal((await l.inc(`exp-${p}`, 5, 5)).kind, "allowed");
      const d = await l.inc(`exp-${p}`, 5, 1);
      assert.equal(d.kind, "rejected", p);
      if (d.kind !== "rejected") return;
      assert.ok(d.retryAfterMs <= 1050, String(d.retryAfterMs));
      await waitFor(async () => (await l.inc(`exp-${p}`, 5, 1)).kind === "allowed", {
        timeoutMs: 2500,
        message: p,
      });
    });
  }
});

storeTest(
  "keys and prefixes are independent; redis and hybrid keyspaces do not mix",
  async (fx) => {
    await using a = make(fx);
    await using b = new RateLimiter({ store: fx.store, prefix: `${fx.prefix}-other` });
    await a.redis.absolute.inc("k", 10, 100);
    assert.equal((await a.redis.absolute.inc("k", 10)).kind, "rejected");
    assert.equal((await a.redis.absolute.inc("k2", 10)).kind, "allowed");
    assert.equal((await b.redis.absolute.inc("k", 10)).kind, "allowed");
    assert.equal(await a.hybrid.absolute.get("k"), 0);
    assert.equal((await a.redis.suppressed.get("k")).total, 0);
    await a.hybrid.absolute.inc("h", 10, 3);
    assert.equal(await a.redis.absolute.get("h"), 0);
    assert.equal(await a.hybrid.absolute.get("h"), 3);
  },
);

storeTest("setIf: prime, guard misses, overwrite, zero removes (all providers)", async (fx, t) => {
  for (const p of PROVIDERS) {
    await t.step(p, async () => {
      await using rl = make(fx, { windowSizeSeconds: 10 });
      const l = abs(rl, p);
      const k = `c-${p}`;
      // C1: Lt(100) primes an empty key; repeating is a miss.
      assert.deepEqual(await l.setIf(k, 20, Comparator.lt(100), 100), {
        matched: true,
        previousTotal: 0,
        total: 100,
      });
      assert.deepEqual(await l.setIf(k, 20, Comparator.lt(100), 100), {
        matched: false,
        previousTotal: 100,
        total: 100,
      });
      // C3: Always overwrites, 0 removes; the key admits again.
      assert.deepEqual(await l.setIf(k, 20, Comparator.always, 30), {
        matched: true,
        previousTotal: 100,
        total: 30,
      });
      assert.deepEqual(await l.setIf(k, 20, Comparator.always, 0), {
        matched: true,
        previousTotal: 30,
        total: 0,
      });
      assert.equal(await l.get(k), 0);
      // C4: Eq(0) only when empty; C6: a primed key admits exactly the rest.
      assert.equal((await l.setIf(k, 3, Comparator.eq(0), 27)).matched, true);
      assert.equal((await l.setIf(k, 3, Comparator.eq(0), 5)).matched, false);
      let ok = 0;
      for (let i = 0; i < 5; i++) if ((await l.inc(k, 3)).kind === "allowed") ok++;
      assert.equal(ok, 3, p);
      // C7: primed at capacity, inc and isAllowed reject.
      await l.setIf(k, 3, Comparator.always, 30);
      assert.equal((await l.inc(k, 3)).kind, "rejected");
      assert.equal((await l.isAllowed(k)).kind, "rejected");
      // C5: Gt/Ne compare the current total.
      assert.equal((await l.setIf(k, 3, Comparator.gt(30), 1)).matched, false);
      assert.equal((await l.setIf(k, 3, Comparator.ne(30), 1)).matched, false);
      assert.equal((await l.setIf(k, 3, Comparator.ge(30), 1)).matched, true);
      // C10: zero on a missing key leaves it absent.
      assert.deepEqual(await l.setIf(`${k}-none`, 3, Comparator.always, 0), {
        matched: true,
        previousTotal: 0,
        total: 0,
      });
      assert.equal((await l.isAllowed(`${k}-none`)).kind, "allowed");
    });
  }
});

storeTest("the latest caller's rate applies; isAllowed uses the last rate", async (fx, t) => {
  for (const p of ["local", "redis"] as P[]) {
    await t.step(p, async () => {
      await using rl = make(fx, { windowSizeSeconds: 10 });
      const l = abs(rl, p);
      await l.inc(`r-${p}`, 1, 10);
      assert.equal((await l.isAllowed(`r-${p}`)).kind, "rejected");
      assert.equal((await l.inc(`r-${p}`, 2, 5)).kind, "allowed");
      assert.equal((await l.isAllowed(`r-${p}`)).kind, "allowed");
      assert.equal((await l.inc(`r-${p}`, 1, 1)).kind, "rejected");
    });
  }
});

storeTest(
  "suppressed: allowed to soft, probabilistic to hard, declined beyond (local = redis)",
  async (fx, t) => {
    const runs: Record<string, string[]> = {};
    for (const p of PROVIDERS) {
      await t.step(p, async () => {
        let i = 0;
        const draws = [0.1, 0.9, 0.5, 0.05, 0.95, 0.3];
        await using rl = make(fx, {
          windowSizeSeconds: 10,
          hardLimitFactor: 2,
          random: () => draws[i++ % draws.length]!,
        });
        const l = sup(rl, p);
        const k = `s-${p}`;
        const out: string[] = [];
        for (let j = 0; j < 10; j++) out.push((await l.inc(k, 1)).kind);
        assert.deepEqual(out, Array(10).fill("allowed"), p);
        const decisions: string[] = [];
        for (let j = 0; j < 30; j++) {
          const d = await l.inc(k, 1);
          assert.equal(d.kind, "suppressed");
          if (d.kind === "suppressed") {
            assert.ok(d.suppressionFactor >= 0 && d.suppressionFactor <= 1);
            decisions.push(d.isAllowed ? "y" : "n");
          }
        }
        runs[p] = decisions;
        const snap = await l.get(k);
        assert.equal(snap.total, 40, p);
        assert.ok(snap.total - snap.declined <= 20, `${p}: accepted ${snap.total - snap.declined}`);
        assert.equal(snap.suppressionFactor, await l.factor(k));
        // A batch beyond the hard limit is declined whole.
        const big = await l.inc(k, 1, 25);
        assert.equal(big.kind, "suppressed");
        assert.ok(big.kind === "suppressed" && big.suppressionFactor === 1 && !big.isAllowed);
        // limit is the hard limit; nothing more is admitted past it.
        assert.equal(big.limit, 20, p);
        assert.equal(big.remaining, 20 - (snap.total - snap.declined), p);
        assert.equal((await l.get(k)).declined, snap.declined + 25);
      });
    }
    assert.deepEqual(runs.redis, runs.local);
  },
);

storeTest("suppressed setIf: prime below soft, prime at hard, zero resets", async (fx, t) => {
  for (const p of PROVIDERS) {
    await t.step(p, async () => {
      await using rl = make(fx, { windowSizeSeconds: 10, hardLimitFactor: 1 });
      const l = sup(rl, p);
      const k = `sp-${p}`;
      // P1: primed to 27 with soft 30, the next call is allowed.
      assert.equal((await l.setIf(k, 3, Comparator.eq(0), 27)).matched, true);
      assert.equal((await l.inc(k, 3)).kind, "allowed");
      // P2: primed to 30 = hard (f = 1), the next call is declined.
      await l.setIf(k, 3, Comparator.always, 30);
      const d = await l.inc(k, 3);
      assert.ok(d.kind === "suppressed" && !d.isAllowed, JSON.stringify(d));
      // P3: Always(0) resets; the next call is allowed.
      await l.setIf(k, 3, Comparator.always, 0);
      assert.deepEqual(await l.get(k), { total: 0, declined: 0, suppressionFactor: 0 });
      assert.equal((await l.inc(k, 3)).kind, "allowed");
    });
  }
});

storeTest("store keys carry one hash tag per entity and all expire by themselves", async (fx) => {
  if (fx.kind === "memory") {
    await using rl = make(fx, { windowSizeSeconds: 2, rateGroupSizeMs: 100 });
    await rl.redis.absolute.inc("e1", 10, 3);
    await rl.redis.suppressed.inc("e1", 10, 3);
    await rl.hybrid.absolute.inc("e1", 10, 3);
    await rl.hybrid.absolute.get("e1");
    const dump = fx.memory!.db.dump(`{${fx.prefix}:e1}`);
    assert.ok(dump.length >= 4, JSON.stringify(dump.map((d) => d.key)));
    for (const d of dump) assert.ok(d.ttl > 0 && d.ttl <= 2_100 + 1000, `${d.key} ttl ${d.ttl}`);
    return;
  }
  await using rl = make(fx, { windowSizeSeconds: 2, rateGroupSizeMs: 100, syncIntervalMs: 5 });
  await rl.redis.absolute.inc("e1", 10, 3);
  await rl.redis.suppressed.inc("e1", 10, 3);
  await rl.hybrid.absolute.inc("e1", 10, 3);
  await rl.hybrid.absolute.get("e1");
  const tag = `{${fx.prefix}:e1}`;
  const keys = [":ra", ":rs", ":ha", ":ha:z"].map((s) => tag + s);
  for (const k of keys) {
    const ttl = Number(await fx.raw.pTTL(k));
    assert.ok(ttl > 0 && ttl <= 3_100, `${k}: ttl ${ttl}`);
  }
  // Everything is gone once the window has passed (no cleanup loop).
  await waitFor(async () => {
    for (const k of keys) if (Number(await fx.raw.exists(k)) === 1) return false;
    return true;
  }, { timeoutMs: 5000, message: "keys to expire" });
});

storeTest(
  "concurrent callers on one key never exceed the capacity (redis and hybrid)",
  async (fx, t) => {
    for (const p of ["redis", "hybrid"] as P[]) {
      await t.step(p, async () => {
        await using rl = make(fx, { windowSizeSeconds: 60 });
        const l = abs(rl, p);
        const ds = await Promise.all(
          Array.from({ length: 200 }, () => l.inc(`cc-${p}`, RateLimit.perMinute(50))),
        );
        assert.equal(ds.filter(admitted).length, 50, p);
        assert.equal(await l.get(`cc-${p}`), 50, p);
      });
    }
  },
);

storeTest("reads of unknown keys create no state in the store", async (fx) => {
  await using rl = make(fx);
  assert.equal(await rl.redis.absolute.get("ghost"), 0);
  assert.equal((await rl.redis.absolute.isAllowed("ghost")).kind, "allowed");
  assert.deepEqual(await rl.redis.suppressed.get("ghost"), {
    total: 0,
    declined: 0,
    suppressionFactor: 0,
  });
  assert.equal(await rl.redis.suppressed.getSuppressionFactor("ghost"), 0);
  assert.equal(await rl.hybrid.absolute.get("ghost"), 0);
  assert.equal((await rl.hybrid.suppressed.get("ghost")).total, 0);
  assert.equal((await rl.redis.absolute.setIf("ghost", 10, Comparator.gt(5), 3)).matched, false);
  const tag = `{${fx.prefix}:ghost}`;
  const keys = [":ra", ":rs", ":ha", ":ha:z", ":ha:r", ":hs", ":hs:z", ":hs:r"].map((s) => tag + s);
  if (fx.kind === "memory") {
    assert.deepEqual(fx.memory!.db.dump(tag), []);
  } else {
    for (const k of keys) assert.equal(Number(await fx.raw.exists(k)), 0, k);
  }
});
