#!/usr/bin/env node
/**
 * What a browser application pays for the library: bundles an app that imports `MemoryStore`,
 * `StrictCounter`, `LaxCounter` and `RateLimiter` (local provider) from the package entry, with
 * esbuild (ESM, minified, code splitting, the package's own `sideEffects: false`, as the npm
 * manifest declares), and fails when the code the app loads (its entry chunk and the chunks that imports
 * statically) carries any Lua text or exceeds the size budget. What such an app never runs sits
 * in chunks reached only by a dynamic import: the Lua sources (`RedisStore` loads them on
 * NOSCRIPT), `RedisStore`'s implementation (loaded on its first call), and the rate limiter's
 * `redis` and `hybrid` providers (loaded on their first call).
 *
 *   node scripts/check_bundle.mjs            check
 *   node scripts/check_bundle.mjs --analyze  also print what the loaded and the lazy code are made of
 */
import fs from "node:fs";
import path from "node:path";
import * as esbuild from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "..");
/**
 * The budget for the loaded code, minified (what an app ships: its bundler minifies), KiB. It was
 * 140 KiB unminified, where half the bytes were the library's JSDoc: documenting the code spent
 * the budget. 50.7 KiB minified when this was set (140.2 unminified).
 */
const BUDGET_KIB = 64;
/** Modules the app must load only on first use (dynamic imports), never up front. */
const LAZY_MODULES = [
  "lua/_sources.ts",
  "store/_redis_store_impl.ts",
  "store/driver_node_redis.ts",
  "store/driver_ioredis.ts",
  "ratelimit/redis.ts",
  "ratelimit/hybrid.ts",
  "ratelimit/_hybrid_engine.ts",
];

const APP = `
import { LaxCounter, MemoryStore, RateLimiter, StrictCounter } from "./mod.ts";
const store = new MemoryStore();
const strict = new StrictCounter({ prefix: "s", store });
const lax = new LaxCounter({ prefix: "l", store });
const rl = new RateLimiter({ windowSizeSeconds: 60 });
console.log(await strict.inc("a"), await lax.inc("b"), rl.local.absolute.inc("k", 10));
`;

/** Every project module is free of side effects, as npm/package.json declares. */
const sideEffectsFree = {
  name: "side-effects-free",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const file = path.resolve(args.resolveDir, args.path);
      if (
        !file.startsWith(ROOT + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)
      ) {
        return undefined;
      }
      return { path: file, sideEffects: false };
    });
  },
};

/** Lines that only Lua sources contain: each script's header and its Redis calls. */
function luaMarkers() {
  const dir = path.join(ROOT, "lua");
  const markers = ["redis.call(", "redis.pcall("];
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".lua"))) {
    markers.push(fs.readFileSync(path.join(dir, name), "utf8").split("\n")[0]);
  }
  return markers;
}

const result = await esbuild.build({
  stdin: { contents: APP, resolveDir: ROOT, sourcefile: "app.ts", loader: "ts" },
  bundle: true,
  format: "esm",
  platform: "browser",
  splitting: true,
  outdir: path.join(ROOT, ".tmp", "bundle"),
  write: false,
  metafile: true,
  minify: true,
  logLevel: "silent",
  plugins: [sideEffectsFree],
});

const outputs = result.metafile.outputs;
// The app's own chunk: esbuild names the chunks of dynamic imports entry points too, so the first
// chunk with an entry point is not necessarily the app's (it depends on how many there are).
const entry = Object.keys(outputs).find((k) => path.basename(k) === "stdin.js");
if (entry === undefined) throw new Error("esbuild produced no chunk for the app itself");
/** The entry chunk and every chunk it imports statically, transitively. */
const loaded = new Set();
const visit = (name) => {
  if (loaded.has(name)) return;
  loaded.add(name);
  for (const i of outputs[name].imports) if (i.kind === "import-statement") visit(i.path);
};
visit(entry);

const texts = new Map(
  result.outputFiles.map((f) => [path.relative(ROOT, f.path), f.text]),
);
const textOf = (name) => texts.get(path.relative(ROOT, path.resolve(ROOT, name))) ?? "";
const markers = luaMarkers();
const failures = [];
let bytes = 0;
for (const name of loaded) {
  bytes += outputs[name].bytes;
  const text = textOf(name);
  const found = markers.filter((m) => text.includes(m));
  if (found.length > 0) {
    failures.push(`${name} carries Lua text (${found.slice(0, 3).join(" | ")})`);
  }
}
for (const name of loaded) {
  for (const [file, v] of Object.entries(outputs[name].inputs)) {
    if (LAZY_MODULES.includes(file) && v.bytesInOutput > 0) {
      failures.push(`${file} is loaded up front (${name})`);
    }
  }
}
const lazy = Object.keys(outputs).filter((k) => !loaded.has(k));
if (!lazy.some((name) => textOf(name).includes("redis.call("))) {
  failures.push("no lazily loaded chunk holds the Lua sources: the check bundles the wrong thing");
}
const kib = bytes / 1024;
if (kib > BUDGET_KIB) failures.push(`loaded code is ${kib.toFixed(1)} KiB, over ${BUDGET_KIB} KiB`);

/** Prints what the chunks are made of, biggest input first. */
function analyze(chunks) {
  const inputs = {};
  for (const name of chunks) {
    for (const [file, v] of Object.entries(outputs[name].inputs)) {
      inputs[file] = (inputs[file] ?? 0) + v.bytesInOutput;
    }
  }
  for (const [file, n] of Object.entries(inputs).sort((a, b) => b[1] - a[1])) {
    if (n > 0) console.log(`${(n / 1024).toFixed(1).padStart(7)} KiB  ${file}`);
  }
}
if (process.argv.includes("--analyze")) {
  console.log("loaded:");
  analyze(loaded);
  for (const name of lazy) {
    console.log(
      `lazy chunk ${path.basename(name)} (${(outputs[name].bytes / 1024).toFixed(1)} KiB):`,
    );
    analyze([name]);
  }
}
const lazyKib = lazy.reduce((sum, name) => sum + outputs[name].bytes, 0) / 1024;
console.log(
  `browser bundle: ${kib.toFixed(1)} KiB loaded (budget ${BUDGET_KIB}), ` +
    `${
      lazyKib.toFixed(1)
    } KiB in lazy chunks (Lua sources, RedisStore, redis and hybrid providers)`,
);
if (failures.length > 0) {
  for (const f of failures) console.error(`✘ ${f}`);
  process.exit(1);
}
