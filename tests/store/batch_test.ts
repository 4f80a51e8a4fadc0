/** RedisStore's call batching: one EVALSHA per tick, script and slot; each call as if alone. */
import assert from "node:assert/strict";
import {
  ABSOLUTE_DECIDE,
  ABSOLUTE_TOTAL,
  RL_ABSOLUTE,
  RL_SUPPRESSED,
  SUPPRESSED_DECIDE,
} from "../../ratelimit/_scripts.ts";
import { luaSource } from "../../store/_lua.ts";
import { RedisStore } from "../../store/redis_store.ts";
import { slotOf } from "../../store/slot.ts";
import { connectStandalone, startPrivateRedis } from "../_support/servers.ts";
import { itemsOf, recording } from "../_support/batch.ts";
import { type Fixture, storeTest } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

/** Loads the rate-limit scripts and their batch forms on every primary (no NOSCRIPT to count). */
async function loadScripts(fx: Fixture): Promise<void> {
  const nodes = fx.kind === "cluster"
    ? await Promise.all(fx.raw.masters.map((m: unknown) => fx.raw.nodeClient(m)))
    : [fx.raw];
  for (const node of nodes) {
    for (const s of [RL_ABSOLUTE, RL_SUPPRESSED]) {
      for (const src of [await luaSource(s), await luaSource(s.batch!)]) {
        await node.sendCommand(["SCRIPT", "LOAD", src]);
      }
    }
  }
}

/** A batching RedisStore on the recorded client, the scripts loaded, and an entity's key. */
async function setup(fx: Fixture) {
  await loadScripts(fx);
  const { client, sent } = recording(fx.raw);
  return { client, sent, store: new RedisStore(client), key: `{${fx.prefix}:a}:ra` };
}

const WIN = { w: "10000", g: "100", seconds: 10 };
/** The argv of an absolute inc and of a read of the total, as the limiter encodes them. */
const inc = (cap: number, n = 1) => ABSOLUTE_DECIDE.encode({ win: WIN, o: { op: "inc", cap, n } });
const GET = ABSOLUTE_TOTAL.encode(WIN);
const scriptCalls = (sent: string[][]) => sent.filter((a) => a[0] === "EVALSHA" || a[0] === "EVAL");

storeTest(
  "RedisStore sends a tick's calls to a batchable script as one EVALSHA per 32, in order",
  async (fx) => {
    const { sent, store, key } = await setup(fx);
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.run(RL_ABSOLUTE, [key], inc(40, i < 45 ? 1 : 0))),
    );
    // 40 admitted, then rejected (in order: the first 40 unit calls), and the n = 0 calls admitted.
    // An admission replies {remaining, resetMs}.
    const remaining = (r: unknown) => Number((r as unknown[])[0]);
    assert.deepEqual(
      replies.slice(0, 40).map(remaining),
      Array.from({ length: 40 }, (_, i) => 39 - i),
    );
    for (const r of replies.slice(40, 45)) assert.equal((r as string[])[0], "rejected");
    assert.deepEqual(replies.slice(45).map(remaining), Array(5).fill(0));
    const calls = scriptCalls(sent);
    assert.deepEqual(calls.map((c) => itemsOf(c)), [32, 18], "two script calls for the tick");
    assert.deepEqual(calls.map((c) => c[1]), Array(2).fill(RL_ABSOLUTE.batch!.sha1), "batch forms");
    assert.equal(await store.run(RL_ABSOLUTE, [key], GET), "40");
    assert.equal(scriptCalls(sent)[2]![1], RL_ABSOLUTE.sha1, "a lone call is sent as the script");
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest("RedisStore batches per script, and per slot on a cluster", async (fx) => {
  const { sent, store, key: a } = await setup(fx);
  // Two entities in different slots.
  let b = 0;
  while (slotOf(`{${fx.prefix}:b${b}}:ra`) === slotOf(a)) b++;
  const other = `{${fx.prefix}:b${b}}:ra`;
  const sup = `{${fx.prefix}:a}:rs`;
  await Promise.all([
    ...Array.from({ length: 10 }, () => store.run(RL_ABSOLUTE, [a], inc(100))),
    ...Array.from({ length: 10 }, () => store.run(RL_ABSOLUTE, [other], inc(100))),
    ...Array.from(
      { length: 10 },
      () =>
        store.run(
          RL_SUPPRESSED,
          [sup],
          SUPPRESSED_DECIDE.encode({
            win: WIN,
            o: { op: "inc", cap: 100, hard: 100, n: 1, draw: 0.5 },
          }),
        ),
    ),
  ]);
  const calls = scriptCalls(sent);
  assert.equal(calls.length, fx.kind === "cluster" ? 3 : 2);
  // A standalone server takes any keys in one script call; a cluster node one slot's.
  const slots = calls.map((c) => new Set(c.slice(3, 3 + Number(c[2])).map(slotOf)).size);
  assert.deepEqual(slots.sort(), fx.kind === "cluster" ? [1, 1, 1] : [1, 2]);
}, { kinds: ["standalone", "cluster"] });

