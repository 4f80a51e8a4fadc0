import assert from "node:assert/strict";
import { backoff } from "./backoff.ts";
import { delay } from "./delay.ts";

Deno.test("delay() resolves after the time", async () => {
  const start = performance.now();
  await delay(5);
  assert.ok(performance.now() - start >= 4);
});

Deno.test("delay() rejects with signal.reason and clears its timer", async () => {
  const c = new AbortController();
  const p = delay(10_000, { signal: c.signal });
  c.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
});

Deno.test("delay() rejects at once when the signal is already aborted", async () => {
  await assert.rejects(delay(10, { signal: AbortSignal.abort("why") }), (e) => e === "why");
});

Deno.test("backoff() stays within the capped exponential envelope", () => {
  assert.equal(backoff(0, { random: () => 0 }), 0);
  assert.equal(backoff(0, { baseMs: 10, random: () => 0.9999 }), 10);
  assert.equal(backoff(3, { baseMs: 10, random: () => 0.9999 }), 80);
  assert.equal(backoff(40, { baseMs: 10, maxMs: 1000, random: () => 0.9999 }), 1000);
  for (let i = 0; i < 200; i++) {
    const ms = backoff(i % 12, { baseMs: 5, maxMs: 300 });
    assert.ok(ms >= 0 && ms <= 300 && Number.isInteger(ms));
  }
});
