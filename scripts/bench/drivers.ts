/**
 * Driver benchmarks (a script, not a test): `deno run -A scripts/bench/drivers.ts`. Uses
 * REDIS_URL, or starts a throwaway redis-server.
 *
 * For each driver (node-redis 5, node-redis 6 with RESP3, ioredis 5, iovalkey, Valkey GLIDE 2, Bun's
 * RedisClient), on that same
 * client: strict `inc` at 64 concurrent callers and one caller's p50, each against the client's
 * own raw EVALSHA of an equivalent minimal script (targets ≥ 0.9× throughput, ≤ 1.1× p50), and
 * the contended lock hand-off p50 / p99 between two stores (target p50 ≤ 1 ms where the driver
 * has pub/sub). Every ratio is from this one run, ours and raw interleaved round by round, medians.
 *
 * `--only <text>` measures the rows whose name contains it (e.g. `--only GLIDE`).
 *
 * A client that needs another runtime (Bun's `RedisClient`) is one more {@linkcode Bench} whose
 * `open` runs this file's measurements in a `bun` subprocess and returns its row; a GLIDE row is
 * one more in-process entry.
 */
import { createClient } from "redis";
import { createClient as createClient6 } from "redis6";
import { Redis as IoRedis } from "ioredis";
import { Redis as Valkey } from "iovalkey";
import { Mutex, RedisStore, StrictCounter } from "../../mod.ts";
import type { RedisClientLike } from "../../store/types.ts";
import { compareLatency, compareThroughput, pct } from "./_measure.ts";
import { benchRedis, f } from "./_redis.ts";
import { sleep } from "../../tests/_support/wait.ts";
import process from "node:process";

const ROUNDS = 5;
const HANDOFFS = 200;

/** The same work as lua/counter_inc.lua (read, safe-integer check, write, string reply). */
const RAW_INC = `local v = tonumber(redis.call("HGET", KEYS[1], ARGV[1]) or "0") + tonumber(ARGV[2])
if v > 9007199254740991 or v < -9007199254740991 then return redis.error_reply("overflow") end
local s = string.format("%.0f", v)
redis.call("HSET", KEYS[1], ARGV[1], s)
return s`;

