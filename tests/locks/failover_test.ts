/**
 * Locks across a cluster failover: a coordinated `CLUSTER FAILOVER` promotes the replica of the
 * shard holding a lock while a guard holds it and another process waits. The lease and the fence
 * counter were replicated, so the guard keeps holding (its renewals follow the MOVED redirect to
 * the new primary), nobody else gets in meanwhile, the waiter gets its turn once the guard is
 * released, and fencing tokens keep increasing.
 */
import assert from "node:assert/strict";
import { Mutex, RedisStore, StoreError } from "../../mod.ts";
import { connectCluster, sendCommand, startPrivateCluster } from "../_support/servers.ts";
import { waitFor } from "../_support/wait.ts";

Deno.test("Mutex holds, excludes and hands over across a coordinated cluster failover", async () => {
  await using cluster = await startPrivateCluster();
  const a = await connectCluster(cluster.nodes);
  const b = await connectCluster(cluster.nodes);
  const storeA = new RedisStore(a);
  const storeB = new RedisStore(b);
  try {
    const holder = new Mutex({ key: "failover", store: storeA, ttlMs: 1500 });
    const other = new Mutex({ key: "failover", store: storeB, ttlMs: 1500, retryIntervalMs: 20 });
    const g = await holder.lock();
    const fence = `{distkit-locks:failover}:mutex:fence`;
    const slot = await a.sendCommand<number>(fence, true, ["CLUSTER", "KEYSLOT", fence]);
    const shard = a.slots[slot]!;
    const primary = shard.master.port;
    let replica = 0;
    await waitFor(async () => (replica = await replicaOf(primary)) > 0, {
      timeoutMs: 5000,
      message: "a replica",
    });
    await a.sendCommand(fence, false, ["WAIT", "1", "2000"]);
    let won = false;
    const waiting = other.lock({ timeoutMs: 20_000 }).then((w) => (won = true, w));

    const reply = await sendCommand(replica, ["CLUSTER", "FAILOVER"]);
    assert.match(reply, /^\+OK/, reply);
    await waitFor(
      async () => /role:master/.test(await sendCommand(replica, ["INFO", "replication"])),
      { timeoutMs: 10_000, message: "the replica promoted" },
    );
    await cluster.waitHealthy();
    await waitFor(
      async () => /role:slave/.test(await sendCommand(primary, ["INFO", "replication"])),
      { timeoutMs: 10_000, message: "the old primary demoted" },
    );

    // The guard's renewals follow the redirect: the lease is renewed on the new primary (its ttl
    // is 1500 ms and it renews every 500 ms, so a PTTL above 1200 ms means a fresh renewal).
    const lease = "{distkit-locks:failover}:mutex:lease";
    const pttl = async () => Number((await sendCommand(replica, ["PTTL", lease])).slice(1));
    await waitFor(async () => await pttl() > 1200, {
      timeoutMs: 5000,
      message: "a renewal on the new primary",
    });
    assert.equal(g.state, "acquired");
    assert.equal(g.signal.aborted, false);
    assert.equal(won, false, "nobody got in while the guard held the lease");
    // Right after a failover the cluster client may still be moving its connections: a one-shot
    // attempt can fail with a StoreError (retry it), but it never gets the lock.
    let attempt: Awaited<ReturnType<typeof other.tryLock>> | undefined;
    await waitFor(async () => {
      attempt = await other.tryLock().catch((e) => {
        if (e instanceof StoreError) return undefined;
        throw e;
      });
      return attempt !== undefined;
    }, { timeoutMs: 5000, message: "a one-shot attempt that reaches the new primary" });
    assert.equal(attempt, null);

    assert.equal(await g.release(), "released");
    const w = await waiting;
    assert.ok(w.fencingToken > g.fencingToken, "fencing tokens kept increasing");
    assert.equal(await w.release(), "released");
  } finally {
    await storeA.close();
    await storeB.close();
    await a.close();
    await b.close();
  }
});

/** The port of a replica of the primary on `port` (from its `CLUSTER NODES`), or 0. */
async function replicaOf(port: number): Promise<number> {
  const id = (await sendCommand(port, ["CLUSTER", "MYID"])).split("\r\n")[1]!;
  const nodes = await sendCommand(port, ["CLUSTER", "NODES"]);
  for (const line of nodes.split("\n")) {
    const [, addr, flags, master] = line.split(" ");
    if (master === id && flags?.includes("slave")) {
      return Number(addr!.split("@")[0]!.split(":")[1]);
    }
  }
  return 0;
}
