/**
 * Benchmarks' Redis: `REDIS_URL` when set, else a throwaway redis-server on a free port, stopped
 * by `stop()`.
 */
import { startStandalone } from "../redis/launcher.mjs";

export interface BenchRedis {
  url: string;
  stop(): Promise<void>;
}

export async function benchRedis(): Promise<BenchRedis> {
  const url = Deno.env.get("REDIS_URL");
  if (url) return { url, stop: () => Promise.resolve() };
  const server = await startStandalone();
  return { url: server.url, stop: () => server.stop() };
}

export { pct } from "./_measure.ts";

/** Formats a number with 2 significant decimals. */
export function f(n: number, digits = 2): string {
  return n.toFixed(digits);
}
