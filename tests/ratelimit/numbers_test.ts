/**
 * Every decision carries its numbers (limit, remaining, resetMs), and every provider gives the
 * same ones for the same sequence: exactly with injected time (MemoryStore({ now }) and the
 * limiter's `now` on one clock), and with real time on Redis (limit and remaining exactly,
 * resetMs within the window).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore } from "../../store/memory_store.ts";
import { RateLimit } from "../../ratelimit/rate_limit.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import type { RateLimitDecision } from "../../ratelimit/types.ts";
import { storeTest } from "../_support/stores.ts";

type P = "local" | "redis" | "hybrid";
const PROVIDERS: P[] = ["local", "redis", "hybrid"];

/** One clock for the store and the limiters, moved by the test. */
function clock(start = 1_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => t += ms };
}

async function incOf(rl: RateLimiter, p: P, key: string, rate: number, n: number) {
  if (p === "local") return rl.local.absolute.inc(key, rate, n);
  if (p === "redis") return await rl.redis.absolute.inc(key, rate, n);
  // The hybrid decides from its view of the store, which its background sync refreshes every
  // syncIntervalMs of real time (which does not pass here): refresh it at this moment, as that
  // sync would.
  await rl.hybrid.absolute.get(key);
  const d = await rl.hybrid.absolute.inc(key, rate, n);
  // Commit now, so the hybrid's usage lands in the bucket of this moment (as the others').
  await rl.hybrid.absolute.get(key);
  return d;
}

