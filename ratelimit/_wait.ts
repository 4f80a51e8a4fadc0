/**
 * `waitUntilAllowed`, shared by every absolute limiter: retry an inc, sleeping on each
 * rejection's `retryAfterMs` (no polling), bounded by `timeoutMs` and a caller's signal.
 *
 * @module
 */
import { InvalidArgumentError, RateLimitTimeoutError } from "../core/errors.ts";
import { delay } from "../core/delay.ts";
import { validateKey } from "../core/keys.ts";
import { checkN } from "./_config.ts";
import type { RateLimitDecision, WaitUntilAllowedOptions } from "./types.ts";

/**
 * `waitUntilAllowed` of every absolute limiter: checks the call (key, `n`, the rate through
 * `checkRate`, the options; then `open`, which throws on a closed limiter) so that a bad call
 * rejects and changes nothing, then runs {@linkcode waitLoop} on `attempt`.
 * @param key the key
 * @param n the request
 * @param options the caller's options
 * @param checks `checkRate` (throws on a bad rate) and `open` (throws when closed), in that order
 * @param attempt one inc
 * @returns the admitting decision, or a rejection
 */
export function waitUntilAllowed(
  key: string,
  n: number,
  options: WaitUntilAllowedOptions | undefined,
  checks: { checkRate: () => void; open?: () => void },
  attempt: () => RateLimitDecision | Promise<RateLimitDecision>,
): Promise<RateLimitDecision> {
  try {
    validateKey(key);
    checkN(n);
    checks.checkRate();
    const o = checkWaitOptions(options);
    checks.open?.();
    return waitLoop(key, n, attempt, o);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Checks `waitUntilAllowed`'s options.
 * @param options the options
 * @returns the timeout (Infinity when none) and the signal
 * @throws {InvalidArgumentError} on a bad timeout or signal
 */
export function checkWaitOptions(
  options: WaitUntilAllowedOptions | undefined,
): { timeoutMs: number; signal: AbortSignal | undefined } {
  if (options === undefined) return { timeoutMs: Infinity, signal: undefined };
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("'options' must be an object");
  }
  const { timeoutMs, signal } = options;
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" || !Number.isSafeInteger(timeoutMs) || timeoutMs < 0)
  ) {
    throw new InvalidArgumentError(
      `'timeoutMs' must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}: current value is ${
        String(timeoutMs)
      }`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError("'signal' must be an AbortSignal");
  }
  return { timeoutMs: timeoutMs ?? Infinity, signal };
}

/**
 * Tries `attempt` until it admits: after each rejection, sleeps its `retryAfterMs` (abortable,
 * the timer cleared on abort). Gives up with {@linkcode RateLimitTimeoutError} once `timeoutMs`
 * has passed, or at once when the hint says the request cannot fit before then.
 * @param key the key (for the error message)
 * @param n the request (one larger than the limit fails at once)
 * @param attempt one inc
 * @param options already checked by {@linkcode checkWaitOptions}
 * @returns the admitting decision
 * @throws {RateLimitTimeoutError | InvalidArgumentError} (or the signal's reason)
 */
export async function waitLoop(
  key: string,
  n: number,
  attempt: () => RateLimitDecision | Promise<RateLimitDecision>,
  options: { timeoutMs: number; signal: AbortSignal | undefined },
): Promise<RateLimitDecision> {
  const { timeoutMs, signal } = options;
  signal?.throwIfAborted();
  const start = Date.now();
  for (;;) {
    const d = await attempt();
    if (d.kind !== "rejected") return d;
    if (n > d.limit && d.limit > 0) {
      throw new InvalidArgumentError(
        `'n' must not exceed the limit (${d.limit} per window), or it never fits: current value is ${n}`,
      );
    }
    signal?.throwIfAborted();
    const waited = Date.now() - start;
    if (waited + d.retryAfterMs > timeoutMs) {
      throw new RateLimitTimeoutError(key, waited, d.retryAfterMs);
    }
    await delay(d.retryAfterMs, { signal });
  }
}
