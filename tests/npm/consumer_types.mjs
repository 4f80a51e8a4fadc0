#!/usr/bin/env node
/**
 * Type-checks the built npm package (npm/, from scripts/build_npm.mjs) the way a strict browser
 * project would: `lib: ["es2022", "dom"]`, no `@types` at all (`types: []`, so a Node type in a
 * .d.ts fails), `strict`, `exactOptionalPropertyTypes`, and `skipLibCheck: false`, so every .d.ts
 * the package ships is checked. Each entry point of the exports map gets a project of its own (an
 * entry point must stand on its own); the main one is checked under both `nodenext` and `bundler`
 * resolution and passes `undefined` options the way a strict project does. The projects live in
 * a temporary directory with the package copied to node_modules/distkit, as an install would put
 * it. Needs no network; run by scripts/run_tests.mjs after the build.
 *
 *   node tests/npm/consumer_types.mjs
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const PACKAGE = path.join(ROOT, "npm");
const TSC = path.join(ROOT, "node_modules", ".bin", "tsc");

/** What the consumer's tsconfig.json holds besides the module options and the files. */
const STRICT_BROWSER = {
  target: "es2022",
  lib: ["es2022", "dom"],
  types: [],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  // TypeScript's own lib files are not ours to check (checking them is most of the time taken);
  // every .d.ts of the package still is.
  skipDefaultLibCheck: true,
  noEmit: true,
};

const MODULES = {
  nodenext: { module: "nodenext", moduleResolution: "nodenext" },
  bundler: { module: "esnext", moduleResolution: "bundler" },
};

/**
 * Entry points whose declarations use a framework's types (an optional peer): their consumers
 * have that framework installed, and Node's types with it. Their projects see the repo's installed
 * packages and `types: ["node"]`; every other project still sees no `@types` at all.
 */
const FRAMEWORK_ENTRIES = new Set(["./http/express", "./http/fastify"]);

/** The main entry point, used as a strict project uses it (`undefined` for unset options). */
const MAIN = `import {
  LaxCounter,
  MemoryStore,
  Mutex,
  RateLimit,
  RateLimiter,
  StrictCounter,
  StrictInstanceAwareCounter,
} from "distkit";

/** Settings as a strict project reads them: any of them may be unset. */
export interface Settings {
  lagMs: number | undefined;
  ttlMs: number | undefined;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  instanceId: string | undefined;
}

export async function run(settings: Settings): Promise<number> {
  const store = new MemoryStore({ now: undefined });
  const strict = new StrictCounter({ prefix: "hits", store });
  const lax = new LaxCounter({ prefix: "hits", store, allowedLagMs: settings.lagMs });
  await lax.inc("home");
  await lax.close();
  const conns = new StrictInstanceAwareCounter({
    prefix: "conns",
    store,
    instanceId: settings.instanceId,
  });
  await conns.inc("ws");
  await conns.close({ leave: undefined });
  const mutex = new Mutex({ key: "jobs", store, ttlMs: settings.ttlMs });
  const guard = await mutex.lock({ timeoutMs: settings.timeoutMs, signal: settings.signal });
  await guard[Symbol.asyncDispose]();
  const rl = new RateLimiter({ windowSizeSeconds: settings.lagMs, onError: undefined });
  const decision = rl.local.absolute.inc("ip", RateLimit.perSecond(5));
  await rl.close();
  await store.close();
  return decision.kind === "allowed" ? await strict.get("home") : -1;
}
`;

/** A module that imports a subpath, so its declarations are in the program on their own. */
function subpathModule(specifier) {
  return `import * as entry from "${specifier}";\n\nexport const names: string[] = Object.keys(entry);\n`;
}

/** Type-checks one project. @returns whether it passed, and tsc's output */
function tsc(dir) {
  return new Promise((resolve) => {
    execFile(TSC, ["-p", dir], { cwd: dir }, (err, stdout, stderr) => {
      const code = err ? ` (tsc: ${err.code ?? err.signal ?? err.message})` : "";
      resolve({ ok: !err, output: `${stdout}${stderr}`.trim() + code });
    });
  });
}

/** Runs the tasks, a few at a time (one per core). @returns their results, in order */
async function inParallel(tasks) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  const width = Math.max(1, Math.min(tasks.length, os.availableParallelism()));
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

/**
 * Links every package installed in the repo (but distkit) into `modules`, as a consumer who
 * installed the optional peers has them.
 */
function linkInstalled(modules) {
  const installed = path.join(ROOT, "node_modules");
  for (const name of fs.readdirSync(installed)) {
    if (name === "distkit" || name.startsWith(".")) continue;
    fs.symlinkSync(path.join(installed, name), path.join(modules, name), "dir");
  }
}

/** One project: a directory with tsconfig.json, package.json and main.ts. */
function project(base, name, source, modules) {
  const dir = path.join(base, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "main.ts"), source);
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: `consumer-${name}`, private: true, type: "module" }),
  );
  fs.writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { ...STRICT_BROWSER, ...modules }, files: ["main.ts"] }),
  );
  return dir;
}

async function main() {
  if (!fs.existsSync(path.join(PACKAGE, "package.json"))) {
    throw new Error("npm/ is not built: run `node scripts/build_npm.mjs` first");
  }
  const subpaths = Object.keys(readJson(path.join(PACKAGE, "package.json")).exports);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "distkit-consumer-"));
  try {
    // Shared by every project (Node resolves node_modules up the tree), as an install lays it out.
    fs.cpSync(PACKAGE, path.join(base, "node_modules", "distkit"), { recursive: true });
    linkInstalled(path.join(base, "node_modules"));
    const projects = [
      ["main-nodenext", MAIN, MODULES.nodenext],
      ["main-bundler", MAIN, MODULES.bundler],
      ...subpaths.filter((s) => s !== ".").map((s) => [
        `subpath-${s.slice(2).replaceAll("/", "-")}`,
        subpathModule(`distkit/${s.slice(2)}`),
        FRAMEWORK_ENTRIES.has(s) ? { ...MODULES.nodenext, types: ["node"] } : MODULES.nodenext,
      ]),
    ];
    const dirs = projects.map(([name, source, modules]) => project(base, name, source, modules));
    const results = await inParallel(dirs.map((dir) => () => tsc(dir)));
    let failed = 0;
    for (const [i, { ok, output }] of results.entries()) {
      const name = projects[i][0];
      if (ok) {
        console.log(`ok   ${name}`);
      } else {
        failed += 1;
        console.log(`FAIL ${name}\n${output}`);
      }
    }
    console.log(`${projects.length - failed} of ${projects.length} consumer projects type-check`);
    if (failed > 0) process.exitCode = 1;
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

await main();
