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
 *   batch    the hot inc, 64 per call through the batch form (cost per decision)
 *   sem      an uncontended Semaphore acquire + release (two scripts), per pair
 *   sem-peer redis-semaphore's acquire script + ZREM, per pair
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { RL_ABSOLUTE } from "../../ratelimit/_scripts.ts";
import { luaSource } from "../../store/_lua.ts";
import { SEM_ACQUIRE, SEM_RELEASE } from "../../locks/_sem_scripts.ts";

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
const semPeerSource = readFileSync(
  new URL("../../node_modules/redis-semaphore/lib/semaphore/acquire/lua.js", import.meta.url),
  "utf8",
).match(/createEval\)\(`([^`]*)`/)![1]!;
let semPeerSha = "";

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
];

const only = Deno.args.length > 0 ? Deno.args : scenarios.map((s) => s.name);
for (const s of scenarios.filter((s) => only.includes(s.name))) {
  const [a, b] = await Promise.all([run(s, s.calls), run(s, 0)]);
  const per = (a - b) / s.calls / (s.per ?? 1);
  console.log(`${s.name.padEnd(8)} ${(per / 1000).toFixed(1)}k instructions per decision`);
}
