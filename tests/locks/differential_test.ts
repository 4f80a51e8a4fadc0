/**
 * Model-vs-Lua agreement: random sequences of lock operations run on MemoryStore (the TypeScript
 * models) and on standalone Redis (the Lua scripts); every reply, every wake-up message and the
 * final keyspace must agree.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore, RedisStore } from "../../mod.ts";
import {
  acquireOnce,
  type LockKeys,
  lockKeys,
  releaseOnce,
  renewOnce,
} from "../../locks/_remote.ts";
import {
  ACQUIRE,
  LOCK_ACQUIRE,
  LOCK_RELEASE,
  LOCK_RENEW,
  RELEASE,
  RENEW,
} from "../../locks/_scripts.ts";
import { type Call, loadScripts, memoryBatched, redisBatched } from "../_support/batch.ts";
import type { Store } from "../../store/types.ts";
import { connectStandalone, redisUrl } from "../_support/servers.ts";
import { type RawClient, uniquePrefix } from "../_support/stores.ts";
import { waitFor } from "../_support/wait.ts";

type Op =
  | { op: "acquire"; mode: "write" | "read"; who: number; ttl: number; queue: boolean }
  | { op: "renew"; mode: "write" | "read"; who: number; ttl: number }
  | { op: "release"; mode: "write" | "read"; who: number };

const mode = fc.constantFrom<"write" | "read">("write", "read");
const who = fc.integer({ min: 0, max: 3 });
const ttl = fc.constantFrom(20_000, 40_000, 60_000);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("acquire" as const),
      mode,
      who,
      ttl,
      queue: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("renew" as const), mode, who, ttl }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("release" as const), mode, who }) },
);

async function apply(store: Store, key: string, op: Op): Promise<unknown> {
  const k = lockKeys("distkit-locks", key, "rw");
  // Two of the four carry a route (their grants go to "<channel>:<route>"), two do not.
  const route = ["/ra", "/rb", "", ""][op.who];
  const token = `t${op.who}/${[20_000, 40_000, 60_000, 30_000][op.who]}${route}/owner`;
  switch (op.op) {
    case "acquire": {
      const r = await acquireOnce(store, k, op.mode, token, op.ttl, op.queue ? 30_000 : 0);
      return r.ok ? r : { ok: false, hint: r.hintMs >= 0 ? "lease" : "none" };
    }
    case "renew":
      return await renewOnce(store, k, op.mode, token, op.ttl);
    case "release":
      return await releaseOnce(store, k, op.mode, token); // the grant message too
  }
}

/** Every part of the lock: type, value (zset members in order), whether it expires. */
async function snapshot(read: (name: string) => Promise<unknown>, key: string) {
  const k = lockKeys("distkit-locks", key, "rw");
  const out: Record<string, unknown> = {};
  for (const [part, name] of Object.entries(k)) {
    if (part === "channel" || part === "all") continue;
    const v = await read(name) as { value: unknown } | null;
    // Expiry-ordered sets depend on each store's clock; only the queue's order is specified.
    if (v !== null && (part === "readers" || part === "queueExp")) {
      v.value = [...(v.value as string[])].sort();
    }
    out[part] = v;
  }
  return out;
}

Deno.test({
  name: "lock scripts: the models agree with the Lua on Redis (fast-check)",
  ignore: redisUrl() === undefined,
  async fn() {
    const raw = await connectStandalone();
    const redis = new RedisStore(raw);
    const memory = new MemoryStore();
    const base = uniquePrefix("lockdiff");
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
          const key = `${base}-${run++}`;
          const channel = lockKeys("distkit-locks", key, "rw").channel;
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
                : memory.db.zrangeAll(name).map(([m]) => m);
              return Promise.resolve({ t, value, expires });
            }, key);
            const red = await snapshot(async (name) => {
              const t = await raw.type(name);
              if (t === "none") return null;
              const expires = Number(await raw.pTTL(name)) > 0;
              const value = t === "string" ? await raw.get(name) : await raw.zRange(name, 0, -1);
              return { t, value, expires };
            }, key);
            assert.deepEqual(red, mem);
          } finally {
            for (const u of unsubs) await u();
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      await redis.close();
      await memory.close();
      await raw.close();
    }
  },
});

/**
 * Every part of lock `k` the same on Redis (`raw`) and in `memory` (at `memory.db.now`): type,
 * value, members (the queue in order; expiry-ordered sets as sets) and whether it expires.
 */
