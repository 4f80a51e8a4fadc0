/**
 * Model-vs-Lua agreement: random operation sequences on random initial states, run through the
 * MemoryStore models and through Redis, compared reply by reply and state by state (after every
 * operation).
 *
 * Redis time cannot be frozen, so the window is 10 h of 1 h buckets and each run stays inside
 * one bucket (the MemoryStore clock follows Redis TIME): every decision is exact; only the
 * millisecond-valued fields that depend on "now" (retry hints, TTLs, reservation lapse times)
 * are compared within a tolerance. Eviction is exercised by seeding buckets up to 14 h old.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore } from "../../store/memory_store.ts";
import type { Reply, Script, Store } from "../../store/types.ts";
import {
  absoluteArgv,
  type AbsoluteOp,
  RL_ABSOLUTE,
  RL_HYBRID,
  RL_SUPPRESSED,
} from "../../ratelimit/_scripts.ts";
import { type RawClient, storeTest } from "../_support/stores.ts";

const G = 3_600_000;
const W = 10 * G;
const TOL = 2000; // ms-valued fields only; decisions are exact (1 h buckets)

async function redisNow(raw: RawClient): Promise<number> {
  const [s, us] = await raw.time().then((t: unknown) => {
    if (t instanceof Date) return [Math.floor(t.getTime() / 1000), (t.getTime() % 1000) * 1000];
    return t as [string, string];
  });
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

interface Seed {
  buckets: Array<[number, number, number]>; // [age in buckets, count, declined]
  cap: number;
  hard: number;
  res: Array<[string, number, boolean]>; // [id, r, lapsed]
  seqs: Array<[string, number]>;
  slack: number; // how far the origin lies below the oldest bucket
}

const seedArb = fc.record({
  buckets: fc.uniqueArray(
    fc.tuple(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 1, max: 20 }), fc.nat(20)),
    { selector: (b) => b[0], maxLength: 6 },
  ).map((bs) => bs.map(([a, c, d]): [number, number, number] => [a, c, Math.min(c, d)])),
  // Often the limits the operations below use too, so that the scripts' fast paths (same
  // limits as the stored ones) are exercised.
  cap: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(15)),
  hard: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(10)),
  res: fc.uniqueArray(
    fc.tuple(fc.constantFrom("a", "b", "c"), fc.integer({ min: 1, max: 8 }), fc.boolean()),
    { selector: (r) => r[0], maxLength: 3 },
  ),
  seqs: fc.uniqueArray(fc.tuple(fc.constantFrom("a", "b", "c"), fc.integer({ min: 1, max: 4 })), {
    selector: (s) => s[0],
    maxLength: 3,
  }),
  slack: fc.nat(3),
});

type Kind = "absolute" | "suppressed" | "hybrid";

/** Writes the same seed with raw commands into Redis and into the MemoryDb. */
async function seed(
  kind: Kind,
  s: Seed,
  keys: string[],
  now: number,
  raw: RawClient,
  mem: MemoryStore,
) {
  const [h, z, rz] = keys as [string, string | undefined, string | undefined];
  const cur = Math.floor(now / G);
  const fields: Record<string, string> = {};
  let t = 0, d = 0, newest = -1;
  for (const [age, c, dc] of s.buckets) {
    const i = cur - age;
    fields[String(i)] = String(c);
    // Suppressed and hybrid keep a declined count only where nonzero.
    if (kind !== "absolute" && dc > 0) fields[`x${i}`] = String(dc);
    t += c;
    d += kind === "absolute" ? 0 : dc;
    newest = Math.max(newest, i);
  }
  const res = kind === "hybrid" ? s.res : [];
  if (s.buckets.length === 0 && res.length === 0) return;
  fields.t = String(t);
  fields.c = String(s.cap);
  if (kind !== "absolute") {
    fields.d = String(d);
    fields.h = String(s.cap + s.hard);
  }
  if (kind !== "hybrid" && s.buckets.length > 0) {
    fields.o = String(Math.min(...s.buckets.map(([age]) => cur - age)) - s.slack);
    fields.n = String(newest);
  }
  if (kind !== "hybrid" && s.buckets.length > 0) {
    // The total (T, or T<capacity> for absolute), t sums the older buckets, and the newest has no
    // field of its own.
    fields[kind === "absolute" ? `T${s.cap}` : "T"] = String(t);
    fields.t = String(t - Number(fields[String(newest)]));
    delete fields[String(newest)];
  }
  let at = newest < 0 ? -1 : (newest + 1) * G + W;
  if (kind !== "hybrid" && newest >= 0) fields.e = String(at);
  let reserved = 0;
  const zres: Array<[string, number]> = [];
  if (kind === "hybrid") {
    for (const [id, r, lapsed] of res) {
      const exp = lapsed ? now - 600_000 : now + 600_000;
      fields[`r:${id}`] = String(r);
      reserved += r;
      zres.push([id, exp]);
      at = Math.max(at, exp);
    }
    fields.R = String(reserved);
    for (const [id, q] of s.seqs) fields[`q:${id}`] = String(q);
  }
  // Redis
  await raw.hSet(h, fields);
  if (kind === "hybrid") {
    for (const [age] of s.buckets) {
      await raw.zAdd(z!, { score: cur - age, value: String(cur - age) });
    }
  }
  for (const [id, exp] of zres) await raw.zAdd(rz!, { score: exp, value: id });
  for (const k of keys) await raw.pExpireAt(k, at);
  // Memory
  const db = mem.db;
  db.now = now;
  for (const [f, v] of Object.entries(fields)) db.hset(h, f, v);
  if (kind === "hybrid") {
    for (const [age] of s.buckets) {
      db.zadd(z!, cur - age, String(cur - age));
    }
  }
  for (const [id, exp] of zres) db.zadd(rz!, exp, id);
  for (const k of keys) db.pexpireat(k, at);
}

