/**
 * Bad input through every public method of both instance-aware counters: the right error code,
 * and no change in the stored counter state. Plus options validation, overflow and ClosedError.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { DistkitError } from "../../core/errors.ts";
import { LaxInstanceAwareCounter } from "../../icounter/lax.ts";
import { StrictInstanceAwareCounter } from "../../icounter/strict.ts";
import type { InstanceAwareCounter } from "../../icounter/types.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";
import { assertInvariant, Instances, readState } from "./_support.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const BAD_KEYS: unknown[] = ["", "é".repeat(128), "\uD800", 5, undefined, null];
const BAD_NUMS: unknown[] = [NaN, 1.5, Infinity, -Infinity, "5", MAX + 1, undefined, null];
const eq0 = Comparator.eq(0);

async function rejects(p: () => Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await p();
  } catch (e) {
    assert.ok(e instanceof DistkitError, `${what}: not a DistkitError: ${e}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    return;
  }
  assert.fail(`${what}: did not throw`);
}

/** The counter state (without the heartbeat deadlines, which move by themselves). */
async function snapshot(fx: Fixture) {
  const s = await readState(fx, fx.prefix);
  return [s.total, s.epoch, s.slices, s.owned, s.meta];
}

// deno-lint-ignore no-explicit-any
type Any = any;

function calls(
  c: InstanceAwareCounter,
): Array<[string, (k: unknown, n: unknown) => Promise<unknown>]> {
  const x = c as Any;
  return [
    ["inc", (k, n) => x.inc(k, n)],
    ["dec", (k, n) => x.dec(k, n)],
    ["set", (k, n) => x.set(k, n)],
    ["setOnInstance", (k, n) => x.setOnInstance(k, n)],
    ["incIf", (k, n) => x.incIf(k, eq0, n)],
    ["setIf", (k, n) => x.setIf(k, eq0, n)],
    ["setOnInstanceIf", (k, n) => x.setOnInstanceIf(k, eq0, n)],
    ["incAll", (k, n) => x.incAll([["ok", 1], [k, n]])],
    ["setAll", (k, n) => x.setAll([["ok", 1], [k, n]])],
    ["setAllOnInstance", (k, n) => x.setAllOnInstance([["ok", 1], [k, n]])],
    ["incAllIf", (k, n) => x.incAllIf([["ok", eq0, 1], [k, eq0, n]])],
    ["setAllIf", (k, n) => x.setAllIf([["ok", eq0, 1], [k, eq0, n]])],
    ["setAllOnInstanceIf", (k, n) => x.setAllOnInstanceIf([["ok", eq0, 1], [k, eq0, n]])],
  ];
}

for (const kind of ["strict", "lax"] as const) {
  storeTest(`${kind} icounter: bad keys, numbers and comparators change nothing`, async (fx) => {
    await using is = new Instances(fx);
    const c = kind === "strict" ? is.strict() : is.lax();
    await c.inc("ok", 3);
    await c.inc("other", 1);
    if (c instanceof LaxInstanceAwareCounter) await c.flush();
    const before = await snapshot(fx);
    for (const [name, call] of calls(c)) {
      for (const k of BAD_KEYS) await rejects(() => call(k, 1), "INVALID_KEY", `${name}(${k})`);
      for (const n of BAD_NUMS) {
        if (n === undefined && (name === "inc" || name === "dec")) continue; // default 1
        await rejects(() => call("ok", n), "INVALID_ARGUMENT", `${name}(ok, ${n})`);
      }
    }
    for (const k of BAD_KEYS) {
      const x = c as Any;
      await rejects(() => x.get(k), "INVALID_KEY", `get(${k})`);
      await rejects(() => x.del(k), "INVALID_KEY", `del(${k})`);
      await rejects(() => x.delOnInstance(k), "INVALID_KEY", `delOnInstance(${k})`);
      await rejects(() => x.getAll(["ok", k]), "INVALID_KEY", `getAll(${k})`);
    }
    const x = c as Any;
    for (const bad of [undefined, null, 5, { op: "eq", operand: 0 }]) {
      await rejects(() => x.incIf("ok", bad, 1), "INVALID_ARGUMENT", `incIf cmp ${bad}`);
      await rejects(() => x.setIf("ok", bad, 1), "INVALID_ARGUMENT", `setIf cmp ${bad}`);
      await rejects(() => x.setOnInstanceIf("ok", bad, 1), "INVALID_ARGUMENT", "setOnInstanceIf");
      await rejects(() => x.incAllIf([["ok", bad, 1]]), "INVALID_ARGUMENT", "incAllIf cmp");
    }
    for (const notArray of [undefined, "ok", 5, { length: 1 }]) {
      await rejects(() => x.getAll(notArray), "INVALID_ARGUMENT", `getAll(${notArray})`);
      await rejects(() => x.incAll(notArray), "INVALID_ARGUMENT", `incAll(${notArray})`);
      await rejects(() => x.setAll([notArray]), "INVALID_ARGUMENT", `setAll([${notArray}])`);
    }
    const big = Array.from({ length: 1001 }, (_, i) => [`k${i}`, 1]);
    await rejects(() => x.incAll(big), "INVALID_ARGUMENT", "incAll(1001 entries)");
    await rejects(() => x.getAll(big.map(([k]) => k)), "INVALID_ARGUMENT", "getAll(1001 keys)");
    if (c instanceof LaxInstanceAwareCounter) {
      assert.equal(c.pending, 0);
      await c.flush();
    }
    assert.deepEqual(await snapshot(fx), before);
    assert.deepEqual(await c.get("ok"), { total: 3, mine: 3 });
    await assertInvariant(fx, fx.prefix);
  });

  storeTest(`${kind} icounter: overflow is an error and applies nothing`, async (fx) => {
    await using is = new Instances(fx);
    const c = kind === "strict" ? is.strict() : is.lax();
    await c.set("big", MAX - 1);
    await c.inc("small", 1);
    const before = await snapshot(fx);
    await rejects(() => c.inc("big", 2), "COUNTER_OVERFLOW", "inc past MAX");
    await rejects(() => c.incAll([["small", 5], ["big", 2]]), "COUNTER_OVERFLOW", "incAll");
    await rejects(
      () => c.incAllIf([["small", Comparator.always, 5], ["big", Comparator.always, 2]]),
      "COUNTER_OVERFLOW",
      "incAllIf",
    );
    const other = is.strict();
    await rejects(() => other.setOnInstance("big", 2), "COUNTER_OVERFLOW", "setOnInstance");
    if (c instanceof LaxInstanceAwareCounter) await c.flush();
    assert.deepEqual(await snapshot(fx), before);
    assert.deepEqual(await c.get("big"), { total: MAX - 1, mine: MAX - 1 });
    assert.deepEqual(await c.inc("big", 1), { total: MAX, mine: MAX });
    assert.deepEqual(await c.dec("small", MAX), { total: 1 - MAX, mine: 1 - MAX });
    if (c instanceof LaxInstanceAwareCounter) await c.flush();
    await assertInvariant(fx, fx.prefix);
  });
}

