/**
 * Coalesced calls of the counters and locks: several keys per call, per slot on a cluster, in the
 * order made across scripts, each call failing alone, bounded, reloaded after SCRIPT FLUSH and
 * bounded in time by `commandTimeoutMs` against a frozen server.
 */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { COUNTER_APPLY, COUNTER_CLEAR, COUNTER_GET, COUNTER_INC } from "../../counter/_scripts.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import { acquireOnce, lockKeys, releaseOnce } from "../../locks/_remote.ts";
import { LOCK_ACQUIRE, LOCK_RELEASE } from "../../locks/_scripts.ts";
import { luaSource } from "../../store/_lua.ts";
import { RedisStore } from "../../store/redis_store.ts";
import type { Script } from "../../store/types.ts";
import { slotOf } from "../../store/slot.ts";
import { itemsOf, recording } from "../_support/batch.ts";
import { connectStandalone, startPrivateRedis } from "../_support/servers.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

const scriptCalls = (sent: string[][]) => sent.map((a) => a[1]);
const MAX = Number.MAX_SAFE_INTEGER;

/** Loads scripts and their batch forms on every primary. */
async function loadScripts(fx: Fixture, scripts: Script[]): Promise<void> {
  const nodes = fx.kind === "cluster"
    ? await Promise.all(fx.raw.masters.map((m: unknown) => fx.raw.nodeClient(m)))
    : [fx.raw];
  for (const n of nodes) {
    for (const s of scripts) {
      await n.sendCommand(["SCRIPT", "LOAD", await luaSource(s)]);
      if (s.batch) await n.sendCommand(["SCRIPT", "LOAD", await luaSource(s.batch)]);
    }
  }
}

async function flushScripts(fx: Fixture): Promise<void> {
  const nodes = fx.kind === "cluster"
    ? await Promise.all(fx.raw.masters.map((m: unknown) => fx.raw.nodeClient(m)))
    : [fx.raw];
  for (const n of nodes) await n.sendCommand(["SCRIPT", "FLUSH"]);
}

/** `n` lock names of one namespace, with at least two in one slot and two slots in all. */
function lockNames(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => lockKeys(prefix, `k${i}`, "mutex"));
}

storeTest("StrictCounter: a tick's incs are one EVALSHA of the batch form per 32", async (fx) => {
  const { client, sent } = recording(fx.raw);
  await using store = new RedisStore(client);
  const c = new StrictCounter({ prefix: fx.prefix, store });
  await c.inc("warm"); // loads the script
  // Loads the batch form: after the lone call above, the first call of this tick goes at once by
  // itself and the two after it are one batch.
  await Promise.all([c.inc("a"), c.inc("b"), c.inc("c")]);
  sent.length = 0;
  const got = await Promise.all(Array.from({ length: 64 }, (_, i) => c.inc(`k${i % 8}`, 1)));
  assert.deepEqual(got, Array.from({ length: 64 }, (_, i) => Math.floor(i / 8) + 1));
  assert.deepEqual(scriptCalls(sent), Array(2).fill(COUNTER_INC.batch!.sha1), "two calls");
  assert.deepEqual(sent.map((a) => itemsOf(a)), [32, 32], "32 calls each");
  assert.deepEqual(sent.map((a) => Number(a[2])), [1, 1], "their one key, once");
}, { kinds: ["standalone", "cluster"] });

