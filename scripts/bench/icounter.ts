/**
 * Instance-aware counter benchmarks (a script, not a test): `deno run -A scripts/bench/icounter.ts`.
 * Uses REDIS_URL, or starts a throwaway redis-server. Figures are ratios measured in this one run,
 * ABAB-interleaved, median of the rounds.
 *
 * 1. strict inc, 64 concurrent callers, vs raw node-redis evalSha of the same script with the
 *    same arguments (so the ratio is the cost of the TypeScript layer);
 * 2. lax inc on a warm key vs a bare awaited Map increment;
 * 3. heartbeat cost with 1,000 idle instances: calls/s, Redis time per call (INFO commandstats),
 *    share of one Redis core, and a strict inc's p50/p99 with and without them.
 */
import { createClient } from "redis";
import {
  LaxInstanceAwareCounter,
  MemoryStore,
  RedisStore,
  StrictInstanceAwareCounter,
} from "../../mod.ts";
import { icounterKeys } from "../../icounter/_core.ts";
import { ICOUNTER_APPLY } from "../../icounter/_scripts.ts";
import { luaSource } from "../../store/_lua.ts";
import { compareLatency, compareThroughput, compareWithMap, latency, pct } from "./_measure.ts";
import { benchRedis, f } from "./_redis.ts";

const ROUNDS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// deno-lint-ignore no-explicit-any
async function evalshaStats(client: any): Promise<{ calls: number; usec: number }> {
  const info = String(await client.sendCommand(["INFO", "commandstats"]));
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
}

async function main() {
  const redis = await benchRedis();
  const client = await createClient({ url: redis.url }).connect();
  const store = new RedisStore(client);
  const rows: string[][] = [];
  const tag = Date.now().toString(36);
  try {
    // ---- 1. strict inc vs raw evalSha of the same script --------------------------------
    const strict = new StrictInstanceAwareCounter({ prefix: `bench-ic-${tag}`, store });
    await strict.inc("k");
    const rawKeys = icounterKeys(`bench-ic-raw-${tag}`);
    await client.scriptLoad(await luaSource(ICOUNTER_APPLY));
    const rawArgs = (register: number) => [
      "raw-member",
      "30000",
      String(register),
      "1000",
      "0",
      "0",
      "ops",
      "0",
      "inc",
      "k",
      "always",
      "0",
      "1",
    ];
    await client.evalSha(ICOUNTER_APPLY.sha1, { keys: rawKeys, arguments: rawArgs(1) });
    const args = rawArgs(0);
    const raw = () => client.evalSha(ICOUNTER_APPLY.sha1, { keys: rawKeys, arguments: args });
    const ours = () => strict.inc("k");
    const tp = await compareThroughput(ours, raw, 64, ROUNDS);
    rows.push([
      "strict inc, 64 callers (ops/s)",
      f(tp.ours, 0),
      `raw evalSha ${f(tp.raw, 0)}`,
      `${f(tp.ours / tp.raw)}×`,
      "≥ 0.8×",
    ]);
    const lat = await compareLatency(ours, raw, 1500, ROUNDS);
    rows.push([
      "strict inc, 1 caller p50 / p99 (µs)",
      `${f(lat.ours.p50 * 1000, 0)} / ${f(lat.ours.p99 * 1000, 0)}`,
      `raw evalSha ${f(lat.raw.p50 * 1000, 0)} / ${f(lat.raw.p99 * 1000, 0)}`,
      `${f(lat.ours.p50 / lat.raw.p50)}× (p50)`,
      "",
    ]);

    // ---- 2. lax inc, warm key, vs an awaited Map increment -------------------------------
    const memory = new MemoryStore();
    const laxMem = new LaxInstanceAwareCounter({ prefix: "bench-lax", store: memory });
    await laxMem.get("k");
    const inMemory = await compareWithMap(() => laxMem.inc("k"));
    await laxMem.close();
    await memory.close();
    rows.push([
      "lax inc, warm key (ns/op)",
      f(inMemory.ours, 1),
      `awaited Map inc ${f(inMemory.map, 1)}`,
      `${f(inMemory.ours / inMemory.map)}×`,
      "≤ 2×",
    ]);

    // ---- 3. heartbeat cost, 1,000 idle instances ----------------------------------------
    const THRESHOLD = 3000; // heartbeats every 1 s (the default 30 s makes them 10× rarer)
    const before = await latency(ours, 2000);
    const idle = Array.from(
      { length: 1000 },
      (_, i) =>
        new StrictInstanceAwareCounter({
          prefix: `bench-ic-idle-${tag}`,
          store,
          deadInstanceThresholdMs: THRESHOLD,
          instanceId: `idle-${i}`,
        }),
    );
    for (let i = 0; i < idle.length; i += 100) {
      await Promise.all(idle.slice(i, i + 100).map((c, j) => c.inc(`k${(i + j) % 50}`)));
    }
    await sleep(THRESHOLD / 3 + 100); // heartbeats spread out
    const s0 = await evalshaStats(client);
    const t0 = performance.now();
    const during = await latency(ours, 2000);
    await sleep(Math.max(0, 3000 - (performance.now() - t0)));
    const s1 = await evalshaStats(client);
    const secs = (performance.now() - t0) / 1000;
    const heartbeats = s1.calls - s0.calls - 2000;
    const usecPerCall = (s1.usec - s0.usec) / Math.max(1, s1.calls - s0.calls);
    rows.push([
      "1,000 idle instances, threshold 3 s: heartbeats/s",
      f(heartbeats / secs, 0),
      `expected ${f(1000 / (THRESHOLD / 3000), 0)}`,
      `${f(usecPerCall, 1)} µs Redis time per call, ${
        f((heartbeats / secs) * usecPerCall / 1e4, 2)
      }% of one core`,
      "",
    ]);
    rows.push([
      "strict inc p50 / p99 (µs) with those heartbeats",
      `${f(pct(during, 50) * 1000, 0)} / ${f(pct(during, 99) * 1000, 0)}`,
      `without ${f(pct(before, 50) * 1000, 0)} / ${f(pct(before, 99) * 1000, 0)}`,
      `${f(pct(during, 50) / pct(before, 50))}× (p50)`,
      "",
    ]);
    await idle[0]!.clear();
    for (const c of idle) await c.close();
    await strict.clear();
    await strict.close();
    await client.del(rawKeys);
  } finally {
    await store.close();
    await client.close();
    await redis.stop();
  }
  console.log(
    `\ninstance-aware counters (median of ${ROUNDS} interleaved rounds; Deno ${Deno.version.deno})\n`,
  );
  console.log("| what | ours | baseline | ratio | target |\n|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

await main();
