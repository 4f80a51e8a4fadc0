import assert from "node:assert/strict";
import { groupBySlot, runPerSlot, slotOf } from "./slot.ts";

Deno.test("slotOf() matches Redis CLUSTER KEYSLOT for known keys", () => {
  // Values from CLUSTER KEYSLOT on Redis 7.
  assert.equal(slotOf("123456789"), 12739);
  assert.equal(slotOf("foo"), 12182);
  assert.equal(slotOf("{user1000}.following"), slotOf("user1000"));
  assert.equal(slotOf("foo{}{bar}"), 8363); // an empty tag: the whole key is hashed
  assert.equal(slotOf("{prefix}:counter"), 7912);
  assert.equal(slotOf("{prefix}:counter"), slotOf("{prefix}:counter-seq:abc"));
});

Deno.test("groupBySlot() keeps order within a slot and separates slots", () => {
  const keys = ["{a}:1", "{b}:1", "{a}:2", "{c}:1", "{b}:2"];
  const groups = groupBySlot(keys, (k) => k);
  assert.deepEqual(groups.flat().sort(), [...keys].sort());
  for (const g of groups) assert.ok(new Set(g.map((k) => slotOf(k))).size === 1);
  assert.deepEqual(groups.find((g) => g.includes("{a}:1")), ["{a}:1", "{a}:2"]);
});

Deno.test("runPerSlot() makes one call per slot and returns results in input order", async () => {
  const calls: string[][] = [];
  const keys = ["{a}:1", "{b}:1", "{a}:2", "{c}:1"];
  const out = await runPerSlot(keys, (k) => k, (g) => {
    calls.push(g);
    return Promise.resolve(g.map((k) => k.toUpperCase()));
  });
  assert.deepEqual(out, keys.map((k) => k.toUpperCase()));
  assert.equal(calls.length, new Set(keys.map(slotOf)).size);
});
