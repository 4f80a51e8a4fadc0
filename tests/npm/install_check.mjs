/**
 * The built package (npm/) installed the way a user installs it: `npm pack`, then, in an empty
 * project, a plain `npm install <tarball> redis@6` and, separately, `npm install <tarball>
 * ioredis@5` (no --legacy-peer-deps: the peer ranges must accept the current majors), then a small
 * script using a StrictCounter and a Mutex through that client on REDIS_URL. Needs the npm
 * registry; run by scripts/run_tests.mjs as `node --test tests/npm/install_check.mjs` after
 * scripts/build_npm.mjs.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../..");
const REDIS_URL = process.env.REDIS_URL;
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

function run(cmd, args, options) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 24, ...options }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const USE = {
  "redis@6": `
import { createClient } from "redis";
const client = await createClient({ url: process.env.REDIS_URL }).connect();
const close = () => client.close();`,
  "ioredis@5": `
import { Redis } from "ioredis";
const client = new Redis(process.env.REDIS_URL);
const close = () => client.quit();`,
};

const BODY = `
import { Mutex, StrictCounter } from "distkit";
const prefix = "npm-install-" + Math.random().toString(36).slice(2);
const counter = new StrictCounter({ prefix, store: client });
const a = await counter.inc("k", 2);
const b = await counter.inc("k", 3);
const mutex = new Mutex({ key: prefix, store: client });
const guard = await mutex.lock();
const other = await new Mutex({ key: prefix, store: client }).tryLock();
const released = await guard.release();
await mutex.close();
await counter.close();
await close();
console.log(JSON.stringify({ a, b, fence: guard.fencingToken, other, released }));
`;

let tarball;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "distkit-install-"));

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const client of Object.keys(USE)) {
  test(`npm install <package> ${client} (plain, no --legacy-peer-deps) and use it`, {
    skip: REDIS_URL ? false : "REDIS_URL is not set",
  }, async () => {
    tarball ??= path.join(
      dir,
      (await run(NPM, ["pack", path.join(ROOT, "npm"), "--pack-destination", dir])).trim()
        .split("\n").at(-1),
    );
    const project = path.join(dir, client.replace(/\W/g, "_"));
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    await run(NPM, ["install", "--no-audit", "--no-fund", tarball, client], { cwd: project });
    const manifest = JSON.parse(fs.readFileSync(path.join(project, "package.json"), "utf8"));
    assert.ok(manifest.dependencies.distkit, "distkit installed");
    fs.writeFileSync(path.join(project, "use.mjs"), USE[client] + BODY);
    const out = await run(process.execPath, ["use.mjs"], {
      cwd: project,
      env: { ...process.env, REDIS_URL },
      timeout: 30_000,
    });
    assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)), {
      a: 2,
      b: 5,
      fence: 1,
      other: null,
      released: "released",
    });
  });
}
