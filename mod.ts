/**
 * distkit: distributed-systems primitives backed by Redis (or the embedded `MemoryStore`):
 * strict and lax counters, instance-aware counters, fenced self-renewing locks and sliding-window
 * rate limiting.
 *
 * @example
 * ```ts
 * import { MemoryStore, StrictCounter } from "./mod.ts";
 * const counter = new StrictCounter({ prefix: "demo", store: new MemoryStore() });
 * console.assert(await counter.inc("visits") === 1);
 * ```
 *
 * @module
 */
export * from "./core/mod.ts";
export * from "./store/mod.ts";
export * from "./counter/mod.ts";
export * from "./icounter/mod.ts";
export * from "./locks/mod.ts";
export * from "./ratelimit/mod.ts";
