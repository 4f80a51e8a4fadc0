/**
 * Sliding-window rate limiting (the trypema model, with its defects fixed): a `local` provider
 * (synchronous, in-process, browser-safe), a `redis` provider (one atomic script per call in the
 * store) and a `hybrid` provider (decisions from memory, backed by store reservations), each with
 * an `absolute` strategy (all-or-nothing) and a `suppressed` one (probabilistic shedding).
 *
 * @example Limit requests per user
 * ```ts
 * import { MemoryStore, RateLimit, RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ store: new MemoryStore(), windowSizeSeconds: 1 });
 * const d = await rl.redis.absolute.inc("user-42", RateLimit.perSecond(5));
 * console.assert(d.kind === "allowed");
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./rate_limit.ts";
export * from "./rate_limiter.ts";
// Types the limiters' signatures use, so this entry point stands on its own.
export { Comparator, type ComparatorOp } from "../core/comparator.ts";
export { DistkitError, RateLimitTimeoutError } from "../core/errors.ts";
export type { DistkitErrorCode } from "../core/errors.ts";
export type * from "../store/types.ts";
