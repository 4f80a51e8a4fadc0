/** The batcher's batch size: as many calls as are in flight, within [32, 256]. */
import assert from "node:assert/strict";
import { COUNTER_INC } from "../../counter/_scripts.ts";
import { Batcher, type BatchSender } from "../../store/_batcher.ts";
import type { Reply } from "../../store/types.ts";
import { waitFor } from "../_support/wait.ts";

/** A sender that answers nothing until told: each batch sent, with the answer to give it. */
function heldSender() {
  const sent: Array<{ items: number; answer: () => void }> = [];
  const sender: BatchSender = {
    single: () =>
      new Promise<Reply>((resolve) => sent.push({ items: 1, answer: () => resolve("1") })),
    batch: (_script, _keys, argv) => {
      let items = 0; // one header per item: its argument count, then those arguments
      for (let a = 0; a < argv.length; a += parseInt(argv[a]!) + 1) items++;
      return new Promise<Reply>((resolve) =>
        sent.push({ items, answer: () => resolve(Array(items).fill("1")) })
      );
    },
    itemError: (message) => new Error(message),
    split: () => false,
  };
  return { sender, sent };
}

/** `n` increments made in one tick; resolves when every one is answered. */
function incs(b: Batcher, n: number): Promise<Reply[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => b.add(COUNTER_INC, ["{p}:counter"], "0", [`f${i}`, "1"])),
  );
}

Deno.test("a batch holds as many calls as are in flight, at least 32 and at most 256", async () => {
  const { sender, sent } = heldSender();
  const b = new Batcher(sender);
  const sizes = () => sent.map((s) => s.items);
  // Nothing in flight: batches of 32, one sent per turn.
  const first = incs(b, 100);
  await waitFor(() => sent.length === 4, { message: "the first tick's four batches" });
  assert.deepEqual(sizes(), [32, 32, 32, 4]);
  // 100 calls in flight: the next tick's calls go 100 a batch.
  const second = incs(b, 250);
  await waitFor(() => sent.length === 7, { message: "the second tick's three batches" });
  assert.deepEqual(sizes().slice(4), [100, 100, 50]);
  // 350 in flight: batches are capped at 256.
  const third = incs(b, 600);
  await waitFor(() => sent.length === 10, { message: "the third tick's three batches" });
  assert.deepEqual(sizes().slice(7), [256, 256, 88]);
  for (const s of sent) s.answer();
  assert.equal((await first).length + (await second).length + (await third).length, 950);
  // Nothing in flight again: back to 32.
  const fourth = incs(b, 40);
  await waitFor(() => sent.length === 12, { message: "the fourth tick's two batches" });
  assert.deepEqual(sizes().slice(10), [32, 8]);
  for (const s of sent.slice(10)) s.answer();
  await fourth;
});
