/**
 * Semaphore benchmark (a script, not a test): `deno run -A scripts/bench/semaphore.ts [--quick | --bare]`
 * (`npm run bench:semaphore`). distkit's Semaphore beside redis-semaphore's Semaphore on the same
 * Redis (REDIS_URL, or a throwaway redis-server) in one run:
 *   1. contended: 64 waiters in 4 processes (16 each) on one semaphore of 4 permits, each taking
 *      1 permit, holding it 1 ms, releasing, again, for a few seconds: the hand-off latency (a
 *      release's start to the acquisition it enabled, across processes: the k-th release in time
 *      order with the (k + permits)-th acquisition) p50/p99, acquisitions/s, and per-client fairness
 *      (fewest / most acquisitions of the 64 clients). The libraries run in interleaved rounds,
 *      in a rotating order; each row shows the median round.
 *   2. uncontended acquire + release in one process, the libraries interleaved call by call, and
 *      where a pair's time goes: the client's own parts (to the acquire's write, from its reply to
 *      the release's write, from that reply to the caller) and the wire's (Redis and the network),
 *      timed at the connection's socket.
 *   3. the same pair as bare calls on one connection, no library: the peer's script + `ZREM`;
 *      distkit's two scripts; and a skeleton, the least any semaphore with server-timed leases
 *      and fencing tokens runs as two scripts (acquire: TIME, HMGET, ZADD, INCR, HSET, PEXPIRE;
 *      release: HMGET, DEL), with no queue, no owner check and no sweep. The skeleton's ratio to
 *      the peer is the floor under the uncontended target: the peer's release is one plain
 *      command, and a script call costs more than that before it runs a command.
 * The peer runs with its defaults (it polls every 10 ms); both get lockTimeout / ttl 10 s, and
 * both run on ioredis (the peer's client), one connection per process.
 *
 * Child processes run the contenders: `semaphore.ts --child <json>`; their clocks are aligned on
 * the wall clock (each finds the instant Date.now() ticks, so offsets are exact to a few µs).
 */
import { Redis } from "ioredis";
import { Semaphore as PeerSemaphore } from "redis-semaphore";
import { spawn } from "node:child_process";
import process from "node:process";
import { RedisStore, Semaphore } from "../../mod.ts";
import { semaphoreKeys } from "../../locks/_remote.ts";
import { SEM_ACQUIRE, SEM_RELEASE } from "../../locks/_sem_scripts.ts";
import { luaSource } from "../../store/_lua.ts";
import { benchRedis, f, pct, peerSemaphoreAcquireLua, runtime } from "./_redis.ts";
import { median } from "./_measure.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

const LIBS = ["distkit Semaphore", "redis-semaphore Semaphore"] as const;
type LibName = (typeof LIBS)[number];

const PERMITS = 4;
const PROCESSES = 4;
const WAITERS = 16; // per process
const TTL_MS = 10_000;

/** An acquire that resolves to its release. */
type Acquire = () => Promise<() => Promise<unknown>>;

/** What a library needs in one process: an acquire function per client, and a closer. */
async function open(lib: LibName, url: string, key: string): Promise<{
  acquire: Acquire;
  close: () => Promise<void>;
  /** The library's one connection. */
  client: Redis;
}> {
  if (lib === "distkit Semaphore") {
    // The peer's client (ioredis), so the two differ only in the semaphore.
    const c = new Redis(url);
    await c.ping(); // connected before anything is timed
    const store = new RedisStore(c);
    const sem = new Semaphore({ key, store, permits: PERMITS, ttlMs: TTL_MS });
    return {
      client: c,
      async acquire() {
        const g = await sem.acquire();
        return () => g.release();
      },
      async close() {
        await sem.close();
        await store.close();
        await c.quit();
      },
    };
  }
  const r = new Redis(url);
  await r.ping();
  return {
    client: r,
    async acquire() {
      const s = new PeerSemaphore(r, key, PERMITS, {
        lockTimeout: TTL_MS,
        acquireTimeout: 120_000,
      });
      await s.acquire();
      return () => s.release();
    },
    async close() {
      await r.quit();
    },
  };
}

