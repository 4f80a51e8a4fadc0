#!/usr/bin/env node
/**
 * The whole test suite, as CI runs it: static checks (the browser bundle's size and freedom from
 * Lua text among them: scripts/check_bundle.mjs), throwaway Redis servers, the Deno tests
 * (doc tests included), the npm package under Node and Bun, and the JSR publish dry run. Fails
 * fast; ends with one line `N passed, N failed` (a failed check that is not a test counts as one
 * failure).
 *
 *   npm test                  everything
 *   npm test -- --quick       skip the npm/Bun package and the publish dry run
 *   npm test -- <filter>      only Deno tests whose name matches <filter> (implies --quick)
 *   npm test -- --serial      Deno test files one at a time (default: --parallel, 1 per core)
 *   npm test -- --no-variants skip the runs on the extra server variants
 *   npm test -- <filter> --variants   a filtered run on the variants too
 *
 * Server variants: besides the default `redis-server` on PATH, the store-backed conformance
 * tests of tests/{counter,icounter,locks,ratelimit,store} (standalone + cluster) also run on each
 * extra Redis-compatible server found, one `deno test` per variant on its own throwaway servers,
 * with the variant in the test names (`[cluster valkey-8.0]`). A variant is a directory holding
 * an executable redis-server or valkey-server and its CLI, named by its `--version`; the
 * directories are those of DISTKIT_SERVERS=dir1,dir2 when set (empty: no variants), else every
 * folder of <repo>/../shared/servers/ (Redis 7.4 and Valkey 8.0 there; see
 * scripts/redis/variants.mjs). A variant not found is reported as skipped, never as a failure.
 *
 * Client variants: the same conformance tests on the default servers with the store wrapping
 * ioredis 5 (every suite), node-redis 6 with RESP3 and iovalkey (counters, locks, rate limit),
 * one `deno test` each (DISTKIT_TEST_CLIENT; names tagged `[standalone ioredis]`). Variant runs,
 * server and client, go two at a time after the default run; --no-variants skips them all.
 *
 * Environment: REDIS_URL and REDIS_CLUSTER_NODES (host:port,...) use running servers instead of
 * starting them (for the default server only). Tests get REDIS_URL, REDIS_CLUSTER_NODES,
 * DISTKIT_REDIS_SERVER and DISTKIT_REDIS_CLI (binaries for fault tests that start private
 * servers), and on a variant's run DISTKIT_SERVER_VARIANT (its name).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { stripVTControlCharacters as stripAnsi } from "node:util";
import { startCluster, startStandalone, sweepStale, which } from "./redis/launcher.mjs";
import { findVariants } from "./redis/variants.mjs";

const STARTED = Date.now();
const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules", ".bin");
const DENO = path.join(BIN, "deno");
const BUN = path.join(BIN, "bun");

/**
 * The test runners: how to start them, read their summary, and how long they may take (a hung
 * test then fails the run instead of eating CI's time; Deno names it "has been running for").
 */
const RUNNERS = {
  deno: { cmd: DENO, parse: parseDeno, timeoutMs: 8 * 60_000 },
  node: { cmd: process.execPath, parse: parseNode, timeoutMs: 2 * 60_000 },
  /** Two `npm install`s from the registry. */
  npmInstall: { cmd: process.execPath, parse: parseNode, timeoutMs: 5 * 60_000 },
  bun: { cmd: BUN, parse: parseBun, timeoutMs: 2 * 60_000 },
  /** The Bun client's conformance run. */
  bunLong: { cmd: BUN, parse: parseBun, timeoutMs: 6 * 60_000 },
};

const tally = { passed: 0, failed: 0 };
const timings = [];
const cleanups = [];
const running = new Set(); // the running child processes, killed on a signal
let stopping = false; // a signal arrived: start nothing new

