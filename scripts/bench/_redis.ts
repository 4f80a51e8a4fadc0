/**
 * Benchmarks' Redis: `REDIS_URL` when set, else a throwaway redis-server on a free port, stopped
 * by `stop()`.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { startStandalone } from "../redis/launcher.mjs";

export interface BenchRedis {
  url: string;
  stop(): Promise<void>;
}

export async function benchRedis(): Promise<BenchRedis> {
  const url = process.env.REDIS_URL;
  if (url) return { url, stop: () => Promise.resolve() };
  const server = await startStandalone();
  return { url: server.url, stop: () => server.stop() };
}

export { pct } from "./_measure.ts";

/** The runtime running the benchmark, with its version (Deno, Bun or Node). */
export function runtime(): string {
  const v = process.versions as Record<string, string | undefined>;
  if (v.deno) return `Deno ${v.deno}`;
  if (v.bun) return `Bun ${v.bun}`;
  return `Node ${v.node}`;
}

/** Formats a number with 2 significant decimals. */
export function f(n: number, digits = 2): string {
  return n.toFixed(digits);
}

/**
 * The Lua of redis-semaphore's `Semaphore` acquire, as the installed package sends it (read from
 * its module), for benchmarks that replay or count the peer's calls.
 */
export function peerSemaphoreAcquireLua(): string {
  return readFileSync(
    new URL("../../node_modules/redis-semaphore/lib/semaphore/acquire/lua.js", import.meta.url),
    "utf8",
  ).match(/createEval\)\(`([^`]*)`/)![1]!;
}
