/**
 * Instance ids and lock tokens: UUID v7 (time-ordered), from the `uuid` package.
 *
 * @module
 */
import { v7 } from "uuid";

/**
 * A new UUID v7 string.
 * @returns the id
 * @example
 * ```ts
 * import { newId } from "./uuid.ts";
 * console.assert(newId().length === 36);
 * ```
 */
export function newId(): string {
  return v7();
}