async function assertSameLock(raw: RawClient, memory: MemoryStore, k: LockKeys): Promise<void> {
  for (const part of ["lease", "readers", "queue", "queueExp", "fence", "waiters"] as const) {
    const n = k[part];
    const t = memory.db.type(n);
    assert.equal(await raw.type(n), t, n);
    if (t === "string") assert.equal(await raw.get(n), memory.db.get(n), n);
    if (t === "zset") {
      const mem = memory.db.zrangeAll(n).map(([x]) => x);
      const red = await raw.zRange(n, 0, -1);
      // Expiry-ordered sets depend on each store's clock; the queue's order is set.
      if (part === "queue") assert.deepEqual(red, mem, n);
      else assert.deepEqual([...red].sort(), mem.sort(), n);
    }
    assert.equal(Number(await raw.pTTL(n)) > 0, memory.db.pttl(n) > 0, `${n} ttl`);
  }
}

/** The locks of a batched run: two of each kind (a batch carries the keys of several). */
const LOCKS = [["a", "mutex"], ["b", "mutex"], ["a", "rw"], ["b", "rw"]] as const;

/** One op on lock `at` as a script call (tokens as in `apply`). */
function callOf(base: string, at: number, op: Op): Call {
  const [name, kind] = LOCKS[at]!;
  const k = lockKeys("distkit-locks", `${base}-${name}`, kind);
  const route = ["/ra", "/rb", "", ""][op.who];
  const token = `t${op.who}/${[20_000, 40_000, 60_000, 30_000][op.who]}${route}/owner`;
  switch (op.op) {
    case "acquire":
      return {
        script: LOCK_ACQUIRE,
        keys: k.all,
        argv: ACQUIRE.encode({
          mode: op.mode,
          token,
          ttlMs: op.ttl,
          queueMs: op.queue ? 30_000 : 0,
        }),
      };
    case "renew":
      return {
        script: LOCK_RENEW,
        keys: [k.lease, k.readers],
        argv: RENEW.encode({ mode: op.mode, token, ttlMs: op.ttl }),
      };
    case "release":
      return {
        script: LOCK_RELEASE,
        keys: k.all,
        argv: RELEASE.encode({ mode: op.mode, token, channel: k.channel }),
      };
  }
}

/** An acquire's hint is time: only whether a lease blocks (>= 0) or a queued writer (-1). */
function normal(call: Call, r: unknown): unknown {
  if (call.script !== LOCK_ACQUIRE || !Array.isArray(r)) return r;
  return [r[0], Number(r[1]) >= 0 ? "lease" : "none", ...r.slice(2)];
}

Deno.test({
  name: "lock scripts' batch forms: a tick's calls, coalesced, agree with their models",
  ignore: redisUrl() === undefined,
  async fn() {
    const raw = await connectStandalone();
    await loadScripts(raw, [LOCK_ACQUIRE, LOCK_RELEASE, LOCK_RENEW]);
    const listener = new RedisStore(raw);
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          // Runs of one script (each one batch), so batches are long: up to 3 rounds of 12.
          fc.array(
            fc.constantFrom("acquire", "renew", "release").chain((which) =>
              fc.array(
                fc.tuple(fc.integer({ min: 0, max: 3 }), opArb.filter((o) => o.op === which)),
                { minLength: 1, maxLength: 12 },
              )
            ),
            { minLength: 1, maxLength: 3 },
          ),
          async (rounds) => {
            const base = `${uniquePrefix("lockbdiff")}-${run++}`;
            await using memory = new MemoryStore();
            const got: Record<string, string[]> = { memory: [], redis: [] };
            const unsubs = [];
            for (const [name, kind] of LOCKS) {
              const channel = lockKeys("distkit-locks", `${base}-${name}`, kind).channel;
              for (const c of [channel, `${channel}:ra`, `${channel}:rb`]) {
                unsubs.push(await memory.subscribe(c, (m) => got.memory!.push(`${c} ${m}`)));
                unsubs.push(await listener.subscribe(c, (m) => got.redis!.push(`${c} ${m}`)));
              }
            }
            try {
              for (const round of rounds) {
                const calls = round.map(([at, op]) => callOf(base, at, op as Op));
                const m = await memoryBatched(memory, calls);
                const r = await redisBatched(raw, calls);
                for (let i = 0; i < calls.length; i++) {
                  assert.deepEqual(
                    normal(calls[i]!, r[i]),
                    normal(calls[i]!, m[i]),
                    `item ${i}: ${calls[i]!.script.name} ${calls[i]!.argv}`,
                  );
                }
              }
              await waitFor(() => got.redis!.length >= got.memory!.length, {
                timeoutMs: 2000,
                message: "messages",
              });
              assert.deepEqual(got.redis, got.memory);
              memory.db.now = Date.now();
              for (const [name, kind] of LOCKS) {
                await assertSameLock(
                  raw,
                  memory,
                  lockKeys("distkit-locks", `${base}-${name}`, kind),
                );
              }
            } finally {
              for (const u of unsubs) await u();
            }
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await listener.close();
      await raw.close();
    }
  },
});

