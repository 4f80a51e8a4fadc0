/**
 * HTTP middleware benchmark (a script, not a test): `npm run bench:http`.
 *
 * The same Express 5 app (`GET /` → "ok"), each variant in its own Node process: bare; behind
 * distkit's `expressRateLimit` with the `redis` provider and with the `hybrid` provider; and
 * behind express-rate-limit + rate-limit-redis (the peer); and "floor", a middleware that only sets
 * the same two draft-11 fields with constant values (no limiter: what sending these headers costs
 * any middleware, the hybrid's floor) — all on the same Redis (REDIS_URL, or
 * a throwaway redis-server), limit never reached, one client address (one hot key). A load
 * generator drives each with 64 concurrent keep-alive connections for BENCH_SECONDS (default 5), in
 * BENCH_ROUNDS interleaved rounds (default 3, the order rotating each round). The report gives
 * medians of requests/s, p50/p99 latency, each middleware's added p50 over the bare app's p50 in
 * the same round, and "Redis µs/req" (the server's own script time, INFO commandstats, per
 * request served), and "server CPU µs/req" (the server process's own CPU time per request, from
 * /proc: steadier than requests/s on a shared machine, where the load generator and Redis take
 * the same cores); the ratios are taken within each round, then their median. The load comes from
 * scripts/bench/_http_load.mjs (a closed loop on raw keep-alive sockets, latencies in µs). Targets (issue
 * 14): redis added p50 ≤ 0.7× the peer's and req/s ≥ the peer's; hybrid req/s ≥ 0.95× bare.
 *
 * The server is bundled with esbuild into .tmp/bench/ and run by `node` (Express's usual
 * runtime); the load generator runs as a separate `node` process. A last section measures the
 * middleware's own cost in-process (no network, no framework): `withRateLimit` around a bare
 * handler, µs added per request, local and hybrid (on the same Redis) providers, interleaved with
 * the bare handler.
 */
import { createClient } from "redis";
import { withRateLimit } from "../../http/with_rate_limit.ts";
import { benchRedis, f } from "./_redis.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const CONNECTIONS = 64;
const VARIANTS = ["bare", "floor", "redis", "hybrid", "peer"] as const;
type Variant = typeof VARIANTS[number];
const ROOT = new URL("../../", import.meta.url).pathname;
const BUNDLE = `${ROOT}.tmp/bench/http_server.mjs`;

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd: ROOT, stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code})`);
  return new TextDecoder().decode(out.stdout);
}

interface Server {
  port: number;
  /** The server process's CPU time so far, ms (user + system; NaN off Linux). */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** A process's CPU time so far, ms, from /proc (10 ms ticks); NaN where there is none. */
function cpuMsOf(pid: number): number {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in USER_HZ (100/s) ticks
  } catch {
    return NaN;
  }
}

async function startServer(variant: Variant, url: string): Promise<Server> {
  const child = new Deno.Command("node", {
    args: [BUNDLE, variant, url],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${variant} server exited`);
    text += value;
  }
  const port = JSON.parse(text.split("\n")[0]!).port as number;
  return {
    port,
    cpuMs: () => cpuMsOf(child.pid),
    async stop() {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.status;
    },
  };
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  redisUs: number;
  /** The server process's CPU time per request served, µs. */
  serverUs: number;
}

/** Redis's total script time so far, µs. */
async function scriptUs(): Promise<number> {
  const info = await admin.info("commandstats");
  let us = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=\d+,usec=(\d+)/g)) {
    us += Number(m[1]);
  }
  return us;
}

