/** The harness's own bounds: a hung test body fails by itself, named, within its bound. */
import assert from "node:assert/strict";
import { runWith } from "./stores.ts";

Deno.test("runWith fails a test body that never settles once its bound passes", async () => {
  const t = performance.now();
  await assert.rejects(
    runWith("memory", "hang", () => new Promise<void>(() => {}), 50),
    { message: "the test did not finish within 50 ms: a hang" },
  );
  assert.ok(performance.now() - t < 2000, "failed within its bound, not at the runner's limit");
});

Deno.test("runWith passes a body's own failure through, unchanged", async () => {
  const failure = new Error("the body's own");
  await assert.rejects(runWith("memory", "fails", () => Promise.reject(failure), 50), failure);
  await runWith("memory", "passes", (fx) => {
    assert.equal(fx.kind, "memory");
    return Promise.resolve();
  }, 50);
});
