/**
 * Coalescing benchmarks (a script, not a test): `deno run -A scripts/bench/coalescing.ts`
 * (`npm run bench:coalescing`). Uses REDIS_URL, or starts a throwaway redis-server. Every figure
 * is measured in this one run on the same Redis, the two sides interleaved round by round, median
 * of the rounds; each side has its own connection. Beside each figure, the CPU time per
 * operation of Redis (INFO `used_cpu_sys` + `used_cpu_user` over the round, divided by the
 * operations) and of the client (this process's `cpuUsage()`, likewise).
 *
 * 1. `StrictCounter.inc` on one hot key and on 1,000 keys, 64 and 256 concurrent callers, against
 *    raw node-redis `evalSha` of `return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])`;
 * 2. one caller's p50, batching on against off;
 * 3. `StrictInstanceAwareCounter.inc`, 64 callers, against raw `evalSha` of its own script;
 * 4. `Mutex` `tryLock` + `release` on 1,000 distinct keys, 64 workers, against redis-semaphore's
 *    `Mutex` (`tryAcquire` + `release`) doing the same;
 * 5. where a coalesced inc's client CPU goes at 256 callers (see `split`).
 */
import process from "node:process";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { Mutex as SemMutex } from "redis-semaphore";
import { Mutex, RedisStore, StrictCounter, StrictInstanceAwareCounter } from "../../mod.ts";
import { icounterKeys } from "../../icounter/_core.ts";
import { ICOUNTER_APPLY } from "../../icounter/_scripts.ts";
import { luaSource } from "../../store/_lua.ts";
import { RedisStoreImpl } from "../../store/_redis_store_impl.ts";
import type { Driver } from "../../store/driver.ts";
import type { Reply, Store } from "../../store/types.ts";
import { latency, median, pct } from "./_measure.ts";
import { benchRedis, f, runtime } from "./_redis.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const ROUND_MS = 700;
const HINCRBY = "return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])";

type Client = ReturnType<typeof createClient>;
const closers: Array<() => Promise<unknown>> = [];

async function connect(url: string): Promise<Client> {
  const c = await createClient({ url }).connect();
  closers.push(() => c.close());
  return c as Client;
}

/** Redis's CPU time so far (user + sys), µs. */
async function redisCpuUs(info: Client): Promise<number> {
  const text = String(await info.sendCommand(["INFO", "cpu"]));
  const get = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(text)?.[1] ?? 0);
  return (get("used_cpu_sys") + get("used_cpu_user")) * 1e6;
}

/**
 * Runs `callers` concurrent loops of `fn` for about `ms`; returns how many calls they made. The
 * callers stop on a flag a timer clears, not on a clock read per call: Deno's performance.now()
 * costs about 80 ns, 7% of a coalesced inc's client CPU at 256 callers, which would bound the
 * figure by the harness. A read every 32 calls per caller is the fallback; without I/O (`io`
 * false) each caller also yields every 1,024 calls, so the timer can run.
 */
async function drive(
  fn: () => Promise<unknown>,
  callers: number,
  ms: number,
  io = true,
): Promise<number> {
  let ops = 0;
  const end = performance.now() + ms;
  let on = true;
  const timer = setTimeout(() => on = false, ms);
  await Promise.all(Array.from({ length: callers }, async () => {
    for (let k = 1; on; k++) {
      await fn();
      ops++;
      if ((k & 31) === 0 && performance.now() >= end) break;
      if (!io && (k & 1023) === 0) await new Promise((r) => setImmediate(r));
    }
  }));
  clearTimeout(timer);
  return ops;
}

/**
 * Operations per second of `callers` concurrent loops of `fn`, and the CPU µs per operation of
 * Redis and of this process (the client).
 */
async function round(
  fn: () => Promise<unknown>,
  callers: number,
  ms: number,
  info: Client,
): Promise<Measured> {
  const cpu0 = await redisCpuUs(info);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const ops = await drive(fn, callers, ms);
  const elapsed = performance.now() - t0;
  const own = process.cpuUsage(own0);
  const cpu = (await redisCpuUs(info)) - cpu0;
  const n = Math.max(1, ops);
  return { ops: (ops * 1000) / elapsed, cpu: cpu / n, client: (own.user + own.system) / n };
}

interface Measured {
  /** Operations per second. */
  ops: number;
  /** Redis CPU µs per operation. */
  cpu: number;
  /** Client (this process) CPU µs per operation. */
  client: number;
}

/** Medians of `ours` and `base` at `callers`, interleaved over the rounds (a warm-up first). */
async function compare(
  ours: () => Promise<unknown>,
  base: () => Promise<unknown>,
  callers: number,
  info: Client,
): Promise<{ ours: Measured; base: Measured }> {
  await round(base, callers, 300, info);
  await round(ours, callers, 300, info);
  const o: Measured[] = [], b: Measured[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    b.push(await round(base, callers, ROUND_MS, info));
    o.push(await round(ours, callers, ROUND_MS, info));
  }
  const med = (xs: Measured[]) => ({
    ops: median(xs.map((x) => x.ops)),
    cpu: median(xs.map((x) => x.cpu)),
    client: median(xs.map((x) => x.client)),
  });
  return { ours: med(o), base: med(b) };
}

