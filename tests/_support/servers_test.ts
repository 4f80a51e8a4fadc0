import assert from "node:assert/strict";
import {
  type ClusterClient,
  clusterNodes,
  connectCluster,
  connectStandalone,
  redisUrl,
  startPrivateCluster,
  startPrivateRedis,
} from "./servers.ts";
import { sleep } from "./wait.ts";

const SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "servers: standalone connects and answers PING",
  ignore: !redisUrl(),
  fn: async () => {
    const client = await connectStandalone();
    try {
      assert.deepEqual(await client.ping(), "PONG");
    } finally {
      await client.close();
    }
  },
});

Deno.test({
  name: "servers: cluster writes keys in slots owned by different primaries",
  ignore: !clusterNodes(),
  fn: async () => {
    const cluster = await connectCluster();
    try {
      assert.deepEqual(cluster.masters.length, 3);
      const prefix = `servers_test:${crypto.randomUUID()}`;
      const keys = Array.from({ length: 12 }, (_, i) => `{${prefix}:${i}}:k`);
      await Promise.all(keys.map((k, i) => cluster.set(k, String(i), { PX: 10_000 })));
      assert.deepEqual(
        await Promise.all(keys.map((k) => cluster.get(k))),
        keys.map((_, i) => `${i}`),
      );
      const owners = new Set<number>();
      for (const key of keys) {
        const slot = await cluster.sendCommand<number>(key, true, ["CLUSTER", "KEYSLOT", key]);
        owners.add(cluster.slots[slot]!.master.port);
      }
      assert(owners.size >= 2, `keys all landed on one primary: ${[...owners]}`);
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "servers: eval and evalSha work on a standalone client",
  ignore: !redisUrl(),
  fn: async () => {
    const client = await connectStandalone();
    try {
      const key = `servers_test:${crypto.randomUUID()}`;
      const sha = await client.scriptLoad(SCRIPT);
      assert.deepEqual(sha, await sha1(SCRIPT));
      assert.deepEqual(await client.evalSha(sha, { keys: [key], arguments: ["2"] }), 2);
      assert.deepEqual(await client.eval(SCRIPT, { keys: [key], arguments: ["3"] }), 5);
      await assert.rejects(client.evalSha("0".repeat(40), { keys: [key] }), /NOSCRIPT/);
      await client.del(key);
    } finally {
      await client.close();
    }
  },
});

Deno.test({
  name: "servers: eval and evalSha work on a cluster client",
  ignore: !clusterNodes(),
  fn: async () => {
    const cluster = await connectCluster();
    try {
      const sha = await sha1(SCRIPT);
      const prefix = `servers_test:${crypto.randomUUID()}`;
      for (let i = 0; i < 6; i++) {
        const key = `{${prefix}:${i}}:n`;
        assert.deepEqual(await cluster.eval(SCRIPT, { keys: [key], arguments: ["2"] }), 2);
        assert.deepEqual(await cluster.evalSha(sha, { keys: [key], arguments: ["3"] }), 5);
        await cluster.del(key);
      }
      await assert.rejects(
        cluster.evalSha("0".repeat(40), { keys: [`{${prefix}}`] }),
        /NOSCRIPT/,
      );
    } finally {
      await cluster.close();
    }
  },
});

Deno.test("servers: a private server restarts with or without its data", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  try {
    await client.set("kept", "yes");
    await server.restart({ keepData: true });
    assert.deepEqual(await client.get("kept"), "yes"); // the client reconnected by itself
    await server.restart();
    assert.deepEqual(await client.get("kept"), null);
  } finally {
    await client.close();
  }
});

Deno.test("servers: a killed private server comes back on the same port", async () => {
  const server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  try {
    await server.kill();
    assert(!server.running);
    await server.restart();
    assert(server.running);
    assert.deepEqual(await client.ping(), "PONG");
  } finally {
    await client.close();
    await server.stop();
  }
  assert(!server.running);
});

Deno.test("servers: a client keeps working through CLIENT KILL in a loop", async () => {
  // node-redis before 5.11 could end up "ready" on a dead socket after a kill during its
  // handshake, and every later command hung: this is the regression check.
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const killer = await connectStandalone(server.url);
  let killing = true;
  const kills = (async () => {
    while (killing) {
      await killer.sendCommand(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
      await sleep(2);
    }
  })();
  try {
    const deadline = Date.now() + 700;
    let settled = 0;
    const worker = async () => {
      while (Date.now() < deadline) {
        await withTimeout(client.incr("n").catch(() => 0), 3000, "a command hung");
        settled++;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    assert(settled > 10, `only ${settled} commands settled`);
    killing = false;
    await kills;
    assert.equal(await withTimeout(client.ping(), 3000, "the client did not recover"), "PONG");
  } finally {
    killing = false;
    await kills;
    await client.close();
    await killer.close();
  }
});

Deno.test("servers: a private cluster fails over when a primary is killed", async () => {
  await using nodes = await startPrivateCluster();
  const key = "{failover}:k";
  const before = await connectCluster(nodes.nodes);
  let primary: number;
  try {
    await before.set(key, "v");
    await before.sendCommand(key, false, ["WAIT", "1", "2000"]);
    primary = await ownerOf(before, key);
  } finally {
    await before.close();
  }
  await nodes.server(primary).kill();
  await nodes.waitHealthy();
  // node-redis 5 rediscovers slots only on MOVED/ASK: a client that had a connection to the dead
  // primary keeps queueing that slot's commands for it. A new client sees the promoted replica.
  const after = await connectCluster(nodes.nodes.filter((n) => n.port !== primary));
  try {
    assert.equal(await after.get(key), "v");
    assert.notEqual(await ownerOf(after, key), primary);
  } finally {
    await after.close();
  }
});

async function ownerOf(cluster: ClusterClient, key: string): Promise<number> {
  const slot = await cluster.sendCommand<number>(key, true, ["CLUSTER", "KEYSLOT", key]);
  return cluster.slots[slot]!.master.port;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
