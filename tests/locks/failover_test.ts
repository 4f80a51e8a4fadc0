/**
 * Locks across a cluster failover: a coordinated `CLUSTER FAILOVER` promotes the replica of the
 * shard holding a lock while a guard holds it and another process waits. The lease and the fence
 * counter were replicated, so the guard keeps holding (its renewals follow the MOVED redirect to
 * the new primary), nobody else gets in meanwhile, the waiter gets its turn once the guard is
 * released, and fencing tokens keep increasing.
 */
import assert from "node:assert/strict";
import { Mutex, RedisStore } from "../../mod.ts";
import { connectCluster, sendCommand, startPrivateCluster } from "../_support/servers.ts";
import { waitFor } from "../_support/stores.ts";

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
    await waitFor(async () => (replica = await replicaOf(primary)) > 0, 5000, "a replica");
    await a.sendCommand(fence, false, ["WAIT", "1", "2000"]);
    let won = false;
    const waiting = other.lock({ timeoutMs: 20_000 }).then((w) => (won = true, w));

    const reply = await sendCommand(replica, ["CLUSTER", "FAILOVER"]);
    assert.match(reply, /^\+OK/, reply);
    await waitFor(
      async () => /role:master/.test(await sendCommand(replica, ["INFO", "replication"])),
      10_000,
      "the replica promoted",
    );
    await cluster.waitHealthy();
    await waitFor(
      async () => /role:slave/.test(await sendCommand(primary, ["INFO", "replication"])),
      10_000,
      "the old primary demoted",
    );

    // Two renewal intervals on the new primary: the guard still holds, the waiter still waits.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(g.state, "acquired");
    assert.equal(g.signal.aborted, false);
    const lease = "{distkit-locks:failover}:mutex:lease";
    const pttl = Number((await sendCommand(replica, ["PTTL", lease])).slice(1));
    assert.ok(pttl > 900, `renewed on the new primary (PTTL ${pttl} of 1500 ms)`);
    assert.equal(won, false, "nobody got in while the guard held the lease");
    assert.equal(await other.tryLock(), null);

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
