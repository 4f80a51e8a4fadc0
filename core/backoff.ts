/**
 * Capped exponential backoff with full jitter (AWS architecture blog's "Full Jitter").
 *
 * @module
 */

/** Options for {@linkcode backoff}. */
export interface BackoffOptions {
  /** The first delay's upper bound. @default {10} */
  baseMs?: number | undefined;
  /** The cap on any delay. @default {1000} */
  maxMs?: number | undefined;
  /** Source of randomness in [0, 1). @default {Math.random} */
  random?: (() => number) | undefined;
}

/**
 * The delay before retry number `attempt` (0-based): uniform in `[0, min(maxMs, baseMs·2^attempt)]`.
 *
 * @param attempt how many attempts failed so far (0 for the first retry)
 * @param options base, cap and randomness
 * @returns milliseconds to wait
 *
 * @example
 * ```ts
 * import { backoff } from "./backoff.ts";
 * const ms = backoff(3, { baseMs: 10, maxMs: 1000 });
 * console.assert(ms >= 0 && ms <= 80);
 * ```
 */
export function backoff(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 10, maxMs = 1000, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * (ceiling + 1));
}
