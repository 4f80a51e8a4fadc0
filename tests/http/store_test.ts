/**
 * The adapters on Redis: the `onStoreError` policy answers while Redis is stopped, and several
 * middleware instances (one per framework, each on its own connection, as separate processes
 * would be) share one limit — exactly with the redis provider, with zero overshoot with the
 * hybrid provider.
 */
import assert from "node:assert/strict";
import type { StoreErrorPolicy } from "../../ratelimit/rate_limiter.ts";
import { connectStandalone, redisUrl, startPrivateRedis } from "../_support/servers.ts";
import { ADAPTERS, get, startServer, type TestServer } from "./_servers.ts";

const POLICIES: Array<[StoreErrorPolicy, number[]]> = [
  ["allow", [200, 200]],
  ["deny", [429, 429]],
  ["throw", [500, 500]],
  ["local", [200, 429]], // the in-process fallback starts empty: 1 more, then limited
];

Deno.test("every adapter: onStoreError answers by its policy while Redis is stopped", async () => {
  await using redis = await startPrivateRedis();
  const client = await connectStandalone(redis.url);
  const servers: Array<[string, StoreErrorPolicy, number[], TestServer]> = [];
  try {
    for (const adapter of ADAPTERS) {
      for (const [policy, expected] of POLICIES) {
        const server = await startServer(adapter, {
          limit: 1,
          windowMs: 60_000,
          store: client,
          prefix: `outage-${adapter}-${policy}`,
          onStoreError: policy,
          limiterOptions: { storeTimeoutMs: 300 },
        });
        servers.push([adapter, policy, expected, server]);
      }
    }
    // Redis up: each middleware counts one request there.
    for (const [adapter, policy, , server] of servers) {
      assert.equal((await get(`${server.v4}/`)).status, 200, `${adapter} ${policy}`);
    }
    await redis.kill();
    await Promise.all(servers.map(async ([adapter, policy, expected, server]) => {
      const got = [(await get(`${server.v4}/`)).status, (await get(`${server.v4}/`)).status];
      assert.deepEqual(got, expected, `${adapter} ${policy}`);
    }));
  } finally {
    for (const [, , , server] of servers) await server.close();
    client.destroy();
  }
});

const FLEET_LIMIT = 40;

async function fleet(provider: "redis" | "hybrid"): Promise<{ admitted: number; stored: number }> {
  const prefix = `fleet-${provider}-${crypto.randomUUID()}`;
  const clients = await Promise.all(ADAPTERS.map(() => connectStandalone()));
  const servers: TestServer[] = [];
  try {
    for (const [i, adapter] of ADAPTERS.entries()) {
      servers.push(
        await startServer(adapter, {
          limit: FLEET_LIMIT,
          windowMs: 60_000,
          store: clients[i],
          provider,
          prefix,
        }),
      );
    }
    // Three times the limit, from one client address, spread over all instances at once.
    const statuses = await Promise.all(
      Array.from({ length: 3 * FLEET_LIMIT }, (_, i) => get(`${servers[i % servers.length]!.v4}/`)),
    );
    const admitted = statuses.filter((r) => r.status === 200).length;
    assert.equal(admitted + statuses.filter((r) => r.status === 429).length, 3 * FLEET_LIMIT);
    const stored = await servers[0]!.middleware.limiter.redis.absolute.get("127.0.0.1");
    return { admitted, stored };
  } finally {
    for (const server of servers) await server.close();
    for (const client of clients) await client.close();
  }
}

Deno.test({
  name: "six middleware instances on one Redis share the limit exactly (redis provider)",
  ignore: redisUrl() === undefined,
  async fn() {
    const { admitted, stored } = await fleet("redis");
    assert.equal(admitted, FLEET_LIMIT);
    assert.equal(stored, FLEET_LIMIT);
  },
});

Deno.test({
  name: "six middleware instances on one Redis never overshoot the limit (hybrid provider)",
  ignore: redisUrl() === undefined,
  async fn() {
    const { admitted } = await fleet("hybrid");
    assert.ok(admitted <= FLEET_LIMIT, `admitted ${admitted} > ${FLEET_LIMIT}`);
    assert.ok(admitted >= 1, "nothing admitted");
  },
});
