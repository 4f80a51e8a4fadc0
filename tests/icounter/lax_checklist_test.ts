/**
 * distkit §12.5 (LaxInstanceAwareCounter, 43 tests) ported and corrected: conditional and global
 * operations settle pending changes and are atomic in the store (S16 fixed); a warm get does not
 * reach the store; plus lax recovery after being reaped and exactly-once flushes. Every test ends
 * with the invariant check (after flushing).
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import type { LaxInstanceAwareCounter } from "../../icounter/lax.ts";
import type { Reply, Script, Store } from "../../store/types.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";
import { assertInvariant, Instances, MORTAL, waitReaped } from "./_support.ts";
import { sleep, waitFor } from "../_support/wait.ts";

const c2 = (total: number, mine: number) => ({ total, mine });

function t(name: string, body: (is: Instances, fx: Fixture) => Promise<LaxInstanceAwareCounter[]>) {
  storeTest(`lax §12.5 ${name}`, async (fx) => {
    await using is = new Instances(fx);
    const used = await body(is, fx);
    for (const c of used) await c.flush();
    await assertInvariant(fx, fx.prefix);
  });
}

t("inc_returns_local_estimate", async (is) => {
  const c = is.lax();
  assert.deepEqual(await c.inc("k", 5), c2(5, 5));
  assert.deepEqual(await c.inc("k", 3), c2(8, 8));
  return [c];
});
t("get_returns_local_estimate_including_pending_delta", async (is) => {
  const c = is.lax({ flushIntervalMs: 1000 });
  await c.inc("k", 10);
  await c.inc("k", 5);
  assert.deepEqual(await c.get("k"), c2(15, 15));
  assert.equal(c.pending, 1);
  return [c];
});
t("flush_sends_delta_to_strict", async (is) => {
  const c = is.lax();
  await c.inc("k", 20);
  const reader = is.strict();
  await waitFor(async () => (await reader.get("k")).total === 20, { timeoutMs: 2000 });
  return [c];
});
t("two_instances_cumulate_after_flush", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await a.inc("k", 10);
  await b.inc("k", 7);
  await a.flush();
  await b.flush();
  assert.equal((await is.strict().get("k")).total, 17);
  return [a, b];
});
t("set_flushes_pending_delta_then_sets", async (is) => {
  const a = is.lax({ flushIntervalMs: 1000 });
  await a.inc("k", 10);
  assert.deepEqual(await a.set("k", 100), c2(100, 100));
  assert.deepEqual(await is.lax().get("k"), c2(100, 0));
  return [a];
});
t("del_flushes_pending_delta_then_deletes", async (is) => {
  const a = is.lax({ flushIntervalMs: 1000 });
  await a.inc("k", 10);
  await a.inc("k", 5);
  assert.deepEqual(await a.del("k"), c2(15, 15));
  assert.deepEqual(await is.lax().get("k"), c2(0, 0));
  return [a];
});
t("del works on keys this instance never touched", async (is) => {
  const a = is.lax();
  await a.inc("k", 4);
  await a.flush();
  const b = is.lax();
  assert.deepEqual(await b.del("k"), c2(4, 0));
  assert.deepEqual(await is.strict().get("k"), c2(0, 0));
  return [a, b];
});
t("dead_instance_cleaned_through_lax_wrapper", async (is, fx) => {
  const a = is.lax(MORTAL);
  await a.inc("k", 9);
  await a.flush();
  await a.close({ leave: false });
  const reader = is.strict();
  await waitReaped(fx, fx.prefix, () => reader.get("k"), a.instanceId);
  assert.deepEqual(await reader.get("k"), c2(0, 0));
  return [];
});
t("clear_flushes_and_wipes", async (is) => {
  const a = is.lax({ flushIntervalMs: 1000 });
  await a.inc("k", 9);
  await a.clear();
  assert.deepEqual(await is.lax().get("k"), c2(0, 0));
  assert.deepEqual(await a.get("k"), c2(0, 0));
  return [a];
});
t("clear_on_instance_removes_only_this_instance", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await a.inc("k", 10);
  await b.inc("k", 5);
  await b.flush();
  await a.clearOnInstance();
  assert.deepEqual(await is.strict().get("k"), c2(5, 0));
  return [a, b];
});
t("dec_returns_local_estimate", async (is) => {
  const c = is.lax();
  await c.inc("k", 10);
  assert.deepEqual(await c.dec("k", 3), c2(7, 7));
  return [c];
});
t("get_on_unknown_key_returns_zero", async (is) => {
  const c = is.lax();
  assert.deepEqual(await c.get("k"), c2(0, 0));
  return [c];
});
t("del_on_instance_removes_only_this_instance_contribution", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await a.inc("k", 20);
  await b.inc("k", 10);
  await b.flush();
  assert.deepEqual(await a.delOnInstance("k"), c2(10, 20));
  assert.deepEqual(await is.strict().get("k"), c2(10, 0));
  return [a, b];
});
t("set_on_instance_adjusts_local_count", async (is) => {
  const c = is.lax();
  await c.inc("k", 10);
  assert.deepEqual(await c.setOnInstance("k", 7), c2(7, 7));
  assert.deepEqual(await c.get("k"), c2(7, 7));
  await c.flush();
  assert.deepEqual(await is.strict().get("k"), c2(7, 0));
  return [c];
});
t("clear_on_instance_flushes_pending_delta", async (is) => {
  const c = is.lax({ flushIntervalMs: 1000 });
  await c.inc("k", 10);
  await c.clearOnInstance();
  assert.deepEqual(await is.strict().get("k"), c2(0, 0));
  assert.equal(c.pending, 0);
  return [c];
});
t("instances_see_different_cumulatives_after_sequential_flushes", async (is) => {
  // A lag no slow machine outlasts: a's read stays warm however long the flushes take.
  const [a, b] = [is.lax({ allowedLagMs: 60_000 }), is.lax({ allowedLagMs: 60_000 })];
  await a.inc("k", 1);
  await b.inc("k", 2);
  await a.flush();
  await b.flush();
  assert.deepEqual(await a.get("k"), c2(1, 1)); // warm: a's view from its own flush
  assert.deepEqual(await b.get("k"), c2(3, 2));
  assert.deepEqual(await is.lax().get("k"), c2(3, 0));
  return [a, b];
});
t("get_all_empty_and_unknown_keys", async (is) => {
  const c = is.lax();
  assert.deepEqual(await c.getAll([]), []);
  assert.deepEqual(await c.getAll(["x", "y"]), [["x", c2(0, 0)], ["y", c2(0, 0)]]);
  return [c];
});
t("get_all_returns_correct_values_after_inc_and_preserves_order", async (is) => {
  const c = is.lax();
  await c.inc("a", 5);
  await c.inc("b", 10);
  assert.deepEqual(await c.getAll(["b", "a", "zz"]), [["b", c2(10, 10)], ["a", c2(5, 5)], [
    "zz",
    c2(0, 0),
  ]]);
  return [c];
});
t("get_all_fetches_stale_keys_from_redis", async (is) => {
  const c = is.lax();
  await is.strict().inc("k", 42);
  assert.deepEqual(await c.getAll(["k"]), [["k", c2(42, 0)]]);
  return [c];
});
t("get_all_unaffected_by_other_instances_slices", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await a.inc("k", 5);
  await a.flush();
  assert.deepEqual(await b.getAll(["k"]), [["k", c2(5, 0)]]);
  return [a, b];
});
t("set_all_on_instance_basic_and_preserves_other_slices", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  assert.deepEqual(await a.setAllOnInstance([]), []);
  assert.deepEqual(await a.setAllOnInstance([["x", 7], ["y", 3]]), [["x", c2(7, 7)], [
    "y",
    c2(3, 3),
  ]]);
  await b.setOnInstance("x", 7);
  await a.flush();
  await b.flush();
  assert.equal((await is.strict().get("x")).total, 14);
  return [a, b];
});
t("set_all_on_instance_stale_keys_are_refreshed", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await a.inc("k", 5);
  await a.flush();
  await b.set("k", 100);
  await sleep(30); // a's cache is older than allowedLagMs
  assert.deepEqual(await a.setAllOnInstance([["k", 3]]), [["k", c2(103, 3)]]);
  await a.flush();
  assert.deepEqual(await is.strict().get("k"), c2(103, 0));
  return [a, b];
});
t("set_all_basic_visible_and_flushes_pending_first (S16)", async (is) => {
  const a = is.lax({ flushIntervalMs: 1000 });
  assert.deepEqual(await a.setAll([]), []);
  await a.inc("k", 5);
  assert.deepEqual(await a.setAll([["k", 20], ["j", 99]]), [["k", c2(20, 20)], ["j", c2(99, 99)]]);
  await a.flush();
  assert.deepEqual(await is.strict().getAll(["k", "j"]), [["k", c2(20, 0)], ["j", c2(99, 0)]]);
  return [a];
});
t("inc_if_uses_all_comparators_against_the_store_total", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await b.inc("k", 4);
  await b.flush();
  await a.inc("k", 6); // pending: settled before the comparison
  const r = await a.incIf("k", Comparator.eq(10), 2);
  assert.deepEqual(r, { total: 12, mine: 8, previousTotal: 10, previousMine: 6, matched: true });
  const f = await a.incIf("k", Comparator.lt(5), 2);
  assert.deepEqual(f, { total: 12, mine: 8, previousTotal: 12, previousMine: 8, matched: false });
  return [a, b];
});
t("set_if_success_is_visible_to_other_instances_immediately", async (is) => {
  const a = is.lax();
  await a.inc("k", 5);
  const r = await a.setIf("k", Comparator.eq(5), 20);
  assert.deepEqual(r, { total: 20, mine: 20, previousTotal: 5, previousMine: 5, matched: true });
  assert.deepEqual(await is.strict().get("k"), c2(20, 0));
  return [a];
});
t("set_if_failed_condition_returns_old_state_and_does_not_apply", async (is) => {
  const a = is.lax();
  await a.inc("k", 5);
  const r = await a.setIf("k", Comparator.eq(6), 20);
  assert.deepEqual(r, { total: 5, mine: 5, previousTotal: 5, previousMine: 5, matched: false });
  assert.deepEqual(await is.strict().get("k"), c2(5, 0));
  return [a];
});
t("set_on_instance_if_compares_against_instance_slice", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await b.inc("k", 5);
  await b.flush();
  await a.inc("k", 7);
  const r = (t: number, m: number, pt: number, pm: number, matched: boolean) => ({
    total: t,
    mine: m,
    previousTotal: pt,
    previousMine: pm,
    matched,
  });
  assert.deepEqual(await a.setOnInstanceIf("k", Comparator.eq(7), 9), r(14, 9, 12, 7, true));
  assert.deepEqual(await a.setOnInstanceIf("k", Comparator.eq(7), 1), r(14, 9, 14, 9, false));
  return [a, b];
});
t("inc_all_empty_updates_local_view_and_supports_duplicates", async (is) => {
  const c = is.lax();
  assert.deepEqual(await c.incAll([]), []);
  assert.deepEqual(await c.incAllIf([]), []);
  assert.deepEqual(await c.incAll([["k", 1], ["k", 2]]), [["k", c2(1, 1)], ["k", c2(3, 3)]]);
  assert.deepEqual(await c.get("k"), c2(3, 3));
  return [c];
});
t("inc_all_if_is_sequential_and_atomic_in_the_store", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await b.inc("k", 5);
  await b.flush();
  const r = await a.incAllIf([
    ["k", Comparator.eq(5), 1],
    ["k", Comparator.eq(6), 2],
    ["k", Comparator.eq(6), 2],
  ]);
  assert.deepEqual(r.map((x) => [x.total, x.mine, x.previousTotal, x.previousMine, x.matched]), [
    [6, 1, 5, 0, true],
    [8, 3, 6, 1, true],
    [8, 3, 8, 3, false],
  ]);
  assert.deepEqual(await is.strict().get("k"), c2(8, 0));
  return [a, b];
});
t("set_all_if_supports_partial_success", async (is) => {
  const a = is.lax();
  await a.set("a", 10);
  await a.set("b", 20);
  const r = await a.setAllIf([["a", Comparator.eq(10), 11], ["b", Comparator.eq(0), 5]]);
  assert.deepEqual(r.map((x) => [x.key, x.total, x.mine, x.previousTotal, x.matched]), [
    ["a", 11, 11, 10, true],
    ["b", 20, 20, 20, false],
  ]);
  return [a];
});
t("set_all_on_instance_if_refreshes_stale_state_before_comparing", async (is) => {
  const [a, b] = [is.lax(), is.lax()];
  await a.inc("k", 9);
  await a.flush();
  await b.inc("k", 5);
  await b.flush();
  await is.strict().set("k", 5); // a's slice is now void
  const r = await a.setAllOnInstanceIf([["k", Comparator.eq(0), 3]]);
  assert.deepEqual(r.map((x) => [x.total, x.mine, x.previousTotal, x.previousMine, x.matched]), [
    [8, 3, 5, 0, true],
  ]);
  assert.deepEqual(await a.get("k"), c2(8, 3));
  return [a, b];
});

/** Counts store calls (to show a warm get does not reach the store). */
class Counting implements Store {
  readonly isDistkitStore = true as const;
  calls = 0;
  constructor(readonly inner: Store) {}
  run(s: Script, k: readonly string[], a: readonly (string | number)[]): Promise<Reply> {
    this.calls++;
    return this.inner.run(s, k, a);
  }
  subscribe(c: string, l: (m: string) => void) {
    return this.inner.subscribe(c, l);
  }
  close() {
    return Promise.resolve();
  }
  [Symbol.asyncDispose]() {
    return this.close();
  }
}