storeTest(
  "coalesced calls keep the order made across scripts (a call of another script waits its turn)",
  async (fx) => {
    const { client, sent } = recording(fx.raw);
    await using store = new RedisStore(client);
    const c = new StrictCounter({ prefix: fx.prefix, store });
    // A call that meets NOSCRIPT is sent again (as EVAL) after calls made later ran: load first.
    await loadScripts(fx, [COUNTER_INC, COUNTER_APPLY, COUNTER_CLEAR, COUNTER_GET]);
    const got = await Promise.all([
      c.inc("k", 5),
      c.set("k", 0),
      c.inc("k", 1),
      c.inc("k", 1),
      c.clear(), // counter_clear has no batch form: it is still sent in its turn
      c.inc("k", 7),
      c.incIf("k", Comparator.eq(7), 1),
    ]);
    assert.deepEqual(got, [5, 0, 1, 2, undefined, 7, { value: 8, previous: 7, matched: true }]);
    assert.equal(await c.get("k"), 8);
    assert.deepEqual(scriptCalls(sent).slice(0, 6), [
      COUNTER_INC.sha1,
      COUNTER_APPLY.sha1,
      COUNTER_INC.batch!.sha1,
      COUNTER_CLEAR.sha1,
      COUNTER_INC.sha1,
      COUNTER_APPLY.sha1,
    ]);
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest(
  "a coalesced call that fails fails alone, with the error it would get alone",
  async (fx) => {
    const { client, sent } = recording(fx.raw);
    await using store = new RedisStore(client);
    const c = new StrictCounter({ prefix: fx.prefix, store });
    await c.set("edge", MAX - 1);
    const [ok, wrong] = lockNames(fx.prefix, 2);
    await fx.raw.hSet(wrong!.lease, "x", "1"); // a lease key of the wrong type
    sent.length = 0;
    const results = await Promise.allSettled([
      c.inc("a", 1),
      c.inc("edge", 5),
      c.inc("edge", 1),
      c.inc("a", 1),
    ]);
    assert.deepEqual(results[0], { status: "fulfilled", value: 1 });
    assert.equal(results[1]!.status, "rejected");
    assert.equal((results[1] as PromiseRejectedResult).reason.code, "COUNTER_OVERFLOW");
    assert.deepEqual(results[2], { status: "fulfilled", value: MAX });
    assert.deepEqual(results[3], { status: "fulfilled", value: 2 });
    // After a lone call (the set above), the first call of the tick goes at once, by itself, and
    // the three after it (the failing one among them) are one batch.
    const scripts = sent.filter((a) => a[0] === "EVALSHA");
    assert.deepEqual(scripts.map((a) => a[1]), [COUNTER_INC.sha1, COUNTER_INC.batch!.sha1]);
    assert.equal(itemsOf(scripts[1]!), 3, "one batch of the rest");
    const locks = await Promise.allSettled([
      acquireOnce(store, ok!, "write", "t1/1000/r/o", 1000, 0),
      acquireOnce(store, wrong!, "write", "t2/1000/r/o", 1000, 0),
      acquireOnce(store, ok!, "write", "t3/1000/r/o", 1000, 0),
    ]);
    assert.equal(locks[0]!.status, "fulfilled");
    assert.ok((locks[0] as PromiseFulfilledResult<{ ok: boolean }>).value.ok);
    assert.equal(locks[1]!.status, "rejected");
    assert.equal((locks[1] as PromiseRejectedResult).reason.code, "STORE_ERROR");
    assert.match((locks[1] as PromiseRejectedResult).reason.message, /WRONGTYPE/);
    assert.equal(locks[2]!.status, "fulfilled");
    assert.equal((locks[2] as PromiseFulfilledResult<{ ok: boolean }>).value.ok, false);
    assert.deepEqual(
      { ...await fx.raw.hGetAll(wrong!.lease) },
      { x: "1" },
      "the wrong key untouched",
    );
    assert.equal(await c.get("edge"), MAX);
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest(
  "lock calls of several keys are coalesced per slot on a cluster, each reply its own",
  async (fx) => {
    const { client, sent } = recording(fx.raw);
    await using store = new RedisStore(client);
    const locks = lockNames(fx.prefix, 24);
    // Loaded beforehand: no NOSCRIPT retries in what is recorded.
    await Promise.all(
      locks.slice(0, 2).map((k) => acquireOnce(store, k, "write", "w/1/r/o", 1, 0)),
    );
    await Promise.all(locks.slice(0, 2).map((k) => releaseOnce(store, k, "write", "w/1/r/o")));
    sent.length = 0;
    const tokens = locks.map((_, i) => `t${i}/5000/r/o`);
    const got = await Promise.all(
      locks.map((k, i) => acquireOnce(store, k, "write", tokens[i]!, 5000, 0)),
    );
    assert.ok(got.every((r) => r.ok), "every lock taken");
    const slots = new Set(locks.map((k) => slotOf(k.lease)));
    const calls = sent.filter((a) => a[0] === "EVALSHA");
    assert.equal(calls.length, fx.kind === "cluster" ? slots.size : 1);
    let items = 0;
    for (const a of calls) {
      const keys = a.slice(3, 3 + Number(a[2]));
      assert.equal(
        new Set(keys.map(slotOf)).size <= (fx.kind === "cluster" ? 1 : slots.size),
        true,
      );
      assert.equal(keys.length % 6, 0, "six keys per item");
      items += keys.length / 6;
      assert.equal(a[1], keys.length === 6 ? LOCK_ACQUIRE.sha1 : LOCK_ACQUIRE.batch!.sha1);
    }
    assert.equal(items, locks.length);
    const released = await Promise.all(
      locks.map((k, i) => releaseOnce(store, k, "write", tokens[i]!)),
    );
    assert.ok(released.every((r) => r.held));
    for (const k of locks) assert.equal(await fx.raw.exists(k.lease), 0);
    assert.ok(sent.some((a) => a[1] === LOCK_RELEASE.batch!.sha1 || slots.size === locks.length));
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest(
  "after SCRIPT FLUSH, batch forms of several keys per call load again (NOSCRIPT → EVAL)",
  async (fx) => {
    const { client, sent } = recording(fx.raw);
    await using store = new RedisStore(client);
    // One slot: the locks of one name, under both kinds.
    const k1 = lockKeys(fx.prefix, "same", "mutex"), k2 = lockKeys(fx.prefix, "same", "rw");
    const c = new StrictCounter({ prefix: fx.prefix, store });
    await Promise.all([c.inc("a"), c.inc("a")]);
    await flushScripts(fx);
    sent.length = 0;
    const [x, y] = await Promise.all([c.inc("a"), c.inc("a")]);
    assert.deepEqual([x, y], [3, 4]);
    assert.deepEqual(sent.map((a) => a[0]), ["EVALSHA", "EVAL"]);
    assert.equal(sent[0]![1], COUNTER_INC.batch!.sha1);
    await flushScripts(fx);
    sent.length = 0;
    const got = await Promise.all([
      acquireOnce(store, k1, "write", "a/1000/r/o", 1000, 0),
      acquireOnce(store, k2, "write", "b/1000/r/o", 1000, 0),
      acquireOnce(store, k1, "write", "c/1000/r/o", 1000, 0),
    ]);
    assert.deepEqual(got.map((r) => r.ok), [true, true, false]);
    assert.deepEqual(sent.map((a) => a[0]), ["EVALSHA", "EVAL"]);
    assert.equal(Number(sent[1]![2]), 18, "three items of six keys");
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest("a batch is bounded: calls past its argument budget go in the next one", async (fx) => {
  const { client, sent } = recording(fx.raw);
  await using store = new RedisStore(client);
  const c = new StrictCounter({ prefix: fx.prefix, store });
  const big = Array.from({ length: 1000 }, (_, i) => [`k${i}`, 1] as [string, number]);
  await c.incAll(big.slice(0, 1)); // loads the script
  sent.length = 0;
  // Two incAll of 1,000 entries (5,000 arguments each) do not fit one batch of 8,192.
  const [a, b] = await Promise.all([c.incAll(big), c.incAll(big)]);
  assert.equal(a[999]![1], 1);
  assert.equal(b[0]![1], 3);
  assert.deepEqual(scriptCalls(sent), [COUNTER_APPLY.sha1, COUNTER_APPLY.sha1]);
  assert.ok(sent.every((s) => s.length < 8192 + 3));
}, { kinds: ["standalone"] });

Deno.test("coalesced counter and lock calls to a frozen server fail within commandTimeoutMs", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const store = new RedisStore(client, { commandTimeoutMs: 200 });
  const c = new StrictCounter({ prefix: "frozen", store });
  const locks = lockNames("frozen", 16);
  const tick = () =>
    Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => c.inc(`k${i % 4}`)),
      ...locks.map((k, i) => acquireOnce(store, k, "write", `t${i}/60000/r/o`, 60_000, 0)),
    ]);
  try {
    assert.ok((await tick()).every((r) => r.status === "fulfilled"));
    server.pause();
    const t = performance.now();
    const during = await tick();
    const waited = performance.now() - t;
    assert.ok(waited < 1500, `bounded wait (${waited.toFixed(0)} ms)`);
    for (const r of during) {
      assert.equal(r.status, "rejected");
      assert.equal((r as PromiseRejectedResult).reason.code, "STORE_ERROR");
    }
    server.resume();
    await waitFor(async () => {
      const rs = await Promise.allSettled([c.inc("k0"), c.inc("k1")]);
      return rs.every((r) => r.status === "fulfilled");
    }, { timeoutMs: 5000, message: "a batch after recovery" });
  } finally {
    server.resume();
    await store.close();
    await client.close();
  }
});

storeTest(
  "a lone caller's call is sent at once; after a busy tick calls are held for the tick's others",
  async (fx) => {
    const { client, sent } = recording(fx.raw);
    await using store = new RedisStore(client);
    const key = `{${fx.prefix}}:counter`;
    const inc = (field: string) => store.run(COUNTER_INC, [key], [field, 1]);
    await inc("a"); // loads the script; a lone tick
    // Its first call at once, the two after it one batch (loads the batch form): a busy tick.
    await Promise.all([inc("b"), inc("c"), inc("d")]);
    sent.length = 0;
    // After a busy tick a call is held: the calls made with it in its tick join it.
    const held = inc("a");
    assert.equal(sent.length, 0, "held for the tick's other calls");
    assert.equal(await held, "2");
    // That tick had one call: the next call reaches the client before run() returns.
    const lone = inc("a");
    assert.equal(sent.length, 2, "sent at once");
    assert.equal(await lone, "3");
    // A tick after a lone one: its first call at once, the rest behind it as one batch, in order.
    sent.length = 0;
    const got = await Promise.all([inc("a"), inc("a"), inc("b"), inc("a")]);
    assert.deepEqual(got, ["4", "5", "2", "6"]);
    assert.deepEqual(scriptCalls(sent), [COUNTER_INC.sha1, COUNTER_INC.batch!.sha1]);
    assert.equal(itemsOf(sent[1]!), 3);
    // That tick was busy: held again.
    const again = inc("b");
    assert.equal(sent.length, 2);
    assert.equal(await again, "3");
  },
  { kinds: ["standalone", "cluster"] },
);

/** Resolves on the event loop's next turn, after any turn armed before it. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

storeTest(
  "a tick's batches are paced: one script call per turn (Redis answers one while the client fills the next), flushed by close",
  async (fx) => {
    const { client, sent } = recording(fx.raw);
    const store = new RedisStore(client);
    const c = new StrictCounter({ prefix: fx.prefix, store });
    await c.inc("warm");
    await Promise.all([c.inc("a"), c.inc("b"), c.inc("c")]); // the batch form loaded
    sent.length = 0;
    const calls = Promise.all(Array.from({ length: 100 }, () => c.inc("hot", 1)));
    await Promise.resolve();
    assert.equal(sent.length, 0, "nothing sent within the tick");
    for (let turn = 1; turn <= 4; turn++) {
      await nextTurn();
      assert.equal(sent.length, turn, `one script call per turn (turn ${turn})`);
    }
    assert.deepEqual(sent.map((a) => itemsOf(a)), [32, 32, 32, 4]);
    assert.deepEqual((await calls).slice(-3), [98, 99, 100]);
    // Batches still waiting for their turn when the store closes are sent at once, in order.
    sent.length = 0;
    const late = Promise.all(Array.from({ length: 70 }, () => c.inc("hot", 1)));
    assert.equal(sent.length, 0, "all waiting for their turn"); // queued as they were made
    await store.close();
    assert.deepEqual(sent.map((a) => itemsOf(a)), [32, 32, 6], "all sent by close");
    assert.deepEqual((await late).slice(-1), [170]);
  },
  { kinds: ["standalone"] },
);