/** One client, connected: the store's input, and the same client's raw script call. */
interface Opened {
  client: RedisClientLike;
  /** `SCRIPT LOAD`, by the client's own API. */
  load(source: string): Promise<string>;
  /** `EVALSHA sha 1 key ...args`, by the client's own API. */
  evalSha(sha: string, key: string, args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/** A driver under test. */
interface Bench {
  /** Its row's name. */
  name: string;
  /** The runtime its client needs, when not Deno: its row is measured in a subprocess. */
  runtime?: "bun";
  open(url: string): Promise<Opened>;
}

const BENCHES: Bench[] = [
  {
    name: "node-redis 5 (RESP2)",
    async open(url) {
      const c = await createClient({ url }).connect();
      return {
        client: c,
        load: (s) => c.scriptLoad(s),
        evalSha: (sha, key, args) => c.evalSha(sha, { keys: [key], arguments: args }),
        close: () => c.close(),
      };
    },
  },
  {
    name: "node-redis 6 (RESP3)",
    async open(url) {
      const c = await createClient6({ url, RESP: 3 }).connect();
      return {
        client: c,
        load: (s) => c.scriptLoad(s),
        evalSha: (sha, key, args) => c.evalSha(sha, { keys: [key], arguments: args }),
        close: () => c.close(),
      };
    },
  },
  {
    name: "ioredis 5",
    async open(url) {
      const c = new IoRedis(url);
      await c.ping();
      return {
        client: c,
        load: (s) => c.script("LOAD", s) as Promise<string>,
        evalSha: (sha, key, args) => c.evalsha(sha, 1, key, ...args),
        close: async () => void await c.quit(),
      };
    },
  },
  {
    name: "iovalkey",
    async open(url) {
      const c = new Valkey(url);
      await c.ping();
      return {
        client: c,
        load: (s) => c.script("LOAD", s) as Promise<string>,
        evalSha: (sha, key, args) => c.evalsha(sha, 1, key, ...args),
        close: async () => void await c.quit(),
      };
    },
  },
  {
    name: "Valkey GLIDE 2 (standalone)",
    async open(url) {
      const { openGlide } = await import("../../tests/_support/glide.ts");
      const c = await openGlide({ url });
      return {
        client: c,
        load: async (s) => String(await c.customCommand(["SCRIPT", "LOAD", s])),
        // GLIDE's raw command path (its invokeScript is slower: see store/driver_glide.ts).
        evalSha: (sha, key, args) => c.customCommand(["EVALSHA", sha, "1", key, ...args]),
        close: () => Promise.resolve(c.close()),
      };
    },
  },
  {
    name: "Bun RedisClient",
    runtime: "bun",
    open(url) {
      const RedisClient = (globalThis as {
        Bun?: {
          RedisClient: new (url: string) => {
            send(c: string, a: string[]): Promise<unknown>;
            close(): void;
          };
        };
      }).Bun?.RedisClient;
      if (RedisClient === undefined) throw new Error("Bun's RedisClient runs under bun only");
      const c = new RedisClient(url);
      return Promise.resolve({
        client: c as unknown as RedisClientLike,
        load: async (s) => String(await c.send("SCRIPT", ["LOAD", s])),
        evalSha: (sha, key, args) => c.send("EVALSHA", [sha, "1", key, ...args]),
        close: () => Promise.resolve(c.close()),
      });
    },
  },
];

/** Runs `bench`'s row in a `bun` subprocess (this file with `--bun-row <name> <url>`). */
async function bunRow(bench: Bench, url: string): Promise<string[]> {
  const bun = new URL("../../node_modules/.bin/bun", import.meta.url).pathname;
  const out = await new Deno.Command(bun, {
    args: [new URL(import.meta.url).pathname, "--bun-row", bench.name, url],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) throw new Error(`bun ${bench.name}: exit code ${out.code}`);
  return JSON.parse(text) as string[];
}

/** Contended hand-off latencies (ms): a holder releases, the parked waiter of another store holds. */
async function handoff(a: Mutex, b: Mutex, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = await a.lock();
    let t1 = 0;
    const waiting = b.lock({ timeoutMs: 10_000 }).then((r) => (t1 = performance.now(), r));
    await sleep(15); // the waiter is parked (and past its first poll)
    const t0 = performance.now();
    await g.release();
    const g2 = await waiting;
    out.push(t1 - t0);
    await g2.release();
  }
  return out.sort((x, y) => x - y);
}

async function row(bench: Bench, url: string): Promise<string[]> {
  const one = await bench.open(url);
  const two = await bench.open(url);
  const store = new RedisStore(one.client);
  const other = new RedisStore(two.client);
  const run = `bench-drivers-${Date.now().toString(36)}`;
  try {
    const sha = await one.load(RAW_INC);
    const strict = new StrictCounter({ prefix: `${run}-strict`, store });
    const ours = () => strict.inc("k");
    const raw = () => one.evalSha(sha, `{${run}-raw}:counter`, ["k", "1"]);
    const tp = await compareThroughput(ours, raw, 64, ROUNDS);
    const lat = await compareLatency(ours, raw, 2000, ROUNDS);
    const a = new Mutex({ key: `${run}-lock`, store });
    const b = new Mutex({ key: `${run}-lock`, store: other });
    await handoff(a, b, 10); // warm-up: subscriptions made
    const h = await handoff(a, b, HANDOFFS);
    await strict.close();
    await a.close();
    await b.close();
    const pubsub = store.clientName === "ioredis" || store.clientName === "node-redis"
      ? "sharded"
      : store.clientName === "valkey-glide" || store.clientName === "bun"
      ? "plain"
      : "?";
    return [
      bench.name,
      `${f(tp.ours, 0)} / ${f(tp.raw, 0)} = ${f(tp.ours / tp.raw)}×`,
      `${f(lat.ours.p50 * 1000, 0)} / ${f(lat.raw.p50 * 1000, 0)} µs = ${
        f(lat.ours.p50 / lat.raw.p50)
      }×`,
      `${f(pct(h, 50))} / ${f(pct(h, 99))} (${pubsub})`,
    ];
  } finally {
    await store.close();
    await other.close();
    await one.close();
    await two.close();
  }
}

async function main() {
  const redis = await benchRedis();
  const rows: string[][] = [];
  try {
    // `--only <text>`: the rows whose name contains it.
    const only = process.argv.includes("--only")
      ? process.argv[process.argv.indexOf("--only") + 1]
      : undefined;
    for (const bench of BENCHES.filter((b) => only === undefined || b.name.includes(only))) {
      console.error(`${bench.name}...`);
      rows.push(
        bench.runtime === "bun" ? await bunRow(bench, redis.url) : await row(bench, redis.url),
      );
    }
  } finally {
    await redis.stop();
  }
  const head = [
    "driver",
    "strict inc, 64 callers: ops/s ours / raw EVALSHA (≥ 0.9×)",
    "1 caller p50: ours / raw (≤ 1.1×)",
    "lock hand-off p50 / p99 ms (p50 ≤ 1 ms)",
  ];
  console.log(`| ${head.join(" | ")} |`);
  console.log(`|${head.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

const bunIndex = process.argv.indexOf("--bun-row");
if (bunIndex >= 0) {
  // In the bun subprocess: one row, as JSON on the last line.
  const bench = BENCHES.find((b) => b.name === process.argv[bunIndex + 1]);
  if (bench === undefined) throw new Error(`no bench named ${process.argv[bunIndex + 1]}`);
  console.log(JSON.stringify(await row(bench, process.argv[bunIndex + 2]!)));
  process.exit(0);
} else {
  await main();
}
