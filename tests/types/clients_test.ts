/**
 * Every supported client type-checks as `store` with no cast (typed structurally: node-redis 5
 * and 6 with RESP2 and RESP3, ioredis 5 and 6 `Redis` and `Cluster`, iovalkey), and anything
 * else is refused at run time with a message listing the supported clients.
 */
import assert from "node:assert/strict";
import { createClient as createClient5, createCluster as createCluster5 } from "redis";
import { createClient as createClient6, createCluster as createCluster6 } from "redis6";
import { Cluster as IoCluster5, Redis as IoRedis5 } from "ioredis";
import { Cluster as IoCluster6, Redis as IoRedis6 } from "ioredis6";
import { Cluster as ValkeyCluster, Redis as Valkey } from "iovalkey";
import type { GlideClient, GlideClusterClient } from "@valkey/valkey-glide";
import { RedisStore, StrictCounter, toStore } from "../../mod.ts";

/**
 * GLIDE's clients type-check as `store` with no cast (never called: making one connects; the
 * driver tests and the GLIDE conformance run use real ones). Bun's `RedisClient` has no type
 * declarations here (no bun-types), so it is checked at run time only (tests/bun/).
 */
export function glideTypeChecks(client: GlideClient, cluster: GlideClusterClient): Promise<void>[] {
  return [client, cluster].map((c) => new StrictCounter({ prefix: "p", store: c }).close());
}

Deno.test("every supported client type-checks as a store and is recognised by its shape", async () => {
  const nodes = [{ host: "127.0.0.1", port: 1 }];
  const clients = {
    "node-redis 5": createClient5({ url: "redis://127.0.0.1:1" }),
    "node-redis 5 cluster": createCluster5({ rootNodes: [{ url: "redis://127.0.0.1:1" }] }),
    "node-redis 6 RESP3": createClient6({ url: "redis://127.0.0.1:1", RESP: 3 }),
    "node-redis 6 RESP2": createClient6({ url: "redis://127.0.0.1:1", RESP: 2 }),
    "node-redis 6 cluster": createCluster6({
      rootNodes: [{ url: "redis://127.0.0.1:1" }],
      RESP: 3,
    }),
    "ioredis 5": new IoRedis5({ lazyConnect: true }),
    "ioredis 5 cluster": new IoCluster5(nodes, { lazyConnect: true }),
    "ioredis 6": new IoRedis6({ lazyConnect: true }),
    "ioredis 6 cluster": new IoCluster6(nodes, { lazyConnect: true }),
    "iovalkey": new Valkey({ lazyConnect: true }),
    "iovalkey cluster": new ValkeyCluster(nodes, { lazyConnect: true }),
  };
  const seen: string[] = [];
  for (const [what, client] of Object.entries(clients)) {
    const store = new RedisStore(client);
    // The `store` option of every primitive takes the raw client too, with no cast.
    const counter = new StrictCounter({ prefix: "p", store: client });
    seen.push(`${what}: ${store.clientName}${store.isCluster ? " cluster" : ""}`);
    assert.ok(toStore(client) instanceof RedisStore);
    await counter.close();
    await store.close();
    // ioredis clients made with lazyConnect never connected; node-redis ones neither.
    if ("evalsha" in client) client.disconnect();
  }
  assert.deepEqual(seen, [
    "node-redis 5: node-redis",
    "node-redis 5 cluster: node-redis cluster",
    "node-redis 6 RESP3: node-redis",
    "node-redis 6 RESP2: node-redis",
    "node-redis 6 cluster: node-redis cluster",
    "ioredis 5: ioredis",
    "ioredis 5 cluster: ioredis cluster",
    "ioredis 6: ioredis",
    "ioredis 6 cluster: ioredis cluster",
    "iovalkey: ioredis",
    "iovalkey cluster: ioredis cluster",
  ]);
  for (const bad of [{}, { evalSha: () => 1 }, { call: () => 1 }]) {
    assert.throws(
      // @ts-expect-error: not a client
      () => new RedisStore(bad),
      {
        code: "INVALID_ARGUMENT",
        message:
          "'store' must be a Store or a connected client of: node-redis 5/6 (createClient, createCluster), ioredis 5/6 (Redis, Cluster), iovalkey, Valkey GLIDE 2 (GlideClient, GlideClusterClient), Bun's RedisClient",
      },
    );
  }
});
