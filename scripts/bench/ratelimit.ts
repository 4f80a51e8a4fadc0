/**
 * Rate-limiter benchmarks (a script, not a test): `deno run -A scripts/bench/ratelimit.ts`.
 * distkit's limiters beside rate-limiter-flexible (RateLimiterMemory, RateLimiterRedis on
 * ioredis) on the same Redis (REDIS_URL, or a throwaway redis-server), in one run:
 *   1. local decisions/s, 1 000 keys, limit never reached: rl.local.absolute.inc vs
 *      RateLimiterMemory.consume (target ≥ 2×);
 *   2. store-backed ops/s, 64 concurrent callers, 1 000 keys: rl.redis.absolute.inc (and
 *      suppressed.inc; and absolute.inc on a RedisStore with batch: false, each call its own
 *      EVALSHA) vs RateLimiterRedis.consume (target ≥ 1×), p50/p99/max, in BENCH_ROUNDS
 *      interleaved rounds (default 3; medians), with Redis's own script time per decision
 *      (INFO commandstats) and Redis CPU per decision (INFO cpu);
 *   3. hybrid ops/s, same load, p50/p99/max;
 *   4. hybrid fleet overshoot: 4 instances (own connections) on one hot key, capacity 1 000 per
 *      10 s window, 2 s of 4 × 16 callers: admitted vs capacity, and latency.
 * Set BENCH_SECONDS to change the length of each phase (default 2).
 */
import { Redis } from "ioredis";
import { createClient } from "redis";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import { RateLimit, RateLimiter, RedisStore } from "../../mod.ts";
import { benchRedis, f, pct } from "./_redis.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 2);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const KEYS = Array.from({ length: 1000 }, (_, i) => `user${i}`);
const BIG = RateLimit.perSecond(1e9); // never reached
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

interface Row {
  name: string;
  ops: number;
  p50?: number;
  p99?: number;
  max?: number;
  note?: string | undefined;
}
const rows: Row[] = [];

function report(r: Row): void {
  rows.push(r);
  const lat = r.p50 === undefined
    ? ""
    : `  p50 ${f(r.p50 * 1000, 0)} µs  p99 ${f(r.p99! * 1000, 0)} µs  max ${f(r.max!, 1)} ms`;
  console.log(
    `${r.name.padEnd(44)} ${f(r.ops, 0).padStart(10)} ops/s${lat}${r.note ? "  " + r.note : ""}`,
  );
}

async function localPhase(): Promise<void> {
  const rl = new RateLimiter({ windowSizeSeconds: 10 });
  const mem = new RateLimiterMemory({ points: 1e9, duration: 10 });
  // warm up
  for (let i = 0; i < 200_000; i++) rl.local.absolute.inc(KEYS[i % 1000]!, BIG);
  for (let i = 0; i < 20_000; i++) await mem.consume(KEYS[i % 1000]!);
  let n = 0;
  let end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) rl.local.absolute.inc(KEYS[(n + i) % 1000]!, BIG);
    n += 1000;
  }
  const ours = n / SECONDS;
  report({
    name: "distkit local.absolute.inc (sync)",
    ops: ours,
    note: "clock read once per burst",
  });
  n = 0;
  end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) await rl.local.absolute.inc(KEYS[(n + i) % 1000]!, BIG);
    n += 1000;
  }
  report({ name: "distkit local.absolute.inc (awaited)", ops: n / SECONDS });
  n = 0;
  end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) await mem.consume(KEYS[(n + i) % 1000]!);
    n += 1000;
  }
  const theirs = n / SECONDS;
  report({ name: "rate-limiter-flexible RateLimiterMemory", ops: theirs });
  console.log(`  ratio local/RateLimiterMemory: ${f(ours / theirs)}× (target ≥ 2×)\n`);
  await rl.close();
}

