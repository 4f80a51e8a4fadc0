/**
 * Bounded work: many dead instances with many keys are reaped over several calls (each call does
 * a bounded amount), the invariant holds after every call; leaving with more keys than one call
 * removes works in steps; mixed thresholds never reap a live instance.
 */
import assert from "node:assert/strict";
import { REAP_MEMBERS, REAP_SLICES } from "../../core/limits.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import type { Store } from "../../store/types.ts";
import { StrictInstanceAwareCounter } from "../../icounter/strict.ts";
import { storeTest } from "../_support/stores.ts";
import { assertInvariant, Instances, membersOf, MORTAL, readState, THRESHOLD } from "./_support.ts";
import { sleep } from "../_support/wait.ts";

storeTest("reaping is bounded per call and converges over several calls", async (fx) => {
  await using is = new Instances(fx);
  const survivor = is.strict({ deadInstanceThresholdMs: 5000 });
  await survivor.inc("k0", 1);
  const dead = Array.from({ length: 12 }, () => is.strict(MORTAL));
  const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
  for (const d of dead) await d.incAll(keys.map((k) => [k, 2]));
  for (const d of dead) await d.close({ leave: false });
  const start = await assertInvariant(fx, fx.prefix);
  assert.equal(start.slices.size, 12 * 60 + 1);
  await sleep(THRESHOLD + 50);
  let calls = 0;
  for (;;) {
    await survivor.get("k0");
    calls++;
    const s = await assertInvariant(fx, fx.prefix);
    if (calls === 1) {
      assert.ok(s.slices.size >= 12 * 60 + 1 - REAP_SLICES, "one call reaps at most its budget");
      assert.ok(s.instances.size >= 1 + 12 - REAP_MEMBERS, "one call retires at most 8 members");
    }
    if (s.slices.size === 1 && s.reaping.size === 0 && s.instances.size === 1) break;
    assert.ok(calls < 20, "reaping did not converge");
  }
  assert.ok(calls >= Math.ceil((12 * 60) / REAP_SLICES), `converged in ${calls} calls`);
  assert.deepEqual(await survivor.getAll(["k0", "k1"]), [["k0", { total: 1, mine: 1 }], ["k1", {
    total: 0,
    mine: 0,
  }]]);
});

storeTest("leaving with more keys than one call drops works in steps", async (fx) => {
  await using is = new Instances(fx);
  const a = is.strict();
  const b = is.strict();
  for (let i = 0; i < 1500; i += 750) {
    await a.incAll(Array.from({ length: 750 }, (_, j) => [`k${i + j}`, 1] as [string, number]));
  }
  await b.inc("k7", 5);
  assert.equal((await assertInvariant(fx, fx.prefix)).slices.size, 1501);
  await a.close();
  const s = await assertInvariant(fx, fx.prefix);
  assert.equal(s.slices.size, 1);
  assert.equal(membersOf(s, a.instanceId).length, 0);
  assert.deepEqual(await b.get("k7"), { total: 5, mine: 5 });
});

Deno.test("driven clock: each instance is judged by its own threshold", async () => {
  let now = 1_000_000;
  await using store = new MemoryStore({ now: () => now });
  const long = new StrictInstanceAwareCounter({
    prefix: "p",
    store,
    deadInstanceThresholdMs: 60_000,
  });
  const short = new StrictInstanceAwareCounter({
    prefix: "p",
    store,
    deadInstanceThresholdMs: 150,
  });
  await long.inc("k", 10);
  await short.inc("k", 1);
  now += 10_000; // far past short's threshold, well within long's
  assert.deepEqual(
    await short.get("k"),
    { total: 11, mine: 1 },
    "nobody reaped short, so nothing changed",
  );
  const members = [...store.db.zrangeAll("{p}:ic:instances").map(([m]) => m)];
  assert.ok(members.some((m) => m.startsWith(`${long.instanceId}{`)), "long is alive");
  now += 61_000;
  // short's next call finds the long instance dead (no heartbeat timer fired on this clock)
  assert.deepEqual(await short.get("k"), { total: 1, mine: 1 });
  await long.close({ leave: false });
  await short.close();
  assert.equal(store.db.hlen("{p}:ic:slices"), 0);
});

storeTest("heartbeats keep many idle instances registered with their slices", async (fx) => {
  await using is = new Instances(fx);
  // Threshold 600 ms (a heartbeat every 200 ms): only a 400 ms stall of a loaded machine could
  // miss a deadline; 1,500 ms spans more than two thresholds, so without heartbeats all would die.
  const cs = Array.from({ length: 20 }, () => is.strict({ deadInstanceThresholdMs: 600 }));
  for (const [i, c] of cs.entries()) await c.inc("k", i);
  const before = await readState(fx, fx.prefix);
  await sleep(1500);
  const s = await readState(fx, fx.prefix);
  for (const c of cs) {
    assert.deepEqual(membersOf(s, c.instanceId), membersOf(before, c.instanceId));
    assert.equal(membersOf(s, c.instanceId).length, 1, "never re-registered");
  }
  assert.equal((await cs[0]!.get("k")).total, 190);
  await assertInvariant(fx, fx.prefix);
});

Deno.test("a registering call that arrives after its member was reaped does not hide the loss", async () => {
  // Two calls of one new instance are made together. The first registers it; the instance is then
  // reaped (it stalled past its threshold); only then does the second call reach the store. Had the
  // second call also asked to register, it would bring the reaped member back under its old name,
  // and the first call's +5 would be gone without the instance ever learning it was reaped.
  let now = 1_000_000;
  await using store = new MemoryStore({ now: () => now });
  let applyCalls = 0;
  let holdSecond: (() => void) | undefined;
  const held = new Promise<void>((go) => (holdSecond = go));
  const late: Store = {
    isDistkitStore: true,
    run: async (script, keys, argv) => {
      if (script.name.startsWith("icounter_apply") && ++applyCalls === 2) await held;
      return store.run(script, keys, argv);
    },
    subscribe: (channel, listener) => store.subscribe(channel, listener),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const opts = { prefix: "p", deadInstanceThresholdMs: 60_000 };
  const a = new StrictInstanceAwareCounter({ ...opts, store: late });
  const b = new StrictInstanceAwareCounter({ ...opts, store });
  const first = a.inc("k", 5);
  const second = a.inc("k", 7);
  assert.equal((await first).total, 5);
  now += 61_000; // a stalled: b's call reaps it
  assert.deepEqual(await b.get("k"), { total: 0, mine: 0 });
  holdSecond!();
  await second;
  assert.deepEqual(await a.get("k"), { total: 12, mine: 12 }, "the reaped +5 was restored");
  await a.close();
  await b.close();
});
