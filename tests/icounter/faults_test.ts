/**
 * Instance-aware counter faults: lost replies and killed connections during lax flushes (nothing
 * lost or doubled, even when an instance is reaped meanwhile), a store outage longer than the
 * threshold (every instance reaped, every one recovers), a Redis restart with and without its data.
 */
import assert from "node:assert/strict";
import { StoreError } from "../../core/errors.ts";
import { LaxInstanceAwareCounter } from "../../icounter/lax.ts";
import { StrictInstanceAwareCounter } from "../../icounter/strict.ts";
import { RedisStore } from "../../store/redis_store.ts";
import type { Reply, Script, Store } from "../../store/types.ts";
import { connectStandalone, startPrivateRedis } from "../_support/servers.ts";
import {
  type Fixture,
  flushed,
  killConnections,
  openTestClient,
  storeTest,
} from "../_support/stores.ts";
import { assertInvariant, Instances } from "./_support.ts";
import { sleep, waitFor } from "../_support/wait.ts";

/** Loses replies: the call is applied and then fails (or fails before being sent). */
class Lossy implements Store {
  readonly isDistkitStore = true as const;
  lost = 0;
  constructor(readonly inner: Store, readonly pAfter: number, readonly pBefore: number) {}
  async run(s: Script, k: readonly string[], a: readonly (string | number)[]): Promise<Reply> {
    if (Math.random() < this.pBefore) throw new StoreError("lost request (test)");
    const reply = await this.inner.run(s, k, a);
    if (Math.random() < this.pAfter) {
      this.lost++;
      throw new StoreError("lost reply (test)");
    }
    return reply;
  }
  subscribe(c: string, l: (m: string) => void) {
    return this.inner.subscribe(c, l);
  }
  close() {
    return Promise.resolve();
  }
  [Symbol.asyncDispose]() {
    return this.close();
  }
}

storeTest("lax: lost replies and requests during flushes lose and double nothing", async (fx) => {
  await using is = new Instances(fx);
  const W = 3, ROUNDS = 150;
  const stores = Array.from({ length: W }, () => new Lossy(fx.store, 0.3, 0.1));
  const cs = stores.map((store) => is.lax({ store, flushIntervalMs: 2, allowedLagMs: 2 }));
  await Promise.all(cs.map(async (c, w) => {
    for (let i = 0; i < ROUNDS; i++) {
      await c.inc("shared");
      await c.inc(`own${w}`, 2);
      if (i % 10 === 0) await sleep(2);
    }
  }));
  for (const c of cs) await flushed(c);
  assert.ok(stores.reduce((n, s) => n + s.lost, 0) > 0, "replies were lost");
  const reader = is.strict();
  assert.equal((await reader.get("shared")).total, W * ROUNDS);
  for (let w = 0; w < W; w++) assert.equal((await reader.get(`own${w}`)).total, 2 * ROUNDS);
  await assertInvariant(fx, fx.prefix);
});

storeTest(
  "lax: connections killed in a loop while instances flush: every total exact",
  async (fx) => {
    const name = `victim-${fx.prefix}`;
    const store = await fx.another({ name, commandTimeoutMs: 1000 });
    {
      await using is = new Instances(fx);
      const W = 3;
      const cs = Array.from(
        { length: W },
        () => is.lax({ store, flushIntervalMs: 2, deadInstanceThresholdMs: 300 }),
      );
      const rounds = [0, 0, 0];
      const until = Date.now() + 1000;
      let killing = true, kills = 0;
      const killer = (async () => {
        while (killing) {
          kills += await killConnections(fx, name).catch(() => 0);
          await sleep(8);
        }
      })();
      try {
        await Promise.all(cs.map(async (c, w) => {
          for (let i = 0; Date.now() < until; i++) {
            await c.inc("shared");
            await c.inc(`own${w}`, 3);
            rounds[w]!++;
            if (i % 20 === 0) await sleep(2);
          }
        }));
      } finally {
        killing = false;
        await killer;
      }
      for (const c of cs) await flushed(c);
      assert.ok(kills > 10, `the killer ran (${kills} kills)`);
      const reader = is.strict();
      assert.equal((await reader.get("shared")).total, rounds[0]! + rounds[1]! + rounds[2]!);
      for (let w = 0; w < W; w++) assert.equal((await reader.get(`own${w}`)).total, 3 * rounds[w]!);
      await assertInvariant(fx, fx.prefix);
      for (const c of cs) await c.close();
    }
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest(
  "an outage longer than the threshold: every instance is reaped and recovers",
  async (fx) => {
    await using is = new Instances(fx);
    const parts = [is.partitioned(), is.partitioned(), is.partitioned()];
    const lax = is.partitionedLax({ flushIntervalMs: 5 });
    for (const [i, [c]] of parts.entries()) await c.incAll([["x", i + 1], ["y", -(i + 1)]]);
    await lax[0].inc("x", 100);
    await lax[0].flush();
    for (const [, p] of [...parts, lax]) p.down = true;
    await lax[0].inc("x", 10); // buffered during the outage
    await sleep(400); // every deadline passes
    for (const [, p] of [...parts, lax]) p.down = false;
    // The first caller reaps all the others; each then recovers by itself (heartbeat or call).
    const reader = parts[0]![0];
    await lax[0].flush();
    await waitFor(async () => {
      const totals = (await reader.getAll(["x", "y"])).map(([, v]) => v.total);
      return totals[0] === 116 && totals[1] === -6;
    }, { timeoutMs: 3000, message: "every slice recovered" });
    await sleep(100);
    assert.deepEqual((await reader.getAll(["x", "y"])).map(([, v]) => v.total), [116, -6]);
    await assertInvariant(fx, fx.prefix);
  },
);

storeTest(
  "icounter: a Redis restart keeps the data; one without data starts over, never resurrects",
  async () => {
    await using server = await startPrivateRedis();
    const client = await connectStandalone(server.url); // node-redis 5, for the invariant check
    const tested = await openTestClient(server.url); // this run's client (node-redis, ioredis, ...)
    const store = new RedisStore(tested.client, { commandTimeoutMs: 500 });
    const fx = { kind: "standalone", raw: client, memory: undefined } as unknown as Fixture;
    try {
      const strict = new StrictInstanceAwareCounter({
        prefix: "r",
        store,
        deadInstanceThresholdMs: 5000,
      });
      const lax = new LaxInstanceAwareCounter({
        prefix: "r",
        store,
        deadInstanceThresholdMs: 5000,
        flushIntervalMs: 5,
      });
      await strict.inc("k", 7);
      await lax.inc("k", 100);
      await lax.flush();
      await lax.inc("k", 20); // pending across the restart
      await server.restart({ keepData: true });
      await lax.inc("k", 3); // buffered or flushed, whichever
      await flushed(lax);
      await waitFor(async () => (await strict.get("k").catch(() => ({ total: -1 }))).total === 130);
      await assertInvariant(fx, "r");

      // Lose everything: the slices the instances remember belong to epochs that no longer exist.
      await server.restart({ keepData: false });
      await waitFor(async () => (await strict.get("k").catch(() => ({ total: -1 }))).total === 0);
      assert.deepEqual(await strict.inc("k", 1), { total: 1, mine: 1 });
      await lax.inc("k", 2);
      await flushed(lax);
      assert.deepEqual(await strict.get("k"), { total: 3, mine: 1 });
      await assertInvariant(fx, "r");
      await lax.close();
      await strict.close();
      assert.deepEqual((await assertInvariant(fx, "r")).slices.size, 0);
    } finally {
      await store.close();
      await tested.close();
      await client.close();
    }
  },
  { kinds: ["standalone"] },
);