/** This process's offset from performance.now() to wall-clock ms, exact to a few µs. */
function wallOffset(): number {
  const start = Date.now();
  let now: number;
  while ((now = Date.now()) === start) { /* spin to the tick */ }
  return now - performance.now();
}

interface ChildArgs {
  lib: LibName;
  url: string;
  key: string;
  holdMs: number;
}

interface ChildResult {
  counts: number[];
  /** Wall-clock ms of each acquisition. */
  acquired: number[];
  /** Wall-clock ms of each release's start. */
  released: number[];
}

/** A child: WAITERS clients looping acquire / hold / release from "go" until the end time. */
async function child(args: ChildArgs): Promise<void> {
  const lib = await open(args.lib, args.url, args.key);
  const offset = wallOffset();
  const wall = () => performance.now() + offset;
  process.stdout.write("ready\n");
  const endWall = await new Promise<number>((resolve) => {
    let buf = "";
    process.stdin.on("data", (d: Uint8Array) => {
      buf += new TextDecoder().decode(d);
      const m = /^go (\d+)\n/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
  });
  const out: ChildResult = { counts: [], acquired: [], released: [] };
  await Promise.all(Array.from({ length: WAITERS }, async (_, i) => {
    out.counts[i] = 0;
    while (wall() < endWall) {
      const release = await lib.acquire();
      out.acquired.push(wall());
      out.counts[i]!++;
      await sleep(args.holdMs);
      out.released.push(wall());
      await release();
    }
  }));
  await lib.close();
  process.stdout.write(`result ${JSON.stringify(out)}\n`);
  process.stdin.destroy();
}

/** Runs PROCESSES children of `lib` for `ms` and gathers their results. */
async function contended(lib: LibName, url: string, key: string, ms: number) {
  const script = new URL(import.meta.url).pathname;
  const args: ChildArgs = { lib, url, key, holdMs: 1 };
  const kids = Array.from({ length: PROCESSES }, () => {
    const p = spawn(process.execPath, ["run", "-A", script, "--child", JSON.stringify(args)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let text = "";
    const ready = new Promise<void>((resolve) =>
      p.stdout!.on("data", (d: Uint8Array) => {
        text += new TextDecoder().decode(d);
        if (text.includes("ready\n")) resolve();
      })
    );
    const done = new Promise<ChildResult>((resolve, reject) =>
      p.on("exit", (code) => {
        const m = /result (.*)\n/.exec(text);
        if (code === 0 && m) resolve(JSON.parse(m[1]!));
        else reject(new Error(`child exited with ${code}`));
      })
    );
    return { p, ready, done };
  });
  await Promise.all(kids.map((k) => k.ready));
  const end = Date.now() + ms + 100;
  for (const k of kids) k.p.stdin!.end(`go ${end}\n`);
  const results = await Promise.all(kids.map((k) => k.done));
  const counts = results.flatMap((r) => r.counts);
  const acquired = sorted(results.flatMap((r) => r.acquired));
  const released = sorted(results.flatMap((r) => r.released));
  // Each acquisition past the first PERMITS was enabled by one release: the k-th release (in
  // time order) frees the permit the (k + PERMITS)-th acquisition takes. Paired by rank, not by
  // "the first release before it": an acquisition stamped a little before its release (clocks of
  // two processes a few hundred µs apart) then costs that pair its accuracy, where the greedy
  // pairing skipped it and paired every later release with the acquisition a cycle on (it
  // reported 1.2 to 4.3 ms for a mean of 1.25 ms).
  const handoff: number[] = [];
  for (let k = 0; k + PERMITS < acquired.length && k < released.length; k++) {
    handoff.push(Math.max(0, acquired[k + PERMITS]! - released[k]!));
  }
  const total = counts.reduce((x, y) => x + y, 0);
  return {
    rate: total / ((acquired.at(-1)! - acquired[0]!) / 1000),
    fairness: Math.min(...counts) / Math.max(...counts),
    handoff: sorted(handoff),
    total,
  };
}

/** Where an uncontended pair's time goes, medians (µs), as the client's socket sees it. */
interface Split {
  /** From the call to the acquire's write. */
  beforeWrite: number;
  /** From the acquire's write to its reply's first bytes: Redis and the network. */
  acquireWire: number;
  /** From that reply to the release's write. */
  between: number;
  /** The release on the wire. */
  releaseWire: number;
  /** From the release's reply to the caller. */
  after: number;
}

/**
 * Records when a connection writes and when data arrives (ioredis's socket: `stream`), so a pair
 * can be split into the client's part and the wire's. Undefined when the socket is not there.
 */
function socketMarks(c: Redis): { w: number[]; d: number[] } | undefined {
  const stream = (c as unknown as {
    stream?: {
      write: (...a: unknown[]) => boolean;
      prependListener: (e: string, f: () => void) => void;
    };
  }).stream;
  if (stream === undefined || typeof stream.prependListener !== "function") return undefined;
  const m = { w: [] as number[], d: [] as number[] };
  const write = stream.write.bind(stream);
  stream.write = (...a: unknown[]) => {
    m.w.push(performance.now());
    return write(...a);
  };
  stream.prependListener("data", () => m.d.push(performance.now()));
  return m;
}

/**
 * Uncontended acquire + release latencies, the libraries interleaved call by call, and each
 * library's split of its pairs (those with one write and one reply per call).
 */
async function uncontended(
  url: string,
  run: string,
  n: number,
): Promise<{ times: number[][]; splits: Array<Split | undefined> }> {
  const libs = await Promise.all(LIBS.map((l) => open(l, url, `${run}-solo-${l.length}`)));
  const out: number[][] = LIBS.map(() => []);
  const phases = LIBS.map(() => [[], [], [], [], []] as number[][]);
  try {
    for (let i = 0; i < 100; i++) for (const l of libs) await (await l.acquire())(); // warm
    const marks = libs.map((l) => socketMarks(l.client));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < libs.length; j++) {
        const m = marks[j];
        if (m !== undefined) m.w.length = m.d.length = 0;
        const t = performance.now();
        const release = await libs[j]!.acquire();
        await release();
        const end = performance.now();
        out[j]!.push(end - t);
        if (m === undefined || m.w.length !== 2 || m.d.length !== 2) continue;
        const [w0, w1] = m.w as [number, number];
        const [d0, d1] = m.d as [number, number];
        [w0 - t, d0 - w0, w1 - d0, d1 - w1, end - d1].forEach((x, k) => phases[j]![k]!.push(x));
      }
    }
  } finally {
    for (const l of libs) await l.close();
  }
  const splits = phases.map((p) => {
    if (p[0]!.length === 0) return undefined;
    const [beforeWrite, acquireWire, between, releaseWire, after] = p.map((xs) =>
      pct(sorted(xs), 50) * 1000
    ) as [number, number, number, number, number];
    return { beforeWrite, acquireWire, between, releaseWire, after };
  });
  return { times: out.map(sorted), splits };
}

/** The skeleton's scripts (see the module's doc, part 3): KEYS holders, state, fence. */
const SKELETON_ACQUIRE = `local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call("HMGET", KEYS[2], "permits", "used")
redis.call("ZADD", KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local f = redis.call("INCR", KEYS[3])
redis.call("HSET", KEYS[2], "permits", ARGV[4], "used", ARGV[2], ARGV[1], f)
redis.call("PEXPIRE", KEYS[2], ARGV[3])
return f`;
const SKELETON_RELEASE = `redis.call("HMGET", KEYS[2], ARGV[1], "used")
redis.call("DEL", KEYS[1], KEYS[2])
return 1`;

/**
 * Part 3: an uncontended pair as bare calls on one ioredis connection, interleaved call by call:
 * p50 µs of the peer's pair, distkit's and the skeleton's.
 */
async function bare(url: string, run: string, n: number): Promise<Record<string, number>> {
  const r = new Redis(url);
  try {
    const load = async (source: string) => String(await r.script("LOAD", source));
    const [peer, acquire, release, skAcquire, skRelease] = await Promise.all([
      load(peerSemaphoreAcquireLua()),
      load(await luaSource(SEM_ACQUIRE)),
      load(await luaSource(SEM_RELEASE)),
      load(SKELETON_ACQUIRE),
      load(SKELETON_RELEASE),
    ]);
    const ours = semaphoreKeys("distkit", `${run}-bare`).all;
    const sk = semaphoreKeys("distkit", `${run}-skeleton`);
    const skKeys = [sk.holders, sk.state, sk.fence];
    const ttl = String(TTL_MS);
    // Tokens shaped as the library's (a UUID's length), built as cheaply as the peer's ids.
    const token = (i: number) => `${run}-${String(i).padStart(20, "0")}*1/${ttl}/r${i % 4}/${run}`;
    const pairs: Record<string, (i: number) => Promise<unknown>> = {
      "redis-semaphore": async (i) => {
        const id = `${run}-${i}`;
        await r.evalsha(peer, 1, `${run}-peer`, PERMITS, id, ttl, Date.now());
        await r.zrem(`${run}-peer`, id);
      },
      distkit: async (i) => {
        const t = token(i);
        await r.evalsha(acquire, 5, ...ours, t, 1, ttl, PERMITS, 0, `${run}:wake`);
        await r.evalsha(release, 5, ...ours, t, PERMITS, `${run}:wake`);
      },
      skeleton: async (i) => {
        const t = token(i);
        await r.evalsha(skAcquire, 3, ...skKeys, t, 1, ttl, PERMITS);
        await r.evalsha(skRelease, 3, ...skKeys, t);
      },
    };
    const times: Record<string, number[]> = {};
    for (const name in pairs) times[name] = [];
    for (let i = 0; i < n + 200; i++) {
      for (const name in pairs) {
        const t = performance.now();
        await pairs[name]!(i);
        if (i >= 200) times[name]!.push(performance.now() - t); // the first 200: warm-up
      }
    }
    const out: Record<string, number> = {};
    for (const name in times) out[name] = pct(sorted(times[name]!), 50) * 1000;
    return out;
  } finally {
    await r.quit();
  }
}

/** `--bare`: part 3 alone. */
async function bareOnly() {
  const redis = await benchRedis();
  try {
    const raw = await bare(redis.url, `bench-sem-${Date.now().toString(36)}`, 4000);
    for (const [name, us] of Object.entries(raw)) {
      console.log(`${name}: ${f(us, 1)} µs (${f(us / raw["redis-semaphore"]!)}× the peer's)`);
    }
  } finally {
    await redis.stop();
  }
}

async function main() {
  const quick = process.argv.includes("--quick");
  const ROUNDS = quick ? 3 : 5;
  const MS = quick ? 1500 : 3000;
  const N = quick ? 500 : 2000;
  const redis = await benchRedis();
  const rows: string[][] = [];
  let split: Array<Split | undefined> = [];
  let raw: Record<string, number> = {};
  try {
    const run = `bench-sem-${Date.now().toString(36)}`;
    const rounds: Array<Awaited<ReturnType<typeof contended>>[]> = LIBS.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < LIBS.length; k++) {
        const j = (k + r) % LIBS.length;
        rounds[j]!.push(await contended(LIBS[j]!, redis.url, `${run}-hot-${r}-${j}`, MS));
      }
    }
    const mid = (j: number) => {
      const rs = rounds[j]!;
      const m = median(rs.map((x) => x.rate));
      return rs.find((x) => x.rate === m)!;
    };
    const ratio = (pick: (x: Awaited<ReturnType<typeof contended>>) => number) =>
      median(rounds[0]!.map((x, r) => pick(x) / pick(rounds[1]![r]!)));
    LIBS.forEach((lib, j) => {
      const s = mid(j).handoff;
      rows.push([
        j === 0 ? "contended hand-off p50 / p99 (ms), 64 waiters in 4 processes, 4 permits" : "",
        lib,
        `${f(pct(s, 50), 3)} / ${f(pct(s, 99), 3)} (${s.length} hand-offs)`,
        j === 0 ? `p50 ${f(ratio((x) => pct(x.handoff, 50)))}× the peer's` : "",
        j === 0 ? "p50 ≤ 1, p99 ≤ 5" : "",
      ]);
    });
    LIBS.forEach((lib, j) => {
      const rs = rounds[j]!;
      rows.push([
        j === 0 ? "acquisitions/s, 1 ms holds (median round; all rounds)" : "",
        lib,
        `${f(median(rs.map((x) => x.rate)), 0)} (${rs.map((x) => f(x.rate, 0)).join(" ")})`,
        j === 0 ? `${f(ratio((x) => x.rate))}× the peer (median of ${ROUNDS} rounds)` : "",
        j === 0 ? "≥ the peer" : "",
      ]);
    });
    LIBS.forEach((lib, j) => {
      const rs = rounds[j]!;
      rows.push([
        j === 0 ? "fairness: fewest / most acquisitions of the 64 clients (median round)" : "",
        lib,
        `${f(median(rs.map((x) => x.fairness)))} (${rs.map((x) => f(x.fairness)).join(" ")})`,
        "",
        j === 0 ? "≥ 0.8" : "",
      ]);
    });
    const { times: solo, splits } = await uncontended(redis.url, run, N);
    split = splits;
    LIBS.forEach((lib, j) => {
      const s = solo[j]!;
      rows.push([
        j === 0 ? "uncontended acquire + release p50 / p99 (ms), interleaved call by call" : "",
        lib,
        `${f(pct(s, 50), 3)} / ${f(pct(s, 99), 3)}`,
        j === 0 ? `${f(pct(s, 50) / pct(solo[1]!, 50))}× the peer` : "",
        j === 0 ? "≤ the peer" : "",
      ]);
    });
    raw = await bare(redis.url, run, N);
  } finally {
    await redis.stop();
  }
  console.log(`\nsemaphore (one run, same Redis, loopback; ${runtime()})\n`);
  console.log("| what | library | result | ratio | target |\n|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  if (split.every((x) => x !== undefined)) {
    console.log(
      "\nuncontended pair, where the time goes (medians, µs; the wire: Redis and the network):",
    );
    LIBS.forEach((lib, j) => {
      const x = split[j]!;
      console.log(
        `  ${lib}: to the acquire's write ${f(x.beforeWrite, 1)}, acquire on the wire ${
          f(x.acquireWire, 1)
        }, reply to the release's write ${f(x.between, 1)}, release on the wire ${
          f(x.releaseWire, 1)
        }, reply to the caller ${f(x.after, 1)}`,
      );
    });
  }
  const peer = raw["redis-semaphore"]!;
  console.log(
    "\nuncontended pair as bare calls on one connection, no library (p50 µs, interleaved):",
  );
  for (const [name, us] of Object.entries(raw)) {
    console.log(`  ${name}: ${f(us, 1)} (${f(us / peer)}× the peer's)`);
  }
}

const at = process.argv.indexOf("--child");
if (at >= 0) await child(JSON.parse(process.argv[at + 1]!));
else if (process.argv.includes("--bare")) await bareOnly();
else await main();
