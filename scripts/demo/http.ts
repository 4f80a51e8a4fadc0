/**
 * Demo: a real HTTP server (Deno.serve on a free loopback port) behind `withRateLimit`, 5
 * requests a minute per client IP on the demo's store, hit by a burst of 7 requests; prints each
 * response's status and rate-limit fields.
 */
import { withRateLimit } from "../../http/with_rate_limit.ts";
import type { Store } from "../../store/types.ts";

/**
 * Runs the demo.
 * @param store the demo's store (MemoryStore or Redis)
 * @param log prints a line
 */
export async function demoHttp(store: Store, log: (line: string) => void): Promise<void> {
  const handler = withRateLimit(() => new Response("hello\n"), {
    limit: 5,
    windowMs: 60_000,
    store,
    prefix: `demo-http-${crypto.randomUUID()}`,
    policy: "demo",
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}/`;
  log(`server: ${url} (withRateLimit, limit 5 per 60 s per client IP, provider "redis")`);
  try {
    for (let i = 1; i <= 7; i++) {
      const res = await fetch(url);
      await res.body?.cancel();
      const fields = ["RateLimit-Policy", "RateLimit", "Retry-After"]
        .filter((name) => res.headers.has(name))
        .map((name) => `${name}: ${res.headers.get(name)}`)
        .join("  ");
      log(`  GET #${i} → ${res.status}  ${fields}`);
    }
  } finally {
    await server.shutdown();
    await handler.close();
  }
}
