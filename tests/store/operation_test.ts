/** The typed boundary: opaque scripts, operations that decode replies or fail clearly. */
import assert from "node:assert/strict";
import { COUNTER_GET, READ_VALUES } from "../../counter/_scripts.ts";
import { MemoryStore } from "../../store/memory_store.ts";
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
