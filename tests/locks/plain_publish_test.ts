/**
 * A release's wake-up reaches plain (SUBSCRIBE) subscribers on a standalone server, for clients
 * without sharded pub/sub (Bun's RedisClient, GLIDE's standalone client), and only sharded ones on
 * a cluster (lua/_publish.lua).
 */
import assert from "node:assert/strict";
import { Mutex } from "../../locks/mutex.ts";
import { routeOf } from "../../locks/_hub.ts";
import { grantChannel, lockKeys } from "../../locks/_remote.ts";
import { storeTest } from "../_support/stores.ts";
import { sleep, waitFor } from "../_support/wait.ts";

storeTest(
  "Mutex hand-off: the grant is published plainly too on a standalone server only",
  async (fx) => {
    const a = new Mutex({ key: fx.prefix, store: fx.store });
    const bStore = await fx.another();
    const b = new Mutex({ key: fx.prefix, store: bStore, retryIntervalMs: 60_000 });
    const channel = grantChannel(
      lockKeys("distkit-locks", fx.prefix, "mutex").channel,
      routeOf(bStore),
    );
    const sharded: string[] = [];
    const plain: string[] = [];
    const unsubscribe = await fx.store.subscribe(channel, (m) => sharded.push(m));
    // A plain subscriber: its own connection on a standalone server; the cluster client's own.
    const subscriber = fx.kind === "standalone" ? fx.raw.duplicate().on("error", () => {}) : fx.raw;
    if (fx.kind === "standalone") await subscriber.connect();
    const listener = (m: string) => plain.push(m);
    await subscriber.subscribe(channel, listener);
    try {
      const g = await a.lock();
      const waiting = b.lock();
      await sleep(50); // b is queued
      await g.release();
      await using w = await waiting;
      assert.equal(w.state, "acquired");
      await waitFor(() => sharded.length === 1, { message: "the sharded grant" });
      if (fx.kind === "standalone") {
        await waitFor(() => plain.length === 1, { message: "the plain grant" });
        assert.deepEqual(plain, sharded);
      } else {
        await sleep(100);
        assert.deepEqual(plain, [], "a cluster publishes nothing cluster-wide");
      }
    } finally {
      await subscriber.unsubscribe(channel, listener);
      if (fx.kind === "standalone") await subscriber.close();
      await unsubscribe();
      await a.close();
      await b.close();
    }
  },
  { kinds: ["standalone", "cluster"], pubsub: true },
);