Deno.test({
  name: "lock batch forms: inline fast paths and the script's body in one batch agree with models",
  ignore: redisUrl() === undefined,
  async fn() {
    const raw = await connectStandalone();
    await loadScripts(raw, [LOCK_ACQUIRE, LOCK_RELEASE]);
    const listener = new RedisStore(raw);
    await using memory = new MemoryStore();
    const base = uniquePrefix("lockfast");
    const names = ["free", "late", "rd", "rds", "badfence", "held", "handoff", "mk", "badlease"];
    const keysOf = (name: string) =>
      lockKeys(
        "distkit-locks",
        `${base}-${name}`,
        ["rd", "rds", "mk"].includes(name) ? "rw" : "mutex",
      );
    const token = (who: string) => `${who}/20000/r${who}/owner`;
    const acq = (name: string, who: string, mode: "write" | "read" = "write", queueMs = 0) => ({
      script: LOCK_ACQUIRE,
      keys: keysOf(name).all,
      argv: ACQUIRE.encode({ mode, token: token(who), ttlMs: 20_000, queueMs }),
    });
    const rel = (name: string, who: string, mode: "write" | "read" = "write") => ({
      script: LOCK_RELEASE,
      keys: keysOf(name).all,
      argv: RELEASE.encode({ mode, token: token(who), channel: keysOf(name).channel }),
    });
    const got: Record<string, string[]> = { memory: [], redis: [] };
    const unsubs = [];
    try {
      for (const name of names) {
        const channel = keysOf(name).channel;
        for (const c of [channel, ...["A", "B", "C", "W", "R"].map((w) => `${channel}:r${w}`)]) {
          unsubs.push(await memory.subscribe(c, (m) => got.memory!.push(`${c} ${m}`)));
          unsubs.push(await listener.subscribe(c, (m) => got.redis!.push(`${c} ${m}`)));
        }
      }
      /** Runs `calls` as one tick on both stores; the replies must agree. */
      const both = async (calls: Call[]) => {
        const m = await memoryBatched(memory, calls);
        const r = await redisBatched(raw, calls);
        for (let i = 0; i < calls.length; i++) {
          assert.deepEqual(normal(calls[i]!, r[i]), normal(calls[i]!, m[i]), `item ${i}`);
        }
        return r;
      };
      // Set up, one call at a time: "late" has a queued writer (B) behind a lease that then
      // expires (deleted on both); "rds" a live reader; "badfence" a fence of another type;
      // "held" and "handoff" a holder (A), "handoff" a queued writer too (B); "mk" a writer
      // holding and a reader waiting (its marker); "badlease" a lease key of another type.
      for (
        const c of [
          acq("late", "A"),
          acq("late", "B", "write", 30_000),
          acq("rds", "R", "read"),
          acq("held", "A"),
          acq("handoff", "A"),
          acq("handoff", "B", "write", 30_000),
          acq("mk", "W"),
          acq("mk", "R", "read", 30_000),
        ]
      ) await both([c]);
      await raw.del(keysOf("late").lease);
      memory.db.del(keysOf("late").lease);
      for (const name of ["badfence", "badlease"]) {
        const k = keysOf(name);
        const key = name === "badfence" ? k.fence : k.lease;
        await raw.hSet(key, "f", "1");
        memory.db.hset(key, "f", "1");
      }
      const acquired = await both([
        acq("free", "A"), // inline: taken
        acq("late", "C", "write", 30_000), // no lease, but B is queued: C queues behind it
        acq("rd", "R", "read"), // a reader: the script's body
        acq("rds", "W"), // a live reader: refused
        acq("badfence", "A"), // inline, INCR refused: this item fails alone
        acq("held", "A"), // held by the same token: the script's body, its fence again
      ]);
      assert.equal(typeof acquired[0], "number", "the uncontended acquisition's fence");
      assert.match(String(acquired[4]), /WRONGTYPE/);
      const released = await both([
        rel("free", "A"), // inline: freed, nobody to wake
        rel("handoff", "A"), // a queued writer: granted to B, by the script's body
        rel("mk", "W"), // a waiting reader's marker: "free" published
        rel("held", "B"), // not the holder: 0
        rel("badlease", "A"), // GET refused: this item fails alone
        rel("rd", "R", "read"),
      ]);
      assert.equal(released[0], 1);
      assert.ok(Array.isArray(released[1]), "the hand-off's grant");
      assert.match(String(released[4]), /WRONGTYPE/);
      await waitFor(() => got.redis!.length >= got.memory!.length, {
        timeoutMs: 2000,
        message: "messages",
      });
      assert.deepEqual(got.redis, got.memory);
      assert.ok(got.redis!.some((m) => m.endsWith(" f")), "the waiting reader woken");
      memory.db.now = Date.now();
      for (const name of names) await assertSameLock(raw, memory, keysOf(name));
    } finally {
      for (const u of unsubs) await u();
      await listener.close();
      await raw.close();
    }
  },
});
