import assert from "node:assert/strict";
import { Mutex, RwLock } from "../../mod.ts";
import { type Fixture, killConnections, storeTest } from "../_support/stores.ts";
import { traces } from "./_helpers.ts";
import { sleep } from "../_support/wait.ts";

/**
 * Kills this test's connections (named `name`; other tests share the servers) every `everyMs`
 * until the returned function is called.
 */
function chaos(fx: Fixture, name: string, everyMs: number): () => Promise<number> {
  if (fx.memory) return () => Promise.resolve(0);
  let stop = false;
  let kills = 0;
  const loop = (async () => {
    while (!stop) {
      await sleep(everyMs);
      if (stop) break;
      kills += await killConnections(fx, name, kills % 3 === 2 ? "pubsub" : "normal")
        .catch(() => 0);
    }
  })();
  return async () => {
    stop = true;
    await loop;
    return kills;
  };
}

storeTest("Mutex mutual exclusion under stress, connections killed meanwhile", async (fx) => {
  const clients = 4;
  const rounds = fx.memory ? 60 : 20;
  const locks = [];
  for (let i = 0; i < clients; i++) {
    locks.push(
      new Mutex({
        key: fx.prefix,
        store: await fx.another({ name: `victim-${fx.prefix}` }),
        ttlMs: 500,
      }),
    );
  }
  let inside = 0;
  let overlaps = 0;
  let lastFence = 0;
  let fenceRegressions = 0;
  let acquisitions = 0;
  let lostWhileInside = 0;
  const stop = chaos(fx, `victim-${fx.prefix}`, 70);
  await Promise.all(locks.map(async (m) => {
    for (let i = 0; i < rounds; i++) {
      const g = await m.lock({ timeoutMs: 20_000 });
      inside++;
      if (inside > 1) overlaps++;
      if (g.fencingToken <= lastFence) fenceRegressions++;
      lastFence = g.fencingToken;
      acquisitions++;
      await sleep(1);
      if (g.signal.aborted) lostWhileInside++;
      inside--;
      await g.release().catch(() => {/* killed mid-release: the lease expires */});
    }
  }));
  const kills = await stop();
  // Stops the clean-up retries of releases that a kill cut off (they go on while the store's
  // breaker answers for a killed connection).
  for (const m of locks) await m.close();
  assert.equal(overlaps, 0);
  assert.equal(fenceRegressions, 0);
  assert.equal(lostWhileInside, 0);
  assert.equal(acquisitions, clients * rounds);
  if (!fx.memory) assert.ok(kills > 0);
  const t = await traces(fx, fx.prefix, "mutex");
  assert.ok(!("queue" in t) || t.queue! > 0, "no queue left without expiry");
});

storeTest("RwLock exclusion under stress, connections killed meanwhile", async (fx) => {
  const clients = 4;
  const rounds = fx.memory ? 40 : 15;
  let readers = 0;
  let writers = 0;
  let violations = 0;
  let lastFence = 0;
  let fenceRegressions = 0;
  const stop = chaos(fx, `victim-${fx.prefix}`, 90);
  const work = [];
  const locks: RwLock[] = [];
  for (let c = 0; c < clients; c++) {
    const lock = new RwLock({
      key: fx.prefix,
      store: await fx.another({ name: `victim-${fx.prefix}` }),
      ttlMs: 500,
    });
    locks.push(lock);
    work.push((async () => {
      for (let i = 0; i < rounds; i++) {
        if ((i + c) % 3 === 0) {
          const w = await lock.write({ timeoutMs: 20_000 });
          writers++;
          if (writers > 1 || readers > 0) violations++;
          if (w.fencingToken <= lastFence) fenceRegressions++;
          lastFence = w.fencingToken;
          await sleep(1);
          writers--;
          await w.release().catch(() => {});
        } else {
          const r = await lock.read({ timeoutMs: 20_000 });
          readers++;
          if (writers > 0) violations++;
          await sleep(1);
          readers--;
          await r.release().catch(() => {});
        }
      }
    })());
  }
  await Promise.all(work);
  await stop();
  for (const l of locks) await l.close(); // as in the Mutex test above
  assert.equal(violations, 0);
  assert.equal(fenceRegressions, 0);
});