/** `callers` concurrent loops of `call` for SECONDS; ops/s and latency. */
async function load(
  name: string,
  callers: number,
  call: (i: number) => Promise<unknown>,
  note?: string,
  quiet = false,
): Promise<Row> {
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: callers }, async (_, c) => {
    for (let i = c, k = 0; performance.now() < end; i += callers, k++) {
      // Yield to I/O now and then, as a server does between requests (a decision served from
      // memory resolves in a microtask, which would otherwise starve the sockets).
      if (k % 256 === 255) await new Promise((r) => setTimeout(r, 0));
      const t0 = performance.now();
      try {
        await call(i);
      } catch { /* a rejection of rate-limiter-flexible is a decision */ }
      lat.push(performance.now() - t0);
      n++;
    }
  }));
  const s = sorted(lat);
  const row = {
    name,
    ops: n / SECONDS,
    p50: pct(s, 50),
    p99: pct(s, 99),
    max: s[s.length - 1]!,
    note,
  };
  if (quiet) return row;
  report(row);
  return row;
}

/** Redis's CPU time so far, µs (INFO cpu). */
async function serverCpu(admin: ReturnType<typeof createClient>): Promise<number> {
  const cpu = await admin.info("cpu");
  return (Number(/used_cpu_user:([\d.]+)/.exec(cpu)?.[1]) +
    Number(/used_cpu_sys:([\d.]+)/.exec(cpu)?.[1])) * 1e6;
}

/** Redis's µs in scripts since the last CONFIG RESETSTAT (INFO commandstats). */
async function serverScriptUs(admin: ReturnType<typeof createClient>): Promise<number> {
  const stats = await admin.info("commandstats");
  let usec = 0;
  for (const m of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g)) {
    usec += Number(m[1]);
  }
  return usec;
}

const median = (xs: number[]) => sorted(xs)[Math.floor((xs.length - 1) / 2)]!;

async function storePhase(url: string): Promise<void> {
  const client = await createClient({ url }).connect();
  const admin = await createClient({ url }).connect();
  const store = new RedisStore(client);
  const unbatched = new RateLimiter({
    store: new RedisStore(client, { batch: false }),
    prefix: "bench-rl-single",
    windowSizeSeconds: 10,
  });
  const io = new Redis(url, { enableAutoPipelining: false });
  const rl = new RateLimiter({ store, prefix: "bench-rl", windowSizeSeconds: 10 });
  const flex = new RateLimiterRedis({
    storeClient: io,
    keyPrefix: "bench-flex",
    points: 1e9,
    duration: 10,
  });
  const flexClient = await createClient({ url }).connect();
  const flexNr = new RateLimiterRedis({
    storeClient: flexClient,
    useRedisPackage: true,
    keyPrefix: "bench-flex-nr",
    points: 1e9,
    duration: 10,
  });
  // The machine's load varies (a shared box): the contenders run in interleaved rounds, in a
  // rotating order, and the medians are compared (the ratio is the median of per-round ratios).
  const contenders: Array<[string, (i: number) => Promise<unknown>]> = [
    ["distkit redis.absolute.inc", (i) => rl.redis.absolute.inc(KEYS[i % 1000]!, BIG)],
    ["RateLimiterRedis (ioredis)", (i) => flex.consume(KEYS[i % 1000]!)],
    ["RateLimiterRedis (node-redis)", (i) => flexNr.consume(KEYS[i % 1000]!)],
    ["distkit redis.suppressed.inc", (i) => rl.redis.suppressed.inc(KEYS[i % 1000]!, BIG)],
    [
      "distkit absolute.inc, batch: false",
      (i) => unbatched.redis.absolute.inc(KEYS[i % 1000]!, BIG),
    ],
  ];
  try {
    // warm up (scripts loaded, connections hot, every key live)
    for (const [name, call] of contenders) {
      await load(`(warm-up ${name})`, 64, call, undefined, true);
    }
    const runs = new Map<string, Row[]>(contenders.map(([name]) => [name, []]));
    const cost = new Map<string, Array<{ usPerOp: number; cpuPerOp: number }>>(
      contenders.map(([name]) => [name, []]),
    );
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < contenders.length; k++) {
        const [name, call] = contenders[(k + r) % contenders.length]!;
        await admin.configResetStat();
        const cpu0 = await serverCpu(admin);
        const row = await load(name, 64, call, undefined, true);
        const ops = row.ops * SECONDS;
        const cpuPerOp = (await serverCpu(admin) - cpu0) / ops;
        runs.get(name)!.push(row);
        cost.get(name)!.push({ usPerOp: await serverScriptUs(admin) / ops, cpuPerOp });
      }
    }
    for (const [name] of contenders) {
      const rs = runs.get(name)!;
      const cs = cost.get(name)!;
      report({
        name: `${name}, 64 callers`,
        ops: median(rs.map((x) => x.ops)),
        p50: median(rs.map((x) => x.p50!)),
        p99: median(rs.map((x) => x.p99!)),
        max: median(rs.map((x) => x.max!)),
        note: `[${rs.map((x) => f(x.ops, 0)).join(" ")}] Redis ${
          f(median(cs.map((c) => c.usPerOp)), 1)
        } µs in scripts/op, ${f(median(cs.map((c) => c.cpuPerOp)), 1)} µs CPU/op`,
      });
    }
    const ratio = (a: string, b: string) => {
      const xs = runs.get(a)!, ys = runs.get(b)!;
      return median(xs.map((x, i) => x.ops / ys[i]!.ops));
    };
    const [ours, io1, nr, sup, single] = contenders.map(([name]) => name) as [
      string,
      string,
      string,
      string,
      string,
    ];
    console.log(
      `  ratio redis/RateLimiterRedis (median of ${ROUNDS} interleaved rounds): ${
        f(ratio(ours, io1))
      }× (ioredis), ${f(ratio(ours, nr))}× (node-redis) (target ≥ 1×); suppressed: ${
        f(ratio(sup, io1))
      }×, ${f(ratio(sup, nr))}×; batch: false: ${f(ratio(single, io1))}×, ${f(ratio(single, nr))}×`,
    );
    console.log();
    await load(
      "distkit hybrid.absolute.inc, 64 callers",
      64,
      (i) => rl.hybrid.absolute.inc(KEYS[i % 1000]!, BIG),
    );
    await load(
      "distkit hybrid.suppressed.inc, 64 callers",
      64,
      (i) => rl.hybrid.suppressed.inc(KEYS[i % 1000]!, BIG),
    );
  } finally {
    await rl.close();
    await unbatched.close();
    await store.close();
    await client.close();
    await admin.close();
    io.disconnect();
    await flexClient.close();
  }
}