t("a warm get does not reach the store", async (is, fx) => {
  const store = new Counting(fx.store);
  const c = is.lax({
    store,
    allowedLagMs: 5000,
    flushIntervalMs: 5000,
    deadInstanceThresholdMs: 60_000,
  });
  await c.inc("k", 3);
  const before = store.calls;
  for (let i = 0; i < 100; i++) assert.deepEqual(await c.get("k"), c2(3, 3));
  await c.inc("k");
  assert.equal(store.calls, before);
  return [c];
});

t("a reaped lax instance recovers its flushed slices and its pending changes", async (is, fx) => {
  const [a, pa] = is.partitionedLax({ flushIntervalMs: 10 });
  const reader = is.strict();
  await a.inc("x", 10);
  await a.inc("y", -4);
  await a.flush();
  pa.down = true;
  await a.inc("x", 5); // buffered while partitioned
  await waitReaped(fx, fx.prefix, () => reader.get("x"), a.instanceId);
  assert.deepEqual(await reader.getAll(["x", "y"]), [["x", c2(0, 0)], ["y", c2(0, 0)]]);
  pa.down = false;
  await a.flush();
  assert.deepEqual(await reader.getAll(["x", "y"]), [["x", c2(15, 0)], ["y", c2(-4, 0)]]);
  return [a];
});

t("close flushes; leave: false keeps the slices until reaped", async (is, fx) => {
  const a = is.lax({ ...MORTAL, flushIntervalMs: 5000 });
  await a.inc("k", 6);
  await a.close({ leave: false });
  const reader = is.strict();
  assert.deepEqual(await reader.get("k"), c2(6, 0));
  await waitReaped(fx, fx.prefix, () => reader.get("k"), a.instanceId);
  assert.deepEqual(await reader.get("k"), c2(0, 0));
  return [];
});
