/**
 * Redis's own cost of the rate-limit scripts, in instructions (a script, not a test; needs
 * valgrind): `deno run -A scripts/bench/redis_instructions.ts`.
 *
 * Each scenario runs twice on a fresh redis-server under callgrind, counting only what Redis does
 * to read, run and answer commands (`--toggle-collect` on reading and writing clients, so idle
 * time and the server's cron do not count): once with the scenario's calls and once without;
 * the difference over the number of calls is the cost of one call. Exact, and unaffected by the
 * machine's load, unlike timings.
 *
 *   hot      an admitted inc into the current bucket (PTTL + HINCRBY)
 *   opening  an inc that opens a new bucket on a key with a full window of bucket fields
 *            (W = 10 s, g = 100 ms, one call per bucket)
 *   flex     rate-limiter-flexible's fixed-window script, for comparison
 *   batch    the hot inc, 64 per call through the batch form, on 64 keys (cost per decision)
 *   batch-hot the same on one key (a run: the batch form writes its sum once)
 *   sem      an uncontended Semaphore acquire + release (two scripts), per pair
 *   sem-peer redis-semaphore's acquire script + ZREM, per pair
 *   inc-raw  `return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])` by EVALSHA, per call (the
 *            baseline of scripts/bench/coalescing.ts)
 *   inc-hot  StrictCounter's batch form of counter_inc, 256 incs of one field per call, per inc
 *   inc-1k   the same on fields drawn from 1,000, per inc
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { RL_ABSOLUTE } from "../../ratelimit/_scripts.ts";
import { luaSource } from "../../store/_lua.ts";
import { SEM_ACQUIRE, SEM_RELEASE } from "../../locks/_sem_scripts.ts";
import { COUNTER_INC } from "../../counter/_scripts.ts";
import { encodeBatch } from "../../store/batch_form.ts";
import { peerSemaphoreAcquireLua } from "./_redis.ts";

type Client = ReturnType<typeof createClient>;
interface Scenario {
  name: string;
  calls: number;
  /** Decisions per call. */
  per?: number;
  setup(c: Client): Promise<void>;
  call(c: Client, i: number): Promise<unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let port = 7400 + Math.floor(Math.random() * 500);

/** Instructions callgrind counted for `setup` then `n` calls, on a fresh server. */
async function run(s: Scenario, n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "distkit-cg-"));
  const my = port++;
  const server = spawn("valgrind", [
    "--tool=callgrind",
    "--collect-atstart=no",
    "--toggle-collect=readQueryFromClient",
    "--toggle-collect=handleClientsWithPendingWritesUsingThreads",
    `--callgrind-out-file=${dir}/out`,
    "redis-server",
    "--port",
    String(my),
    "--save",
    "",
    "--appendonly",
    "no",
  ], { stdio: "ignore" });
  const exited = new Promise((r) => server.on("exit", r));
  let c: Client | undefined;
  for (let i = 0; i < 100 && c === undefined; i++) {
    await sleep(300);
    const attempt = createClient({
      url: `redis://127.0.0.1:${my}`,
      socket: { reconnectStrategy: false },
    });
    attempt.on("error", () => {});
    try {
      await attempt.connect();
      c = attempt as Client;
    } catch { /* not up yet */ }
  }
  if (c === undefined) throw new Error("valgrind redis-server did not start");
  try {
    await s.setup(c);
    for (let i = 0; i < n; i++) await s.call(c, i);
  } finally {
    await c.close();
    server.kill("SIGTERM");
    await exited;
  }
  const out = readFileSync(`${dir}/out`, "utf8");
  const keep = Deno.env.get("KEEP_CALLGRIND"); // a directory: keep the profile for callgrind_annotate
  if (keep && n > 0) Deno.copyFileSync(`${dir}/out`, `${keep}/${s.name}.callgrind`);
  rmSync(dir, { recursive: true });
  return Number(/^summary: (\d+)/m.exec(out)?.[1] ?? /^totals: (\d+)/m.exec(out)?.[1]);
}

