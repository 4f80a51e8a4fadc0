/**
 * The pure, browser-safe core: errors, key validation, comparators, safe-integer helpers,
 * an abortable delay and backoff with jitter.
 *
 * @example
 * ```ts
 * import { Comparator, validateKey } from "./mod.ts";
 * validateKey("orders");
 * console.assert(Comparator.ge(1).matches(2));
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./keys.ts";
export * from "./int.ts";
export * from "./comparator.ts";
export * from "./delay.ts";
export * from "./backoff.ts";
