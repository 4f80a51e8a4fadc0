/**
 * Safe-integer arithmetic: every count distkit stores is a JS safe integer, and every result that
 * would leave that range is an error, never a silent precision loss.
 *
 * @module
 */
import { CounterOverflowError, InvalidArgumentError } from "./errors.ts";

/**
 * Returns `n` if it is a safe integer.
 *
 * @param n the value to check
 * @param name the argument's name for the message
 * @returns `n`
 * @throws {InvalidArgumentError} if `n` is not a safe integer (NaN, Infinity, a fraction, a string)
 *
 * @example
 * ```ts
 * import { safeInt } from "./int.ts";
 * safeInt(5, "n");
 * ```
 */
export function safeInt(n: unknown, name: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(
      `'${name}' must be a safe integer: current value is ${String(n)}`,
    );
  }
  return n;
}

/**
 * Adds two safe integers.
 *
 * @param a a safe integer
 * @param b a safe integer
 * @returns `a + b`
 * @throws {CounterOverflowError} if the sum leaves the safe-integer range
 *
 * @example
 * ```ts
 * import { addSafe } from "./int.ts";
 * console.assert(addSafe(2, 3) === 5);
 * ```
 */
export function addSafe(a: number, b: number): number {
  const s = a + b;
  if (!Number.isSafeInteger(s)) {
    throw new CounterOverflowError(`${a} + ${b} leaves the safe-integer range`);
  }
  return s;
}

/**
 * Checks an integer option against an inclusive range.
 *
 * @param v the option's value
 * @param name the option's name for the message
 * @param min the smallest allowed value
 * @param max the largest allowed value
 * @returns `v`
 * @throws {InvalidArgumentError} if `v` is not an integer in `[min, max]`
 *
 * @example
 * ```ts
 * import { intInRange } from "./int.ts";
 * intInRange(20, "allowedLagMs", 1, 60_000);
 * ```
 */
export function intInRange(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(
      `'${name}' must be an integer from ${min} to ${max}: current value is ${String(v)}`,
    );
  }
  return v;
}
