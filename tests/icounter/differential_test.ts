/**
 * Model vs Lua for the instance-aware scripts: random call sequences (several members, register
 * flags, flush sequences, lenient mode, drops, clears, restores, near-overflow amounts, members
 * that die 1 ms after each heartbeat) run through the TypeScript models (MemoryStore) and the Lua
 * (standalone Redis); every reply, every error and the final state must agree.
 *
 * Liveness is made deterministic: a member heartbeats with a threshold of 0 ms (its deadline is
 * exactly the call's own time: the boundary, where it counts as dead at once), 1 ms (dead at the
 * next call; calls are 3 ms apart) or 10^9 ms (never dead).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { icounterKeys } from "../../icounter/_core.ts";
import { ICOUNTER_APPLY, ICOUNTER_CLEAR } from "../../icounter/_scripts.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import { RedisStore } from "../../store/redis_store.ts";
import type { Reply, Script, Store } from "../../store/types.ts";
import { loadScripts, memoryBatched, redisBatched } from "../_support/batch.ts";
import { connectStandalone, redisUrl } from "../_support/servers.ts";
import { uniquePrefix } from "../_support/stores.ts";
import { sleep } from "../_support/wait.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const BASE = 1000;
// Keys with ":" (slice fields are "<member>:<key>") and members as memberName builds them.
const key = fc.constantFrom("a", "b", "ü", "x y", "a:b", ":", "m1{1}:a");
const amount = fc.oneof(
  fc.integer({ min: -20, max: 20 }),
  fc.constantFrom(MAX, -MAX, MAX - 1, 2 ** 52),
);
const member = fc.constantFrom("m1", "m2", "m3", "m1{1}", "m1%3A{2}");
const entry = fc.tuple(
  fc.constantFrom("get", "inc", "set", "seti", "delo", "del", "rst"),
  key,
  fc.constantFrom("eq", "ne", "lt", "le", "gt", "ge", "always"),
  fc.integer({ min: -3, max: 8 }),
  amount,
).map(([op, k, cmp, operand, n]) =>
  // rst: the operand is an epoch (BASE .. BASE+8 covers those a short run draws)
  op === "rst" ? [op, k, "always", BASE + Math.abs(operand), n] : [op, k, cmp, operand, n]
);

type Call = { name: "apply" | "clear"; argv: ReadonlyArray<string | number> };
const SCRIPTS: Record<Call["name"], Script> = { apply: ICOUNTER_APPLY, clear: ICOUNTER_CLEAR };
const head = fc.record({
  member,
  ttl: fc.constantFrom(0, 1, 1e9, 1e9),
  register: fc.constantFrom(0, 1, 1),
  seq: fc.constantFrom(0, 0, 1, 2, 3),
  lenient: fc.constantFrom(0, 1),
});
const call: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(head, fc.array(entry, { maxLength: 5 })).map(([h, es]) => ({
      name: "apply" as const,
      argv: [h.member, h.ttl, h.register, BASE, h.seq, h.lenient, "ops", 0, ...es.flat()],
    })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(head, fc.constantFrom(0, 1)).map(([h, u]) => ({
      name: "apply" as const,
      argv: [h.member, h.ttl, h.register, BASE, 0, 0, "drop", u],
    })),
  },
  { weight: 1, arbitrary: fc.constant({ name: "clear" as const, argv: [BASE] }) },
);

async function outcome(store: Store, c: Call, keys: string[]): Promise<Reply | string> {
  try {
    return await store.run(SCRIPTS[c.name], keys, c.argv);
  } catch (e) {
    return `error ${(e as { code?: string }).code}`;
  }
}

Deno.test({
  name: "icounter scripts: the TypeScript models and the Lua agree on random sequences",
  ignore: redisUrl() === undefined,
  fn: async () => {
    const client = await connectStandalone();
    const redis = new RedisStore(client);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 14 }), async (calls) => {
          const keys = icounterKeys(uniquePrefix("icdiff"));
          const memory = new MemoryStore();
          for (const c of calls) {
            const [m, r] = [await outcome(memory, c, keys), await outcome(redis, c, keys)];
            assert.deepEqual(r, m, `${c.name} ${JSON.stringify(c.argv)}`);
            await sleep(3);
          }
          memory.db.now = Date.now();
          await assertSameState(client, memory, keys);
          await client.del(keys);
        }),
        { numRuns: 60 },
      );
    } finally {
      await redis.close();
      await client.close();
    }
  },
});

// A tick's calls coalesced: liveness thresholds of 0 ms (dead at once) or 10^9 ms only, since
// the calls of one batch run within the same millisecond or a few (a 1 ms threshold would depend
// on which).
const batchedCall = call.filter((c) => c.name === "clear" || c.argv[1] !== 1);

Deno.test({
  name: "icounter_apply's batch form: a tick's calls, coalesced, agree with its model",
  ignore: redisUrl() === undefined,
  fn: async () => {
    const client = await connectStandalone();
    await loadScripts(client, [ICOUNTER_APPLY, ICOUNTER_CLEAR]);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(batchedCall, { minLength: 1, maxLength: 30 }),
          async (list) => {
            const keys = icounterKeys(uniquePrefix("icbdiff"));
            const calls = list.map((c) => ({ script: SCRIPTS[c.name], keys, argv: c.argv }));
            await using memory = new MemoryStore();
            const t = Date.now();
            const m = await memoryBatched(memory, calls);
            const r = await redisBatched(client, calls);
            for (let i = 0; i < calls.length; i++) {
              assert.deepEqual(r[i], m[i], `item ${i}: ${list[i]!.name} ${list[i]!.argv}`);
            }
            memory.db.now = t;
            await assertSameState(client, memory, keys);
            await client.del(keys);
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      await client.close();
    }
  },
});

/** Every hash and sorted set of the counter holds the same on Redis as in `memory`. */
async function assertSameState(
  client: Awaited<ReturnType<typeof connectStandalone>>,
  memory: MemoryStore,
  keys: string[],
): Promise<void> {
  // keys: instances, reaping, total, epoch, slices, owned, meta, applied (icounterKeys).
  const [kInst, kReap, kTotal, kEpoch, kSlices, kOwned, kMeta, kApplied] = keys as string[];
  for (const h of [kTotal!, kEpoch!, kSlices!, kMeta!, kApplied!]) {
    assert.deepEqual({ ...await client.hGetAll(h) }, Object.fromEntries(memory.db.hgetall(h)), h);
  }
  for (const z of [kInst!, kReap!, kOwned!]) {
    assert.deepEqual(
      [...await client.zRange(z, 0, -1)].sort(),
      memory.db.zrangeAll(z).map(([m]) => m).sort(),
      z,
    );
  }
}