storeTest(
  "RedisStore caps a batch at 32 calls, and batch: false sends each call alone",
  async (fx) => {
    const { client, sent, store, key } = await setup(fx);
    await Promise.all(Array.from({ length: 300 }, () => store.run(RL_ABSOLUTE, [key], inc(1000))));
    assert.deepEqual(scriptCalls(sent).map((c) => itemsOf(c)), [...Array(9).fill(32), 12]);
    sent.length = 0;
    const alone = new RedisStore(client, { batch: false });
    await Promise.all(Array.from({ length: 20 }, () => alone.run(RL_ABSOLUTE, [key], inc(1000))));
    assert.equal(scriptCalls(sent).length, 20);
    assert.ok(scriptCalls(sent).every((c) => c[1] === RL_ABSOLUTE.sha1));
    assert.equal(await store.run(RL_ABSOLUTE, [key], GET), "320");
    assert.throws(
      () => new RedisStore(client, { batch: "yes" as unknown as boolean }),
      { code: "INVALID_ARGUMENT" },
    );
  },
  { kinds: ["standalone"] },
);

storeTest(
  "a batched call that fails fails alone, with the error it would get alone",
  async (fx) => {
    const { sent, store, key } = await setup(fx);
    const wrong = `{${fx.prefix}:a}:str`;
    await fx.raw.set(wrong, "not a hash");
    const results = await Promise.allSettled([
      store.run(RL_ABSOLUTE, [key], inc(10)),
      store.run(RL_ABSOLUTE, [key], ["10000", "100", "", "1", "bogus"]),
      store.run(RL_ABSOLUTE, [wrong], inc(10)),
      store.run(RL_ABSOLUTE, [key], inc(10, 2)),
    ]);
    assert.equal(scriptCalls(sent).length, 1);
    assert.equal(results[0]!.status, "fulfilled");
    assert.equal(Number((results[0] as PromiseFulfilledResult<unknown[]>).value[0]), 9);
    assert.equal(results[1]!.status, "rejected");
    assert.equal((results[1] as PromiseRejectedResult).reason.code, "INVALID_ARGUMENT");
    assert.match(
      (results[1] as PromiseRejectedResult).reason.message,
      /Unknown rate-limit operation/,
    );
    assert.equal(results[2]!.status, "rejected");
    assert.equal((results[2] as PromiseRejectedResult).reason.code, "STORE_ERROR");
    assert.match((results[2] as PromiseRejectedResult).reason.message, /WRONGTYPE/);
    assert.equal(results[3]!.status, "fulfilled");
    assert.equal(Number((results[3] as PromiseFulfilledResult<unknown[]>).value[0]), 7);
    assert.equal(await store.run(RL_ABSOLUTE, [key], GET), "3");
    assert.equal(await fx.raw.get(wrong), "not a hash", "nothing written to the wrong key");
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest("a batch after SCRIPT FLUSH loads the batch form (NOSCRIPT → EVAL)", async (fx) => {
  const { sent, store, key } = await setup(fx);
  await Promise.all(Array.from({ length: 5 }, () => store.run(RL_ABSOLUTE, [key], inc(100))));
  if (fx.kind === "cluster") {
    for (const m of fx.raw.masters) {
      await (await fx.raw.nodeClient(m)).sendCommand(["SCRIPT", "FLUSH"]);
    }
  } else await fx.raw.sendCommand(["SCRIPT", "FLUSH"]);
  sent.length = 0;
  const replies = await Promise.all(
    Array.from({ length: 5 }, () => store.run(RL_ABSOLUTE, [key], inc(100))),
  );
  assert.deepEqual(replies.map((r) => Number((r as unknown[])[0])), [94, 93, 92, 91, 90]);
  assert.deepEqual(scriptCalls(sent).map((c) => c[0]), ["EVALSHA", "EVAL"]);
  assert.equal(await store.run(RL_ABSOLUTE, [key], GET), "10");
}, { kinds: ["standalone", "cluster"] });

Deno.test("a batch to a frozen server fails every call within commandTimeoutMs, and the next batch works", async () => {
  await using server = await startPrivateRedis();
  const client = await connectStandalone(server.url);
  const store = new RedisStore(client, { commandTimeoutMs: 200 });
  const key = "{frozen:a}:ra";
  const batch = (n: number) =>
    Promise.allSettled(Array.from({ length: n }, () => store.run(RL_ABSOLUTE, [key], inc(1000))));
  try {
    assert.ok((await batch(10)).every((r) => r.status === "fulfilled"));
    server.pause();
    const t = performance.now();
    const during = await batch(20);
    const waited = performance.now() - t;
    assert.ok(waited < 1500, `bounded wait (${waited.toFixed(0)} ms)`);
    for (const r of during) {
      assert.equal(r.status, "rejected");
      assert.equal((r as PromiseRejectedResult).reason.code, "STORE_ERROR");
    }
    server.resume();
    // node-redis still delivers the frozen batch once the server answers: the calls timed out for
    // their callers, but they may have been applied (as for any call that times out).
    let rounds = 0;
    await waitFor(async () => {
      rounds++;
      const rs = await batch(10);
      return rs.every((r) => r.status === "fulfilled");
    }, { timeoutMs: 5000, message: "a batch after recovery" });
    const total = Number(await store.run(RL_ABSOLUTE, [key], GET));
    assert.ok(total >= 20 && total <= 30 + 10 * rounds, `total ${total} after ${rounds} rounds`);
  } finally {
    server.resume();
    await store.close();
    await client.close();
  }
});

storeTest(
  "a server that refuses a batch across slots gets it call by call, then batches per slot",
  async (fx) => {
    await loadScripts(fx);
    const { client: recorded, sent } = recording(fx.raw);
    // A sharding proxy's answer to a script call on keys of several slots.
    class SimpleError extends Error {}
    let refused = 0;
    const proxy = {
      ...recorded,
      sendCommand: (args: string[]) => {
        const keys = args[0] === "EVALSHA" || args[0] === "EVAL"
          ? args.slice(3, 3 + Number(args[2]))
          : [];
        if (new Set(keys.map(slotOf)).size > 1) {
          refused++;
          return Promise.reject(
            new SimpleError("CROSSSLOT Keys in request don't hash to the same slot"),
          );
        }
        return recorded.sendCommand(args);
      },
    };
    const store = new RedisStore(proxy);
    const a = `{${fx.prefix}:a}:ra`;
    let b = 0;
    while (slotOf(`{${fx.prefix}:b${b}}:ra`) === slotOf(a)) b++;
    const other = `{${fx.prefix}:b${b}}:ra`;
    // The remaining counts of the six admissions (replies {remaining, resetMs}).
    const both = async () =>
      (await Promise.all([
        ...Array.from({ length: 3 }, () => store.run(RL_ABSOLUTE, [a], inc(100))),
        ...Array.from({ length: 3 }, () => store.run(RL_ABSOLUTE, [other], inc(100))),
      ])).map((r) => Number((r as unknown[])[0]));
    assert.deepEqual(await both(), [99, 98, 97, 99, 98, 97]);
    assert.equal(refused, 1, "one batch of both slots, refused");
    assert.deepEqual(
      scriptCalls(sent).map((c) => c[1]),
      Array(6).fill(RL_ABSOLUTE.sha1),
      "then alone",
    );
    sent.length = 0;
    assert.deepEqual(await both(), [96, 95, 94, 96, 95, 94]);
    assert.deepEqual(scriptCalls(sent).map((c) => itemsOf(c)), [3, 3], "per slot from then on");
    assert.equal(refused, 1);
    const get = GET;
    assert.deepEqual(
      await Promise.all([store.run(RL_ABSOLUTE, [a], get), store.run(RL_ABSOLUTE, [other], get)]),
      ["6", "6"],
    );
  },
  { kinds: ["standalone"] },
);