async function load(server: Server, seconds: number): Promise<Sample> {
  const before = await scriptUs();
  const cpu0 = server.cpuMs();
  const json = await run("node", [
    "scripts/bench/_http_load.mjs",
    String(server.port),
    String(CONNECTIONS),
    String(seconds),
  ]);
  const r = JSON.parse(json);
  return {
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    errors: r.errors,
    redisUs: (await scriptUs() - before) / Math.max(1, r.total),
    serverUs: (server.cpuMs() - cpu0) * 1000 / Math.max(1, r.total),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

await run("node_modules/.bin/esbuild", [
  "scripts/bench/_http_server.ts",
  "--bundle",
  "--platform=node",
  "--format=esm",
  "--packages=external",
  `--outfile=${BUNDLE}`,
  "--log-level=warning",
]);
const redis = await benchRedis();
const admin = createClient({ url: redis.url });
admin.on("error", () => {});
await admin.connect();
const servers = new Map<Variant, Server>();
try {
  for (const v of VARIANTS) servers.set(v, await startServer(v, redis.url));
  console.log(
    `Express 5 on Node ${(await run("node", ["--version"])).trim()}, ${CONNECTIONS} keep-alive ` +
      `connections, ${SECONDS} s per run, ${ROUNDS} interleaved rounds, Redis ${redis.url}`,
  );
  for (const v of VARIANTS) await load(servers.get(v)!, 1); // warm-up (JIT, scripts loaded)
  const samples = new Map<Variant, Sample[]>(VARIANTS.map((v) => [v, []]));
  const added = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    const got = new Map<Variant, Sample>();
    for (const v of order) got.set(v, await load(servers.get(v)!, SECONDS));
    for (const v of VARIANTS) {
      samples.get(v)!.push(got.get(v)!);
      added.get(v)!.push(got.get(v)!.p50 - got.get("bare")!.p50);
    }
    console.log(
      `round ${round + 1}: ` +
        VARIANTS.map((v) => `${v} ${f(got.get(v)!.rps, 0)} req/s p50 ${f(got.get(v)!.p50, 3)} ms`)
          .join(" | "),
    );
  }
  const rps = (v: Variant) => median(samples.get(v)!.map((s) => s.rps));
  const p50 = (v: Variant) => median(samples.get(v)!.map((s) => s.p50));
  const p99 = (v: Variant) => median(samples.get(v)!.map((s) => s.p99));
  const add = (v: Variant) => median(added.get(v)!);
  const us = (v: Variant) => median(samples.get(v)!.map((s) => s.redisUs));
  const cpu = (v: Variant) => median(samples.get(v)!.map((s) => s.serverUs));
  console.log(
    "\nvariant   req/s (median)  p50 ms  p99 ms  added p50 ms  Redis µs/req  server CPU µs/req  errors",
  );
  for (const v of VARIANTS) {
    const errors = samples.get(v)!.reduce((n, s) => n + s.errors, 0);
    console.log(
      `${v.padEnd(8)}  ${f(rps(v), 0).padStart(14)}  ${f(p50(v), 2).padStart(6)}  ${
        f(p99(v), 2).padStart(6)
      }  ${f(add(v), 3).padStart(12)}  ${f(us(v), 2).padStart(12)}  ${
        f(cpu(v), 1).padStart(17)
      }  ${errors}`,
    );
  }
  // Ratios within each round (the runs a few seconds apart), then their median: a shared machine's
  // load drifts between rounds far more than within one.
  const ratio = (a: Variant, b: Variant, of: (x: Sample) => number) =>
    median(samples.get(a)!.map((x, i) => of(x) / of(samples.get(b)![i]!)));
  const addedRatio = median(
    added.get("redis")!.map((x, i) => x / Math.max(1e-9, added.get("peer")![i]!)),
  );
  console.log(
    `\nredis provider: added p50 ${f(add("redis"), 3)} ms vs the peer's ${f(add("peer"), 3)} ms ` +
      `(per-round ratio, median ${f(addedRatio)}, target ≤ 0.7); req/s ${
        f(ratio("redis", "peer", (x) => x.rps))
      }× the peer's (target ≥ 1)`,
  );
  console.log(
    `hybrid provider: req/s ${f(ratio("hybrid", "bare", (x) => x.rps))}× the bare app's ` +
      `(target ≥ 0.95); ${f(ratio("hybrid", "peer", (x) => x.rps))}× the peer's; server CPU ` +
      `per request +${f(cpu("hybrid") - cpu("bare"), 1)} µs over the bare app's (redis +${
        f(cpu("redis") - cpu("bare"), 1)
      }, peer +${f(cpu("peer") - cpu("bare"), 1)})`,
  );
  console.log(
    `floor (the two fields set, no limiter): req/s ${f(ratio("floor", "bare", (x) => x.rps))}× ` +
      `the bare app's, server CPU per request +${f(cpu("floor") - cpu("bare"), 1)} µs; hybrid ${
        f(ratio("hybrid", "floor", (x) => x.rps))
      }× the floor's req/s`,
  );
  await inProcess();
} finally {
  for (const s of servers.values()) await s.stop();
  await admin.close();
  await redis.stop();
}

/** µs per awaited call of `fn`, over about 300 ms. */
async function usPerCall(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 300) {
    for (let i = 0; i < 1000; i++) await fn();
    n += 1000;
  }
  return (performance.now() - t0) * 1000 / n;
}

/** The middleware's own cost per request, in-process, interleaved with the bare handler. */
async function inProcess(): Promise<void> {
  const bare = () => new Response("ok");
  const request = new Request("http://127.0.0.1/");
  console.log("\nin-process (Deno): withRateLimit around a bare handler, one hot key, 5 rounds");
  for (const provider of ["local", "hybrid"] as const) {
    const handler = withRateLimit(bare, {
      limit: 1_000_000_000,
      windowMs: 60_000,
      provider,
      key: () => "127.0.0.1",
      prefix: `bench-inproc-${crypto.randomUUID()}`,
      ...(provider === "hybrid" ? { store: admin } : {}),
    });
    const added: number[] = [];
    for (let round = 0; round < 5; round++) {
      const wrapped = await usPerCall(() => handler(request));
      added.push(wrapped - await usPerCall(bare));
    }
    await handler.close();
    console.log(`  ${provider}: median added ${f(median(added), 2)} µs per request`);
  }
}
