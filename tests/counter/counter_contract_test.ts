/**
 * The `Counter` contract (distkit §12.2 and the shared part of §12.3), run for StrictCounter and
 * LaxCounter on every store kind.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import type { Counter } from "../../counter/types.ts";
import { LaxCounter } from "../../counter/lax_counter.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import type { Store } from "../../store/types.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";

/** `eq(5)`, `always`: how a case names its comparator. */
const cmpName = (c: Comparator) => c.op === "always" ? "always" : `${c.op}(${c.operand})`;

type Make = (prefix: string, store: Store) => Counter & AsyncDisposable;
const KINDS: Array<[string, Make]> = [
  ["StrictCounter", (prefix, store) => new StrictCounter({ prefix, store })],
  ["LaxCounter", (prefix, store) => new LaxCounter({ prefix, store })],
];

function contract(
  name: string,
  body: (c: Counter, fx: Fixture, make: Make, t: Deno.TestContext) => Promise<void>,
) {
  for (const [kind, make] of KINDS) {
    storeTest(`${kind}: ${name}`, async (fx, t) => {
      await using c = make(fx.prefix, fx.store);
      await body(c, fx, make, t);
    });
  }
}

contract("get returns zero for an unknown key", async (c) => {
  assert.equal(await c.get("nope"), 0);
});

contract("inc returns the new total; increments accumulate", async (c) => {
  assert.equal(await c.inc("k", 5), 5);
  assert.equal(await c.get("k"), 5);
  assert.equal(await c.inc("a", 3), 3);
  assert.equal(await c.inc("a", 7), 10);
  assert.equal(await c.inc("a", 10), 20);
  assert.equal(await c.inc("d"), 1);
});

contract("dec subtracts, may go below zero; chained inc and dec", async (c) => {
  await c.set("k", 100);
  assert.equal(await c.dec("k", 30), 70);
  await c.set("n", 10);
  assert.equal(await c.dec("n", 25), -15);
  assert.equal(await c.get("n"), -15);
  for (const [op, n] of [["inc", 10], ["dec", 3], ["inc", 5], ["dec", 2]] as const) {
    await c[op]("chain", n);
  }
  assert.equal(await c.get("chain"), 10);
});

contract("inc and dec by zero return the current value", async (c) => {
  await c.set("k", 10);
  assert.equal(await c.inc("k", 0), 10);
  await c.set("j", 55);
  assert.equal(await c.dec("j", 0), 55);
});

contract("independent keys and prefixes do not interfere", async (c, fx, make) => {
  await c.inc("x", 100);
  await c.inc("y", 1);
  assert.equal(await c.get("x"), 100);
  assert.equal(await c.get("y"), 1);
  await using other = make(`${fx.prefix}-other`, fx.store);
  await other.inc("x", 1);
  assert.equal(await c.get("x"), 100);
  assert.equal(await other.get("x"), 1);
});

