/**
 * Counter benchmarks (a script, not a test): `deno run -A scripts/bench/counters.ts`.
 * Uses REDIS_URL, or starts a throwaway redis-server. Every figure is a ratio measured in this one
 * run, ABAB-interleaved, median of the rounds: absolute times on shared machines are noise.
 */
import { createClient } from "redis";
import { LaxCounter, MemoryStore, RedisStore, StrictCounter } from "../../mod.ts";
import type { Reply, Script, Store, Unsubscribe } from "../../store/types.ts";
import { compareLatency, compareThroughput, compareWithMap } from "./_measure.ts";
import { benchRedis, f } from "./_redis.ts";

const ROUNDS = 5;

// ---- counting wrapper for store calls ----------------------------------------------------
class Counting implements Store {
  readonly isDistkitStore = true as const;
  calls = 0;
  constructor(readonly inner: Store) {}
  run(s: Script, k: readonly string[], a: readonly (string | number)[]): Promise<Reply> {
    this.calls++;
    return this.inner.run(s, k, a);
  }
  subscribe(c: string, l: (m: string) => void): Promise<Unsubscribe> {
    return this.inner.subscribe(c, l);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}

/** The same work as lua/counter_inc.lua (HINCRBY, safe-integer check, string reply). */
const RAW_INC = `local v = redis.call("HINCRBY", KEYS[1], ARGV[1], ARGV[2])
if v > 9007199254740991 or v < -9007199254740991 then
  redis.call("HINCRBY", KEYS[1], ARGV[1], -ARGV[2])
  return redis.error_reply("overflow")
end
return string.format("%d", v)`;

async function main() {
  const redis = await benchRedis();
  const client = await createClient({ url: redis.url }).connect();
  const store = new RedisStore(client);
  const rows: string[][] = [];
  try {
    // 1. lax inc on a warm key vs a bare awaited Map increment
    const laxMem = new LaxCounter({ prefix: "bench-lax", store: new MemoryStore() });
    await laxMem.get("k");
    const inMemory = await compareWithMap(() => laxMem.inc("k"));
    await laxMem.close();
    rows.push([
      "lax inc, warm key (ns/op)",
      f(inMemory.ours, 1),
      `awaited Map inc ${f(inMemory.map, 1)}`,
      `${f(inMemory.ours / inMemory.map)}×`,
      "≤ 2×",
    ]);

    // 2 + 3: strict inc vs raw evalSha
    const sha = await client.scriptLoad(RAW_INC);
    const strict = new StrictCounter({ prefix: "bench-strict", store });
    const raw = () => client.evalSha(sha, { keys: ["{bench-raw}:counter"], arguments: ["k", "1"] });
    const ours = () => strict.inc("k");
    const tp = await compareThroughput(ours, raw, 64, ROUNDS);
    rows.push([
      "strict inc, 64 callers (ops/s)",
      f(tp.ours, 0),
      `raw evalSha ${f(tp.raw, 0)}`,
      `${f(tp.ours / tp.raw)}×`,
      "≥ 0.9×",
    ]);
    const lat = await compareLatency(ours, raw, 2000, ROUNDS);
    rows.push([
      "strict inc, 1 caller p50 (µs)",
      f(lat.ours.p50 * 1000, 0),
      `raw evalSha ${f(lat.raw.p50 * 1000, 0)}`,
      `${f(lat.ours.p50 / lat.raw.p50)}×`,
      "≤ 1.15×",
    ]);
    rows.push([
      "strict inc, 1 caller p99 (µs)",
      f(lat.ours.p99 * 1000, 0),
      `raw evalSha ${f(lat.raw.p99 * 1000, 0)}`,
      `${f(lat.ours.p99 / lat.raw.p99)}×`,
      "",
    ]);

    // 4: Redis calls caused by a lax counter taking as many incs as it can on 1,000 keys
    const counting = new Counting(store);
    const lax = new LaxCounter({ prefix: "bench-lax-redis", store: counting, allowedLagMs: 20 });
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    await lax.getAll(keys);
    counting.calls = 0;
    // Paced at 1,000 incs per ms (1M/s) with event-loop turns between slices, as a server would.
    const D = 2000;
    const start = performance.now();
    let incs = 0;
    while (performance.now() - start < D) {
      const due = Math.floor(performance.now() - start) * 1000;
      while (incs < due) await lax.inc(keys[incs++ % 1000]!);
      await new Promise((r) => setTimeout(r, 0));
    }
    await lax.close();
    rows.push([
      "lax, 1,000 hot keys: Redis calls/s",
      f((counting.calls * 1000) / D, 0),
      `while taking ${f(incs / D / 1000, 2)}M incs/s`,
      `${f(incs / Math.max(1, counting.calls), 0)} incs per call`,
      "≈ 1000/allowedLagMs",
    ]);
  } finally {
    await store.close();
    await client.close();
    await redis.stop();
  }
  console.log(`\ncounters (median of ${ROUNDS} interleaved rounds; Deno ${Deno.version.deno})\n`);
  console.log("| what | ours | baseline | ratio | target |\n|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

await main();
