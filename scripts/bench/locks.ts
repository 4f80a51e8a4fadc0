/**
 * Lock benchmarks (a script, not a test): `deno run -A scripts/bench/locks.ts` (or, to compare
 * runtimes, `bun scripts/bench/locks.ts`).
 * distkit's Mutex side by side with redis-semaphore's Mutex and @sesamecare-oss/redlock (single
 * instance), all on the same Redis (REDIS_URL, or a throwaway redis-server) in one run:
 *   1. uncontended acquire + release, against two raw round trips (SET NX PX + DEL), the
 *      libraries interleaved call by call, then in blocks of 100 pairs;
 *   2. contended hand-off: holder releases -> the parked waiter holds, p50/p99/max;
 *   3. one hot lock, 4 clients taking turns, each holding 1 ms: acquisitions/s and fairness
 *      (fewest / most acquisitions of a client), the libraries in interleaved rounds.
 * Peers run with their default retry settings (redis-semaphore polls every 10 ms, redlock every
 * 200 ms + jitter).
 */
import { Redlock } from "@sesamecare-oss/redlock";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { Mutex as SemMutex } from "redis-semaphore";
import { Mutex, RedisStore } from "../../mod.ts";
import process from "node:process";
import { benchRedis, f, pct, runtime } from "./_redis.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** A lock under test: acquire (waiting) and release. */
interface Contender {
  name: string;
  acquire(): Promise<() => Promise<unknown>>;
}

interface Lib {
  name: string;
  /** A new client on its own connection(s). */
  client(key: string): Promise<Contender>;
}

const closers: Array<() => Promise<unknown>> = [];

function libs(url: string): Lib[] {
  return [
    {
      name: "distkit Mutex",
      async client(key) {
        const c = await createClient({ url }).connect();
        const store = new RedisStore(c);
        closers.push(async () => {
          await store.close();
          await c.close();
        });
        const m = new Mutex({ key, store, ttlMs: 10_000 });
        return {
          name: "distkit",
          async acquire() {
            const g = await m.lock();
            return () => g.release();
          },
        };
      },
    },
    {
      name: "redis-semaphore Mutex",
      client(key) {
        const r = new Redis(url);
        closers.push(() => r.quit());
        return Promise.resolve({
          name: "redis-semaphore",
          async acquire() {
            const m = new SemMutex(r, key, { lockTimeout: 10_000, acquireTimeout: 60_000 });
            await m.acquire();
            return () => m.release();
          },
        });
      },
    },
    {
      name: "@sesamecare-oss/redlock",
      client(key) {
        const r = new Redis(url);
        closers.push(() => r.quit());
        const redlock = new Redlock([r], { retryCount: 1000 });
        return Promise.resolve({
          name: "redlock",
          async acquire() {
            const lock = await redlock.acquire([key], 10_000);
            return () => lock.release();
          },
        });
      },
    },
  ];
}

// ---- 1. uncontended ---------------------------------------------------------------------------
const MIN_ACQUIRE =
  `if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end return 0`;
