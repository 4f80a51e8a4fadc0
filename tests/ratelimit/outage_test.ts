/**
 * A private Redis killed and restarted under load: every call waits at most about
 * `storeTimeoutMs`, the failure policy answers meanwhile, and the limiter recovers by itself.
 */
import assert from "node:assert/strict";
import { StoreError } from "../../core/errors.ts";
import { RateLimiter, type StoreErrorPolicy } from "../../ratelimit/rate_limiter.ts";
import { RedisStore } from "../../store/redis_store.ts";
import type { Store } from "../../store/types.ts";
import { connectStandalone, startPrivateRedis } from "../_support/servers.ts";
import { sleep, waitFor } from "../_support/wait.ts";

const TIMEOUT = 150;

async function underOutage(policy: StoreErrorPolicy): Promise<void> {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const probeClient = await connectStandalone(server.url);
  try {
    const store = new RedisStore(client);
    await using rl = new RateLimiter({
      store,
      prefix: "outage",
      onStoreError: policy,
      storeTimeoutMs: TIMEOUT,
      syncIntervalMs: 5,
    });
    await using probe = new RateLimiter({
      store: new RedisStore(probeClient),
      prefix: "probe",
      storeTimeoutMs: TIMEOUT,
    });
    let stop = false;
    let maxMs = 0;
    let calls = 0;
    let storeErrors = 0;
    const other: unknown[] = [];
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const t0 = performance.now();
        try {
          if (i % 2 === 0) await rl.redis.absolute.inc(`k${w % 2}`, 1000);
          else await rl.hybrid.absolute.inc(`k${w % 2}`, 1000);
        } catch (e) {
          if (e instanceof StoreError) storeErrors++;
          else other.push(e);
        }
        maxMs = Math.max(maxMs, performance.now() - t0);
        calls++;
        await sleep(1);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    await waitFor(() => calls > 50, { timeoutMs: 5000, message: "load" });
    await server.kill();
    const before = calls;
    await waitFor(() => calls > before + 100, {
      timeoutMs: 5000,
      message: "calls during the outage",
    });
    await server.restart();
    // Recovery: store calls succeed again, with no intervention.
    await waitFor(async () => {
      try {
        await probe.redis.absolute.get("x");
        await rl.redis.absolute.get("k0");
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 8000, message: "recovery" });
    const after = calls;
    await waitFor(() => calls > after + 50, { timeoutMs: 5000, message: "load after recovery" });
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(other, []);
    assert.ok(maxMs < TIMEOUT + 450, `a call waited ${maxMs.toFixed(0)} ms`);
    if (policy === "throw") assert.ok(storeErrors > 0);
    else assert.equal(storeErrors, 0);
    // After recovery the store counts again (the hybrid resent what it buffered).
    assert.ok((await rl.redis.absolute.get("k0")) > 0);
  } finally {
    await client.close();
    await probeClient.close();
  }
}

Deno.test("Redis killed and restarted under load: policy 'local' answers, waits stay bounded", async () => {
  await underOutage("local");
});

Deno.test("Redis killed and restarted under load: policy 'throw' fails fast and recovers", async () => {
  await underOutage("throw");
});

Deno.test("a Store that throws synchronously is judged by the failure policy, like a rejection", async () => {
  const { MemoryStore } = await import("../../store/memory_store.ts");
  const memory = new MemoryStore();
  const broken: Store = {
    isDistkitStore: true,
    run(): never {
      throw new StoreError("sync failure");
    },
    subscribe: (channel, listener) => memory.subscribe(channel, listener),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await using allow = new RateLimiter({ store: broken, onStoreError: "allow" });
  assert.equal((await allow.redis.absolute.inc("k", 10)).kind, "allowed");
  await using strict = new RateLimiter({ store: broken, onStoreError: "throw" });
  const p = strict.redis.absolute.inc("k", 10);
  assert.ok(p instanceof Promise);
  await assert.rejects(p, StoreError);
  await memory.close();
});
