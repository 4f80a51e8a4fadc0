/**
 * A process exits when its user is done: a Node (or Bun, whichever runs this file) process that
 * passed a raw node-redis client as `store`, waited for a lock (the store then subscribes on a
 * connection of its own) and closed its client exits by itself, within 2 s. Needs REDIS_URL.
 * Plain JS with try/finally: Node 20 cannot parse `await using`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const REDIS_URL = process.env.REDIS_URL;
const CHILD = fileURLToPath(new URL("./_exit_child.mjs", import.meta.url));
const runtime = typeof globalThis.Bun === "undefined" ? "Node" : "Bun";

/** Runs the child; resolves with its exit code, output and how long it lived after "closed". */
function runChild(how) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, REDIS_URL, how], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let closedAt = Infinity;
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (closedAt === Infinity && out.includes("closed")) closedAt = performance.now();
    });
    child.stderr.on("data", (chunk) => (out += chunk));
    // Under 5 s: Bun's default test timeout.
    const killer = setTimeout(() => child.kill("SIGKILL"), 4500);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, out, lingeredMs: performance.now() - closedAt });
    });
  });
}

for (const how of ["close", "quit", "destroy"]) {
  test(
    `a ${runtime} process exits after a contended lock once its client is closed with ${how}()`,
    {
      skip: !REDIS_URL && "REDIS_URL not set",
      timeout: 20_000,
    },
    async () => {
      const { code, signal, out, lingeredMs } = await runChild(how);
      assert.ok(out.includes("closed"), `the child did not finish (${signal ?? code}): ${out}`);
      assert.equal(code, 0, out);
      assert.ok(lingeredMs <= 2000, `exited ${Math.round(lingeredMs)} ms after closing its client`);
    },
  );
}
