/**
 * Model vs Lua: random sequences of counter operations run through the scripts' TypeScript models
 * (MemoryStore) and the Lua (standalone Redis); every reply, error and the final state must agree.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  COUNTER_APPLY,
  COUNTER_CLEAR,
  COUNTER_DEL,
  COUNTER_GET,
  COUNTER_INC,
  COUNTER_SYNC,
} from "../../counter/_scripts.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { RedisStore } from "../../store/redis_store.ts";
import type { Reply, Script, Store } from "../../store/types.ts";
import {
  failure,
  loadScripts,
  memoryBatched,
  type Outcome,
  redisBatched,
} from "../_support/batch.ts";
import { connectStandalone, redisUrl } from "../_support/servers.ts";
import { uniquePrefix } from "../_support/stores.ts";

const MAX = Number.MAX_SAFE_INTEGER;
// Fields are the user keys as they are: ":", "{", "}" and "%" included.
const field = fc.constantFrom("a", "b", "c", "ü", "x y", "a:b", "a%3Ab", "{c}");
const amount = fc.oneof(
  fc.integer({ min: -20, max: 20 }),
  fc.constantFrom(MAX, -MAX, MAX - 1, 2 ** 52, -(2 ** 52)),
);
const cmp = fc.tuple(
  fc.constantFrom("eq", "ne", "lt", "le", "gt", "ge", "always", "bogus"),
  amount,
);

type Call = { script: Script; keys: "hash" | "hash+seq"; argv: ReadonlyArray<string | number> };
const call: fc.Arbitrary<Call> = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom("inc", "set"), field, cmp, amount), {
    minLength: 1,
    maxLength: 6,
  })
    .map((es) => ({
      script: COUNTER_APPLY,
      keys: "hash" as const,
      argv: es.flatMap(([op, f, [c, o], n]) => [op, f, c, o, n]),
    })),
  fc.array(field, { minLength: 1, maxLength: 4 }).map((fs) => ({
    script: COUNTER_GET,
    keys: "hash" as const,
    argv: fs,
  })),
  fc.tuple(field, amount).map(([f, n]) => ({
    script: COUNTER_INC,
    keys: "hash" as const,
    argv: [f, n],
  })),
  field.map((f) => ({ script: COUNTER_DEL, keys: "hash" as const, argv: [f] })),
  fc.constant({ script: COUNTER_CLEAR, keys: "hash" as const, argv: [] }),
  fc.tuple(
    fc.integer({ min: 0, max: 6 }),
    fc.array(fc.tuple(field, amount), { maxLength: 4 }),
    fc.array(field, { maxLength: 3 }),
  ).map(([seq, deltas, reads]) => ({
    script: COUNTER_SYNC,
    keys: "hash+seq" as const,
    argv: [seq, 60_000, deltas.length, ...deltas.flat(), ...reads],
  })),
);

function keysOf(c: Call, prefix: string): string[] {
  return c.keys === "hash"
    ? [`{${prefix}}:counter`]
    : [`{${prefix}}:counter`, `{${prefix}}:counter-seq:w`];
}

async function outcome(store: Store, c: Call, prefix: string): Promise<Reply | string> {
  const keys = keysOf(c, prefix);
  try {
    return await store.run(c.script, keys, c.argv);
  } catch (e) {
    return `error ${(e as { code?: string }).code}`;
  }
}

Deno.test({
  name: "counter scripts: the TypeScript models and the Lua agree on random sequences",
  ignore: redisUrl() === undefined,
  fn: async () => {
    const client = await connectStandalone();
    const redis = new RedisStore(client);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 25 }), async (calls) => {
          const prefix = uniquePrefix("diff");
          const memory = new MemoryStore();
          for (const c of calls) {
            const [m, r] = [await outcome(memory, c, prefix), await outcome(redis, c, prefix)];
            assert.deepEqual(r, m, `${c.script.name} ${JSON.stringify(c.argv)}`);
          }
          const hash = `{${prefix}}:counter`;
          const remote = await client.hGetAll(hash);
          assert.deepEqual({ ...remote }, Object.fromEntries(memory.db.hgetall(hash)));
          await client.del([hash, `{${prefix}}:counter-seq:w`]);
        }),
        { numRuns: 150 },
      );
    } finally {
      await redis.close();
      await client.close();
    }
  },
});

Deno.test({
  name:
    "counter scripts' batch forms: a tick's calls, coalesced, agree with the batch forms' models",
  ignore: redisUrl() === undefined,
  fn: async () => {
    const client = await connectStandalone();
    await loadScripts(client, [
      COUNTER_APPLY,
      COUNTER_CLEAR,
      COUNTER_DEL,
      COUNTER_GET,
      COUNTER_INC,
      COUNTER_SYNC,
    ]);
    try {
      await fc.assert(
        fc.asyncProperty(
          // Two counter hashes: one batch carries the keys of both.
          fc.array(fc.tuple(call, fc.constantFrom(0, 1)), { minLength: 1, maxLength: 40 }),
          async (list) => {
            const prefixes = [uniquePrefix("bdiff"), uniquePrefix("bdiff")];
            const calls = list.map(([c, i]) => ({
              script: c.script,
              keys: keysOf(c, prefixes[i]!),
              argv: c.argv,
            }));
            await using memory = new MemoryStore();
            const m = await memoryBatched(memory, calls);
            const r = await redisBatched(client, calls);
            for (let i = 0; i < calls.length; i++) {
              assert.deepEqual(r[i], m[i], `item ${i}: ${calls[i]!.script.name} ${calls[i]!.argv}`);
            }
            for (const p of prefixes) {
              const hash = `{${p}}:counter`, seq = `{${p}}:counter-seq:w`;
              assert.deepEqual({ ...await client.hGetAll(hash) }, {
                ...Object.fromEntries(memory.db.hgetall(hash)),
              });
              assert.equal(await client.get(seq), memory.db.get(seq));
              await client.del([hash, seq]);
            }
          },
        ),
        { numRuns: 100 },
      );
    } finally {
      await client.close();
    }
  },
});

Deno.test({
  name:
    "counter_inc's batch form replies and writes as the calls one by one: error messages, tampered values and overflows included (fast-check)",
  ignore: redisUrl() === undefined,
  fn: async () => {
    const client = await connectStandalone();
    await loadScripts(client, [COUNTER_INC]);
    const alone = new RedisStore(client, { batch: false });
    // What a hash field may hold: integers (near the safe bounds too), and values written by
    // someone else that HINCRBY refuses.
    const stored = fc.oneof(
      { weight: 6, arbitrary: amount.map(String) },
      {
        weight: 1,
        arbitrary: fc.constantFrom("abc", "1.5", "007", "-0", " 1", "+1", "9007199254740993", ""),
      },
    );
    const incAmount = fc.oneof(
      { weight: 8, arbitrary: amount.map(String) },
      { weight: 1, arbitrary: fc.constantFrom("1.5", "x", "-0", "01", "9007199254740992") },
    );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(field, stored), { maxLength: 4 }),
          fc.boolean(), // the second key is a string, not a hash (WRONGTYPE)
          // Runs of calls on one field (the batch form adds a run up in Lua and writes it once)
          // as often as calls that change field or hash.
          fc.array(
            fc.tuple(fc.oneof(field, fc.constant("a")), incAmount, fc.constantFrom(0, 0, 1)),
            {
              minLength: 2,
              maxLength: 32,
            },
          ),
          async (seed, wrongType, incs) => {
            const outcomes: Outcome[][] = [];
            const states: unknown[] = [];
            for (const batched of [true, false]) {
              const p = [uniquePrefix("merged"), uniquePrefix("merged")];
              const hashes = p.map((x) => `{${x}}:counter`);
              for (const [f, v] of seed) await client.hSet(hashes[0]!, f, v);
              if (wrongType) await client.set(hashes[1]!, "x");
              const calls = incs.map(([f, n, i]) => ({
                script: COUNTER_INC,
                keys: [hashes[i]!],
                argv: [f, n],
              }));
              if (batched) outcomes.push(await redisBatched(client, calls));
              else {
                const out: Outcome[] = [];
                for (const c of calls) {
                  out.push(await alone.run(c.script, c.keys, c.argv).catch(failure));
                }
                outcomes.push(out);
              }
              states.push([
                { ...await client.hGetAll(hashes[0]!) },
                wrongType ? await client.get(hashes[1]!) : { ...await client.hGetAll(hashes[1]!) },
              ]);
              await client.del(hashes);
            }
            assert.deepEqual(outcomes[0], outcomes[1]);
            assert.deepEqual(states[0], states[1]);
          },
        ),
        {
          numRuns: 200,
          // A field already past the safe range plus 0: the undo's negated 0 ("-0") was refused
          // by Redis, and the whole batch failed with ERR (a fresh-clone run's counterexample).
          examples: [[[["a", "9007199254740993"]], false, [["a:b", "0", 0], ["a", "0", 0]]]],
        },
      );
      // That case's outcome, pinned: the overflow error on its own call, the field unchanged.
      const h = `{${uniquePrefix("zero")}}:counter`;
      await client.hSet(h, "a", "9007199254740993");
      const calls = [{ script: COUNTER_INC, keys: [h], argv: ["b", "1"] }, {
        script: COUNTER_INC,
        keys: [h],
        argv: ["a", "0"],
      }];
      const out = await redisBatched(client, calls);
      assert.equal(out[0], "1");
      const overflow = "error COUNTER_OVERFLOW a: adding 0 leaves the safe-integer range";
      assert.equal(out[1], overflow);
      assert.equal(await alone.run(COUNTER_INC, [h], ["a", "0"]).catch(failure), overflow);
      assert.equal(await client.hGet(h, "a"), "9007199254740993");
      await client.del(h);
    } finally {
      await alone.close();
      await client.close();
    }
  },
});
