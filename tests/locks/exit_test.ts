/**
 * A process exits when its user is done: a Deno process that passed a raw node-redis client as
 * `store`, waited for a lock (the store then subscribes on a connection of its own) and closed
 * its client exits by itself, within 2 s. (tests/npm/exit.test.mjs checks Node and Bun.)
 */
import assert from "node:assert/strict";
import { startPrivateRedis } from "../_support/servers.ts";

const CHILD = new URL("./_exit_child.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

for (const how of ["close", "quit", "destroy"] as const) {
  Deno.test(`a Deno process exits after a contended lock once its client is closed with ${how}()`, async () => {
    await using server = await startPrivateRedis();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD, server.url, how],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    try {
      let closedAt = Infinity;
      let out = "";
      const decoder = new TextDecoder();
      const stderr = new Response(child.stderr).text();
      for await (const chunk of child.stdout) {
        out += decoder.decode(chunk);
        if (closedAt === Infinity && out.includes("closed")) closedAt = performance.now();
      }
      const status = await child.status;
      const exitedAt = performance.now();
      assert.ok(out.includes("closed"), `the child did not finish: ${out}${await stderr}`);
      assert.equal(status.code, 0, await stderr);
      assert.ok(exitedAt - closedAt <= 2000, `exited ${Math.round(exitedAt - closedAt)} ms later`);
    } finally {
      clearTimeout(killer);
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }
  });
}
