/**
 * Demo: an HTTP-style request loop across three simulated API instances sharing one store.
 * Each "request" carries a user id; every instance asks the limiter before serving it.
 */
import { RateLimit, RateLimiter } from "../../ratelimit/mod.ts";
import type { RateLimitDecision } from "../../ratelimit/types.ts";
import type { Store } from "../../store/types.ts";

type Handler = (user: string) => Promise<RateLimitDecision>;

/** Simulates `requests` requests from `users`, spread round-robin over the instances. */
async function traffic(
  instances: Array<{ name: string; handle: Handler }>,
  users: string[],
  requests: number,
): Promise<Map<string, { served: number; limited: number; retryMs: number }>> {
  const stats = new Map(users.map((u) => [u, { served: 0, limited: 0, retryMs: 0 }]));
  await Promise.all(instances.map(async ({ handle }, i) => {
    for (let r = i; r < requests; r += instances.length) {
      const user = users[r % users.length]!;
      const d = await handle(user);
      const s = stats.get(user)!;
      if (d.kind === "allowed" || (d.kind === "suppressed" && d.isAllowed)) s.served++;
      else {
        s.limited++;
        if (d.kind === "rejected") s.retryMs = d.retryAfterMs; // would be the Retry-After header
      }
    }
  }));
  return stats;
}

/**
 * Three API instances, 30 requests/s per user, sliding 1 s window: a store-backed limiter
 * (exact), a hybrid one (decisions from memory, never above the limit fleet-wide), and a
 * suppressed one (sheds load probabilistically between 30 and 45).
 * @param store the shared store (MemoryStore by default)
 * @param log where the story goes
 */
export async function demoRatelimit(store: Store, log: (line: string) => void): Promise<void> {
  const prefix = `demo-rl-${Date.now().toString(36)}`;
  const perUser = RateLimit.perSecond(30);
  const names = ["api-1", "api-2", "api-3"];
  const limiters = names.map(() =>
    new RateLimiter({
      store,
      prefix,
      windowSizeSeconds: 1,
      rateGroupSizeMs: 50,
      hardLimitFactor: 1.5,
      syncIntervalMs: 5,
    })
  );
  try {
    const users = ["alice", "bob"];
    for (
      const [label, pick] of [
        ["redis (one atomic script per request)", (rl: RateLimiter) => rl.redis.absolute],
        ["hybrid (memory + store reservations)", (rl: RateLimiter) => rl.hybrid.absolute],
      ] as const
    ) {
      log(`${label}: 3 instances, 200 requests, limit 30/s per user`);
      const stats = await traffic(
        names.map((name, i) => ({
          name,
          handle: (u) => pick(limiters[i]!).inc(`${label.split(" ")[0]}-${u}`, perUser),
        })),
        users,
        200,
      );
      for (const [u, s] of stats) {
        log(`  ${u}: served ${s.served}, 429 ${s.limited}, Retry-After ≈ ${s.retryMs} ms`);
      }
    }
    log("suppressed (probabilistic shedding between 30 and 45): 300 requests for alice");
    const stats = await traffic(
      names.map((name, i) => ({
        name,
        handle: (u) => limiters[i]!.redis.suppressed.inc(`sup-${u}`, perUser),
      })),
      ["alice"],
      300,
    );
    const s = stats.get("alice")!;
    const snap = await limiters[0]!.redis.suppressed.get("sup-alice");
    log(
      `  served ${s.served}, shed ${s.limited}; factor now ${snap.suppressionFactor.toFixed(2)}`,
    );
    log(
      `local (in-process, synchronous): ${
        Array.from({ length: 35 }, () => limiters[0]!.local.absolute.inc("carol", perUser).kind)
          .filter((k) => k === "allowed").length
      } of 35 allowed`,
    );
    log("waiting 1.1 s for the window to slide...");
    await new Promise((r) => setTimeout(r, 1100));
    const d = await limiters[1]!.redis.absolute.inc("redis-alice", perUser);
    log(`  alice again on api-2: ${d.kind}`);
  } finally {
    for (const rl of limiters) await rl.close();
  }
}

if (import.meta.main) {
  const { MemoryStore } = await import("../../store/memory_store.ts");
  await using store = new MemoryStore();
  await demoRatelimit(store, console.log);
}
