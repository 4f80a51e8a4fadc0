/**
 * A/B benchmark of the rate limiter against another checkout of distkit (a script, not a test):
 * the same load on both in one run, in interleaved rounds (rotating order), medians compared.
 *
 *   git archive <rev> | tar -x -C /tmp/old && ln -s "$PWD/node_modules" /tmp/old/node_modules
 *   AB_OLD=/tmp/old deno run -A scripts/bench/ratelimit_ab.ts
 *
 * Phases (as scripts/bench/ratelimit.ts): local decisions/s (1 000 keys, limit never reached);
 * redis.absolute.inc and redis.suppressed.inc at 64 concurrent callers on 1 000 keys (ops/s,
 * p50, p99, Redis µs in scripts per op); hybrid.absolute.inc at 64 callers. BENCH_SECONDS per
 * measurement (default 2), BENCH_ROUNDS rounds (default 5).
 */
import { createClient } from "redis";
import { benchRedis, f, pct } from "./_redis.ts";
import * as NEW from "../../mod.ts";

const OLD_DIR = Deno.env.get("AB_OLD");
if (!OLD_DIR) throw new Error("set AB_OLD to the other checkout's directory");
const OLD: typeof NEW = await import(`file://${OLD_DIR}/mod.ts`);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 2);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 5);
const KEYS = Array.from({ length: 1000 }, (_, i) => `user${i}`);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor((xs.length - 1) / 2)]!;

interface Row {
  ops: number;
  p50: number;
  p99: number;
  us: number;
}

async function load(
  callers: number,
  call: (i: number) => unknown,
  admin: ReturnType<typeof createClient>,
): Promise<Row> {
  await admin.configResetStat();
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: callers }, async (_, c) => {
    for (let i = c, k = 0; performance.now() < end; i += callers, k++) {
      if (k % 256 === 255) await new Promise((r) => setTimeout(r, 0));
      const t0 = performance.now();
      await call(i);
      lat.push(performance.now() - t0);
      n++;
    }
  }));
  const stats = await admin.info("commandstats");
  let usec = 0;
  for (const m of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g)) {
    usec += Number(m[1]);
  }
  const s = sorted(lat);
  return { ops: n / SECONDS, p50: pct(s, 50), p99: pct(s, 99), us: usec / n };
}

function localLoad(call: (i: number) => unknown): Row {
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) call(n + i);
    n += 1000;
  }
  return { ops: n / SECONDS, p50: 0, p99: 0, us: 0 };
}

const redis = await benchRedis();
const client = await createClient({ url: redis.url }).connect();
const admin = await createClient({ url: redis.url }).connect();
try {
  const make = (m: typeof NEW, tag: string) => {
    const big = m.RateLimit.perSecond(1e9);
    const rl = new m.RateLimiter({
      store: new m.RedisStore(client),
      prefix: `ab-${tag}-${Date.now().toString(36)}`,
      windowSizeSeconds: 10,
    });
    return {
      rl,
      phases: {
        "local.absolute.inc (sync)": (i: number) => rl.local.absolute.inc(KEYS[i % 1000]!, big),
        "redis.absolute.inc, 64 callers": (i: number) =>
          rl.redis.absolute.inc(KEYS[i % 1000]!, big),
        "redis.suppressed.inc, 64 callers": (i: number) =>
          rl.redis.suppressed.inc(KEYS[i % 1000]!, big),
        "hybrid.absolute.inc, 64 callers": (i: number) =>
          rl.hybrid.absolute.inc(KEYS[i % 1000]!, big),
      } as Record<string, (i: number) => unknown>,
    };
  };
  const sides = { old: make(OLD, "old"), new: make(NEW, "new") };
  const names = Object.keys(sides.new.phases);
  const runs = new Map<string, Row[]>();
  const run = async (side: "old" | "new", name: string, quiet = false) => {
    const call = sides[side].phases[name]!;
    const row = name.startsWith("local") ? localLoad(call) : await load(64, call, admin);
    if (!quiet) {
      const k = `${side} ${name}`;
      runs.set(k, [...(runs.get(k) ?? []), row]);
    }
  };
  console.log(`rate limiter A/B: ${SECONDS} s × ${ROUNDS} interleaved rounds, Redis ${redis.url}`);
  for (const name of names) for (const side of ["old", "new"] as const) await run(side, name, true);
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of names) {
      const order = r % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
      for (const side of order) await run(side, name);
    }
  }
  for (const name of names) {
    const o = runs.get(`old ${name}`)!, n = runs.get(`new ${name}`)!;
    const row = (label: string, xs: Row[]) =>
      console.log(
        `  ${label} ${f(median(xs.map((x) => x.ops)), 0).padStart(10)} ops/s` +
          (name.startsWith("local")
            ? ""
            : `  p50 ${f(median(xs.map((x) => x.p50)) * 1000, 0)} µs  p99 ${
              f(median(xs.map((x) => x.p99)) * 1000, 0)
            } µs  Redis ${f(median(xs.map((x) => x.us)), 2)} µs/op in scripts`) +
          `  [${xs.map((x) => f(x.ops, 0)).join(" ")}]`,
      );
    console.log(name);
    row("old", o);
    row("new", n);
    console.log(
      `  new/old ops/s (median of per-round ratios): ${
        f(median(n.map((x, i) => x.ops / o[i]!.ops)), 3)
      }×`,
    );
  }
  await sides.old.rl.close();
  await sides.new.rl.close();
} finally {
  await client.close();
  await admin.close();
  await redis.stop();
}
