/** Counter fault tests: killed connections, a Redis restart, bad input (nothing changes). */
import assert from "node:assert/strict";
import { Comparator } from "../../core/comparator.ts";
import { LaxCounter } from "../../counter/lax_counter.ts";
import { StrictCounter } from "../../counter/strict_counter.ts";
import type { Counter } from "../../counter/types.ts";
import { RedisStore } from "../../store/redis_store.ts";
import { startPrivateRedis } from "../_support/servers.ts";
import { flushed, killConnections, openTestClient, storeTest } from "../_support/stores.ts";
import { sleep } from "../_support/wait.ts";

storeTest(
  "LaxCounter: CLIENT KILL in a loop while four counters flush: every total exact",
  async (fx) => {
    const WRITERS = 4, ROUNDS = 400;
    const name = `lax-victim-${fx.prefix}`; // only these connections are killed
    const counters = await Promise.all(
      Array.from(
        { length: WRITERS },
        async () =>
          new LaxCounter({ prefix: fx.prefix, store: await fx.another({ name }), allowedLagMs: 2 }),
      ),
    );
    let killing = true, kills = 0;
    const killer = (async () => {
      while (killing) {
        kills += await killConnections(fx, name).catch(() => 0);
        await sleep(7);
      }
    })();
    try {
      await Promise.all(counters.map(async (c, w) => {
        for (let i = 0; i < ROUNDS; i++) {
          await c.inc("shared");
          await c.inc(`own${w}`, 2);
          if (i % 50 === 0) await sleep(3);
        }
      }));
    } finally {
      killing = false;
      await killer;
    }
    for (const c of counters) {
      await flushed(c);
      await c.close();
    }
    const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
    assert.ok(kills > 3, `connections were killed (${kills})`);
    assert.equal(await strict.get("shared"), WRITERS * ROUNDS);
    for (let w = 0; w < WRITERS; w++) assert.equal(await strict.get(`own${w}`), 2 * ROUNDS);
  },
  { kinds: ["standalone", "cluster"] },
);

storeTest("LaxCounter: a Redis restart while deltas are pending loses nothing", async () => {
  await using server = await startPrivateRedis();
  const client = await openTestClient(server.url); // this run's client (node-redis, ioredis, ...)
  const store = new RedisStore(client.client, { commandTimeoutMs: 500 });
  try {
    const lax = new LaxCounter({ prefix: "restart", store, allowedLagMs: 5 });
    for (let i = 0; i < 100; i++) await lax.inc("k");
    await lax.flush(); // 100 persisted by SHUTDOWN SAVE
    for (let i = 0; i < 50; i++) await lax.inc("k"); // pending across the restart
    const restarted = server.restart({ keepData: true });
    for (let i = 0; i < 50; i++) await lax.inc("k"); // during the restart
    await restarted;
    await flushed(lax); // the script cache is empty after the restart: NOSCRIPT → EVAL
    await lax.close();
    const strict = new StrictCounter({ prefix: "restart", store });
    assert.equal(await strict.get("k"), 200);
  } finally {
    await store.close();
    await client.close();
  }
}, { kinds: ["standalone"] });

const BAD_KEYS: unknown[] = ["", "x".repeat(256), "a\uDC00", 7, undefined];
const BAD_NUMBERS: unknown[] = [NaN, Infinity, 1.5, 2 ** 53, "3", undefined];

