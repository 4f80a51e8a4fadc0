/**
 * distkit §7, scenarios S1–S17: each gives the "intended" column, on memory, standalone Redis and
 * the cluster, with the invariant asserted on the stored state after every scenario.
 * Threshold 200 ms for an instance that goes silent or dies (`MORTAL`; the others keep a long
 * one, see `LIVE_THRESHOLD`); "A is silent" = A's process is partitioned from the store (its
 * heartbeats fail), "A dies" = `close({ leave: false })`.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { storeTest } from "../_support/stores.ts";
import {
  assertInvariant,
  Instances,
  membersOf,
  MORTAL,
  readState,
  THRESHOLD,
  waitReaped,
} from "./_support.ts";
import { sleep, waitFor } from "../_support/wait.ts";

storeTest("S1/S1b: a silent instance leaves the total, then comes back with inc", async (fx) => {
  await using is = new Instances(fx);
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("x", 10);
  await b.inc("x", 5);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("x"), a.instanceId);
  assert.deepEqual(await b.get("x"), { total: 5, mine: 5 });
  await assertInvariant(fx, fx.prefix);
  pa.down = false;
  assert.deepEqual(await a.inc("x", 1), { total: 16, mine: 11 });
  assert.deepEqual(await b.get("x"), { total: 16, mine: 5 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S2: a reaped instance that comes back with get is recovered at once", async (fx) => {
  await using is = new Instances(fx);
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("x", 10);
  await b.inc("x", 5);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("x"), a.instanceId);
  pa.down = false;
  assert.deepEqual(await a.get("x"), { total: 15, mine: 10 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S3: no recovery when the key was set during the downtime", async (fx) => {
  await using is = new Instances(fx);
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("x", 10);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("x"), a.instanceId);
  assert.deepEqual(await b.set("x", 100), { total: 100, mine: 100 });
  pa.down = false;
  assert.deepEqual(await a.inc("x", 1), { total: 101, mine: 1 });
  await assertInvariant(fx, fx.prefix);
});

storeTest(
  "S4: a set voids a live instance's slice; its later death subtracts nothing",
  async (fx) => {
    await using is = new Instances(fx);
    const a = is.strict();
    const c = is.strict(MORTAL);
    await a.inc("x", 10);
    await c.inc("x", 7);
    await a.set("x", 100);
    await c.close({ leave: false });
    await waitReaped(fx, fx.prefix, () => a.get("x"), c.instanceId);
    assert.deepEqual(await a.get("x"), { total: 100, mine: 100 });
    await assertInvariant(fx, fx.prefix);
  },
);

storeTest("S4b: a set while the other instance is already dead", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const c = is.strict(MORTAL);
  await a.inc("x", 10);
  await c.inc("x", 7);
  await c.close({ leave: false });
  await sleep(THRESHOLD + 50);
  assert.deepEqual(await a.set("x", 100), { total: 100, mine: 100 });
  await waitReaped(fx, fx.prefix, () => a.get("x"), c.instanceId);
  assert.deepEqual(await a.get("x"), { total: 100, mine: 100 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S5: after a del, another instance's old slice reads 0", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const b = is.strict();
  await a.inc("x", 10);
  await b.inc("x", 5);
  assert.deepEqual(await a.del("x"), { total: 15, mine: 10 });
  assert.deepEqual(await b.get("x"), { total: 0, mine: 0 });
  assert.deepEqual(await b.inc("x", 1), { total: 1, mine: 1 });
  assert.deepEqual(await a.get("x"), { total: 1, mine: 0 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S6: a returning instance recovers every key, whichever it touches first", async (fx) => {
  await using is = new Instances(fx);
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("x", 3);
  await a.inc("y", 4);
  await b.inc("x", 1);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("x"), a.instanceId);
  assert.deepEqual(await b.getAll(["x", "y"]), [["x", { total: 1, mine: 1 }], ["y", {
    total: 0,
    mine: 0,
  }]]);
  pa.down = false;
  assert.deepEqual(await a.inc("x", 1), { total: 5, mine: 4 });
  assert.deepEqual(await a.inc("y", 1), { total: 5, mine: 5 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S6b: the idle heartbeat alone recovers every key", async (fx) => {
  await using is = new Instances(fx);
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("x", 3);
  await a.inc("y", 4);
  await b.inc("x", 1);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("x"), a.instanceId);
  pa.down = false; // A makes no call: its background heartbeat finds out and recovers
  await waitFor(async () => (await b.get("y")).total === 4, {
    timeoutMs: 3000,
    message: "y recovered",
  });
  assert.deepEqual(await b.get("x"), { total: 4, mine: 1 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S7: clearOnInstance after another instance's set leaves the set value", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const b = is.strict();
  await a.inc("x", 3);
  await b.inc("x", 7);
  await a.set("x", 100);
  await b.clearOnInstance();
  assert.deepEqual(await a.get("x"), { total: 100, mine: 100 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S8: a negative slice is recovered too", async (fx) => {
  await using is = new Instances(fx);
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("x", -5);
  await b.inc("x", 10);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("x"), a.instanceId);
  assert.deepEqual(await b.get("x"), { total: 10, mine: 10 });
  pa.down = false;
  assert.deepEqual(await a.inc("x", 1), { total: 6, mine: -4 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S9: a failed conditional inc by a stale instance reports its slice as 0", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const b = is.strict();
  await b.inc("x", 5);
  await a.set("x", 100);
  const r = await b.incIf("x", Comparator.eq(1), 2);
  assert.deepEqual(r, {
    total: 100,
    mine: 0,
    previousTotal: 100,
    previousMine: 0,
    matched: false,
  });
  await assertInvariant(fx, fx.prefix);
});

storeTest(
  "S10: a stale instance reads 0, restarts from 0, and its death subtracts only that",
  async (fx) => {
    await using is = new Instances(fx);
    const a = is.strict();
    const b = is.strict(MORTAL);
    await a.inc("x", 10);
    await b.inc("x", 5);
    await a.set("x", 100);
    assert.deepEqual(await b.get("x"), { total: 100, mine: 0 });
    assert.deepEqual(await b.inc("x", 1), { total: 101, mine: 1 });
    await b.close({ leave: false });
    await waitReaped(fx, fx.prefix, () => a.get("x"), b.instanceId);
    assert.deepEqual(await a.get("x"), { total: 100, mine: 100 });
    await assertInvariant(fx, fx.prefix);
  },
);

storeTest(
  "S11: a slice voided by del is not subtracted after the key is re-created",
  async (fx) => {
    await using is = new Instances(fx);
    const a = is.strict();
    const c = is.strict(MORTAL);
    await a.inc("x", 10);
    await c.inc("x", 7);
    await a.del("x");
    await a.inc("x", 1);
    await c.close({ leave: false });
    await waitReaped(fx, fx.prefix, () => a.get("x"), c.instanceId);
    assert.deepEqual(await a.get("x"), { total: 1, mine: 1 });
    await assertInvariant(fx, fx.prefix);
  },
);

storeTest("S12: clear is not undone by live or returning instances", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const b = is.strict();
  const [c, pc] = is.partitioned();
  await a.inc("x", 10);
  await b.inc("x", 5);
  await c.inc("x", 3);
  await c.inc("y", 3);
  pc.down = true;
  await waitReaped(fx, fx.prefix, () => a.get("x"), c.instanceId);
  await a.clear();
  assert.deepEqual(await b.inc("x", 1), { total: 1, mine: 1 });
  pc.down = false;
  // C's first contact after the clear is a heartbeat or a call: nothing of before comes back.
  await sleep(THRESHOLD / 2);
  assert.deepEqual(await c.get("y"), { total: 0, mine: 0 });
  assert.deepEqual(await c.inc("x", 2), { total: 3, mine: 2 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S13: setOnInstance by a stale instance counts from 0", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const b = is.strict();
  await b.setOnInstance("x", 50);
  await a.set("x", 100);
  const r = await b.setOnInstanceIf("x", Comparator.always, 30);
  assert.deepEqual(r, { total: 130, mine: 30, previousTotal: 100, previousMine: 0, matched: true });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S14: delOnInstance by a stale instance removes nothing", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const b = is.strict();
  await b.inc("x", 5);
  await a.set("x", 100);
  assert.deepEqual(await b.delOnInstance("x"), { total: 100, mine: 0 });
  await assertInvariant(fx, fx.prefix);
});

storeTest("S15: getAll right after being reaped recovers every key", async (fx) => {
  await using is = new Instances(fx);
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.incAll([["p", 1], ["q", 2], ["r", -3]]);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("p"), a.instanceId);
  pa.down = false;
  assert.deepEqual(await a.getAll(["p", "q", "r"]), [
    ["p", { total: 1, mine: 1 }],
    ["q", { total: 2, mine: 2 }],
    ["r", { total: -3, mine: -3 }],
  ]);
  await assertInvariant(fx, fx.prefix);
});

storeTest("S16: lax inc(5) then setAll([[k, 20]]) ends at 20", async (fx) => {
  await using is = new Instances(fx);
  const a = is.lax({ flushIntervalMs: 50 });
  const reader = is.strict();
  await a.inc("k", 5);
  assert.deepEqual(await a.setAll([["k", 20]]), [["k", { total: 20, mine: 20 }]]);
  assert.deepEqual(await reader.get("k"), { total: 20, mine: 0 });
  await sleep(120); // past the next flush
  await a.flush();
  assert.deepEqual(await reader.get("k"), { total: 20, mine: 0 });
  assert.deepEqual(await a.get("k"), { total: 20, mine: 20 });
  await assertInvariant(fx, fx.prefix);
});

storeTest(
  "S17: a lax inc after a long idle period is flushed without further activity",
  async (fx) => {
    await using is = new Instances(fx);
    const a = is.lax({ flushIntervalMs: 10 });
    const reader = is.strict();
    await a.inc("k", 1);
    await a.flush();
    await sleep(100);
    await a.inc("k", 2);
    await waitFor(async () => (await reader.get("k")).total === 3, {
      timeoutMs: 2000,
      message: "the flush",
    });
    assert.equal(a.pending, 0);
    await assertInvariant(fx, fx.prefix);
  },
);

storeTest("liveness: an idle live instance is never reaped", async (fx) => {
  await using is = new Instances(fx);
  // Heartbeats every 150 ms: only a 300 ms stall of a loaded machine could miss a deadline (with
  // 150 ms, the smallest threshold accepted, a 100 ms stall did); 12 x 60 ms spans more than the
  // threshold, so without heartbeats A would be reaped by B's calls.
  const a = is.strict({ deadInstanceThresholdMs: 450 });
  const b = is.strict();
  await a.inc("x", 4);
  const first = membersOf(await readState(fx, fx.prefix), a.instanceId);
  assert.equal(first.length, 1);
  for (let i = 0; i < 12; i++) {
    await sleep(60);
    assert.equal((await b.get("x")).total, 4);
  }
  const s = await readState(fx, fx.prefix);
  assert.deepEqual(membersOf(s, a.instanceId), first, "A kept its registration (never reaped)");
  await assertInvariant(fx, fx.prefix);
});

storeTest(
  "leave: close() removes my slices at once; leave: false keeps them until reaped",
  async (fx) => {
    await using is = new Instances(fx);
    const a = is.strict();
    const b = is.strict({ deadInstanceThresholdMs: 30_000 });
    const c = is.strict({ deadInstanceThresholdMs: 30_000 });
    await a.inc("x", 1);
    await b.inc("x", 2);
    await c.inc("x", 4);
    await b.close();
    assert.deepEqual(await a.get("x"), { total: 5, mine: 1 });
    await c.close({ leave: false });
    assert.deepEqual(await a.get("x"), { total: 5, mine: 1 });
    const s = await assertInvariant(fx, fx.prefix);
    assert.equal(membersOf(s, b.instanceId).length, 0);
    assert.equal(membersOf(s, c.instanceId).length, 1);
  },
);
