/**
 * What the resilience layer (store/_resilience.ts: the call bound and the breaker, on by default)
 * costs: strict `inc` and the rate limiter's `redis.absolute.inc` on a `RedisStore` with the
 * defaults vs one with `{ commandTimeoutMs: 0, breaker: false }` (the layer off, the old default),
 * on one client. Interleaved rounds, medians: 64-caller throughput and one caller's p50.
 *
 * Run: `deno run -A scripts/bench/resilience.ts` (REDIS_URL, else a throwaway server).
 */
import { createClient } from "redis";
import { RateLimiter, RedisStore, StrictCounter } from "../../mod.ts";
import { awaitedNs, latency, median, pct, throughput } from "./_measure.ts";
import { COUNTER_INC } from "../../counter/_scripts.ts";
import { benchRedis, f, runtime } from "./_redis.ts";

const ROUNDS = 7;

async function compare(
  name: string,
  on: () => Promise<unknown>,
  off: () => Promise<unknown>,
): Promise<string[]> {
  const tp = { on: [] as number[], off: [] as number[] };
  const p50 = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which side goes first, so drift hits both alike.
    const sides: Array<["on" | "off", () => Promise<unknown>]> = r % 2 === 0
      ? [["on", on], ["off", off]]
      : [["off", off], ["on", on]];
    for (const [side, fn] of sides) {
      tp[side].push(await throughput(fn, 64, 400));
      p50[side].push(pct(await latency(fn, 400), 50));
    }
  }
  const t = { on: median(tp.on), off: median(tp.off) };
  const l = { on: median(p50.on), off: median(p50.off) };
  return [
    name,
    `${f(t.on, 0)} vs ${f(t.off, 0)} ops/s (${f(t.on / t.off)}×)`,
    `${f(l.on * 1000, 0)} vs ${f(l.off * 1000, 0)} µs (${f(l.on / l.off)}×)`,
  ];
}

/**
 * The layer's CPU cost alone: `RedisStore.run` on a client that answers at once (no I/O), 64
 * calls in flight at a time, ns per call, layer on vs off.
 */
async function cpuCost(): Promise<string[]> {
  const client = {
    evalSha: () => Promise.resolve("1"),
    eval: () => Promise.resolve("1"),
    sSubscribe: () => Promise.resolve(),
    sUnsubscribe: () => Promise.resolve(),
  };
  const on = new RedisStore(client, { batch: false });
  const off = new RedisStore(client, { batch: false, commandTimeoutMs: 0, breaker: false });
  const burst = (s: RedisStore) => () =>
    Promise.all(Array.from({ length: 64 }, () => s.run(COUNTER_INC, ["{k}"], ["f", 1])));
  const ns = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < ROUNDS * 3; r++) {
    const sides: Array<["on" | "off", RedisStore]> = r % 2 === 0
      ? [["on", on], ["off", off]]
      : [["off", off], ["on", on]];
    for (const [side, s] of sides) ns[side].push((await awaitedNs(burst(s), 2000)) / 64);
  }
  await on.close();
  await off.close();
  const a = median(ns.on), b = median(ns.off);
  return [
    "RedisStore.run, instant client (CPU)",
    `${f(a, 0)} vs ${f(b, 0)} ns/call (+${f(a - b, 0)} ns)`,
    "—",
  ];
}

async function main() {
  const redis = await benchRedis();
  const client = await createClient({ url: redis.url }).connect();
  const on = new RedisStore(client);
  const off = new RedisStore(client, { commandTimeoutMs: 0, breaker: false });
  const rows: string[][] = [await cpuCost()];
  try {
    const a = new StrictCounter({ prefix: "bench-res-on", store: on });
    const b = new StrictCounter({ prefix: "bench-res-off", store: off });
    await a.inc("k");
    await b.inc("k");
    rows.push(await compare("strict inc", () => a.inc("k"), () => b.inc("k")));
    await using rlOn = new RateLimiter({ store: on, prefix: "bench-res-on" });
    await using rlOff = new RateLimiter({ store: off, prefix: "bench-res-off" });
    rows.push(
      await compare(
        "redis.absolute.inc",
        () => rlOn.redis.absolute.inc("e", 1e9),
        () => rlOff.redis.absolute.inc("e", 1e9),
      ),
    );
  } finally {
    await on.close();
    await off.close();
    await client.close();
    await redis.stop();
  }
  console.log(`resilience layer on (default) vs off — ${runtime()}, ${ROUNDS} interleaved rounds`);
  console.log("| call | 64 callers: on vs off | 1 caller p50: on vs off |");
  console.log("| --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

await main();
