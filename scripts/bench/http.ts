/**
 * HTTP middleware benchmark (a script, not a test): `npm run bench:http`.
 *
 * The same Express 5 app (`GET /` → "ok"), each variant in its own Node process: bare; behind
 * distkit's `expressRateLimit` with the `redis` provider and with the `hybrid` provider (also
 * `hybrid-1s`: syncing every 1,000 ms instead of the default 10, to show what the syncs cost); and
 * behind express-rate-limit + rate-limit-redis (the peer); "floor", a middleware that only sets
 * the same two draft-11 fields with constant values (no limiter: what sending these headers costs
 * any middleware, the hybrid's floor); "layer", one that only calls `next()`; and "local", the
 * local provider (the decision and its headers, no store) — all on the same Redis (REDIS_URL, or
 * a throwaway redis-server), limit never reached, one client address (one hot key). One load
 * generator (scripts/bench/_http_load.mjs, a closed loop on raw keep-alive sockets, latencies in
 * µs) holds 64 keep-alive connections to each variant and drives one variant at a time, in slices
 * of BENCH_SLICE_MS (default 500): each of BENCH_CYCLES cycles (default 24) gives every variant
 * one slice, in an order shuffled per cycle (a rotation always gave a variant the same neighbour).
 * Each ratio is taken within a cycle (its slices
 * are a few seconds apart: a shared machine's speed drifts far more between runs tens of seconds
 * apart, the bare app alone once moving from 5,383 to 10,073 req/s between 5 s runs), then the
 * median of the cycles. The report gives medians of requests/s, p50/p99 latency, each
 * middleware's added p50 over the bare app's p50 in the same cycle, "Redis µs/req" (the server's
 * own script time, INFO commandstats, per request served) and "server CPU µs/req" (the server
 * process's own CPU time per request, from /proc, over all its slices). Targets (issue 14): redis
 * added p50 ≤ 0.7× the peer's and req/s ≥ the peer's; hybrid req/s ≥ 0.95× bare.
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

const CYCLES = Number(Deno.env.get("BENCH_CYCLES") ?? 24);
const SLICE_MS = Number(Deno.env.get("BENCH_SLICE_MS") ?? 500);
const CONNECTIONS = 64;
const VARIANTS = [
  "bare",
  "layer",
  "floor",
  "local",
  "redis",
  "hybrid",
  "hybrid-1s",
  "peer",
] as const;
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
  pid: number;
  stop(): Promise<void>;
}

/**
 * Where `taskset` exists and the machine has two cores or more (BENCH_PIN=0 turns it off), the
 * servers run on core 0 and this process, Redis and the load generator (its children) on core 1:
 * the app under test then has a core of its own, as in production, and the load generator's and
 * Redis's work no longer takes its time.
 */
const PIN = Deno.env.get("BENCH_PIN") !== "0" && navigator.hardwareConcurrency >= 2 &&
  (await new Deno.Command("taskset", { args: ["-p", "-c", "1", String(Deno.pid)], stdout: "null" })
    .output().then((o) => o.success, () => false));

async function startServer(variant: Variant, url: string): Promise<Server> {
  const child = new Deno.Command(PIN ? "taskset" : "node", {
    args: [...(PIN ? ["-c", "0", "node"] : []), BUNDLE, variant, url],
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
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.status;
    },
  };
}

/** One slice of the load on one variant (see scripts/bench/_http_load.mjs). */
interface Slice {
  cycle: number;
  name: Variant;
  rps: number;
  p50: number;
  p99: number;
  total: number;
  errors: number;
  /** The server process's CPU time during the slice, ms (10 ms ticks). */
  cpuMs: number;
  /** Redis's script time during the slice, µs. */
  scriptUs: number;
}

