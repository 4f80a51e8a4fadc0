/**
 * Instance-aware counters: every instance (process) owns a slice of each key, the total is the
 * sum of the slices of live instances. {@linkcode StrictInstanceAwareCounter} makes every call an
 * atomic script call; {@linkcode LaxInstanceAwareCounter} serves `inc`/`get` from memory and
 * flushes in batches, exactly once. Both share totals for the same prefix and store; plain
 * counters of the same prefix are separate data.
 *
 * @example An instance that stops heartbeating leaves the total
 * ```ts
 * import { StrictInstanceAwareCounter } from "./mod.ts";
 * import { MemoryStore } from "../store/mod.ts";
 * const store = new MemoryStore();
 * await using a = new StrictInstanceAwareCounter({ prefix: "jobs", store });
 * const b = new StrictInstanceAwareCounter({ prefix: "jobs", store });
 * await a.inc("running", 2);
 * await b.inc("running", 3);
 * await b.close({ leave: true });
 * console.assert((await a.get("running")).total === 2);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./strict.ts";
export * from "./lax.ts";
// Types the counters' signatures use, so this entry point stands on its own.
export { Comparator, type ComparatorOp } from "../core/comparator.ts";
export { DistkitError } from "../core/errors.ts";
export type { DistkitErrorCode } from "../core/errors.ts";
export type * from "../store/types.ts";
