import assert from "node:assert/strict";
import { sleep, waitFor } from "./wait.ts";

Deno.test("waitFor() resolves once the condition holds, sync or async", async () => {
  let polls = 0;
  await waitFor(() => ++polls === 3, { intervalMs: 1 });
  assert.equal(polls, 3);
  await waitFor(async () => (await Promise.resolve(++polls)) === 5, { intervalMs: 1 });
  assert.equal(polls, 5);
});

Deno.test("waitFor() fails naming what it waited for and how long", async () => {
  await assert.rejects(
    () => waitFor(() => false, { timeoutMs: 20, intervalMs: 1, message: "the flush" }),
    { message: "Timed out after 20 ms waiting for the flush" },
  );
  await assert.rejects(() => waitFor(() => false, { timeoutMs: 1 }), /waiting for the condition/);
});

Deno.test("waitFor() does not retry a condition that throws", async () => {
  let polls = 0;
  await assert.rejects(
    () =>
      waitFor(() => {
        polls++;
        throw new Error("broken probe");
      }),
    /broken probe/,
  );
  assert.equal(polls, 1);
});

Deno.test("sleep() resolves, and rejects with the reason when aborted", async () => {
  assert.equal(await sleep(1), undefined);
  const ac = new AbortController();
  const p = sleep(10_000, { signal: ac.signal });
  ac.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
});
