#!/usr/bin/env node
/**
 * Builds the npm package into npm/: compiles the entry points of deno.json `exports` with tsc
 * (options in tsconfig.npm.json), writes npm/package.json with a matching `exports` map, copies
 * README.md, LICENSE and CHANGELOG.md when present, and links node_modules/distkit -> npm/ so
 * tests/npm can import the built package by name. Each entry point's .d.ts references the
 * TypeScript libraries the declarations use beyond ES2022 + DOM (see DECLARATION_LIBS), so a
 * consumer's own `lib` need not list them. Needs no network.
 *
 *   node scripts/build_npm.mjs
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const OUT = path.join(ROOT, "npm");
const DOCS = ["README.md", "LICENSE", "CHANGELOG.md"];
/**
 * Libraries the declarations need beyond a consumer's `lib: ["es2022", "dom"]`: `AsyncDisposable`
 * and `Symbol.asyncDispose` (every closable class implements them) are in `esnext.disposable`
 * (TypeScript 5.2+). Written into the emitted entry points only: tsc keeps a hand-written
 * `/// <reference lib>` only with `preserve="true"`, and the Deno/JSR sources need none.
 */
const DECLARATION_LIBS = ["esnext.disposable"];

function readJson(file) {
  return JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8"));
}

/** deno.json `exports` as [subpath, "./file.ts"] pairs. */
function denoExports() {
  const { exports } = readJson("deno.json");
  return Object.entries(typeof exports === "string" ? { ".": exports } : exports);
}

function compile(entries) {
  const config = path.join(ROOT, ".tmp", "tsconfig.build.json");
  fs.mkdirSync(path.dirname(config), { recursive: true });
  fs.writeFileSync(
    config,
    JSON.stringify({
      extends: "../tsconfig.npm.json",
      files: entries.map(([, file]) => path.join("..", file)),
      include: [],
    }),
  );
  const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
  const result = spawnSync(tsc, ["-p", config], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status ?? result.signal})`);
}

/** Prepends a `/// <reference lib>` per DECLARATION_LIBS to every entry point's .d.ts. */
function referenceLibs(entries) {
  const refs = DECLARATION_LIBS.map((lib) => `/// <reference lib="${lib}" />\n`).join("");
  for (const [, file] of entries) {
    const dts = path.join(OUT, file.replace(/\.ts$/, ".d.ts"));
    fs.writeFileSync(dts, refs + fs.readFileSync(dts, "utf8"));
  }
}

/** "./counter/mod.ts" -> { types: "./counter/mod.d.ts", default: "./counter/mod.js" } */
function exportTarget(file) {
  const base = file.replace(/\.ts$/, "");
  for (const ext of [".js", ".d.ts"]) {
    if (!fs.existsSync(path.join(OUT, base + ext))) throw new Error(`missing npm/${base}${ext}`);
  }
  return { types: `${base}.d.ts`, default: `${base}.js` };
}

function manifest(entries) {
  const deno = readJson("deno.json");
  const pkg = readJson("package.json");
  const exports = Object.fromEntries(entries.map(([sub, file]) => [sub, exportTarget(file)]));
  const main = exports["."];
  return {
    name: "distkit",
    version: deno.version,
    description: pkg.description,
    license: deno.license ?? pkg.license,
    type: "module",
    ...(main ? { main: main.default, types: main.types } : {}),
    exports,
    sideEffects: false,
    engines: { node: ">=20" },
    dependencies: { uuid: pkg.dependencies.uuid },
    // Every supported client and HTTP framework, all optional: the package imports none at run
    // time.
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
  };
}

function copyDocs() {
  for (const name of DOCS) {
    const from = path.join(ROOT, name);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(OUT, name));
  }
}

/** node_modules/distkit -> ../npm, so `import "distkit"` resolves the build through its exports. */
function link() {
  const target = path.join(ROOT, "node_modules", "distkit");
  fs.rmSync(target, { recursive: true, force: true });
  fs.symlinkSync(path.relative(path.dirname(target), OUT), target, "dir");
}

function build() {
  const entries = denoExports();
  fs.rmSync(OUT, { recursive: true, force: true });
  compile(entries);
  const pkg = manifest(entries);
  referenceLibs(entries);
  fs.writeFileSync(path.join(OUT, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  copyDocs();
  link();
  console.log(`built npm/ (${pkg.name}@${pkg.version}, ${entries.length} entry points)`);
}

try {
  build();
} catch (err) {
  console.error(`build_npm: ${err.message}`);
  process.exit(1);
}
