/**
 * The extra Redis-compatible servers the test suite also runs on ("variants"), besides the default
 * `redis-server` on PATH. A variant is a directory holding an executable `valkey-server` or
 * `redis-server` (and its `-cli`), named after what `--version` reports: `redis-7.4`,
 * `valkey-8.0`. The directories come from `DISTKIT_SERVERS=dir1,dir2` when set (empty: none),
 * else from every folder of `<repo>/../shared/servers/` (for a git worktree, also of the main
 * checkout's `../shared/servers/`). Variants expected but not found are reported as skipped,
 * never as a failure.
 *
 *   import { findVariants } from "./scripts/redis/variants.mjs";
 *   const { variants, skipped } = findVariants({ root, defaultServer: "/usr/bin/redis-server" });
 *   // variants: [{ name: "valkey-8.0", version: "8.0.1", redisServer, redisCli, dir }]
 *   // skipped:  [{ name: "redis-7.4", why: "not found (looked in ...)" }]
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/**
 * @typedef {{ name: string, version: string, redisServer: string, redisCli: string, dir: string }}
 *   Variant a server to run the suites on: `name` like `valkey-8.0`, `version` like `8.0.1`
 * @typedef {{ name: string, why: string }} Skipped a variant not run, and why
 */

/** The variants this project's matrix is meant to have (see shared/servers/README.md). */
export const EXPECTED = ["redis-7.4", "valkey-8.0"];

/** Server binaries, preferred first, each with the CLI that goes with it. */
const BINARIES = [["valkey-server", "valkey-cli"], ["redis-server", "redis-cli"]];

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * What a server binary is, from `--version`: `Redis server v=7.4.1 ...` → `redis-7.4`.
 * @param {string} server the binary
 * @returns {{ name: string, version: string } | undefined}
 */
export function serverVersion(server) {
  try {
    const out = execFileSync(server, ["--version"], { encoding: "utf8", timeout: 5000 });
    const m = /^(\w+) server v=((\d+)\.(\d+)\.\d+)/m.exec(out);
    if (!m) return undefined;
    return { name: `${m[1].toLowerCase()}-${m[3]}.${m[4]}`, version: m[2] };
  } catch {
    return undefined;
  }
}

/** The folders to look in when `DISTKIT_SERVERS` is not set. */
function sharedRoots(root) {
  const roots = [path.resolve(root, "../shared/servers")];
  try {
    // A worktree's shared/ sits beside the main checkout, not beside the worktree.
    const common = execFileSync(
      "git",
      ["rev-parse", "--path-format=absolute", "--git-common-dir"],
      {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
        timeout: 5000,
      },
    ).trim();
    roots.push(path.resolve(path.dirname(common), "../shared/servers"));
  } catch { /* not a git checkout */ }
  return [...new Set(roots)];
}

function subdirectories(dir) {
  try {
    return fs.readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

/**
 * One directory as a variant, or why it is not one.
 * @returns {{ variant?: Variant, skip?: Skipped }}
 */
function inspect(dir) {
  const label = path.basename(dir);
  const pair = BINARIES.find(([server]) => isExecutable(path.join(dir, server)));
  if (!pair) {
    return { skip: { name: label, why: `no executable redis-server or valkey-server in ${dir}` } };
  }
  const redisServer = path.join(dir, pair[0]);
  const cli = [pair[1], ...BINARIES.map(([, c]) => c)].find((c) => isExecutable(path.join(dir, c)));
  if (!cli) return { skip: { name: label, why: `no executable ${pair[1]} in ${dir}` } };
  const version = serverVersion(redisServer);
  if (!version) {
    return { skip: { name: label, why: `${redisServer} --version did not say what it is` } };
  }
  return {
    variant: {
      name: version.name,
      version: version.version,
      redisServer,
      redisCli: path.join(dir, cli),
      dir,
    },
  };
}

/**
 * Finds the variants to run.
 * @param {{ root: string, env?: Record<string, string | undefined>, defaultServer?: string }} opts
 *   `root`: the repository; `defaultServer`: the main run's binary (a variant of the same
 *   version is skipped)
 * @returns {{ variants: Variant[], skipped: Skipped[], looked: string[] }}
 */
export function findVariants({ root, env = process.env, defaultServer }) {
  const given = env.DISTKIT_SERVERS;
  const looked = given !== undefined
    ? given.split(",").map((d) => d.trim()).filter(Boolean).map((d) => path.resolve(d))
    : sharedRoots(root);
  const dirs = given !== undefined ? looked : looked.flatMap(subdirectories);
  /** @type {Variant[]} */
  const variants = [];
  /** @type {Skipped[]} */
  const skipped = [];
  const defaultName = defaultServer && serverVersion(defaultServer)?.name;
  for (const dir of dirs) {
    const { variant, skip } = inspect(dir);
    if (skip) skipped.push(skip);
    else if (variant.name === defaultName) {
      skipped.push({ name: variant.name, why: `same version as the default server (${dir})` });
    } else if (variants.some((v) => v.name === variant.name)) {
      skipped.push({ name: variant.name, why: `already found (${dir})` });
    } else variants.push(variant);
  }
  const where = given !== undefined
    ? (given.trim() ? `not in DISTKIT_SERVERS=${given}` : "DISTKIT_SERVERS is empty")
    : `not found: looked in ${looked.join(", ")}; set DISTKIT_SERVERS=dir1,dir2`;
  for (const name of EXPECTED) {
    if (variants.some((v) => v.name === name) || skipped.some((s) => s.name === name)) continue;
    if (name === defaultName) continue;
    skipped.push({ name, why: where });
  }
  return { variants, skipped, looked };
}