for (
  const [kind, make] of [
    [
      "StrictCounter",
      (p: string, s: RedisStore | never) => new StrictCounter({ prefix: p, store: s }),
    ],
    ["LaxCounter", (p: string, s: RedisStore | never) => new LaxCounter({ prefix: p, store: s })],
  ] as const
) {
  storeTest(
    `${kind}: bad input on every method throws the right code and changes nothing`,
    async (fx) => {
      // deno-lint-ignore no-explicit-any
      await using c = (make as any)(fx.prefix, fx.store) as Counter & AsyncDisposable;
      await c.setAll([["a", 5], ["b", 6], ["low", -1]]);
      // deno-lint-ignore no-explicit-any
      const any = c as any;
      const calls: Array<[string, () => Promise<unknown>]> = [];
      for (const k of BAD_KEYS) {
        calls.push(["INVALID_KEY", () => any.inc(k, 1)], ["INVALID_KEY", () => any.dec(k)]);
        calls.push(["INVALID_KEY", () => any.get(k)], ["INVALID_KEY", () => any.set(k, 1)]);
        calls.push(["INVALID_KEY", () => any.del(k)]);
        calls.push(["INVALID_KEY", () => any.incIf(k, Comparator.always, 1)]);
        calls.push(["INVALID_KEY", () => any.setIf(k, Comparator.always, 1)]);
        calls.push(["INVALID_KEY", () => any.getAll(["a", k])]);
        calls.push(["INVALID_KEY", () => any.incAll([["a", 1], [k, 1]])]);
        calls.push(["INVALID_KEY", () => any.setAll([["a", 1], [k, 1]])]);
        calls.push([
          "INVALID_KEY",
          () => any.incAllIf([["a", Comparator.always, 1], [k, Comparator.always, 1]]),
        ]);
        calls.push([
          "INVALID_KEY",
          () => any.setAllIf([["a", Comparator.always, 1], [k, Comparator.always, 1]]),
        ]);
      }
      for (const n of BAD_NUMBERS) {
        if (n === undefined) {
          continue; // inc(key) defaults n to 1
        }
        calls.push(["INVALID_ARGUMENT", () => any.inc("a", n)], [
          "INVALID_ARGUMENT",
          () => any.dec("a", n),
        ]);
        calls.push(["INVALID_ARGUMENT", () => any.set("a", n)]);
        calls.push(["INVALID_ARGUMENT", () => any.incIf("a", Comparator.always, n)]);
        calls.push(["INVALID_ARGUMENT", () => any.setIf("a", Comparator.always, n)]);
        calls.push(["INVALID_ARGUMENT", () => any.incAll([["a", 1], ["b", n]])]);
        calls.push(["INVALID_ARGUMENT", () => any.setAll([["a", 1], ["b", n]])]);
      }
      calls.push(["INVALID_ARGUMENT", () => any.set("a", undefined)]);
      calls.push(["INVALID_ARGUMENT", () => any.incIf("a", "eq", 1)]);
      calls.push(["INVALID_ARGUMENT", () => any.incAllIf([["a", { op: "eq", operand: 5 }, 1]])]);
      calls.push(["INVALID_ARGUMENT", () => any.incAll("nope")]);
      calls.push(["INVALID_ARGUMENT", () => any.incAll([["a"], 1])]);
      calls.push(["INVALID_ARGUMENT", () => any.getAll(Array(1001).fill("a"))]);
      calls.push(["INVALID_ARGUMENT", () => any.incAll(Array(1001).fill(["a", 1]))]);
      calls.push(["COUNTER_OVERFLOW", () => any.inc("a", Number.MAX_SAFE_INTEGER)]);
      calls.push(["COUNTER_OVERFLOW", () => any.dec("low", Number.MAX_SAFE_INTEGER)]);
      calls.push([
        "COUNTER_OVERFLOW",
        () => any.incAll([["a", 1], ["b", Number.MAX_SAFE_INTEGER]]),
      ]);
      calls.push([
        "COUNTER_OVERFLOW",
        () =>
          any.incAllIf([["a", Comparator.always, 1], [
            "b",
            Comparator.always,
            Number.MAX_SAFE_INTEGER,
          ]]),
      ]);
      for (const [code, call] of calls) {
        const got = await call().then(() => "resolved", (e: { code?: string }) => e.code);
        assert.equal(got, code, `${call}`);
      }
      if (c instanceof LaxCounter) await c.flush();
      const strict = new StrictCounter({ prefix: fx.prefix, store: fx.store });
      assert.deepEqual(await strict.getAll(["a", "b", "low"]), [["a", 5], ["b", 6], ["low", -1]]);
    },
  );
}

Deno.test("counters reject bad options at construction", async () => {
  const { MemoryStore } = await import("../../store/memory_store.ts");
  const store = new MemoryStore();
  assert.throws(() => new StrictCounter({ prefix: "", store }), { code: "INVALID_KEY" });
  assert.equal(new StrictCounter({ prefix: "a:b", store }).prefix, "a:b");
  // deno-lint-ignore no-explicit-any
  assert.throws(() => new StrictCounter({ prefix: "p", store: {} as any }), {
    code: "INVALID_ARGUMENT",
  });
  for (const allowedLagMs of [0, -1, NaN, 1.5, 60_001]) {
    assert.throws(() => new LaxCounter({ prefix: "p", store, allowedLagMs }), {
      code: "INVALID_ARGUMENT",
      message: new RegExp(`'allowedLagMs' must be an integer from 1 to 60000`),
    });
  }
});