Deno.test("absolute numbers: local, store-backed and hybrid agree exactly with injected time (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 12 }),
      fc.array(
        fc.tuple(fc.integer({ min: 1, max: 8 }).map((k) => k * 50), fc.integer({ min: 0, max: 5 })),
        { minLength: 1, maxLength: 25 },
      ),
      async (rate, steps) => {
        const c = clock();
        await using store = new MemoryStore({ now: c.now });
        await using rl = new RateLimiter({
          store,
          now: c.now,
          windowSizeSeconds: 1,
          rateGroupSizeMs: 100,
        });
        for (const [i, [dt, n]] of steps.entries()) {
          c.advance(dt);
          const ds: RateLimitDecision[] = [];
          for (const p of PROVIDERS) ds.push(await incOf(rl, p, `k-${p}`, rate, n));
          const [l, r, h] = ds as [RateLimitDecision, RateLimitDecision, RateLimitDecision];
          assert.deepEqual(r, l, `step ${i}: redis vs local`);
          // The hybrid's rejection hint comes from its last sync (made for this request): the
          // kind and the numbers are exact.
          assert.equal(h.kind, l.kind, `step ${i}: hybrid kind`);
          assert.deepEqual(
            [h.limit, h.remaining, h.resetMs],
            [l.limit, l.remaining, l.resetMs],
            `step ${i}: hybrid numbers`,
          );
          assert.equal(l.limit, rate);
          assert.ok(l.remaining >= 0 && l.remaining <= l.limit);
        }
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("numbers: allowed, rejected and unknown keys, by the definition", async () => {
  const c = clock(1_000_000_000);
  await using store = new MemoryStore({ now: c.now });
  await using rl = new RateLimiter({
    store,
    now: c.now,
    windowSizeSeconds: 1,
    rateGroupSizeMs: 100,
  });
  for (const p of ["local", "redis"] as P[]) {
    const l = p === "local" ? rl.local.absolute : rl.redis.absolute;
    const k = `def-${p}`;
    // Nothing recorded: isAllowed knows no rate (limit 0), resetMs 0.
    assert.deepEqual(await l.isAllowed(k), { kind: "allowed", limit: 0, remaining: 0, resetMs: 0 });
    // 3 at t0 (bucket t0/100, counts until t0 + 100 + 1000).
    assert.deepEqual(await l.inc(k, 10, 3), {
      kind: "allowed",
      limit: 10,
      remaining: 7,
      resetMs: 1100,
    });
    c.advance(250);
    assert.deepEqual(await l.inc(k, 10, 7), {
      kind: "allowed",
      limit: 10,
      remaining: 0,
      resetMs: 850,
    });
    const r = await l.inc(k, 10, 1);
    assert.deepEqual(r, {
      kind: "rejected",
      retryAfterMs: 850,
      remainingAfterWaiting: 3,
      windowSizeSeconds: 1,
      limit: 10,
      remaining: 0,
      resetMs: 850,
    });
    assert.deepEqual(await l.isAllowed(k), { ...r });
    c.advance(850); // the first bucket leaves the window: 3 come back
    assert.deepEqual(await l.inc(k, 10, 0), {
      kind: "allowed",
      limit: 10,
      remaining: 3,
      resetMs: 200,
    });
    c.advance(-600); // back for the other provider
  }
});

Deno.test("suppressed numbers count against the hard limit, in every provider", async () => {
  const c = clock();
  await using store = new MemoryStore({ now: c.now });
  await using rl = new RateLimiter({
    store,
    now: c.now,
    windowSizeSeconds: 1,
    rateGroupSizeMs: 100,
    hardLimitFactor: 2,
    random: () => 0.999,
  });
  for (const p of PROVIDERS) {
    const l = p === "local"
      ? rl.local.suppressed
      : p === "redis"
      ? rl.redis.suppressed
      : rl.hybrid.suppressed;
    const d = await l.inc(`s-${p}`, 10, 4);
    assert.equal(d.kind, "allowed", p);
    assert.equal(d.limit, 20, p);
    assert.equal(d.remaining, 16, p);
    assert.equal(d.resetMs, 1100, p);
  }
});

storeTest(
  "every provider gives the same numbers for the same sequence (real time)",
  async (fx, t) => {
    const seq = [9, 2, 1, 1, 0, 3, 11, 10, 1];
    const got: Record<string, Array<[string, number, number]>> = {};
    for (const p of PROVIDERS) {
      await t.step(p, async () => {
        await using rl = new RateLimiter({
          store: fx.store,
          prefix: fx.prefix,
          windowSizeSeconds: 60,
        });
        got[p] = [];
        for (const n of seq) {
          const d = p === "local"
            ? rl.local.absolute.inc(`nseq-${p}`, RateLimit.perMinute(10), n)
            : p === "redis"
            ? await rl.redis.absolute.inc(`nseq-${p}`, RateLimit.perMinute(10), n)
            : await rl.hybrid.absolute.inc(`nseq-${p}`, RateLimit.perMinute(10), n);
          got[p]!.push([d.kind, d.limit, d.remaining]);
          // Usage is recorded within the last second: it leaves the window within a minute and a
          // bucket, not before 59 s.
          assert.ok(d.resetMs > 59_000 && d.resetMs <= 60_100, `${p}: resetMs ${d.resetMs}`);
        }
      });
    }
    assert.deepEqual(got.redis, got.local);
    assert.deepEqual(got.hybrid, got.local);
    assert.deepEqual(got.local!.map(([, , r]) => r), [1, 1, 0, 0, 0, 0, 0, 0, 0]);
  },
);

storeTest(
  "hybrid numbers with two instances: what the fleet state implies (others' reservations count as used)",
  async (fx) => {
    const other = await fx.another();
    await using a = new RateLimiter({ store: fx.store, prefix: fx.prefix, windowSizeSeconds: 60 });
    await using b = new RateLimiter({ store: other, prefix: fx.prefix, windowSizeSeconds: 60 });
    const rate = RateLimit.perMinute(100);
    const da = await a.hybrid.absolute.inc("fleet", rate, 10);
    const db = await b.hybrid.absolute.inc("fleet", rate, 10);
    assert.equal(da.kind, "allowed");
    assert.equal(db.kind, "allowed");
    // b's view: a's usage (committed or inside a's reservation) and a's reservation count as used.
    assert.ok(db.remaining <= 100 - 20, `remaining ${db.remaining}`);
    let admitted = 20;
    for (let i = 0; i < 150; i++) {
      const l = i % 2 === 0 ? a : b;
      const d = await l.hybrid.absolute.inc("fleet", rate, 1);
      assert.ok(d.remaining >= 0 && d.remaining <= 100);
      if (d.kind === "allowed") admitted++;
    }
    // Zero overshoot, whatever each instance reported meanwhile (from a view at most one sync old).
    assert.ok(admitted <= 100, `admitted ${admitted}`);
    // Once both have synced, an instance's numbers count the other's reservation as used...
    await a.hybrid.absolute.get("fleet");
    await b.hybrid.absolute.get("fleet");
    const seen = await b.hybrid.absolute.inc("fleet", rate, 0);
    assert.ok(seen.remaining <= 100 - admitted, `${seen.remaining} > ${100 - admitted}`);
    // ...and once the other has given its reservation back, they are exact.
    await a.close();
    await b.hybrid.absolute.get("fleet");
    const exact = await b.hybrid.absolute.inc("fleet", rate, 0);
    assert.equal(exact.remaining, 100 - admitted);
    assert.equal(await b.hybrid.absolute.get("fleet"), admitted);
  },
);
