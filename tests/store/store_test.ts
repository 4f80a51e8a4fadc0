/** What every Store promises, on memory, standalone and cluster. */
import assert from "node:assert/strict";
import { ClosedError } from "../../core/errors.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { RedisStore } from "../../store/redis_store.ts";
import { withModel } from "../../store/script.ts";
import { toStore } from "../../store/to_store.ts";
import { connectStandalone, startPrivateRedis } from "../_support/servers.ts";
import { storeTest } from "../_support/stores.ts";
import { sleep, waitFor } from "../_support/wait.ts";

async function scriptFlush(raw: unknown, cluster: boolean): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const r = raw as any;
  if (!cluster) return void await r.sendCommand(["SCRIPT", "FLUSH"]);
  for (const m of r.masters) await (await r.nodeClient(m)).sendCommand(["SCRIPT", "FLUSH"]);
}

storeTest("RedisStore reloads scripts after SCRIPT FLUSH (NOSCRIPT → EVAL)", async (fx) => {
  const c = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  assert.equal(await c.inc("k"), 1);
  await scriptFlush(fx.raw, fx.kind === "cluster");
  assert.equal(await c.inc("k"), 2);
  assert.deepEqual(await c.incAll([["k", 1], ["j", 1]]), [["k", 3], ["j", 1]]);
}, { kinds: ["standalone", "cluster"] });

storeTest("stores map script refusals to distkit errors and change nothing", async (fx) => {
  const c = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  await c.set("k", Number.MAX_SAFE_INTEGER - 1);
  await assert.rejects(c.incAll([["j", 5], ["k", 2]]), { code: "COUNTER_OVERFLOW" });
  assert.deepEqual(await c.getAll(["j", "k"]), [["j", 0], ["k", Number.MAX_SAFE_INTEGER - 1]]);
});

storeTest("subscribe delivers sharded messages until unsubscribed", async (fx) => {
  const channel = `{${fx.prefix}}:wake`;
  const got: string[] = [];
  const off = await fx.store.subscribe(channel, (m) => got.push(m));
  const off2 = await fx.store.subscribe(channel, (m) => got.push(`2:${m}`));
  const publish = (m: string) => fx.raw.sPublish(channel, m);
  await publish("a");
  await waitFor(() => got.length === 2, { timeoutMs: 2000, message: "two deliveries" });
  await off2();
  await publish("b");
  await waitFor(() => got.includes("b"), {
    timeoutMs: 2000,
    message: "delivery after one unsubscribe",
  });
  await off();
  await publish("c");
  await sleep(50);
  assert.deepEqual(got.sort(), ["2:a", "a", "b"]);
}, { kinds: ["standalone", "cluster"] });

Deno.test("RedisStore commandTimeoutMs bounds a call to a frozen server", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const store = new RedisStore(client, { commandTimeoutMs: 200 });
  try {
    const c = new StrictCounter({ prefix: "frozen", store });
    await c.inc("k");
    server.pause();
    const t = performance.now();
    await assert.rejects(c.inc("k"), { code: "STORE_ERROR" });
    const waited = performance.now() - t;
    assert.ok(waited < 1500, `bounded wait (${waited.toFixed(0)} ms)`);
    server.resume();
    await waitFor(async () => (await c.get("k").catch(() => -1)) >= 1, {
      timeoutMs: 5000,
      message: "recovery",
    });
  } finally {
    server.resume();
    await store.close();
    await client.close();
  }
});

Deno.test("a call in flight when its RedisStore closes fails with ClosedError", async () => {
  // What ends such a call is the close: a caller that retries store failures (a lock's clean-up,
  // a lax flush) must see ClosedError and stop, not a StoreError to retry on timers.
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const store = new RedisStore(client, { commandTimeoutMs: 0 });
  try {
    const c = new StrictCounter({ prefix: "closing", store });
    await c.inc("k");
    server.pause(); // the next call is sent and stays unanswered
    const inFlight = c.inc("k");
    // Sent now or by close(), which sends what waits in the batcher: in flight either way.
    await store.close();
    client.destroy(); // the user's client goes under the call
    await assert.rejects(inFlight, ClosedError);
  } finally {
    server.resume();
    await store.close();
    if (client.isOpen) client.destroy();
  }
});

Deno.test("toStore() passes stores through, wraps a client once, rejects anything else", async () => {
  const memory = new MemoryStore();
  assert.equal(toStore(memory), memory);
  // deno-lint-ignore no-explicit-any
  const fake: any = { evalSha: () => Promise.resolve(1), eval: () => Promise.resolve(1) };
  const a = toStore(fake), b = toStore(fake);
  assert.ok(a instanceof RedisStore);
  assert.equal(a, b);
  // deno-lint-ignore no-explicit-any
  for (const bad of [undefined, null, 42, {}, { evalSha: 1 }] as any[]) {
    assert.throws(() => toStore(bad), { code: "INVALID_ARGUMENT" });
  }
  await memory.close();
  await assert.rejects(memory.run(null!, [], []), { code: "CLOSED" });
});

Deno.test("MemoryStore.failure simulates an outage for every call", async () => {
  const store = new MemoryStore();
  const c = new StrictCounter({ prefix: "p", store });
  store.failure = new Error("down");
  await assert.rejects(c.inc("k"), /down/);
  store.failure = undefined;
  assert.equal(await c.inc("k"), 1);
});

Deno.test("MemoryStore delivers what a model publishes, after the call, to live listeners", async () => {
  const store = new MemoryStore();
  const publishing = withModel({ name: "publishing", sha1: "" }, (ctx) => {
    ctx.publish("ch", "hello");
    return 1;
  });
  const got: string[] = [];
  const off = await store.subscribe("ch", (m) => got.push(m));
  assert.equal(store.subscriptionCount, 1);
  await store.run(publishing, [], []);
  await waitFor(() => got.length === 1, { timeoutMs: 1000, message: "the delivery" });
  await off();
  assert.equal(store.subscriptionCount, 0);
  await store.run(publishing, [], []);
  await sleep(5);
  assert.deepEqual(got, ["hello"]);
});