async function dumpRedis(raw: RawClient, keys: string[]) {
  const out: Record<string, { at: number; data: unknown }> = {};
  for (const k of keys) {
    const type = await raw.type(k);
    if (type === "none") continue;
    const at = Number(await raw.sendCommand(["PEXPIRETIME", k]));
    const data = type === "hash"
      ? Object.fromEntries(Object.entries(await raw.hGetAll(k)).sort(([a], [b]) => a < b ? -1 : 1))
      : (await raw.zRangeWithScores(k, 0, -1)).map((e: { value: string; score: number }) => [
        e.value,
        e.score,
      ]);
    out[k] = { at, data };
  }
  return out;
}

function dumpMemory(mem: MemoryStore, keys: string[]) {
  const out: Record<string, { at: number; data: unknown }> = {};
  for (const e of mem.db.dump()) {
    if (!keys.includes(e.key)) continue;
    out[e.key] = { at: e.ttl < 0 ? e.ttl : mem.db.now + e.ttl, data: e.data.value };
  }
  return out;
}

/** Compares two values; numbers (and numeric strings) within `tol` when `loose`. */
function close(a: unknown, b: unknown, path: string, loose: (p: string) => boolean): void {
  if (Array.isArray(a) && Array.isArray(b)) {
    assert.equal(
      a.length,
      b.length,
      `${path}: length ${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
    );
    a.forEach((x, i) => close(x, b[i], `${path}[${i}]`, loose));
    return;
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), path);
    for (const k of Object.keys(a)) {
      close(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${path}.${k}`,
        loose,
      );
    }
    return;
  }
  const na = typeof a === "string" && a !== "" && !Number.isNaN(Number(a)) ? Number(a) : a;
  const nb = typeof b === "string" && b !== "" && !Number.isNaN(Number(b)) ? Number(b) : b;
  if (typeof na === "number" && typeof nb === "number" && loose(path)) {
    assert.ok(Math.abs(na - nb) <= TOL, `${path}: ${na} vs ${nb}`);
  } else {
    assert.equal(na, nb, `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
}

/** Compares the keys' state in Redis and in the MemoryDb. */
async function sameState(raw: RawClient, mem: MemoryStore, keys: string[]): Promise<void> {
  const dr = await dumpRedis(raw, keys);
  const dm = dumpMemory(mem, keys);
  // Reservation lapse times depend on "now": compare them as a set, within the tolerance.
  for (const d of [dr, dm]) {
    for (const [k, v] of Object.entries(d)) {
      if (k.endsWith(":ha:r")) {
        (v.data as Array<[string, number]>).sort((a, b) => a[0] < b[0] ? -1 : 1);
      }
    }
  }
  // A block's end (b, and e when it is later than the newest bucket's) is "now" plus its length.
  close(
    dm,
    dr,
    "state",
    (p) =>
      p.endsWith(".at") || p.includes(":ha:r.data") || p.endsWith(".data.b") ||
      p.endsWith(".data.e"),
  );
}

const cmpArb = fc.tuple(
  fc.constantFrom("eq", "ne", "lt", "le", "gt", "ge", "always"),
  fc.integer({ min: 0, max: 40 }),
);
const rnd = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

const absOps = fc.array(
  fc.oneof(
    fc.tuple(
      fc.constant("inc"),
      fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(15, 200)),
      fc.integer({ min: 0, max: 12 }),
    ).map(([op, cap, n]) => [op, cap, n]),
    fc.constant<Array<string | number>>(["check"]),
    fc.constant<Array<string | number>>(["get"]),
    fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 30 }), cmpArb)
      .map(([cap, n, [c, o]]) => ["set", cap, n, c, o]),
    fc.integer({ min: 0, max: 15 }).map((n) => ["refund", n]),
    // Blocks long enough to last the run on both sides (expiry is tested with injected time).
    fc.constantFrom(600_000, 3_600_000).map((ms) => ["block", ms]),
  ),
  { minLength: 1, maxLength: 12 },
);

const supOps = fc.array(
  fc.oneof(
    fc.tuple(
      fc.oneof(
        fc.tuple(fc.integer({ min: 1, max: 20 }), fc.nat(20)),
        fc.constant<[number, number]>([15, 10]),
      ),
      fc.integer({ min: 0, max: 8 }),
      rnd,
    ).map(([[soft, extra], n, r]) => ["inc", soft, soft + extra, n, r]),
    rnd.map((r) => ["check", 0, 0, 0, r]),
    fc.constant<Array<string | number>>(["get"]),
    fc.constant<Array<string | number>>(["factor"]),
    fc.tuple(fc.integer({ min: 1, max: 20 }), fc.nat(20), fc.integer({ min: 0, max: 30 }), cmpArb)
      .map(([soft, extra, n, [c, o]]) => ["set", soft, soft + extra, n, 0, c, o]),
  ),
  { minLength: 1, maxLength: 12 },
);

const hybOps = fc.array(
  fc.oneof(
    fc.record({
      id: fc.constantFrom("a", "b", "c"),
      seq: fc.integer({ min: 1, max: 8 }),
      used: fc.nat(6),
      extra: fc.nat(6),
      dn: fc.nat(6),
      want: fc.integer({ min: -1, max: 15 }),
      cap: fc.integer({ min: -1, max: 30 }),
      hardExtra: fc.nat(10),
      hintN: fc.integer({ min: 1, max: 35 }),
    }).map((o) => [
      "sync",
      o.id,
      o.seq,
      o.used,
      o.extra,
      Math.min(o.dn, o.extra),
      o.want,
      600_000,
      o.cap,
      o.cap < 0 ? -1 : o.cap + o.hardExtra,
      o.hintN,
    ]),
    fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 30 }), cmpArb)
      .map(([cap, n, [c, o]]) => ["set", cap, cap, n, c, o]),
    fc.integer({ min: 0, max: 15 }).map((n) => ["refund", n]),
    fc.constantFrom(600_000, 3_600_000).map((ms) => ["block", ms]),
  ),
  { minLength: 1, maxLength: 12 },
);

/**
 * The reply fields that hold ms until a moment (they depend on "now", which differs by the few
 * ms between the two runs): resetMs, retryAfterMs and blockedMs.
 */
const LOOSE: Record<Kind, (p: string, op: string, tagged: boolean) => boolean> = {
  absolute: (p, op) =>
    op === "inc" || op === "check" ? p === "[1]" || p === "[4]" || p === "[6]" : false,
  suppressed: (p, op, tagged) =>
    op === "inc" || op === "check" ? p === (tagged ? "[4]" : "[1]") : false,
  hybrid: (p, op) => op === "sync" && (p === "[7]" || p === "[9]" || p === "[10]"),
};

/** Whether a decision reply is a tagged one ({"rejected", …} or {"suppressed", …}). */
function tagged(r: Reply): boolean {
  return Array.isArray(r) && (r[0] === "rejected" || r[0] === "suppressed");
}

/** The script's argv for one generated operation (absolute: as the limiter encodes it). */
function argvOf(kind: Kind, op: ReadonlyArray<string | number>): Array<string | number> {
  if (kind !== "absolute") return [op[0]!, W, G, ...op.slice(1)];
  const [name, cap, n, cmp, operand] = op as [string, number, number, string, number];
  const o: AbsoluteOp = name === "inc"
    ? { op: "inc", cap, n }
    : name === "set"
    ? { op: "set", cap, n, cmp, operand }
    : name === "refund"
    ? { op: "refund", n: cap }
    : name === "block"
    ? { op: "block", ms: cap }
    : { op: name as "check" | "get" };
  return absoluteArgv(String(W), String(G), o);
}

async function differential(
  kind: Kind,
  script: Script,
  suffix: string[],
  ops: fc.Arbitrary<ReadonlyArray<ReadonlyArray<string | number>>>,
  raw: RawClient,
  redis: Store,
  prefix: string,
  examples: Example[] = [],
  batched = false,
): Promise<void> {
  const start = await redisNow(raw);
  if (start % G > G - 120_000) {
    console.log("skipped: too close to an hour boundary (1 h buckets)");
    return;
  }
  let run = 0;
  await fc.assert(
    fc.asyncProperty(seedArb, ops, async (s, list) => {
      const tag = `{${prefix}:e${run++}}`;
      const keys = suffix.map((x) => `${tag}${x}`);
      const offset = (await redisNow(raw)) - Date.now();
      await using mem = new MemoryStore({ now: () => Date.now() + offset });
      await seed(kind, s, keys, Date.now() + offset, raw, mem);
      if (batched) {
        // Every operation in one tick: RedisStore sends them as one batch, run in order.
        const rs = await Promise.all(list.map((op) => redis.run(script, keys, argvOf(kind, op))));
        for (const [i, op] of list.entries()) {
          const m: Reply = await mem.run(script, keys, argvOf(kind, op));
          try {
            close(m, rs[i], "", (p) => LOOSE[kind](p, String(op[0]), tagged(m)));
          } catch (e) {
            throw new Error(`batch item ${i} ${JSON.stringify(op)}: ${(e as Error).message}`);
          }
        }
        await sameState(raw, mem, keys);
        for (const k of keys) await raw.del(k);
        return;
      }
      for (const op of list) {
        const argv = argvOf(kind, op);
        const r: Reply = await redis.run(script, keys, argv);
        const m: Reply = await mem.run(script, keys, argv);
        try {
          close(m, r, "", (p) => LOOSE[kind](p, String(op[0]), tagged(m)));
          // The state after every operation (a later eager eviction could hide a difference).
          await sameState(raw, mem, keys);
        } catch (e) {
          throw new Error(`${JSON.stringify(op)}: ${(e as Error).message}`);
        }
      }
      for (const k of keys) await raw.del(k);
    }),
    { numRuns: Number(Deno.env.get("DIFF_RUNS") ?? 60), examples },
  );
}

/** A seed and a sequence of operations. */
type Example = [SeedValue, Array<Array<string | number>>];
type SeedValue = typeof seedArb extends fc.Arbitrary<infer T> ? T : never;

/** A seed of one bucket `age` buckets old, stored limits 15 (hard: 25). */
const oneBucket = (age: number, count: number, declined = 0): SeedValue => ({
  buckets: [[age, count, declined]],
  cap: 15,
  hard: 10,
  res: [],
  seqs: [],
  slack: 0,
});

/**
 * The fast paths' boundaries (same limits as stored; the current bucket or an older one is the
 * newest): exactly at the limit, then one past it.
 */
const ABSOLUTE_EXAMPLES: Example[] = [0, 1].map((age) => [
  oneBucket(age, 10),
  [["inc", 15, 5], ["inc", 15, 1], ["inc", 15, 0]],
]);
const SUPPRESSED_EXAMPLES: Example[] = [0, 1].map((age) => [
  oneBucket(age, 10, 2),
  [["inc", 15, 25, 7, 0.99], ["inc", 15, 25, 1, 0.99], ["inc", 15, 25, 1, 0]],
]);

/**
 * The opening path's own eviction (the expired buckets within the first slots from the origin,
 * a bucket after them): one expired bucket; two; an origin below the oldest bucket (slack) with
 * nothing expired; and expired buckets with no bucket within reach (the general path decides).
 */
const EVICTING_SEEDS: SeedValue[] = [
  { ...oneBucket(11, 3, 1), buckets: [[11, 3, 1], [5, 2, 1]] },
  { ...oneBucket(12, 3, 1), buckets: [[12, 3, 1], [11, 1, 0], [3, 2, 0]] },
  { ...oneBucket(9, 3, 1), slack: 2 },
  { ...oneBucket(13, 3, 1), buckets: [[13, 3, 1], [1, 2, 0]] },
  // The same with the current bucket as the newest (an inc adds to it).
  { ...oneBucket(11, 3, 1), buckets: [[11, 3, 1], [0, 2, 1]] },
  { ...oneBucket(12, 3, 1), buckets: [[12, 3, 1], [10, 1, 0], [0, 2, 0]] },
  { ...oneBucket(9, 3, 1), buckets: [[9, 3, 1], [0, 1, 0]], slack: 2 },
];
/**
 * Runs of incs on one key in the current bucket (the batch form adds a run up in Lua and writes
 * its sum once): admitted up to the capacity, one past it, a run broken by a read, by another
 * capacity and by an n of 0.
 */
const incs = (cap: number, ...ns: number[]) => ns.map((n) => ["inc", cap, n]);
ABSOLUTE_EXAMPLES.push(
  [oneBucket(0, 2), [...incs(15, 1, 1, 1, 4, 5, 1, 1, 0), ["check"]]],
  [oneBucket(0, 1), [
    ...incs(15, 2, 2),
    ["get"],
    ...incs(15, 3, 3),
    ...incs(16, 1, 1),
    ...incs(15, 1, 12),
  ]],
  [oneBucket(0, 10), incs(15, 5, 1, 0, 1)],
);
ABSOLUTE_EXAMPLES.push(
  ...EVICTING_SEEDS.map((seed): Example => [seed, [["inc", 15, 1], ["inc", 15, 12], ["check"]]]),
);
SUPPRESSED_EXAMPLES.push(
  ...EVICTING_SEEDS.map((
    seed,
  ): Example => [seed, [["inc", 15, 25, 1, 0.5], ["inc", 15, 25, 12, 0.5], ["get"]]]),
);

// Each call alone, then the batch form: a list's calls made in one tick, sent as one EVALSHA.
for (const batched of [false, true]) {
  const form = batched ? "'s batch form (a tick's calls in one EVALSHA)" : "";
  storeTest(`ratelimit_absolute.lua${form} agrees with its model`, async (fx) => {
    await differential(
      "absolute",
      RL_ABSOLUTE,
      [":ra"],
      absOps,
      fx.raw,
      fx.store,
      fx.prefix,
      ABSOLUTE_EXAMPLES,
      batched,
    );
  }, { kinds: ["standalone"] });

  storeTest(`ratelimit_suppressed.lua${form} agrees with its model`, async (fx) => {
    await differential(
      "suppressed",
      RL_SUPPRESSED,
      [":rs"],
      supOps,
      fx.raw,
      fx.store,
      fx.prefix,
      SUPPRESSED_EXAMPLES,
      batched,
    );
  }, { kinds: ["standalone"] });
}

storeTest("ratelimit_hybrid.lua agrees with its model", async (fx) => {
  await differential(
    "hybrid",
    RL_HYBRID,
    [":ha", ":ha:z", ":ha:r"],
    hybOps,
    fx.raw,
    fx.store,
    fx.prefix,
  );
}, { kinds: ["standalone"] });