/** Runs the load generator over every server: `cycles` cycles of one slice per variant. */
async function load(servers: Map<Variant, Server>, cycles: number, sliceMs: number) {
  const spec = {
    targets: [...servers].map(([name, s]) => ({ name, port: s.port, pid: s.pid })),
    connections: CONNECTIONS,
    sliceMs,
    cycles,
    redisPort: Number(new URL(redis.url).port),
  };
  const out = await run("node", ["scripts/bench/_http_load.mjs", JSON.stringify(spec)]);
  return (JSON.parse(out) as { slices: Slice[] }).slices;
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
      `connections per variant, ${CYCLES} cycles of one ${SLICE_MS} ms slice per variant ` +
      `(order shuffled per cycle), Redis ${redis.url}; ${
        PIN ? "servers pinned to core 0, Redis and the load generator to core 1" : "not pinned"
      }`,
  );
  await load(servers, 2, 500); // warm-up (JIT, scripts loaded)
  const slices = await load(servers, CYCLES, SLICE_MS);
  const dump = Deno.env.get("BENCH_DUMP"); // the raw slices, as JSON, for a closer look
  if (dump) await Deno.writeTextFile(dump, JSON.stringify(slices));
  // cycle -> variant -> slice
  const byCycle = Array.from({ length: CYCLES }, () => new Map<Variant, Slice>());
  for (const s of slices) byCycle[s.cycle]!.set(s.name, s);
  const of = (v: Variant) => byCycle.map((c) => c.get(v)!);
  const sum = (v: Variant, pick: (s: Slice) => number) => of(v).reduce((n, s) => n + pick(s), 0);
  const perReq = (v: Variant, pick: (s: Slice) => number) =>
    sum(v, pick) / Math.max(1, sum(v, (s) => s.total));
  // The ratios are taken within each cycle (its slices a few seconds apart), then their median.
  const ratio = (a: Variant, b: Variant, pick: (s: Slice) => number) =>
    median(byCycle.map((c) => pick(c.get(a)!) / pick(c.get(b)!)));
  const added = (v: Variant) => byCycle.map((c) => c.get(v)!.p50 - c.get("bare")!.p50);
  console.log(
    "\nvariant   req/s (median)  p50 ms  p99 ms  added p50 ms  Redis µs/req  server CPU µs/req  errors",
  );
  for (const v of VARIANTS) {
    console.log(
      `${v.padEnd(8)}  ${f(median(of(v).map((s) => s.rps)), 0).padStart(14)}  ${
        f(median(of(v).map((s) => s.p50)), 2).padStart(6)
      }  ${f(median(of(v).map((s) => s.p99)), 2).padStart(6)}  ${
        f(median(added(v)), 3).padStart(12)
      }  ${f(perReq(v, (s) => s.scriptUs), 2).padStart(12)}  ${
        f(perReq(v, (s) => s.cpuMs * 1000), 1).padStart(17)
      }  ${sum(v, (s) => s.errors)}`,
    );
  }
  const peerAdded = added("peer");
  const addedRatio = median(added("redis").map((x, i) => x / Math.max(1e-9, peerAdded[i]!)));
  const cpu = (v: Variant) => perReq(v, (s) => s.cpuMs * 1000);
  const rpsOf = (s: Slice) => s.rps;
  console.log(
    `\nredis provider: added p50 ${f(median(added("redis")), 3)} ms vs the peer's ${
      f(median(peerAdded), 3)
    } ms (per-cycle ratio, median ${f(addedRatio)}, target ≤ 0.7); req/s ${
      f(ratio("redis", "peer", rpsOf))
    }× the peer's (target ≥ 1)`,
  );
  console.log(
    `hybrid provider: req/s ${f(ratio("hybrid", "bare", rpsOf))}× the bare app's ` +
      `(target ≥ 0.95); ${f(ratio("hybrid", "peer", rpsOf))}× the peer's; server CPU ` +
      `per request +${f(cpu("hybrid") - cpu("bare"), 1)} µs over the bare app's (redis +${
        f(cpu("redis") - cpu("bare"), 1)
      }, peer +${f(cpu("peer") - cpu("bare"), 1)})`,
  );
  console.log(
    `floor (the two fields set, no limiter): req/s ${f(ratio("floor", "bare", rpsOf))}× ` +
      `the bare app's, server CPU per request +${f(cpu("floor") - cpu("bare"), 1)} µs; hybrid ${
        f(ratio("hybrid", "floor", rpsOf))
      }× the floor's req/s`,
  );
  console.log(
    `layer (a middleware that only calls next()): req/s ${f(ratio("layer", "bare", rpsOf))}× ` +
      `the bare app's, server CPU per request +${f(cpu("layer") - cpu("bare"), 1)} µs; local ` +
      `provider (the decision and its headers, no store): req/s ${
        f(ratio("local", "bare", rpsOf))
      }× the bare app's, ${f(ratio("local", "floor", rpsOf))}× the floor's, server CPU per ` +
      `request +${f(cpu("local") - cpu("bare"), 1)} µs`,
  );
  console.log(
    `hybrid provider syncing every 1,000 ms instead of 10: req/s ${
      f(ratio("hybrid-1s", "bare", rpsOf))
    }× the bare app's, ${f(ratio("hybrid-1s", "floor", rpsOf))}× the floor's; the default's ` +
      `syncs (100 Redis round trips a second) cost ${
        f(cpu("hybrid") - cpu("hybrid-1s"), 1)
      } µs of server CPU per request`,
  );
  const bareRps = of("bare").map((s) => s.rps);
  console.log(
    `(the bare app's req/s moved from ${f(Math.min(...bareRps), 0)} to ${
      f(Math.max(...bareRps), 0)
    } between cycles)`,
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