Deno.test("icounter options are validated at construction", async () => {
  const store = new MemoryStore();
  const make = [
    (o: Any) => new StrictInstanceAwareCounter({ prefix: "p", store, ...o }),
    (o: Any) => new LaxInstanceAwareCounter({ prefix: "p", store, ...o }),
  ];
  for (const m of make) {
    for (const t of [149, 0, -1, NaN, 1.5, "200", 86_400_001]) {
      assert.throws(() => m({ deadInstanceThresholdMs: t }), { code: "INVALID_ARGUMENT" });
    }
    for (const p of ["", "x".repeat(256), 3]) {
      assert.throws(() => m({ prefix: p }), { code: "INVALID_KEY" });
    }
    for (const id of ["", "é".repeat(128)]) {
      assert.throws(() => m({ instanceId: id }), { code: "INVALID_KEY" });
    }
    // Any other string is a prefix and an instance id, ":", "{" and "}" included.
    for (const s of ["a:b", "{p}", "::ffff:127.0.0.1"]) {
      const any = m({ prefix: s, instanceId: s });
      assert.deepEqual([any.prefix, any.instanceId], [s, s]);
      await any.close();
    }
    for (const s of [undefined, null, {}, 5]) {
      assert.throws(() => m({ store: s }), { code: "INVALID_ARGUMENT" });
    }
    const ok = m({ deadInstanceThresholdMs: 150, instanceId: "node-1" });
    assert.equal(ok.instanceId, "node-1");
    assert.equal(ok.deadInstanceThresholdMs, 150);
    await ok.close();
  }
  for (const bad of [0, 60_001, 1.5, NaN]) {
    assert.throws(() => make[1]!({ flushIntervalMs: bad }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => make[1]!({ allowedLagMs: bad }), { code: "INVALID_ARGUMENT" });
  }
  const fresh = new StrictInstanceAwareCounter({ prefix: "p", store });
  assert.match(fresh.instanceId, /^[0-9a-f-]{36}$/);
  await fresh.close();
});

Deno.test("icounter calls after close throw ClosedError", async () => {
  const store = new MemoryStore();
  for (
    const c of [
      new StrictInstanceAwareCounter({ prefix: "p", store }),
      new LaxInstanceAwareCounter({ prefix: "p", store }),
    ]
  ) {
    await c.inc("k");
    await c.close();
    await c.close(); // idempotent
    for (const [name, call] of calls(c)) await rejects(() => call("k", 1), "CLOSED", name);
    await rejects(() => c.get("k"), "CLOSED", "get");
    await rejects(() => c.del("k"), "CLOSED", "del");
    await rejects(() => c.delOnInstance("k"), "CLOSED", "delOnInstance");
    await rejects(() => c.getAll(["k"]), "CLOSED", "getAll");
    await rejects(() => c.clear(), "CLOSED", "clear");
    await rejects(() => c.clearOnInstance(), "CLOSED", "clearOnInstance");
  }
});