class StepFailed extends Error {}

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = { quick: false, serial: false, filter: undefined, help: false, variants: undefined };
  for (const arg of argv) {
    if (arg === "--quick") opts.quick = true;
    else if (arg === "--variants") opts.variants = true;
    else if (arg === "--no-variants") opts.variants = false;
    else if (arg === "--serial") opts.serial = true;
    else if (arg === "--help" || arg === "-h") opts.help = true;
    else if (arg.startsWith("--filter=")) opts.filter = arg.slice("--filter=".length);
    else if (!arg.startsWith("-")) opts.filter = arg;
    else throw new Error(`unknown option ${arg} (try --help)`);
  }
  if (opts.filter) opts.quick = true;
  opts.variants ??= !opts.filter; // a filtered run is for quick feedback: the default server only
  return opts;
}

function usage() {
  const text = fs.readFileSync(import.meta.filename, "utf8");
  console.log(text.slice(text.indexOf("/**") + 3, text.indexOf("*/")).replace(/^ \* ?/gm, ""));
}

// ---------------------------------------------------------------- processes

/**
 * Runs a command from the repo root with stdin closed. Output goes to the terminal; with
 * `capture` it is also returned, for parsing summaries.
 * @returns {Promise<{ code: number, output: string }>}
 */
function run(cmd, args, { env = {}, capture = false, timeoutMs = 0 } = {}) {
  return new Promise((resolve) => {
    if (stopping) return resolve({ code: 130, output: "" });
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", capture ? "pipe" : "inherit", capture ? "pipe" : "inherit"],
    });
    running.add(child);
    let output = "";
    const tee = (stream, sink) =>
      stream?.on("data", (chunk) => {
        sink.write(chunk);
        output += chunk;
      });
    tee(child.stdout, process.stdout);
    tee(child.stderr, process.stderr);
    child.on("error", (err) => {
      output += `\n${err.message}`;
      console.error(`cannot run ${cmd}: ${err.message}`);
    });
    const timer = timeoutMs > 0 && setTimeout(() => {
      console.error(`\n${path.basename(cmd)} timed out after ${seconds(timeoutMs)}: stopping it`);
      output += "\n(timed out)";
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

/** Runs a command that must exit 0. */
async function check(cmd, args, opts) {
  const { code } = await run(cmd, args, opts);
  if (code !== 0) throw new Error(`exit code ${code}`);
}

// ---------------------------------------------------------------- steps

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Runs one titled step, timing it; a failure counts once and stops the run. */
async function step(title, fn) {
  console.log(`\n━━━ ${title}`);
  const start = Date.now();
  try {
    const result = await fn();
    const took = Date.now() - start;
    timings.push([title, took]);
    console.log(`✔ ${title} (${seconds(took)})`);
    return result;
  } catch (err) {
    const took = Date.now() - start;
    timings.push([title, took]);
    console.log(`✘ ${title} (${seconds(took)}): ${err.message}`);
    if (!(err instanceof TestsFailed)) tally.failed += 1;
    throw new StepFailed(title);
  }
}

/** Tests ran and some failed: already counted from the runner's summary. */
class TestsFailed extends Error {}

// ---------------------------------------------------------------- prerequisites

function findRedis() {
  const tools = { redisServer: which("redis-server"), redisCli: which("redis-cli") };
  const external = process.env.REDIS_URL && process.env.REDIS_CLUSTER_NODES;
  if ((!tools.redisServer || !tools.redisCli) && !external) {
    console.error(
      [
        "redis-server and redis-cli are needed to run the tests. Install them:",
        "  Debian/Ubuntu: sudo apt-get install redis-server redis-tools",
        "  macOS:         brew install redis",
        "or point the suite at running servers:",
        "  REDIS_URL=redis://127.0.0.1:6379 REDIS_CLUSTER_NODES=127.0.0.1:7000,127.0.0.1:7001,...",
      ].join("\n"),
    );
    process.exit(1);
  }
  for (const bin of [DENO, BUN]) {
    if (!fs.existsSync(bin)) {
      console.error(`${path.relative(ROOT, bin)} is missing: run \`npm ci\` first`);
      process.exit(1);
    }
  }
  return tools;
}

// ---------------------------------------------------------------- static checks

function denoConfig() {
  return JSON.parse(fs.readFileSync(path.join(ROOT, "deno.json"), "utf8"));
}

function denoExports() {
  const { exports } = denoConfig();
  return Object.values(typeof exports === "string" ? { ".": exports } : exports);
}

async function staticChecks() {
  await step(
    "lua sources up to date",
    () => check(DENO, ["run", "-A", "scripts/gen_lua.ts", "--check"]),
  );
  await step(
    "browser bundle: no Lua, within budget",
    () => check(process.execPath, ["scripts/check_bundle.mjs"]),
  );
  await step("deno fmt --check", () => check(DENO, ["fmt", "--check"]));
  await step("deno lint", () => check(DENO, ["lint"]));
  await step("deno check", () => check(DENO, ["check"]));
  await step("deno doc --lint", () => check(DENO, ["doc", "--lint", ...denoExports()]));
}

// ---------------------------------------------------------------- servers

/**
 * Starts the default servers (whatever REDIS_URL / REDIS_CLUSTER_NODES do not provide) and every
 * variant's, all at once; returns the default run's env and each variant's.
 */
async function startServers(tools, variants) {
  sweepStale();
  const [env, ...variantEnvs] = await Promise.all([
    startDefaultServers(tools),
    ...variants.map(startVariantServers),
  ]);
  return { env, variants: variants.map((variant, i) => ({ variant, env: variantEnvs[i] })) };
}

/** A standalone server and a cluster from a variant's binaries; returns its tests' env. */
async function startVariantServers(variant) {
  const { name, redisServer, redisCli } = variant;
  const [standalone, cluster] = await Promise.all([
    startStandalone({ redisServer }).then((s) => (cleanups.push(() => s.stop()), s)),
    startCluster({ redisServer, redisCli }).then((c) => (cleanups.push(() => c.stop()), c)),
  ]);
  const env = {
    DISTKIT_SERVER_VARIANT: name,
    DISTKIT_REDIS_SERVER: redisServer,
    DISTKIT_REDIS_CLI: redisCli,
    REDIS_URL: standalone.url,
    REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(","),
  };
  console.log(`${name}: REDIS_URL=${env.REDIS_URL} REDIS_CLUSTER_NODES=${env.REDIS_CLUSTER_NODES}`);
  return env;
}

async function startDefaultServers({ redisServer, redisCli }) {
  const env = {};
  if (redisServer) env.DISTKIT_REDIS_SERVER = redisServer;
  if (redisCli) env.DISTKIT_REDIS_CLI = redisCli;
  const [standalone, cluster] = await Promise.all([
    process.env.REDIS_URL ? undefined : startStandalone({ redisServer }),
    process.env.REDIS_CLUSTER_NODES ? undefined : startCluster({ redisServer, redisCli }),
  ]);
  if (standalone) cleanups.push(() => standalone.stop());
  if (cluster) cleanups.push(() => cluster.stop());
  env.REDIS_URL = standalone?.url ?? process.env.REDIS_URL;
  env.REDIS_CLUSTER_NODES = cluster?.nodes.map((n) => `${n.host}:${n.port}`).join(",") ??
    process.env.REDIS_CLUSTER_NODES;
  console.log(`REDIS_URL=${env.REDIS_URL}${standalone ? "" : " (given)"}`);
  console.log(`REDIS_CLUSTER_NODES=${env.REDIS_CLUSTER_NODES}${cluster ? "" : " (given)"}`);
  return env;
}

let stopped;
/** Stops every server this run started (once, whoever asks first), then sweeps the private
 * servers of test processes that died without stopping theirs. */
function stopServers() {
  stopped ??= (async () => {
    while (cleanups.length) {
      try {
        await cleanups.pop()();
      } catch (err) {
        console.error(`stopping servers: ${err.message}`);
      }
    }
    sweepStale();
  })();
  return stopped;
}

// ---------------------------------------------------------------- test runners

/** `ok | 12 passed (3 steps) | 0 failed (1s)` */
function parseDeno(text) {
  const m = [...text.matchAll(/(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/g)].at(-1);
  return m && { passed: Number(m[1]), failed: Number(m[2]) };
}

/** node --test: `ℹ pass 9` / `# pass 9`, `ℹ fail 0`, `ℹ cancelled 0` */
function parseNode(text) {
  const num = (name) => Number(text.match(new RegExp(`^[ℹ#] ${name} (\\d+)$`, "m"))?.[1]);
  const passed = num("pass");
  if (Number.isNaN(passed)) return undefined;
  return { passed, failed: num("fail") + (num("cancelled") || 0) };
}

/** bun test: ` 9 pass`, ` 0 fail` */
function parseBun(text) {
  const passed = text.match(/^\s*(\d+) pass$/m);
  const failed = text.match(/^\s*(\d+) fail$/m);
  return passed && { passed: Number(passed[1]), failed: Number(failed?.[1] ?? 0) };
}

/** Runs a test runner, adds its summary to the tally, fails the step when a test failed. */
async function testRun(runner, args, env) {
  const { cmd, parse, timeoutMs } = RUNNERS[runner];
  const { code, output } = await run(cmd, args, { env, capture: true, timeoutMs });
  const counts = parse(stripAnsi(output));
  if (!counts) throw new Error(`exit code ${code}, no ${runner} summary found`);
  tally.passed += counts.passed;
  tally.failed += counts.failed;
  console.log(`${runner}: ${counts.passed} passed, ${counts.failed} failed`);
  if (counts.failed > 0) throw new TestsFailed(`${counts.failed} failed`);
  if (code !== 0) throw new Error(`exit code ${code}`);
}

/** `--ignore` replaces deno.json's excludes, so it repeats them, plus the npm smoke tests. */
function denoTestIgnores() {
  const config = denoConfig();
  const ignores = [...(config.exclude ?? []), ...(config.test?.exclude ?? []), "tests/npm/"];
  return `--ignore=${[...new Set(ignores)].join(",")}`;
}

function denoTest(env, { filter, serial }) {
  const args = ["test", "-A", "--doc", denoTestIgnores()];
  if (!serial) args.push("--parallel");
  if (filter) args.push("--filter", filter);
  return step(`deno test${filter ? ` --filter ${filter}` : ""}`, () => testRun("deno", args, env));
}

/** The conformance suites each variant runs (their storeTest-registered tests only). */
const VARIANT_SUITES = [
  "tests/counter/",
  "tests/icounter/",
  "tests/locks/",
  "tests/ratelimit/",
  "tests/store/",
];

/**
 * Client variants: the store-backed conformance tests again, on the default servers, with the
 * store wrapping another client (DISTKIT_TEST_CLIENT; tests/_support/clients.ts): ioredis 5 runs
 * every suite, node-redis 6 (RESP3) and iovalkey the counters, locks and rate-limit ones. Names
 * carry the client (`[cluster ioredis]`).
 */
const CLIENT_VARIANTS = [
  { name: "ioredis", title: "ioredis 5", suites: VARIANT_SUITES },
  {
    name: "node-redis6",
    title: "node-redis 6, RESP3",
    suites: ["tests/counter/", "tests/locks/", "tests/ratelimit/"],
  },
  {
    // Its Cluster has no sharded subscribers, so waiters poll there: the tests about pub/sub
    // wake-ups say so and are ignored on it (storeTest's `pubsub` option).
    name: "iovalkey",
    title: "iovalkey",
    suites: ["tests/counter/", "tests/locks/", "tests/ratelimit/"],
  },
  { name: "glide", title: "Valkey GLIDE 2", suites: conformanceFiles() },
];

/**
 * The counters, locks and rate-limit conformance files without the fault tests (they kill
 * connections and restart servers through node-redis and ioredis): what the GLIDE run takes, and
 * what tests/bun/conformance.test.ts imports under Bun.
 */
function conformanceFiles() {
  const text = fs.readFileSync(path.join(ROOT, "tests/bun/conformance.test.ts"), "utf8");
  return [...text.matchAll(/"\.\.\/([a-z]+\/[a-z_]+_test\.ts)"/g)].map((m) => `tests/${m[1]}`);
}

/**
 * Bun's RedisClient (standalone only): its driver's tests and the conformance files, under
 * `bun test` (tests/bun/), with the Deno-API shim.
 */
function bunClientTest(env) {
  const pattern = "BunDriver|isBunRedisClient|\\[standalone bun\\]";
  const args = ["test", "--timeout", "60000", "-t", pattern, "./tests/bun/"];
  return step(
    "bun test with Bun's RedisClient: its driver; counter, locks, ratelimit conformance, standalone",
    () => testRun("bunLong", args, { ...env, DISTKIT_TEST_CLIENT: "bun" }),
  );
}

/** How many variant runs (server and client) go at once: their own servers or prefixes. */
const VARIANT_CONCURRENCY = 2;

/** `\[(standalone|cluster) valkey-8\.0\]` */
function variantPattern(name, kinds = "standalone|cluster") {
  return `\\[(${kinds}) ${escapeRegex(name)}\\]`;
}

function escapeRegex(text) {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/**
 * One `deno test` of the variant suites on a variant's servers: its storeTest tests only (the
 * memory kind and pure tests do not depend on the server), narrowed by the user's filter.
 */
function variantTest({ variant, env }, { filter, serial }) {
  const tag = variantPattern(variant.name);
  const title = `deno test on ${variant.name} (${variant.version}): ${
    VARIANT_SUITES.map((d) => path.basename(d)).join(", ")
  }, standalone + cluster`;
  return tagTest(title, tag, VARIANT_SUITES, env, { filter, serial });
}

/** One `deno test` of a client variant's suites on the default servers. */
function clientTest(client, env, opts) {
  const title = `deno test with ${client.title}: ${
    client.suites.map((d) => path.basename(d)).join(", ")
  }, ${client.kinds === "standalone" ? "standalone" : "standalone + cluster"}`;
  const tag = variantPattern(client.name, client.kinds);
  return tagTest(title, tag, client.suites, { ...env, DISTKIT_TEST_CLIENT: client.name }, opts);
}

/** Runs `fns` (steps) at most `n` at a time; the first failure is thrown once all settled. */
async function pool(n, fns) {
  const queue = [...fns];
  const results = [];
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      while (queue.length) {
        const fn = queue.shift();
        results.push(await fn().then(() => undefined, (err) => err));
      }
    }),
  );
  const failed = results.find((r) => r !== undefined);
  if (failed) throw failed;
}

/** One `deno test` of `suites`, tests whose name carries `tag` only, narrowed by the filter. */
function tagTest(title, tag, suites, env, { filter, serial }) {
  let pattern = tag;
  if (filter) {
    const user = filter.length > 1 && filter.startsWith("/") && filter.endsWith("/")
      ? filter.slice(1, -1)
      : escapeRegex(filter);
    pattern = `(?:${user}).*${tag}|${tag}.*(?:${user})`;
  }
  // --no-check: the same files were type-checked by `deno check` and the default run.
  const args = ["test", "-A", "--no-check", denoTestIgnores(), "--filter", `/${pattern}/`];
  if (!serial) args.push("--parallel");
  args.push(...suites);
  return step(title, () => testRun("deno", args, env));
}

async function npmPackage(env) {
  await step("build npm package", () => check(process.execPath, ["scripts/build_npm.mjs"]));
  await step(
    "tsc: strict ES2022 + DOM consumers type-check the package",
    () => check(process.execPath, ["tests/npm/consumer_types.mjs"]),
  );
  const nodeArgs = ["--test", "--test-reporter=spec", "tests/npm/"];
  await step("node --test tests/npm/", () => testRun("node", nodeArgs, env));
  await step("bun test tests/npm/", () => testRun("bun", ["test", "./tests/npm/"], env));
  await step(
    "npm install: the packed package next to redis@6, and next to ioredis@5, then used",
    () =>
      testRun("npmInstall", ["--test", "--test-reporter=spec", "tests/npm/install_check.mjs"], env),
  );
}

// ---------------------------------------------------------------- publish dry run

/** What Deno prints when it cannot reach a registry (not: slow types, type errors, ...). */
const NETWORK_ERRORS = [
  /error sending request/i,
  /dns error|failed to lookup address/i,
  /tcp connect error|connection (refused|reset)|network is unreachable|operation timed out/i,
  /Import 'https?:\/\/[^']+' failed/, // "JSR package manifest for '@std/x' failed to load"
];

/** JSR publish dry run; a network failure (JSR unreachable) is a skip, anything else fails. */
function publishDryRun() {
  return step("deno publish --dry-run", async () => {
    const { code, output } = await run(DENO, ["publish", "--dry-run", "--allow-dirty"], {
      capture: true,
    });
    if (code === 0) return;
    if (NETWORK_ERRORS.some((re) => re.test(stripAnsi(output)))) {
      console.log("skipped: JSR unreachable");
      return;
    }
    throw new Error(`exit code ${code}`);
  });
}

// ---------------------------------------------------------------- main

/** One line per variant skipped, and one saying which ran. */
function variantSummary(opts, { variants, skipped }) {
  if (!opts.variants) {
    return [
      `server variants: skipped (${
        opts.filter ? "a filtered run: add --variants" : "--no-variants"
      })`,
    ];
  }
  const lines = [`server variants: ${variants.map((v) => v.name).join(", ") || "none"}`];
  for (const { name, why } of skipped) lines.push(`skipped server variant ${name}: ${why}`);
  return lines;
}

function report(variantLines) {
  console.log("\n━━━ server variants");
  for (const line of variantLines) console.log(line);
  console.log("\n━━━ timings");
  for (const [title, ms] of timings) console.log(`${seconds(ms).padStart(7)}  ${title}`);
  // Variant runs overlap (VARIANT_CONCURRENCY at once): their steps add up to more than the run.
  const steps = timings.reduce((sum, [, ms]) => sum + ms, 0);
  console.log(`${seconds(steps).padStart(7)}  the steps added up`);
  console.log(`${seconds(Date.now() - STARTED).padStart(7)}  wall clock (the budget: 10 min)`);
  console.log(`\n${tally.passed} passed, ${tally.failed} failed`);
}

function onSignal(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`\n${signal}: stopping test processes and Redis servers`);
  for (const child of running) child.kill(signal);
  stopServers().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  if (opts.help) return usage();
  if (process.env.CI) process.env.NO_COLOR ??= "1";
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const tools = findRedis();
  const found = opts.variants
    ? findVariants({ root: ROOT, defaultServer: tools.redisServer })
    : { variants: [], skipped: [] };
  try {
    await staticChecks();
    const servers = await step(
      `start Redis servers${found.variants.map((v) => ` + ${v.name}`).join("")}`,
      () => {
        for (const line of variantSummary(opts, found)) console.log(line);
        return startServers(tools, found.variants);
      },
    );
    await denoTest(servers.env, opts);
    // Variant runs use their own servers, or their own prefixes on the default ones: a few go
    // at once (each of their tests was type-checked above).
    await pool(VARIANT_CONCURRENCY, [
      ...(opts.variants ? CLIENT_VARIANTS : []).map((c) => () => clientTest(c, servers.env, opts)),
      ...(opts.variants ? [() => bunClientTest(servers.env)] : []),
      ...servers.variants.map((v) => () => variantTest(v, opts)),
    ]);
    if (!opts.quick) {
      await npmPackage(servers.env);
      await publishDryRun();
    }
  } catch (err) {
    if (!(err instanceof StepFailed)) {
      console.error(err);
      tally.failed += 1;
    }
  } finally {
    await stopServers();
  }
  report(variantSummary(opts, found));
  process.exitCode = tally.failed > 0 ? 1 : 0;
}

await main();