const rows: string[][] = [];
let splitLine = "";
function row(what: string, r: { ours: Measured; base: Measured }, base: string, target: string) {
  rows.push([
    what,
    `${f(r.ours.ops, 0)} (${f(r.ours.cpu, 1)} / ${f(r.ours.client, 1)} µs)`,
    `${base} ${f(r.base.ops, 0)} (${f(r.base.cpu, 1)} / ${f(r.base.client, 1)} µs)`,
    `${f(r.ours.ops / r.base.ops)}×`,
    target,
  ]);
  console.error(`  ${what}: ${rows.at(-1)!.slice(1).join(" | ")}`);
}

async function main() {
  const redis = await benchRedis();
  const tag = Date.now().toString(36);
  try {
    const info = await connect(redis.url);
    const oursClient = await connect(redis.url);
    const rawClient = await connect(redis.url);
    const store = new RedisStore(oursClient);
    closers.unshift(() => store.close());

    // ---- 1. StrictCounter.inc vs raw evalSha of a minimal HINCRBY script --------------------
    const sha = await rawClient.scriptLoad(HINCRBY);
    const counter = new StrictCounter({ prefix: `bench-co-${tag}`, store });
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    const rawHash = `{bench-co-raw-${tag}}:counter`;
    for (const [label, pick] of [["hot key", () => "k0"], ["1,000 keys", rand(keys)]] as const) {
      for (const callers of [64, 256]) {
        const r = await compare(
          () => counter.inc(pick(), 1),
          () => rawClient.evalSha(sha, { keys: [rawHash], arguments: [pick(), "1"] }),
          callers,
          info,
        );
        row(
          `StrictCounter.inc, ${label}, ${callers} callers (ops/s)`,
          r,
          "raw evalSha HINCRBY",
          callers === 64 ? "≥ 2×" : "≥ 3×",
        );
      }
    }

    // ---- 2. one caller, batching on vs off -------------------------------------------------
    const offClient = await connect(redis.url);
    const off = new RedisStore(offClient, { batch: false });
    closers.unshift(() => off.close());
    const offCounter = new StrictCounter({ prefix: `bench-co-off-${tag}`, store: off });
    await offCounter.inc("k");
    const on50: number[] = [], off50: number[] = [], on99: number[] = [], off99: number[] = [];
    await latency(() => counter.inc("k0"), 500);
    await latency(() => offCounter.inc("k"), 500);
    for (let i = 0; i < ROUNDS; i++) {
      const a = await latency(() => offCounter.inc("k"), 2000);
      const b = await latency(() => counter.inc("k0"), 2000);
      off50.push(pct(a, 50));
      off99.push(pct(a, 99));
      on50.push(pct(b, 50));
      on99.push(pct(b, 99));
    }
    rows.push([
      "StrictCounter.inc, 1 caller p50 / p99 (µs)",
      `${f(median(on50) * 1000, 0)} / ${f(median(on99) * 1000, 0)}`,
      `batching off ${f(median(off50) * 1000, 0)} / ${f(median(off99) * 1000, 0)}`,
      `${f(median(on50) / median(off50))}× (p50)`,
      "≤ 1.05×",
    ]);
    console.error(`  ${rows.at(-1)!.join(" | ")}`);

    // ---- 3. StrictInstanceAwareCounter.inc vs raw evalSha of icounter_apply ----------------
    const ic = new StrictInstanceAwareCounter({ prefix: `bench-co-ic-${tag}`, store });
    closers.unshift(() => ic.close());
    await ic.inc("k");
    const icKeys = icounterKeys(`bench-co-ic-raw-${tag}`);
    await rawClient.scriptLoad(await luaSource(ICOUNTER_APPLY));
    const icArgs = (register: number) =>
      ["raw-member", "30000", String(register), "1000", "0", "0", "ops", "0"].concat(
        ["inc", "k", "always", "0", "1"],
      );
    await rawClient.evalSha(ICOUNTER_APPLY.sha1, { keys: icKeys, arguments: icArgs(1) });
    const icArgv = icArgs(0);
    row(
      "StrictInstanceAwareCounter.inc, 64 callers (ops/s)",
      await compare(
        () => ic.inc("k"),
        () => rawClient.evalSha(ICOUNTER_APPLY.sha1, { keys: icKeys, arguments: icArgv }),
        64,
        info,
      ),
      "raw evalSha icounter_apply",
      "≥ 2×",
    );

    // ---- 4. Mutex tryLock + release on 1,000 keys vs redis-semaphore ------------------------
    const io = new Redis(redis.url);
    closers.push(() => io.quit());
    const WORKERS = 64;
    const mutexes = keys.map((k) => new Mutex({ key: `${tag}-${k}`, store, ttlMs: 10_000 }));
    const sems = keys.map((k) =>
      new SemMutex(io, `sem-${tag}-${k}`, { lockTimeout: 10_000, acquireAttemptsLimit: 1 })
    );
    // Worker w takes the keys i with i % 64 == w, in turn: distinct keys, never contended.
    const mine = <T>(all: T[]) => {
      const next = new Map<number, number>();
      let w = 0;
      return () => {
        // Each loop of `round` calls this once per iteration: spread over the workers.
        const i = w++ % WORKERS;
        const j = next.get(i) ?? i;
        next.set(i, j + WORKERS < all.length ? j + WORKERS : i);
        return all[j]!;
      };
    };
    const nextMutex = mine(mutexes), nextSem = mine(sems);
    let ourFails = 0, semFails = 0;
    row(
      "Mutex tryLock + release, 1,000 keys, 64 workers (acquisitions/s)",
      await compare(
        async () => {
          const g = await nextMutex().tryLock();
          if (g === null) ourFails++;
          else await g.release();
        },
        async () => {
          const m = nextSem();
          if (await m.tryAcquire()) await m.release();
          else semFails++;
        },
        WORKERS,
        info,
      ),
      "redis-semaphore Mutex",
      "≥ 2×",
    );
    if (ourFails + semFails > 0) {
      console.error(`  (failed tryLocks: ours ${ourFails}, peer ${semFails})`);
    }
    for (const m of mutexes) await m.close();

    // ---- 5. where a coalesced inc's client CPU goes, 256 callers, hot key --------------------
    splitLine = await split(counter);
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis.stop();
  }
  console.log(
    `\ncoalescing (median of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms; ${runtime()}; ` +
      `in brackets: CPU µs per operation, Redis / client)\n`,
  );
  console.log("| what | ours | baseline | ratio | target |\n|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log(splitLine);
}

/**
 * The client CPU of one `StrictCounter.inc` at 256 callers on a hot key, layer by layer (CPU ns
 * per call, medians of interleaved rounds): the harness alone (the callers' loop awaiting a
 * resolved promise); the harness and the library, the store's driver replaced by a stub that
 * answers each call on the next turn of the loop (what the library costs without a client, a
 * socket or a server); and the whole, on node-redis and Redis. The library's share is the second
 * less the first; the client's and the runtime's (command encoding, the socket, reply decoding)
 * the third less the second.
 */
async function split(real: StrictCounter): Promise<string> {
  const stub: Driver = {
    name: "stub",
    isCluster: false,
    pubsub: "none",
    evalSha(_sha, _keys, args) {
      // A batch: one reply per item (its header is its argument count); a lone call: one.
      let items = 0;
      for (let a = 0; a < args.length; a += Number.parseInt(args[a]!) + 1) items++;
      const reply: Reply = args.length === 2 ? 1 : Array.from({ length: items }, () => "1");
      return new Promise((resolve) => setImmediate(() => resolve(reply)));
    },
    eval: () => Promise.reject(new Error("stub: no EVAL")),
    isOpen: () => true,
    close: () => Promise.resolve(),
  };
  const impl = new RedisStoreImpl({ driver: stub, sent: (p) => p, batch: true });
  const store = {
    isDistkitStore: true,
    run: (script, keys, argv) => impl.run(script, keys, argv),
    subscribe: () => Promise.reject(new Error("stub: no pub/sub")),
    close: () => impl.close(),
    [Symbol.asyncDispose]: () => impl.close(),
  } as Store;
  const stubbed = new StrictCounter({ prefix: "bench-co-stub", store });
  const resolved = Promise.resolve(0);
  const CALLERS = 256;
  /** Client CPU ns per call of `fn` at 256 callers, over `ms`. */
  const ns = async (fn: () => Promise<unknown>, ms: number, io: boolean) => {
    const own0 = process.cpuUsage();
    const ops = await drive(fn, CALLERS, ms, io);
    const own = process.cpuUsage(own0);
    return ((own.user + own.system) * 1000) / Math.max(1, ops);
  };
  const parts = { harness: [] as number[], stub: [] as number[], real: [] as number[] };
  await ns(() => stubbed.inc("k0", 1), 300, true);
  for (let i = 0; i < ROUNDS; i++) {
    parts.harness.push(await ns(() => resolved, ROUND_MS, false));
    parts.stub.push(await ns(() => stubbed.inc("k0", 1), ROUND_MS, true));
    parts.real.push(await ns(() => real.inc("k0", 1), ROUND_MS, true));
  }
  await impl.close();
  const h = median(parts.harness), lib = median(parts.stub) - h, all = median(parts.real);
  return (
    `\nwhere a coalesced StrictCounter.inc's client CPU goes (hot key, ${CALLERS} callers, ns per ` +
    `call, medians of ${ROUNDS} interleaved rounds): the whole ${f(all, 0)}; the harness's loop ` +
    `${f(h, 0)}; the library ${f(lib, 0)} (on a stub driver); node-redis and the runtime ` +
    `(encoding, socket, decoding) ${f(all - h - lib, 0)}`
  );
}

/** A picker of a random element. */
function rand<T>(xs: readonly T[]): () => T {
  return () => xs[Math.floor(Math.random() * xs.length)]!;
}

await main();
