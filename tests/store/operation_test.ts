/** The typed boundary: opaque scripts, operations that decode replies or fail clearly. */
import assert from "node:assert/strict";
import { COUNTER_GET, READ_VALUES } from "../../counter/_scripts.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import { RateLimiter } from "../../ratelimit/rate_limiter.ts";
import type { Reply, Script, Store } from "../../store/types.ts";

Deno.test("Script handles carry no model: only name, sha1 and batch are visible", () => {
  assert.deepEqual(Object.keys(COUNTER_GET).sort(), ["batch", "name", "sha1"]);
  assert.ok(Object.isFrozen(COUNTER_GET));
});

Deno.test("an operation decodes its reply, and a reply of another shape is a StoreError", async () => {
  await using mem = new MemoryStore();
  assert.deepEqual(await READ_VALUES.run(mem, ["{p}:counter"], ["a", "b"]), [0, 0]);
  const garbled: Store = {
    isDistkitStore: true,
    run: (_s: Script, _k: readonly string[], _a: readonly (string | number)[]) =>
      Promise.resolve<Reply>("OK"),
    subscribe: () => Promise.reject(new Error("unused")),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await assert.rejects(READ_VALUES.run(garbled, ["{p}:counter"], ["a"]), {
    code: "STORE_ERROR",
    message: 'Unexpected reply from counter_get: "OK"',
  });
});

Deno.test("MemoryStore refuses a script without a model with a StoreError", async () => {
  await using mem = new MemoryStore();
  await assert.rejects(mem.run({ name: "bare", sha1: "" }, [], []), {
    code: "STORE_ERROR",
    message: "Script 'bare' has no model to run",
  });
});

Deno.test("a command handed another command's reply fails: no NaN, no silent success", async () => {
  // node-redis 5 hands a command written as its connection dropped the reply of the next
  // connection's handshake ("OK", or HELLO's map). Every decoder of a one-integer reply refuses it.
  for (const reply of ["OK", { server: "redis", version: "7.4.1" }] as Reply[]) {
    const garbled: Store = {
      isDistkitStore: true,
      run: () => Promise.resolve(reply),
      subscribe: () => Promise.reject(new Error("unused")),
      close: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
    const counter = new StrictCounter({ prefix: "p", store: garbled });
    const limiter = new RateLimiter({ store: garbled, windowSizeSeconds: 10 });
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["StrictCounter.inc", () => counter.inc("k")],
      ["StrictCounter.del", () => counter.del("k")],
      ["StrictCounter.clear", () => counter.clear()],
      ["block (redis)", () => limiter.redis.absolute.block("k", 1000)],
      ["refund (redis)", () => limiter.redis.absolute.refund("k", 1)],
    ];
    for (const [name, call] of calls) {
      await assert.rejects(
        call(),
        { code: "STORE_ERROR" },
        `${name} with ${JSON.stringify(reply)}`,
      );
    }
    await limiter.close();
    await counter.close();
  }
});