async function fleetPhase(url: string): Promise<void> {
  const cap = 1000;
  const rate = RateLimit.perSecond(cap / 10);
  const prefix = `bench-fleet-${Date.now().toString(36)}`;
  const clients = await Promise.all([0, 1, 2, 3].map(() => createClient({ url }).connect()));
  const limiters = clients.map((c) =>
    new RateLimiter({ store: new RedisStore(c), prefix, windowSizeSeconds: 10 })
  );
  let admitted = 0;
  try {
    const row = await load("distkit hybrid, 4 instances × 16, 1 hot key", 64, async (i) => {
      const d = await limiters[i % 4]!.hybrid.absolute.inc("hot", rate);
      if (d.kind === "allowed") admitted++;
    });
    const over = Math.max(0, admitted - cap);
    row.note = `admitted ${admitted} of capacity ${cap}: overshoot ${over}`;
    console.log(`  ${row.note}`);
    let redisAdmitted = 0;
    await load("distkit redis, 4 instances × 16, 1 hot key", 64, async (i) => {
      const d = await limiters[i % 4]!.redis.absolute.inc("hot", rate);
      if (d.kind === "allowed") redisAdmitted++;
    });
    console.log(`  redis provider admitted ${redisAdmitted} of capacity ${cap}`);
  } finally {
    for (const rl of limiters) await rl.close();
    for (const c of clients) await c.close();
  }
}

const redis = await benchRedis();
try {
  console.log(`rate limiter benchmark, ${SECONDS} s per phase, Redis ${redis.url}\n`);
  await localPhase();
  await storePhase(redis.url);
  console.log();
  await fleetPhase(redis.url);
} finally {
  await redis.stop();
}
