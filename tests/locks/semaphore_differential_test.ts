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
  | { op: "peek" }
  | { op: "sleep" };

const WEIGHTS = [1, 2, 3, 4, 1, 2];
/** Lease lengths; the lapse run shortens some (see below). */
let TTLS = [20_000, 40_000, 60_000, 30_000, 50_000, 20_000];
/** How long a queued entry lives, ms. */
let QUEUE_MS = 30_000;
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
  if (op.op === "sleep") return null;
  const token = `t${op.who}*${WEIGHTS[op.who]}/${TTLS[op.who]}${ROUTES[op.who]}/owner`;
  switch (op.op) {
    case "acquire": {
      const r = await SEM_ACQUIRE_OP.run(store, k.all, {
        token,
        n: WEIGHTS[op.who]!,
        ttlMs: TTLS[op.who]!,
        permits: op.permits,
        queueMs: op.queue ? QUEUE_MS : 0,
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

/** Runs `numRuns` random sequences of `arb` on both stores; `sleepMs` for each sleep op. */
async function agree(arb: fc.Arbitrary<Op[]>, numRuns: number, sleepMs: number): Promise<void> {
  const raw = await connectStandalone();
  const redis = new RedisStore(raw);
  const memory = new MemoryStore();
  const base = uniquePrefix("semdiff");
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(arb, async (ops) => {
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
            if (op.op === "sleep") await new Promise((r) => setTimeout(r, sleepMs));
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
      { numRuns },
    );
  } finally {
    await redis.close();
    await memory.close();
    await raw.close();
  }
}

Deno.test({
  name: "semaphore scripts: the models agree with the Lua on Redis (fast-check)",
  ignore: redisUrl() === undefined,
  fn: () => agree(fc.array(opArb, { minLength: 1, maxLength: 30 }), 60, 0),
});

Deno.test({
  name:
    "semaphore scripts: the models agree with the Lua on Redis when holders and waiters lapse (fast-check)",
  ignore: redisUrl() === undefined,
  async fn() {
    // Short leases and queue entries, and sleeps that outlast them (the ops between two sleeps
    // take a few ms, far from the 400 ms boundary, so both stores see the same lapses).
    const saved = [TTLS, QUEUE_MS] as const;
    TTLS = [400, 20_000, 400, 30_000, 400, 20_000];
    QUEUE_MS = 400;
    try {
      const withSleep = fc.oneof({ weight: 12, arbitrary: opArb }, {
        weight: 1,
        arbitrary: fc.constant<Op>({ op: "sleep" }),
      });
      await agree(fc.array(withSleep, { minLength: 1, maxLength: 14 }), 25, 600);
    } finally {
      [TTLS, QUEUE_MS] = saved;
    }
  },
});
