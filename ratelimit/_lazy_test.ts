import assert from "node:assert/strict";
import { ClosedError, InvalidKeyError } from "../core/errors.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { RateLimiter } from "./rate_limiter.ts";

Deno.test("rl.redis and rl.hybrid load on first call: early calls run in order, then each method is the implementation's own", async () => {
  await using rl = new RateLimiter({ store: new MemoryStore(), windowSizeSeconds: 1 });
  const a = rl.redis.absolute;
  const h = rl.hybrid.absolute;
  const id = h.instanceId;
  assert.equal(h.size, 0);
  // Three calls before the code is there: they run in the order made (capacity 2: the third is
  // the one rejected), and a bad one fails as it would have.
  const calls = [a.inc("k", 2), a.inc("k", 2), a.inc("k", 2)];
  const bad = a.inc("", 2);
  const kinds = (await Promise.all(calls)).map((d) => d.kind);
  assert.deepEqual(kinds, ["allowed", "allowed", "rejected"]);
  await assert.rejects(bad, InvalidKeyError);
  // Loaded: the facade is frozen and its methods are the implementation's, bound (no forwarding).
  assert.equal(rl.redis.absolute, a);
  assert.ok(Object.isFrozen(a));
  for (const m of [a.inc, a.isAllowed, a.get, a.setIf]) assert.match(m.name, /^bound /);
  assert.match(rl.redis.suppressed.getSuppressionFactor.name, /^bound /);
  assert.equal(await a.get("k"), 2);
  // The hybrid provider: its id is the one given before loading, its size the engine's.
  assert.equal((await h.inc("h", 10)).kind, "allowed");
  assert.equal(h.instanceId, id);
  assert.equal(h.size, 1);
  assert.match(h.inc.name, /^bound /);
  assert.equal(rl.hybrid.suppressed.size, 0);
});

Deno.test("close() while the code loads: calls made before it run and are committed, later ones get ClosedError", async () => {
  const store = new MemoryStore();
  const rl = new RateLimiter({ store, windowSizeSeconds: 10 });
  const h = rl.hybrid.absolute;
  const r = rl.redis.suppressed;
  const early = [h.inc("k", 10, 3), r.inc("k", 10, 4)];
  const closing = rl.close();
  const late = [
    assert.rejects(h.inc("k", 10), ClosedError),
    assert.rejects(r.get("k"), ClosedError),
  ];
  assert.deepEqual((await Promise.all(early)).map((d) => d.kind), ["allowed", "allowed"]);
  await Promise.all(late);
  await closing;
  assert.throws(() => rl.hybrid, ClosedError);
  // The hybrid usage was committed and its reservation released by close().
  await using rl2 = new RateLimiter({ store, windowSizeSeconds: 10 });
  assert.equal(await rl2.hybrid.absolute.get("k"), 3);
  assert.equal((await rl2.hybrid.absolute.inc("k", 10, 7)).kind, "allowed");
  assert.equal((await rl2.redis.suppressed.get("k")).total, 4);
});

Deno.test("a limiter closed before any store-backed call closes at once and refuses later calls", async () => {
  const rl = new RateLimiter({ store: new MemoryStore() });
  const h = rl.hybrid.suppressed;
  const a = rl.redis.absolute;
  await rl.close();
  await assert.rejects(h.inc("k", 10), ClosedError);
  await assert.rejects(a.isAllowed("k"), ClosedError);
  await assert.rejects(a.inc("", 10), InvalidKeyError); // validation first, as before
  await rl.close();
});