const MIN_RELEASE =
  `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

/** Baselines: two raw round trips, as commands and as the smallest lock scripts. */
async function baselines(url: string, key: string): Promise<Contender[]> {
  const c = await createClient({ url }).connect();
  closers.push(() => c.close());
  const acq = await c.scriptLoad(MIN_ACQUIRE);
  const rel = await c.scriptLoad(MIN_RELEASE);
  return [
    {
      name: "raw SET NX PX + DEL",
      async acquire() {
        await c.set(key, "x", { condition: "NX", expiration: { type: "PX", value: 10_000 } });
        return () => c.del(key);
      },
    },
    {
      name: "raw EVALSHA ×2 (minimal lock scripts)",
      async acquire() {
        await c.evalSha(acq, { keys: [key], arguments: ["x", "10000"] });
        return () => c.evalSha(rel, { keys: [key], arguments: ["x"] });
      },
    },
  ];
}

/**
 * Acquire + release latencies, the contenders interleaved (load drift cancels): call by call
 * (`block` 1: every pair starts cold, after the other libraries' calls), or in blocks of `block`
 * pairs per contender (a process that takes the lock again and again).
 */
async function uncontended(cs: Contender[], n: number, block = 1): Promise<number[][]> {
  const out: number[][] = cs.map(() => []);
  for (let i = 0; i < n; i += block) {
    for (let j = 0; j < cs.length; j++) {
      for (let k = 0; k < block; k++) {
        const t = performance.now();
        const release = await cs[j]!.acquire();
        await release();
        out[j]!.push(performance.now() - t);
      }
    }
  }
  return out;
}

// ---- 2. hand-off ----------------------------------------------------------------------------
async function handoff(a: Contender, b: Contender, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const release = await a.acquire();
    let t1 = 0;
    const waiting = b.acquire().then((r) => (t1 = performance.now(), r));
    await sleep(15); // the waiter is parked (and past a 10 ms poll)
    const t0 = performance.now();
    await release();
    const releaseB = await waiting;
    out.push(t1 - t0);
    await releaseB();
  }
  return out;
}

// ---- 3. hot lock ----------------------------------------------------------------------------
async function hot(cs: Contender[], ms: number): Promise<number[]> {
  const counts = cs.map(() => 0);
  const end = performance.now() + ms;
  await Promise.all(cs.map(async (c, i) => {
    while (performance.now() < end) {
      const release = await c.acquire();
      counts[i]!++;
      await sleep(1);
      await release();
    }
  }));
  return counts;
}

async function main() {
  const redis = await benchRedis();
  const quick = process.argv.includes("--quick");
  const N1 = quick ? 300 : 2000;
  const N2 = quick ? 30 : 200;
  const HOT_MS = quick ? 1000 : 2000;
  const HOT_ROUNDS = quick ? 3 : 5;
  const rows: string[][] = [];
  try {
    const run = `bench-${Date.now().toString(36)}`;
    // 1. uncontended: interleaved call by call, then in blocks of 100 pairs
    const all = libs(redis.url);
    const base = await baselines(redis.url, `${run}-raw`);
    const solo = await Promise.all(all.map((l) => l.client(`${run}-solo-${l.name.length}`)));
    for (const block of [1, 100]) {
      const times = (await uncontended([...base, ...solo], N1, block)).map(sorted);
      const rawP50 = pct(times[0]!, 50);
      const evalP50 = pct(times[1]!, 50);
      [...base, ...solo].forEach((c, i) => {
        const s = times[i]!;
        rows.push([
          i > 0
            ? ""
            : block === 1
            ? "uncontended acquire+release p50 / p99 (ms), interleaved call by call"
            : `the same, in blocks of ${block} pairs per library`,
          c.name,
          `${f(pct(s, 50), 3)} / ${f(pct(s, 99), 3)}`,
          `${f(pct(s, 50) / rawP50)}× raw, ${f(pct(s, 50) / evalP50)}× EVALSHA`,
          c.name === "distkit" ? "≤ 1.1× two raw round trips" : "",
        ]);
      });
    }
    // 2. hand-off
    for (const lib of all) {
      const key = `${run}-handoff-${lib.name.length}`;
      const a = await lib.client(key);
      const b = await lib.client(key);
      const n = lib.name.includes("redlock") ? Math.min(N2, 25) : N2;
      const s = sorted(await handoff(a, b, n));
      rows.push([
        "contended hand-off p50 / p99 / max (ms)",
        lib.name,
        `${f(pct(s, 50))} / ${f(pct(s, 99))} / ${f(s[s.length - 1]!)}`,
        "",
        lib.name.startsWith("distkit") ? "p50 ≤ 1, p99 ≤ 5" : "",
      ]);
    }
    // 3. hot lock: the libraries in interleaved rounds, in a rotating order (the machine's load
    // drifts); each library's median round, and distkit's ratio to the better peer as the median
    // of per-round ratios.
    const hotClients = [];
    for (const lib of all) {
      const key = `${run}-hot-${lib.name.length}`;
      const cs = [];
      for (let i = 0; i < 4; i++) cs.push(await lib.client(key));
      hotClients.push(cs);
    }
    const rounds: number[][][] = all.map(() => []);
    for (let r = 0; r < HOT_ROUNDS; r++) {
      for (let k = 0; k < all.length; k++) {
        const j = (k + r) % all.length;
        rounds[j]!.push(await hot(hotClients[j]!, HOT_MS));
      }
    }
    const rate = (counts: number[]) => counts.reduce((a, b) => a + b, 0) / (HOT_MS / 1000);
    const median = (xs: number[]) => sorted(xs)[Math.floor((xs.length - 1) / 2)]!;
    all.forEach((lib, j) => {
      const rs = rounds[j]!;
      const mid = rs.find((c) => rate(c) === median(rs.map(rate)))!;
      const fair = median(rs.map((c) => Math.min(...c) / Math.max(...c)));
      // distkit (j = 0) against the better of the peers in the same round.
      const better = (r: number) => Math.max(...rounds.slice(1).map((p) => rate(p[r]!)));
      const ratio = j === 0
        ? `${
          f(median(rs.map((c, r) => rate(c) / better(r))))
        }× better peer (median of ${HOT_ROUNDS})`
        : "";
      rows.push([
        "hot lock, 4 clients, 1 ms holds: acq/s, fairness (median round)",
        lib.name,
        `${f(median(rs.map(rate)), 0)} acq/s, ${f(fair)} (${mid.join("/")}); rounds ${
          rs.map((c) => f(rate(c), 0)).join(" ")
        }`,
        ratio,
        lib.name.startsWith("distkit") ? "≥ better peer, ≥ 0.8" : "",
      ]);
    });
  } finally {
    for (const c of closers) await c().catch(() => {});
    await redis.stop();
  }
  console.log(`\nlocks (one run, same Redis, loopback; ${runtime()})\n`);
  console.log("| what | library | result | ratio | target |\n|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

await main();