// One live member's calls, coalesced: what the merged batch form runs itself (the generic form
// for anything else), with overflows (lenient or not), flush sequences and epoch draws.
const oneMember = fc.tuple(
  fc.constantFrom(1e9, 5e8),
  fc.constantFrom(0, 0, 1, 2, 3),
  fc.constantFrom(0, 1),
  fc.array(entry, { maxLength: 5 }),
).map(([ttl, seq, lenient, es]) => ({
  script: ICOUNTER_APPLY,
  argv: ["m1", ttl, 1, BASE, seq, lenient, "ops", 0, ...es.flat()],
}));

Deno.test({
  name: "icounter_apply's merged batch form: one member's calls, coalesced, agree with the model",
  ignore: redisUrl() === undefined,
  fn: async () => {
    const client = await connectStandalone();
    await loadScripts(client, [ICOUNTER_APPLY]);
    const redis = new RedisStore(client, { batch: false });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(key, amount), { maxLength: 3 }),
          fc.array(oneMember, { minLength: 2, maxLength: 30 }),
          async (before, batch) => {
            const keys = icounterKeys(uniquePrefix("icmerged"));
            await using memory = new MemoryStore();
            // m1 registered, with some slices already (and m2's, which the items never touch).
            for (const m of ["m2", "m1"]) {
              const argv = [
                m,
                1e9,
                1,
                BASE,
                0,
                1,
                "ops",
                0,
                ...before.flatMap(([k, n]) => ["inc", k, "always", 0, n]),
              ];
              assert.deepEqual(
                await redis.run(ICOUNTER_APPLY, keys, argv),
                await memory.run(ICOUNTER_APPLY, keys, argv),
              );
            }
            const calls = batch.map((c) => ({ ...c, keys }));
            const t = Date.now();
            const m = await memoryBatched(memory, calls);
            const r = await redisBatched(client, calls);
            for (let i = 0; i < calls.length; i++) {
              assert.deepEqual(r[i], m[i], `item ${i}: ${batch[i]!.argv}`);
            }
            memory.db.now = t;
            await assertSameState(client, memory, keys);
            await client.del(keys);
          },
        ),
        { numRuns: 100 },
      );
    } finally {
      await redis.close();
      await client.close();
    }
  },
});
