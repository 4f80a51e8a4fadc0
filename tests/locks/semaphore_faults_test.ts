/**
 * The semaphore under faults: a partitioned holder hears of its loss before its permits go to
 * anyone else (and the next holder's fencing token is larger); no moment with more permits held
 * than `permits` while connections are killed under stress; a Redis restart.
 */
import assert from "node:assert/strict";
import { LockLostError, RedisStore, Semaphore, StoreError } from "../../mod.ts";
import { SpyStore } from "../_support/spy_store.ts";
import { connectStandalone, startPrivateRedis } from "../_support/servers.ts";
import { type Fixture, killConnections, storeTest } from "../_support/stores.ts";
import { sleep, waitFor } from "../_support/wait.ts";
import { semTraces } from "./_helpers.ts";

storeTest(
  "Semaphore partitioned holder: its signal aborts before its permits are granted to another",
  async (fx) => {
    const spy = new SpyStore(fx.store);
    const a = new Semaphore({ key: fx.prefix, store: spy, permits: 3, ttlMs: 400 });
    const b = new Semaphore({ key: fx.prefix, store: await fx.another(), permits: 3, ttlMs: 400 });
    const keep = await b.acquire(1);
    const ga = await a.acquire(2);
    let abortedAt = Infinity;
    ga.signal.addEventListener("abort", () => abortedAt = performance.now());
    spy.fault = "fail"; // a's renewals can no longer reach the store
    const gb = await b.acquire(2, { timeoutMs: 5000 });
    const acquiredAt = performance.now();
    assert.equal(ga.state, "lost");
    assert.ok(ga.signal.reason instanceof LockLostError);
    assert.ok(
      ga.signal.reason.message.startsWith(`Permits of semaphore '${fx.prefix}' were lost: `),
      ga.signal.reason.message,
    );
    assert.ok(ga.signal.reason.cause instanceof StoreError, "the last renewal error is the cause");
    assert.ok(abortedAt <= acquiredAt, `aborted ${abortedAt - acquiredAt} ms after b entered`);
    assert.ok(gb.fencingToken > ga.fencingToken, "the new holder's fencing token is larger");
    spy.fault = "none";
    assert.equal(await ga.release(), "lost", "a stale guard frees nobody's permits");
    assert.equal(gb.state, "acquired");
    assert.equal(await b.available(), 0);
    assert.equal(await b.tryAcquire(), null);
    await gb.release();
    await keep.release();
  },
);

/**
 * Kills this test's connections (named `name`) every `everyMs` until the returned function is
 * called (normal connections, and every third time the subscribers).
 */
function chaos(fx: Fixture, name: string, everyMs: number): () => Promise<number> {
  if (fx.memory) return () => Promise.resolve(0);
  let stop = false;
  let kills = 0;
  let round = 0;
  const loop = (async () => {
    while (!stop) {
      await sleep(everyMs);
      if (stop) break;
      kills += await killConnections(fx, name, round++ % 3 === 2 ? "pubsub" : "normal")
        .catch(() => 0);
    }
  })();
  return async () => {
    stop = true;
    await loop;
    return kills;
  };
}

storeTest(
  "Semaphore never admits more than its permits under stress, connections killed meanwhile",
  async (fx) => {
    const permits = 3;
    const processes = 4;
    const workers = 3; // per process
    const rounds = fx.memory ? 30 : 10;
    let held = 0;
    let peak = 0;
    let over = 0;
    let acquisitions = 0;
    let lostWhileInside = 0;
    const fences = new Set<number>();
    const stop = chaos(fx, `victim-${fx.prefix}`, 70);
    const work = [];
    const sems: Semaphore[] = [];
    for (let p = 0; p < processes; p++) {
      const sem = new Semaphore({
        key: fx.prefix,
        store: await fx.another({ name: `victim-${fx.prefix}` }),
        permits,
        // Long enough that a loaded machine's stalls do not cost a guard its permits mid-hold; a
        // release lost to a kill frees them after this long.
        ttlMs: 2000,
      });
      sems.push(sem);
      for (let w = 0; w < workers; w++) {
        work.push((async () => {
          for (let i = 0; i < rounds; i++) {
            const n = 1 + ((p + w + i) % permits);
            const g = await sem.acquire(n, { timeoutMs: 30_000 });
            held += n;
            peak = Math.max(peak, held);
            if (held > permits) over++;
            fences.add(g.fencingToken);
            acquisitions++;
            await sleep(1 + (i % 3));
            if (g.signal.aborted) lostWhileInside++;
            held -= n;
            await g.release().catch(() => {/* killed mid-release: the permits expire */});
          }
        })());
      }
    }
    await Promise.all(work);
    const kills = await stop();
    for (const sem of sems) await sem.close(); // stops clean-up retries of releases cut by a kill
    assert.equal(over, 0, `moments above ${permits} permits (peak ${peak})`);
    assert.equal(lostWhileInside, 0);
    assert.equal(acquisitions, processes * workers * rounds);
    assert.equal(fences.size, acquisitions, "every acquisition has its own fencing token");
    if (!fx.memory) assert.ok(kills > 0);
    assert.equal(peak, permits, "the permits were used");
    await waitFor(async () => Object.keys(await semTraces(fx, fx.prefix)).join() === "fence", {
      timeoutMs: 5000,
      message: "only the fence left (releases lost to a kill expire)",
    });
  },
);

Deno.test({
  name:
    "Semaphore across a Redis restart: holders hear of the loss, a waiter gets in, fences survive with the data",
  async fn() {
    await using server = await startPrivateRedis();
    const c1 = await connectStandalone(server.url);
    const c2 = await connectStandalone(server.url);
    const s1 = new RedisStore(c1);
    const s2 = new RedisStore(c2);
    try {
      // ttls long enough for a loaded machine's stalls (the loss here comes from the restart).
      const a = new Semaphore({ key: "restart", store: s1, permits: 2, ttlMs: 3000 });
      const b = new Semaphore({
        key: "restart",
        store: s2,
        permits: 2,
        ttlMs: 3000,
        retryIntervalMs: 10,
      });
      const g = await a.acquire(2);
      const waiting = b.acquire(2, { timeoutMs: 10_000 });
      await sleep(30);
      await server.restart({ keepData: false });
      const g2 = await waiting;
      await waitFor(() => g.state === "lost", { timeoutMs: 8000, message: "holder lost" });
      assert.ok(g.signal.reason instanceof LockLostError);
      assert.equal(await g.release(), "lost");
      assert.equal(g2.state, "acquired");
      assert.equal(await g2.release(), "released");
      // With the data kept (RDB), the fence counter survives the restart.
      const g3 = await a.acquire(1);
      const before = g3.fencingToken;
      await g3.release();
      await server.restart({ keepData: true });
      const g4 = await b.acquire(1, { timeoutMs: 10_000 });
      assert.ok(g4.fencingToken > before);
      await g4.release();
    } finally {
      await s1.close();
      await s2.close();
      await c1.close();
      await c2.close();
    }
  },
});
