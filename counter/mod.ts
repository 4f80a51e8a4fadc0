/**
 * Plain counters: {@linkcode StrictCounter} (every operation atomic in the store) and
 * {@linkcode LaxCounter} (in-memory increments flushed in batches, exactly once). Both address the
 * same data for the same prefix and store.
 *
 * @example
 * ```ts
 * import { LaxCounter, StrictCounter } from "./mod.ts";
 * import { MemoryStore } from "../store/mod.ts";
 * const store = new MemoryStore();
 * await using lax = new LaxCounter({ prefix: "hits", store });
 * const strict = new StrictCounter({ prefix: "hits", store });
 * await lax.inc("home", 2);
 * await lax.flush();
 * console.assert(await strict.get("home") === 2);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./strict_counter.ts";
export * from "./lax_counter.ts";
// Types the counters' signatures use, so this entry point stands on its own.
export { Comparator, type ComparatorOp } from "../core/comparator.ts";
export { DistkitError, type DistkitErrorCode } from "../core/errors.ts";
export type * from "../store/types.ts";