contract("large values round-trip exactly, up to the safe-integer edge", async (c) => {
  assert.equal(await c.inc("big", 1e12), 1e12);
  assert.equal(await c.set("edge", Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  assert.equal(await c.get("edge"), Number.MAX_SAFE_INTEGER);
  assert.equal(await c.set("low", Number.MIN_SAFE_INTEGER), Number.MIN_SAFE_INTEGER);
  assert.equal(await c.del("edge"), Number.MAX_SAFE_INTEGER);
});

contract("set returns the value, overrides, accepts zero and negatives", async (c) => {
  assert.equal(await c.set("k", 99), 99);
  await c.inc("o", 10);
  assert.equal(await c.set("o", 50), 50);
  assert.equal(await c.get("o"), 50);
  assert.equal(await c.set("o", 0), 0);
  assert.equal(await c.set("neg", -5), -5);
  assert.equal(await c.get("neg"), -5);
});

contract("del returns the value before deletion and removes only that key", async (c) => {
  await c.inc("k", 42);
  await c.inc("sib", 20);
  assert.equal(await c.del("k"), 42);
  assert.equal(await c.get("k"), 0);
  assert.equal(await c.del("k"), 0);
  assert.equal(await c.del("never"), 0);
  assert.equal(await c.get("sib"), 20);
  assert.equal(await c.inc("k", 1), 1);
});

contract("clear removes every counter of the prefix and nothing else", async (c, fx, make) => {
  await using other = make(`${fx.prefix}-other`, fx.store);
  await other.set("x", 99);
  await c.clear(); // on an empty prefix: fine
  for (const k of ["a", "b", "c"]) await c.inc(k, 3);
  await c.clear();
  for (const k of ["a", "b", "c"]) assert.equal(await c.get(k), 0);
  assert.equal(await other.get("x"), 99);
  assert.equal(await c.inc("a", 1), 1);
});

contract("incIf applies every comparator against the current value", async (c, _fx, _m, t) => {
  const table: Array<[Comparator, boolean]> = [
    [Comparator.eq(10), true],
    [Comparator.lt(11), true],
    [Comparator.le(10), true],
    [Comparator.ne(9), true],
    [Comparator.ge(10), true],
    [Comparator.always, true],
    [Comparator.gt(10), false],
    [Comparator.lt(10), false],
    [Comparator.eq(9), false],
  ];
  for (const [cmp, ok] of table) {
    await t.step(`${cmpName(cmp)} on 10 ${ok ? "matches" : "does not match"}`, async () => {
      await c.set("k", 10);
      assert.deepEqual(
        await c.incIf("k", cmp, 2),
        ok
          ? { value: 12, previous: 10, matched: true }
          : { value: 10, previous: 10, matched: false },
      );
      assert.equal(await c.get("k"), ok ? 12 : 10);
    });
  }
});

contract("setIf applies or reports the current value", async (c) => {
  await c.set("k", 10);
  assert.deepEqual(await c.setIf("k", Comparator.eq(10), 99), {
    value: 99,
    previous: 10,
    matched: true,
  });
  assert.deepEqual(await c.setIf("k", Comparator.gt(100), 1), {
    value: 99,
    previous: 99,
    matched: false,
  });
  assert.equal(await c.get("k"), 99);
});

contract("empty batches return [] ", async (c) => {
  assert.deepEqual(await c.getAll([]), []);
  assert.deepEqual(await c.incAll([]), []);
  assert.deepEqual(await c.setAll([]), []);
  assert.deepEqual(await c.incAllIf([]), []);
  assert.deepEqual(await c.setAllIf([]), []);
});

contract("getAll keeps input order and returns zero for unknown keys", async (c) => {
  await c.inc("a", 5);
  await c.inc("b", 10);
  assert.deepEqual(await c.getAll(["c", "a", "b", "a"]), [["c", 0], ["a", 5], ["b", 10], [
    "a",
    5,
  ]]);
});

contract("incAll applies duplicates in order", async (c) => {
  assert.deepEqual(await c.incAll([["k", 1], ["k", 2], ["j", 5]]), [["k", 1], ["k", 3], ["j", 5]]);
  assert.equal(await c.get("k"), 3);
});

contract("incAllIf: partial success, missing keys and duplicates, positional", async (c) => {
  await c.set("k2", 10);
  const r = await c.incAllIf([
    ["k1", Comparator.eq(0), 1],
    ["k1", Comparator.eq(1), 2],
    ["k2", Comparator.gt(20), 5],
    ["k2", Comparator.always, 3],
  ]);
  assert.deepEqual(r, [
    { key: "k1", value: 1, previous: 0, matched: true },
    { key: "k1", value: 3, previous: 1, matched: true },
    { key: "k2", value: 10, previous: 10, matched: false },
    { key: "k2", value: 13, previous: 10, matched: true },
  ]);
});

contract("setAll and setAllIf return positional results, duplicates included", async (c) => {
  assert.deepEqual(await c.setAll([["a", 10], ["b", 20], ["a", 30]]), [["a", 10], ["b", 20], [
    "a",
    30,
  ]]);
  assert.deepEqual(await c.getAll(["a", "b"]), [["a", 30], ["b", 20]]);
  await c.set("k1", 10);
  await c.set("k2", 20);
  const r = await c.setAllIf([
    ["k3", Comparator.always, 30],
    ["k1", Comparator.gt(5), 11],
    ["k2", Comparator.lt(10), 99],
    ["k1", Comparator.eq(11), 12], // a duplicate sees the earlier entry
    ["k1", Comparator.eq(11), 13], // ...and reports its own outcome, not the last one
  ]);
  assert.deepEqual(r, [
    { key: "k3", value: 30, previous: 0, matched: true },
    { key: "k1", value: 11, previous: 10, matched: true },
    { key: "k2", value: 20, previous: 20, matched: false },
    { key: "k1", value: 12, previous: 11, matched: true },
    { key: "k1", value: 12, previous: 12, matched: false },
  ]);
});

contract("a fresh reader on another connection sees the writes", async (c, fx, make) => {
  await c.inc("seen", 42);
  await c.setAll([["s1", 55], ["s2", 77]]);
  if (c instanceof LaxCounter) await c.flush();
  await using reader = make(fx.prefix, await fx.another());
  assert.deepEqual(await reader.getAll(["seen", "s1", "s2"]), [["seen", 42], ["s1", 55], [
    "s2",
    77,
  ]]);
});

contract("after close every call throws ClosedError", async (c) => {
  await (c as unknown as AsyncDisposable)[Symbol.asyncDispose]();
  await assert.rejects(c.inc("k"), { code: "CLOSED" });
  await assert.rejects(c.get("k"), { code: "CLOSED" });
});

storeTest("StrictCounter and LaxCounter with one prefix address the same counters", async (fx) => {
  const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  await using lax = new LaxCounter({ prefix: fx.prefix, store: fx.store });
  await strict.inc("k", 1);
  assert.equal(await lax.inc("k", 1), 2);
  await lax.flush();
  assert.equal(await strict.get("k"), 2);
});
