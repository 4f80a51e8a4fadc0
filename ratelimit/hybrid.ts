/**
 * The hybrid provider: decisions from memory, backed by reservations held in the store.
 *
 * An instance admits locally only from a reservation the store granted it; reservations count
 * against the capacity in the store (`accepted + reserved ≤ capacity`), so **N instances on one
 * key never admit more than the capacity per window while the store is reachable** (absolute
 * strategy). Every `syncIntervalMs` each active key commits what it used and tops its
 * reservation up, in one script call, exactly once (instance id + sequence number; a resend after
 * a lost reply is not applied twice). A key whose reservation runs out asks the store at once
 * (one call, shared by concurrent callers); a key the store has no room for rejects locally until
 * the next sync. Idle keys give their reservation back and are forgotten, so memory follows the
 * working set. The price of the guarantee is under-admission: capacity reserved by one instance
 * and not used is unavailable to the others until it is committed, released (after
 * `5 × syncIntervalMs` idle) or lapses (`max(20 × syncIntervalMs, 1000)` ms after the holder's
 * last sync, e.g. when it crashed).
 *
 * The parts: ./_hybrid_entry.ts (what is kept per key), ./_hybrid_engine.ts (syncs, the timer,
 * close; its constants name the numbers above), ./_hybrid_set_if.ts (both strategies' setIf),
 * ./_hybrid_shell.ts (their common base), ./hybrid_absolute.ts and ./hybrid_suppressed.ts (the
 * two strategies).
 *
 * @module
 */
import { BoundedCaller } from "../store/_resilience.ts";
import { HybridAbsoluteRateLimiter } from "./hybrid_absolute.ts";
import { HybridSuppressedRateLimiter } from "./hybrid_suppressed.ts";
import type { ProviderParts, StoreContext } from "./redis.ts";

export { HybridAbsoluteRateLimiter, HybridSuppressedRateLimiter };

/**
 * Builds the `hybrid` provider: its two strategies over one bounded caller of their own, on the
 * store's breaker (../store/_resilience.ts, shared with every primitive on the store), whose
 * failures are never thrown at callers but answered by the policy.
 * @param p what the limiter gives
 * @param instanceId the absolute strategy's id in the store
 * @returns the absolute and the suppressed limiter
 * @internal
 */
export function hybridProvider(
  p: ProviderParts,
  instanceId: string,
): [HybridAbsoluteRateLimiter, HybridSuppressedRateLimiter] {
  const guard = new BoundedCaller(p.store, p.cfg.storeTimeoutMs, false, (e) => p.onError(e));
  const store = p.store;
  const ctx: StoreContext = { cfg: p.cfg, store: () => store, guard, closed: p.closed };
  return [
    new HybridAbsoluteRateLimiter(ctx, p.fallbacks[0], p.onError, instanceId),
    new HybridSuppressedRateLimiter(ctx, p.fallbacks[1], p.onError),
  ];
}
