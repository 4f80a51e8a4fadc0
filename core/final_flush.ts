/**
 * The bounded final flush of the lax primitives' `close()`: a few attempts with backoff, all within
 * a time budget, so `close()` settles even when the store never answers.
 *
 * @module
 */
import { backoff } from "./backoff.ts";
import { delay } from "./delay.ts";
import { StoreError } from "./errors.ts";

/** How many times `close()` tries its final flush at most. */
export const CLOSE_ATTEMPTS = 3;

/** The default `closeTimeoutMs` of the lax primitives. */
export const CLOSE_TIMEOUT_MS = 5000;

/** How a promise settled within a time bound. */
export type Settled<T> =
  | { status: "fulfilled"; value: T }
  | { status: "rejected"; reason: unknown }
  | { status: "timeout" };

/**
 * Waits for `promise` at most `ms` milliseconds; never rejects (a late rejection stays handled)
 * and leaves no timer behind.
 *
 * @param promise what to wait for
 * @param ms the bound
 * @returns how it settled, or `timeout`
 *
 * @example
 * ```ts
 * import { within } from "./final_flush.ts";
 * console.assert((await within(new Promise(() => {}), 1)).status === "timeout");
 * console.assert((await within(Promise.resolve(7), 10)).status === "fulfilled");
 * ```
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ status: "timeout" }), Math.max(0, ms));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ status: "fulfilled", value });
      },
      (reason) => {
        clearTimeout(timer);
        resolve({ status: "rejected", reason });
      },
    );
  });
}

/** Options for {@linkcode finalFlush}. */
export interface FinalFlushOptions {
  /** The whole budget, ms: a call still unanswered then is abandoned. */
  timeoutMs: number;
  /** The first backoff's upper bound, ms. */
  baseMs: number;
  /** Attempts at most. @default {CLOSE_ATTEMPTS} */
  attempts?: number;
}

/**
 * Runs `flush` until it succeeds, at most `attempts` times with backoff between tries, all
 * within `timeoutMs`.
 *
 * @param flush one flush attempt
 * @param options budget, backoff and attempts
 * @returns `undefined` once an attempt succeeded, else why the last one failed
 *
 * @example
 * ```ts
 * import { finalFlush } from "./final_flush.ts";
 * const failure = await finalFlush(() => Promise.reject(new Error("down")), {
 *   timeoutMs: 50,
 *   baseMs: 1,
 * });
 * console.assert(failure?.code === "STORE_ERROR");
 * ```
 */
export async function finalFlush(
  flush: () => Promise<void>,
  options: FinalFlushOptions,
): Promise<StoreError | undefined> {
  const { timeoutMs, baseMs, attempts = CLOSE_ATTEMPTS } = options;
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 0;; attempt++) {
    const r = await within(flush(), deadline - performance.now());
    if (r.status === "fulfilled") return undefined;
    if (r.status === "timeout") {
      return new StoreError(`The store did not acknowledge the final flush within ${timeoutMs} ms`);
    }
    const failure = r.reason instanceof StoreError
      ? r.reason
      : new StoreError("The final flush failed", r.reason);
    if (attempt + 1 >= attempts) return failure;
    const wait = backoff(attempt, { baseMs, maxMs: 1000 });
    if (performance.now() + wait >= deadline) return failure;
    await delay(wait);
  }
}

/**
 * The error `close()` rejects with when changes could not be written.
 *
 * @param what the primitive's class name
 * @param keys how many keys still had unacknowledged changes
 * @param cause the last failure
 * @returns a `StoreError` saying how many keys were not written
 *
 * @example
 * ```ts
 * import { notWritten } from "./final_flush.ts";
 * console.assert(notWritten("LaxCounter", 3, undefined).message.includes("3 keys were not written"));
 * ```
 */
export function notWritten(what: string, keys: number, cause: unknown): StoreError {
  const detail = cause instanceof Error ? ` (${cause.message})` : "";
  return new StoreError(
    `${what}.close(): ${keys} ${keys === 1 ? "key was" : "keys were"} not written to the store` +
      detail,
    cause,
  );
}
