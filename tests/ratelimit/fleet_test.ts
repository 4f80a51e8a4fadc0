/**
 * Several limiter instances ("processes", each on its own connection) on one key: fleet-wide
 * accuracy of the store-backed and hybrid providers, exactly-once commits when replies are lost,
 * and bounded hybrid memory.
 */
import assert from "node:assert/strict";
import { StoreError } from "../../core/errors.ts";
import { RateLimit } from "../../ratelimit/rate_limit.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import type { RateLimitDecision } from "../../ratelimit/types.ts";
import type { Store } from "../../store/types.ts";
import { storeTest } from "../_support/stores.ts";
import { sleep, waitFor } from "../_support/wait.ts";

const N = 4;
const CAP = 200;
const RATE = RateLimit.perSecond(CAP / 10); // 200 per 10 s window

function ok(d: RateLimitDecision): boolean {
  return d.kind === "allowed" || (d.kind === "suppressed" && d.isAllowed);
}

/**
 * Each instance runs `workers` sequential callers for `ms`, and on until each of its callers has
 * been refused once (a slow client or a loaded machine may not reach the capacity in `ms`), but
 * never past 8 s (the window is 10 s: no usage expires meanwhile); returns admitted per instance.
 */
async function hammer(
  limiters: RateLimiter[],
  call: (rl: RateLimiter) => Promise<RateLimitDecision>,
  ms: number,
  workers = 4,
): Promise<number[]> {
  const start = Date.now();
  const end = start + ms;
  const last = start + 8000;
  return await Promise.all(limiters.map(async (rl) => {
    let n = 0;
    await Promise.all(Array.from({ length: workers }, async () => {
      let refused = false;
      while (Date.now() < end || (!refused && Date.now() < last)) {
        if (ok(await call(rl))) n++;
        else refused = true;
        await sleep(0);
      }
    }));
    return n;
  }));
}

storeTest("fleet: N store-backed limiters admit exactly the capacity", async (fx) => {
  const limiters: RateLimiter[] = [];
  for (let i = 0; i < N; i++) {
    limiters.push(new RateLimiter({ store: await fx.another(), prefix: fx.prefix }));
  }
  try {
    const per = await hammer(limiters, (rl) => rl.redis.absolute.inc("fleet", RATE), 500);
    assert.equal(per.reduce((a, b) => a + b), CAP, String(per));
    assert.equal(await limiters[0]!.redis.absolute.get("fleet"), CAP);
  } finally {
    for (const rl of limiters) await rl.close();
  }
});

storeTest(
  "fleet: N hybrid limiters never exceed the capacity and commit every admission",
  async (fx) => {
    const limiters: RateLimiter[] = [];
    for (let i = 0; i < N; i++) {
      limiters.push(
        new RateLimiter({ store: await fx.another(), prefix: fx.prefix, syncIntervalMs: 5 }),
      );
    }
    let per: number[] = [];
    try {
      per = await hammer(limiters, (rl) => rl.hybrid.absolute.inc("fleet", RATE), 700);
    } finally {
      for (const rl of limiters) await rl.close();
    }
    const admitted = per.reduce((a, b) => a + b);
    assert.ok(admitted <= CAP, `overshoot: ${admitted} > ${CAP} (${per})`);
    // Unused reservations are given back; the fleet gets (nearly) all of the capacity.
    assert.ok(admitted >= CAP * 0.8, `under-admission: ${admitted} (${per})`);
    await using check = new RateLimiter({ store: fx.store, prefix: fx.prefix });
    assert.equal(await check.hybrid.absolute.get("fleet"), admitted, "committed = admitted");
  },
);

storeTest("fleet: hybrid suppressed keeps accepted usage near the soft limit", async (fx) => {
  const limiters: RateLimiter[] = [];
  for (let i = 0; i < N; i++) {
    limiters.push(
      new RateLimiter({
        store: await fx.another(),
        prefix: fx.prefix,
        syncIntervalMs: 5,
        hardLimitFactor: 1.5,
      }),
    );
  }
  let per: number[] = [];
  try {
    per = await hammer(limiters, (rl) => rl.hybrid.suppressed.inc("fleet", RATE), 600);
  } finally {
    for (const rl of limiters) await rl.close();
  }
  const accepted = per.reduce((a, b) => a + b);
  await using check = new RateLimiter({ store: fx.store, prefix: fx.prefix });
  const snap = await check.hybrid.suppressed.get("fleet");
  assert.equal(snap.total - snap.declined, accepted, "committed accepted = admitted");
  assert.ok(accepted >= CAP * 0.9 && accepted <= CAP * 1.5 + N * 10, `accepted ${accepted}`);
});

/** A store that loses the reply of some hybrid syncs after applying them. */
function lossy(inner: Store, every: number): Store & { lost: number } {
  let calls = 0;
  const s = {
    isDistkitStore: true as const,
    lost: 0,
    async run(...args: Parameters<Store["run"]>) {
      const r = await inner.run(...args);
      if (args[0].name === "ratelimit_hybrid" && ++calls % every === 0) {
        s.lost++;
        throw new StoreError("reply lost");
      }
      return r;
    },
    subscribe: inner.subscribe.bind(inner),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return s;
}

storeTest("hybrid commits are exactly-once when replies are lost", async (fx) => {
  const store = lossy(fx.store, 3);
  let admitted = 0;
  {
    await using rl = new RateLimiter({
      store,
      prefix: fx.prefix,
      syncIntervalMs: 2,
      onStoreError: "local",
      storeTimeoutMs: 200,
    });
    for (let i = 0; i < 300; i++) {
      if (ok(await rl.hybrid.absolute.inc("once", 1000))) admitted++;
      if (i % 10 === 0) await sleep(3);
    }
    await waitFor(() => store.lost >= 3, { timeoutMs: 3000, message: "lost replies" });
  }
  assert.ok(store.lost >= 3);
  await using check = new RateLimiter({ store: fx.store, prefix: fx.prefix });
  assert.equal(await check.hybrid.absolute.get("once"), admitted);
});

storeTest(
  "hybrid memory follows the working set: idle keys are released and forgotten",
  async (fx) => {
    await using rl = new RateLimiter({ store: fx.store, prefix: fx.prefix, syncIntervalMs: 5 });
    await rl.hybrid.absolute.inc("k0", 100);
    assert.equal(rl.hybrid.absolute.size, 1);
    for (let i = 1; i < 300; i++) await rl.hybrid.absolute.inc(`k${i}`, 100);
    for (let i = 0; i < 50; i++) await rl.hybrid.suppressed.inc(`s${i}`, 100);
    await waitFor(() => rl.hybrid.absolute.size === 0 && rl.hybrid.suppressed.size === 0, {
      timeoutMs: 5000,
    });
    // The reservations went back: another instance gets the whole capacity at once.
    await using other = new RateLimiter({ store: await fx.another(), prefix: fx.prefix });
    assert.equal((await other.hybrid.absolute.inc("k0", 100, 999)).kind, "allowed");
    assert.equal(await other.hybrid.absolute.get("k0"), 1000);
  },
);