const CAP = "1000000000";
const loadAbsolute = async (c: Client) => void await c.scriptLoad(await luaSource(RL_ABSOLUTE));
const flexSource = readFileSync(
  new URL("../../node_modules/rate-limiter-flexible/lib/RateLimiterRedis.js", import.meta.url),
  "utf8",
).match(/const incrTtlLuaScript = `([^`]*)`/)![1]!.replace(/\\\n/g, "\n");
let flexSha = "";
const semPeerSource = peerSemaphoreAcquireLua();
let semPeerSha = "";
const HINCRBY = "return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])";
let rawSha = "";
/**
 * Call `i` of a scenario as a batch call of counter_inc: 256 incs of 1 on `field(i * 256 + j)`
 * of one hash, as the store sends it.
 */
const incBatch = (field: (at: number) => string) => (c: Client, i: number) => {
  const { keys, argv } = encodeBatch(
    Array.from({ length: 256 }, (_, j) => ({
      keys: ["{c}:counter"],
      argv: [field(i * 256 + j), "1"],
    })),
  );
  return c.evalSha(COUNTER_INC.batch!.sha1, { keys, arguments: argv });
};
/** A fixed pseudo-random draw from 1,000 fields: the field of a scenario's inc number `at`. */
const drawn = (at: number) => `k${(at * 7919 + 13) % 1000}`;

const scenarios: Scenario[] = [
  {
    name: "hot",
    calls: 200,
    setup: async (c) => {
      await loadAbsolute(c);
      await c.evalSha(RL_ABSOLUTE.sha1, { keys: ["hot"], arguments: ["600000", "60000", CAP] });
    },
    call: (c) =>
      c.evalSha(RL_ABSOLUTE.sha1, { keys: ["hot"], arguments: ["600000", "60000", CAP] }),
  },
  {
    name: "opening",
    calls: 100,
    setup: async (c) => {
      await loadAbsolute(c);
      for (let i = 0; i < 250; i++) {
        await c.evalSha(RL_ABSOLUTE.sha1, { keys: ["open"], arguments: ["10000", "100", CAP] });
        await sleep(101);
      }
    },
    call: async (c) => {
      await sleep(101);
      return c.evalSha(RL_ABSOLUTE.sha1, { keys: ["open"], arguments: ["10000", "100", CAP] });
    },
  },
  {
    name: "flex",
    calls: 200,
    setup: async (c) => {
      flexSha = await c.scriptLoad(flexSource);
      await c.evalSha(flexSha, { keys: ["flex"], arguments: ["1", "10"] });
    },
    call: (c) => c.evalSha(flexSha, { keys: ["flex"], arguments: ["1", "10"] }),
  },
  {
    name: "batch",
    calls: 20,
    per: 64,
    setup: async (c) => {
      await c.scriptLoad(await luaSource(RL_ABSOLUTE.batch!));
      for (let k = 0; k < 64; k++) {
        await c.evalSha(RL_ABSOLUTE.sha1, {
          keys: [`b${k}`],
          arguments: ["600000", "60000", CAP],
        }).catch(async () => {
          await c.eval(await luaSource(RL_ABSOLUTE), {
            keys: [`b${k}`],
            arguments: ["600000", "60000", CAP],
          });
        });
      }
    },
    call: (c) => {
      const keys = Array.from({ length: 64 }, (_, k) => `b${k}`);
      const argv = keys.flatMap(() => ["3", "600000", "60000", CAP]);
      return c.evalSha(RL_ABSOLUTE.batch!.sha1, { keys, arguments: argv });
    },
  },
  {
    name: "batch-hot",
    calls: 20,
    per: 64,
    setup: async (c) => {
      await c.scriptLoad(await luaSource(RL_ABSOLUTE.batch!));
      await c.eval(await luaSource(RL_ABSOLUTE), {
        keys: ["bh"],
        arguments: ["600000", "60000", CAP],
      });
    },
    call: (c) => {
      const keys = ["bh"];
      const argv = ["3:1", "600000", "60000", CAP];
      for (let k = 1; k < 64; k++) argv.push("3", "600000", "60000", CAP);
      return c.evalSha(RL_ABSOLUTE.batch!.sha1, { keys, arguments: argv });
    },
  },
  {
    name: "sem",
    calls: 200,
    setup: async (c) => {
      await c.scriptLoad(await luaSource(SEM_ACQUIRE));
      await c.scriptLoad(await luaSource(SEM_RELEASE));
    },
    call: async (c, i) => {
      const keys = ["{s}h", "{s}q", "{s}x", "{s}f", "{s}s"];
      const token = `t${i}*1/10000/r1/owner`;
      await c.evalSha(SEM_ACQUIRE.sha1, {
        keys,
        arguments: [token, "1", "10000", "4", "0", "ch"],
      });
      return c.evalSha(SEM_RELEASE.sha1, { keys, arguments: [token, "4", "ch"] });
    },
  },
  {
    name: "sem-peer",
    calls: 200,
    setup: async (c) => {
      semPeerSha = await c.scriptLoad(semPeerSource);
    },
    call: async (c, i) => {
      const id = `peer-identifier-${i}`;
      await c.evalSha(semPeerSha, {
        keys: ["peer"],
        arguments: ["4", id, "10000", String(Date.now())],
      });
      return c.zRem("peer", id);
    },
  },
  {
    name: "inc-raw",
    calls: 200,
    setup: async (c) => void (rawSha = await c.scriptLoad(HINCRBY)),
    call: (c, i) => c.evalSha(rawSha, { keys: ["{r}:counter"], arguments: [`k${i % 1000}`, "1"] }),
  },
  {
    name: "inc-hot",
    calls: 20,
    per: 256,
    setup: async (c) => void await c.scriptLoad(await luaSource(COUNTER_INC.batch!)),
    call: incBatch(() => "k0"),
  },
  {
    name: "inc-1k",
    calls: 20,
    per: 256,
    setup: async (c) => void await c.scriptLoad(await luaSource(COUNTER_INC.batch!)),
    call: incBatch(drawn),
  },
];

const only = Deno.args.length > 0 ? Deno.args : scenarios.map((s) => s.name);
for (const s of scenarios.filter((s) => only.includes(s.name))) {
  const [a, b] = await Promise.all([run(s, s.calls), run(s, 0)]);
  const per = (a - b) / s.calls / (s.per ?? 1);
  console.log(`${s.name.padEnd(8)} ${(per / 1000).toFixed(1)}k instructions per decision`);
}
