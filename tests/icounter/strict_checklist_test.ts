/**
 * distkit §12.4 (StrictInstanceAwareCounter, 58 tests) ported, corrected where the crate was wrong
 * (stale slices read 0; recovery covers every key). Every test ends with the invariant check.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import { StrictInstanceAwareCounter } from "../../icounter/strict.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";
import {
  assertInvariant,
  Instances,
  membersOf,
  MORTAL,
  readState,
  waitReaped,
} from "./_support.ts";
import { sleep, waitFor } from "../_support/wait.ts";

function t(
  name: string,
  body: (is: Instances, fx: Fixture, step: Deno.TestContext) => Promise<void>,
) {
  storeTest(`strict §12.4 ${name}`, async (fx, step) => {
    await using is = new Instances(fx);
    await body(is, fx, step);
    await assertInvariant(fx, fx.prefix);
  });
}

const n = (k: number, is: Instances) => Array.from({ length: k }, () => is.strict());
const c2 = (total: number, mine: number) => ({ total, mine });
/** A live instance, then one the test lets die (threshold 200 ms, see MORTAL). */
const liveAndMortal = (is: Instances) => [is.strict(), is.strict(MORTAL)] as const;

t("inc_returns_cumulative", async (is) => {
  const c = is.strict();
  assert.deepEqual(await c.inc("k", 5), c2(5, 5));
  assert.deepEqual(await c.inc("k", 3), c2(8, 8));
});
t("inc_by_zero_is_noop", async (is) => {
  const c = is.strict();
  await c.inc("k", 10);
  assert.deepEqual(await c.inc("k", 0), c2(10, 10));
});
t("set_returns_count_as_cumulative", async (is) => {
  assert.deepEqual(await is.strict().set("k", 99), c2(99, 99));
});
t("set_on_instance_new_key", async (is) => {
  assert.deepEqual(await is.strict().setOnInstance("k", 42), c2(42, 42));
});
t("get_returns_zero_for_unknown_key", async (is) => {
  assert.deepEqual(await is.strict().get("nope"), c2(0, 0));
});
t("get_matches_cumulative_and_instance_count", async (is) => {
  const c = is.strict();
  await c.inc("k", 7);
  assert.deepEqual(await c.get("k"), c2(7, 7));
});
t("del_returns_old_cumulative", async (is) => {
  const c = is.strict();
  await c.inc("k", 42);
  assert.deepEqual(await c.del("k"), c2(42, 42));
});
t("del_resets_key", async (is) => {
  const c = is.strict();
  await c.inc("k", 42);
  await c.del("k");
  assert.deepEqual(await c.get("k"), c2(0, 0));
});
t("del_on_instance_removes_contribution", async (is) => {
  const c = is.strict();
  await c.inc("k", 15);
  assert.deepEqual(await c.delOnInstance("k"), c2(0, 15));
});
t("del_on_instance_on_unknown_key_returns_zeros", async (is) => {
  assert.deepEqual(await is.strict().delOnInstance("k"), c2(0, 0));
});
t("clear_wipes_all_keys", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await a.inc("x", 1);
  await b.inc("y", 2);
  await a.clear();
  assert.deepEqual(await b.getAll(["x", "y"]), [["x", c2(0, 0)], ["y", c2(0, 0)]]);
});
t("clear_on_instance_removes_contribution", async (is) => {
  const c = is.strict();
  await c.inc("k", 5);
  await c.clearOnInstance();
  assert.deepEqual(await c.get("k"), c2(0, 0));
});
t("independent_keys_do_not_interfere", async (is) => {
  const c = is.strict();
  await c.inc("a", 5);
  await c.inc("b", 10);
  assert.deepEqual(await c.getAll(["a", "b"]), [["a", c2(5, 5)], ["b", c2(10, 10)]]);
});
t("prefix_isolation (and no sharing with plain counters)", async (is, fx) => {
  await is.strict().inc("k", 5);
  const other = new Instances(fx, `${fx.prefix}-other`);
  await using _o = other;
  assert.deepEqual(await other.strict().get("k"), c2(0, 0));
  const plain = new StrictCounter({ prefix: fx.prefix, store: fx.store });
  assert.equal(await plain.get("k"), 0);
  await plain.inc("k", 100);
  assert.deepEqual(await is.strict().get("k"), c2(5, 0));
});
t("three_instances_cumulate_via_inc", async (is) => {
  const cs = n(3, is);
  let last = c2(0, 0);
  for (const [i, c] of cs.entries()) last = await c.inc("k", 10 * (i + 1));
  assert.deepEqual(last, c2(60, 30));
});
t("five_instances_set_on_instance_sum", async (is) => {
  const cs = n(5, is);
  for (const [i, c] of cs.entries()) await c.setOnInstance("k", i + 1);
  for (const [i, c] of cs.entries()) assert.deepEqual(await c.get("k"), c2(15, i + 1));
});
t("ten_instances_each_inc_by_one", async (is) => {
  const cs = n(10, is);
  await Promise.all(cs.map((c) => c.inc("k")));
  assert.equal((await cs[0]!.get("k")).total, 10);
});
t("n_instances_del_on_instance_progressively_reaches_zero", async (is) => {
  const cs = n(3, is);
  for (const [i, c] of cs.entries()) await c.inc("k", 10 * (i + 1));
  assert.equal((await cs[0]!.get("k")).total, 60);
  assert.deepEqual(await cs[0]!.delOnInstance("k"), c2(50, 10));
  assert.deepEqual(await cs[1]!.delOnInstance("k"), c2(30, 20));
  assert.deepEqual(await cs[2]!.delOnInstance("k"), c2(0, 30));
});
t("n_instances_clear_on_instance_one_at_a_time", async (is) => {
  const cs = n(3, is);
  for (const [i, c] of cs.entries()) await c.inc("k", 10 * (i + 1));
  const seen = [];
  for (const c of cs) {
    await c.clearOnInstance();
    seen.push((await cs[2]!.get("k")).total);
  }
  assert.deepEqual(seen, [50, 30, 0]);
});
t("set_by_one_instance_makes_all_others_stale", async (is) => {
  const cs = n(3, is);
  for (const c of cs) await c.inc("k", 100);
  assert.deepEqual(await cs[0]!.set("k", 50), c2(50, 50));
  assert.deepEqual(await cs[1]!.inc("k", 5), c2(55, 5));
  assert.deepEqual(await cs[2]!.inc("k", 5), c2(60, 5));
});
t("del_by_one_instance_makes_all_others_stale", async (is) => {
  const cs = n(3, is);
  for (const c of cs) await c.inc("k", 100);
  await cs[0]!.del("k");
  await cs[1]!.inc("k", 10);
  assert.deepEqual(await cs[2]!.inc("k", 10), c2(20, 10));
});
t("sequential_epoch_bumps_from_different_instances", async (is) => {
  const cs = n(3, is);
  for (const [i, c] of cs.entries()) await c.set("k", 10 * (i + 1));
  assert.deepEqual(await cs[0]!.get("k"), c2(30, 0));
});
t("instance_missed_multiple_epochs_still_resyncs", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await b.inc("k", 50);
  for (const v of [10, 20, 30]) await a.set("k", v);
  assert.deepEqual(await b.inc("k", 5), c2(35, 5));
});
t("brand_new_instance_after_epoch_bump_starts_fresh", async (is) => {
  await is.strict().set("k", 100);
  assert.deepEqual(await is.strict().setOnInstance("k", 50), c2(150, 50));
});
t("interleaved_inc_and_set_across_three_instances", async (is) => {
  const cs = n(3, is);
  await cs[0]!.inc("k", 10);
  assert.equal((await cs[1]!.inc("k", 10)).total, 20);
  assert.equal((await cs[2]!.inc("k", 3)).total, 23);
  assert.deepEqual(await cs[0]!.set("k", 30), c2(30, 30));
  assert.deepEqual(await cs[1]!.get("k"), c2(30, 0));
});
t("all_five_instances_del_on_instance_reaches_zero", async (is) => {
  const cs = n(5, is);
  for (const c of cs) await c.inc("k", 3);
  for (const c of cs) await c.delOnInstance("k");
  assert.deepEqual(await cs[0]!.get("k"), c2(0, 0));
});
t("set_then_all_stale_instances_inc", async (is) => {
  const cs = n(3, is);
  for (const c of cs) await c.inc("k", 7);
  await cs[0]!.set("k", 100);
  await cs[1]!.inc("k", 10);
  assert.deepEqual(await cs[2]!.inc("k", 10), c2(120, 10));
  assert.deepEqual(await cs[1]!.get("k"), c2(120, 10));
});
t("del_then_fresh_inc_from_all", async (is) => {
  const cs = n(3, is);
  for (const c of cs) await c.inc("k", 9);
  await cs[0]!.del("k");
  assert.deepEqual(await cs[0]!.inc("k", 5), c2(5, 5));
  assert.deepEqual(await cs[1]!.inc("k", 7), c2(12, 7));
  assert.deepEqual(await cs[2]!.inc("k", 3), c2(15, 3));
});
t("round_robin_inc_across_five_instances", async (is) => {
  const cs = n(5, is);
  for (let r = 0; r < 10; r++) for (const c of cs) await c.inc("k");
  for (const c of cs) assert.deepEqual(await c.get("k"), c2(50, 10));
});
t("multiple_dead_instances_all_cleaned_up", async (is, fx) => {
  const cs = [is.strict(), ...Array.from({ length: 4 }, () => is.strict(MORTAL))];
  for (const c of cs) await c.inc("k", 10);
  for (const c of cs.slice(1)) await c.close({ leave: false });
  for (const c of cs.slice(1)) await waitReaped(fx, fx.prefix, () => cs[0]!.get("k"), c.instanceId);
  assert.deepEqual(await cs[0]!.get("k"), c2(10, 10));
});
t("dead_instance_cleaned_then_new_instance_joins", async (is, fx) => {
  const [a, b] = liveAndMortal(is);
  await a.inc("k", 60);
  await b.inc("k", 30);
  await b.close({ leave: false });
  await waitReaped(fx, fx.prefix, () => a.get("k"), b.instanceId);
  assert.equal((await a.get("k")).total, 60);
  assert.deepEqual(await is.strict().inc("k", 20), c2(80, 20));
});
t("dead_instance_with_multiple_keys_fully_cleaned", async (is, fx) => {
  const [a, b] = liveAndMortal(is);
  await b.incAll([["x", 1], ["y", 2], ["z", 3]]);
  await b.close({ leave: false });
  await waitReaped(fx, fx.prefix, () => a.get("x"), b.instanceId);
  assert.deepEqual((await a.getAll(["x", "y", "z"])).map(([, v]) => v.total), [0, 0, 0]);
});
Deno.test("strict §12.4 live_instance_not_cleaned_at_boundary [memory, driven clock]", async () => {
  // Server time is driven; the threshold is long enough that no heartbeat timer fires meanwhile.
  const threshold = 60_000;
  let now = 1_000_000;
  await using store = new MemoryStore({ now: () => now });
  const make = () =>
    new StrictInstanceAwareCounter({ prefix: "p", store, deadInstanceThresholdMs: threshold });
  const a = make();
  const b = make();
  try {
    await a.inc("k", 100); // A's last heartbeat
    now += threshold - 1;
    assert.deepEqual(await b.get("k"), c2(100, 0), "silent for threshold - 1 ms: still alive");
    now += 1;
    assert.deepEqual(await b.get("k"), c2(0, 0), "silent for threshold ms: dead, reaped");
  } finally {
    await a.close({ leave: false });
    await b.close();
  }
});
t("three_instances_two_keys_independent", async (is) => {
  const cs = n(3, is);
  for (const [i, c] of cs.entries()) {
    await c.inc("a", i + 1);
    await c.inc("b", 10 * (i + 1));
  }
  assert.deepEqual(await cs[0]!.getAll(["a", "b"]), [["a", c2(6, 1)], ["b", c2(60, 10)]]);
});
t("epoch_bump_on_one_key_does_not_affect_other", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await a.inc("k1", 10);
  await b.inc("k1", 5);
  await a.inc("k2", 30);
  await a.set("k1", 10);
  assert.deepEqual(await b.inc("k2", 1), c2(31, 1));
  assert.deepEqual(await b.inc("k2", 1), c2(32, 2));
  assert.deepEqual(await b.inc("k1", 2), c2(12, 2));
});
t("clear_on_instance_removes_all_keys_for_that_instance", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  for (const c of [a, b]) await c.incAll([["x", 5], ["y", 5]]);
  await a.clearOnInstance();
  assert.deepEqual(await b.getAll(["x", "y"]), [["x", c2(5, 5)], ["y", c2(5, 5)]]);
});
t("stale_del_on_instance_does_not_double_subtract", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await a.inc("k", 5);
  await b.inc("k", 5);
  await a.set("k", 10);
  assert.deepEqual(await b.delOnInstance("k"), c2(10, 0));
  assert.deepEqual(await a.get("k"), c2(10, 10));
});
t("set_on_instance_from_stale_uses_full_count_as_delta", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await b.setOnInstance("k", 50);
  await a.set("k", 100);
  assert.deepEqual(await b.setOnInstance("k", 30), c2(130, 30));
});
t("inc_stale_ignores_old_instance_count_in_cumulative", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await b.inc("k", 100);
  await a.set("k", 5);
  assert.deepEqual(await b.inc("k", 3), c2(8, 3));
});
t("two_instances_cumulate_via_inc", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await a.inc("k", 10);
  assert.deepEqual(await b.inc("k", 20), c2(30, 20));
});
t("two_instances_cumulate_via_set_on_instance", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  assert.deepEqual(await a.setOnInstance("k", 5), c2(5, 5));
  assert.deepEqual(await b.setOnInstance("k", 10), c2(15, 10));
});
t("del_on_instance_only_removes_caller_contribution", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await a.inc("k", 30);
  await b.inc("k", 50);
  assert.deepEqual(await a.delOnInstance("k"), c2(50, 30));
});
t("stale_instance_resets_to_delta_after_epoch_bump", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await b.inc("k", 7);
  assert.deepEqual(await a.set("k", 3), c2(3, 3));
  assert.deepEqual(await b.inc("k", 5), c2(8, 5));
});
t("set_increments_epoch_on_each_call", async (is, fx) => {
  const c = is.strict();
  await c.set("k", 10);
  const e1 = (await assertInvariant(fx, fx.prefix)).epoch.get("k");
  assert.deepEqual(await c.set("k", 20), c2(20, 20));
  const e2 = (await assertInvariant(fx, fx.prefix)).epoch.get("k");
  assert.ok(e1 !== undefined && e2 !== undefined && Number(e2) > Number(e1));
});
t("dead_instance_counts_removed_from_cumulative", async (is, fx) => {
  const [a, b] = liveAndMortal(is);
  await a.inc("k", 60);
  await b.inc("k", 40);
  await b.close({ leave: false });
  await waitReaped(fx, fx.prefix, () => a.get("k"), b.instanceId);
  assert.deepEqual(await a.get("k"), c2(60, 60));
});
t("recovery_via_inc_after_downtime", async (is, fx) => {
  const [a, pa] = is.partitioned();
  const reader = is.strict();
  await a.inc("k", 20);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => reader.get("k"), a.instanceId);
  assert.equal((await reader.get("k")).total, 0);
  pa.down = false;
  assert.deepEqual(await a.inc("k", 5), c2(25, 25));
  assert.deepEqual(await a.get("k"), c2(25, 25));
});
t("recovery_via_get_after_downtime", async (is, fx) => {
  const [a, pa] = is.partitioned();
  const reader = is.strict();
  await a.inc("k", 30);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => reader.get("k"), a.instanceId);
  pa.down = false;
  assert.deepEqual(await a.get("k"), c2(30, 30));
});
t("no_recovery_when_epoch_bumped_during_downtime", async (is, fx) => {
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("k", 30);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("k"), a.instanceId);
  await b.set("k", 100);
  pa.down = false;
  assert.deepEqual(await a.inc("k", 5), c2(105, 5));
});
t("mark_alive_recovery_restores_contribution", async (is, fx) => {
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("k", 20);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("k"), a.instanceId);
  pa.down = false;
  await waitFor(async () => (await b.get("k")).total === 20, {
    timeoutMs: 3000,
    message: "A's heartbeat to restore its slice",
  });
  assert.deepEqual(await b.get("k"), c2(20, 0));
});
t("mark_alive_no_recovery_when_epoch_bumped", async (is, fx) => {
  const [a, pa] = is.partitioned();
  const b = is.strict();
  await a.inc("k", 20);
  pa.down = true;
  await waitReaped(fx, fx.prefix, () => b.get("k"), a.instanceId);
  await b.set("k", 100);
  pa.down = false;
  await sleep(200); // several heartbeats of A
  assert.deepEqual(await b.get("k"), c2(100, 100));
});
t("no_recovery_for_live_instance", async (is, fx) => {
  // Heartbeats every 200 ms, so one is soon awaited; a stall would need 400 ms to reap A.
  const [a, b] = [is.strict({ deadInstanceThresholdMs: 600 }), is.strict()];
  await a.inc("k", 25);
  const registration = async () => {
    const s = await readState(fx, fx.prefix);
    const members = membersOf(s, a.instanceId);
    assert.equal(members.length, 1, "A is registered once");
    return { member: members[0]!, deadline: s.instances.get(members[0]!)! };
  };
  const before = await registration();
  // A's own heartbeat (every threshold/3) refreshes its registration; it recovers nothing.
  await waitFor(async () => (await registration()).deadline > before.deadline, {
    timeoutMs: 2000,
    message: "a heartbeat of A",
  });
  assert.equal((await registration()).member, before.member, "A was never re-registered");
  assert.deepEqual(await b.get("k"), c2(25, 0));
  assert.deepEqual(await a.get("k"), c2(25, 25));
});
t("inc_if_uses_all_comparators_against_cumulative", async (is, _fx, step) => {
  const c = is.strict();
  const table: Array<[Comparator, boolean]> = [
    [Comparator.eq(10), true],
    [Comparator.ne(9), true],
    [Comparator.lt(11), true],
    [Comparator.le(10), true],
    [Comparator.gt(9), true],
    [Comparator.ge(10), true],
    [Comparator.always, true],
    [Comparator.eq(9), false],
    [Comparator.ne(10), false],
    [Comparator.lt(10), false],
    [Comparator.le(9), false],
    [Comparator.gt(10), false],
    [Comparator.ge(11), false],
  ];
  for (const [cmp, ok] of table) {
    const name = cmp.op === "always" ? "always" : `${cmp.op}(${cmp.operand})`;
    await step.step(`${name} on 10 ${ok ? "matches" : "does not match"}`, async () => {
      await c.set("k", 10);
      const after = ok ? 12 : 10;
      assert.deepEqual(await c.incIf("k", cmp, 2), {
        total: after,
        mine: after,
        previousTotal: 10,
        previousMine: 10,
        matched: ok,
      });
    });
  }
});
t("inc_all_empty_and_inc_all_if_empty_return_empty", async (is) => {
  const c = is.strict();
  assert.deepEqual(await c.incAll([]), []);
  assert.deepEqual(await c.incAllIf([]), []);
  assert.deepEqual(await c.getAll([]), []);
});
t("inc_all_returns_ordered_results_and_supports_duplicates", async (is) => {
  assert.deepEqual(await is.strict().incAll([["k", 1], ["k", 2]]), [["k", c2(1, 1)], [
    "k",
    c2(3, 3),
  ]]);
});
t("inc_all_if_compares_against_cumulative_and_processes_duplicates_sequentially", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await b.inc("k2", 5);
  const r = await a.incAllIf([
    ["k1", Comparator.eq(0), 1],
    ["k1", Comparator.eq(1), 2],
    ["k2", Comparator.eq(0), 9],
    ["k2", Comparator.eq(5), 3],
  ]);
  const row = (key: string, t: number, m: number, pt: number, pm: number, matched: boolean) => ({
    key,
    total: t,
    mine: m,
    previousTotal: pt,
    previousMine: pm,
    matched,
  });
  assert.deepEqual(r, [
    row("k1", 1, 1, 0, 0, true),
    row("k1", 3, 3, 1, 1, true),
    row("k2", 5, 0, 5, 0, false),
    row("k2", 8, 3, 5, 0, true),
  ]);
});
t("set_on_instance_if_compares_against_instance_slice", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await b.inc("k", 5);
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
  assert.deepEqual(await a.setOnInstanceIf("k", Comparator.always, 11), r(16, 11, 14, 9, true));
});
t("set_all_if_supports_partial_success_and_missing_keys", async (is) => {
  const c = is.strict();
  await c.set("b", 10);
  await c.set("c", 20);
  const r = await c.setAllIf([
    ["a", Comparator.eq(0), 30],
    ["b", Comparator.eq(10), 11],
    ["c", Comparator.eq(0), 99],
  ]);
  assert.deepEqual(
    r.map((x) => [x.key, x.total, x.mine, x.previousTotal, x.previousMine, x.matched]),
    [
      ["a", 30, 30, 0, 0, true],
      ["b", 11, 11, 10, 10, true],
      ["c", 20, 20, 20, 20, false],
    ],
  );
});
t("set_all_on_instance_if_supports_partial_success", async (is) => {
  const [a, b] = n(2, is) as [StrictInstanceAwareCounter, StrictInstanceAwareCounter];
  await b.inc("x", 3);
  await b.inc("y", 5);
  await a.inc("y", 4);
  const r = await a.setAllOnInstanceIf([["x", Comparator.eq(1), 5], ["y", Comparator.eq(4), 7]]);
  assert.deepEqual(r.map((x) => [x.total, x.mine, x.previousTotal, x.previousMine, x.matched]), [
    [3, 0, 3, 0, false],
    [12, 7, 9, 4, true],
  ]);
});
t("duplicates in setAll and setAllOnInstance apply in order, positional results", async (is) => {
  const c = is.strict();
  assert.deepEqual(await c.setAll([["k", 1], ["k", 2]]), [["k", c2(1, 1)], ["k", c2(2, 2)]]);
  assert.deepEqual(await c.setAllOnInstance([["k", 5], ["j", 1], ["k", 6]]), [
    ["k", c2(5, 5)],
    ["j", c2(1, 1)],
    ["k", c2(6, 6)],
  ]);
});
