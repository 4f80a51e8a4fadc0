/**
 * Model-vs-Lua agreement for the semaphore: random sequences of acquisitions (some with another
 * count of permits), renewals, releases and peeks run on MemoryStore (the TypeScript models) and
 * on standalone Redis (the Lua scripts); every reply, every grant message and the final keyspace
 * must agree.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore, RedisStore } from "../../mod.ts";
import { semaphoreKeys } from "../../locks/_remote.ts";
import {
  SEM_ACQUIRE_OP,
  SEM_PEEK_OP,
  SEM_RELEASE_OP,
  SEM_RENEW_OP,
} from "../../locks/_sem_scripts.ts";
import type { Store } from "../../store/types.ts";
import { connectStandalone, redisUrl } from "../_support/servers.ts";
import { uniquePrefix } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

type Op =
  | { op: "acquire"; who: number; queue: boolean; permits: number }
  | { op: "renew"; who: number }
  | { op: "release"; who: number }
  | { op: "peek" };

const WEIGHTS = [1, 2, 3, 4, 1, 2];
const TTLS = [20_000, 40_000, 60_000, 30_000, 50_000, 20_000];
const ROUTES = ["/ra", "/rb", "", "/ra", "", "/rb"];
const who = fc.integer({ min: 0, max: 5 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("acquire" as const),
      who,
      queue: fc.boolean(),
      permits: fc.constantFrom(4, 4, 4, 4, 5),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("renew" as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("release" as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("peek" as const) }) },
);

async function apply(store: Store, key: string, op: Op): Promise<unknown> {
  const k = semaphoreKeys("distkit-locks", key);
  if (op.op === "peek") return await SEM_PEEK_OP.run(store, [k.holders, k.queueExp, k.state]);
  const token = `t${op.who}*${WEIGHTS[op.who]}/${TTLS[op.who]}${ROUTES[op.who]}/owner`;
  switch (op.op) {
    case "acquire": {
      const r = await SEM_ACQUIRE_OP.run(store, k.all, {
        token,
        n: WEIGHTS[op.who]!,
        ttlMs: TTLS[op.who]!,
        permits: op.permits,
        queueMs: op.queue ? 30_000 : 0,
        channel: k.channel,
        key,
      });
      if (r.ok) return r;
      return {
        ok: false,
        hint: r.hintMs >= 0 ? "holder" : "none",
        ticket: r.ticket,
        refused: r.refused?.message,
      };
    }
    case "renew":
      return await SEM_RENEW_OP.run(store, [k.holders, k.queue, k.queueExp, k.state], {
        token,
        ttlMs: TTLS[op.who]!,
      });
    case "release":
      return await SEM_RELEASE_OP.run(store, k.all, { token, permits: 4, channel: k.channel });
  }
}

/** Every part of the semaphore: type, value, whether it expires. */
async function snapshot(read: (name: string) => Promise<unknown>, key: string) {
  const k = semaphoreKeys("distkit-locks", key);
  const out: Record<string, unknown> = {};
  for (const part of ["holders", "queue", "queueExp", "fence", "state"] as const) {
    const v = await read(k[part]) as { value: unknown } | null;
    // Expiry-ordered sets depend on each store's clock; only the queue's order is specified.
    if (v !== null && (part === "holders" || part === "queueExp")) {
      v.value = [...(v.value as string[])].sort();
    }
    out[part] = v;
  }
  return out;
}

Deno.test({
  name: "semaphore scripts: the models agree with the Lua on Redis (fast-check)",
  ignore: redisUrl() === undefined,
  async fn() {
    const raw = await connectStandalone();
    const redis = new RedisStore(raw);
    const memory = new MemoryStore();
    const base = uniquePrefix("semdiff");
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
          const key = `${base}-${run++}`;
          const channel = semaphoreKeys("distkit-locks", key).channel;
          const got: Record<string, string[]> = { memory: [], redis: [] };
          const unsubs = [];
          for (const c of [channel, `${channel}:ra`, `${channel}:rb`]) {
            unsubs.push(await memory.subscribe(c, (m) => got.memory!.push(`${c} ${m}`)));
            unsubs.push(await redis.subscribe(c, (m) => got.redis!.push(`${c} ${m}`)));
          }
          try {
            for (const op of ops) {
              const [m, r] = [await apply(memory, key, op), await apply(redis, key, op)];
              assert.deepEqual(m, r, JSON.stringify(op));
            }
            await waitFor(() => got.redis!.length >= got.memory!.length, {
              timeoutMs: 2000,
              message: "messages",
            });
            assert.deepEqual(got.redis, got.memory);
            memory.db.now = Date.now();
            const mem = await snapshot((name) => {
              const t = memory.db.type(name);
              if (t === "none") return Promise.resolve(null);
              const expires = memory.db.pttl(name) > 0;
              const value = t === "string"
                ? memory.db.get(name)
                : t === "hash"
                ? Object.fromEntries(memory.db.hgetall(name))
                : memory.db.zrangeAll(name).map(([m]) => m);
              return Promise.resolve({ t, value, expires });
            }, key);
            const red = await snapshot(async (name) => {
              const t = await raw.type(name);
              if (t === "none") return null;
              const expires = Number(await raw.pTTL(name)) > 0;
              const value = t === "string"
                ? await raw.get(name)
                : t === "hash"
                ? { ...await raw.hGetAll(name) }
                : await raw.zRange(name, 0, -1);
              return { t, value, expires };
            }, key);
            assert.deepEqual(red, mem);
          } finally {
            for (const u of unsubs) await u();
          }
        }),
        { numRuns: 60 },
      );
    } finally {
      await redis.close();
      await memory.close();
      await raw.close();
    }
  },
});
