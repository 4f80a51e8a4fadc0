/**
 * An abortable delay, browser-safe (no `node:` imports).
 *
 * @module
 */

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Aborting rejects the delay with `signal.reason` and clears its timer. */
  signal?: AbortSignal | undefined;
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as `signal` aborts.
 * The timer is always cleared, so nothing leaks.
 *
 * @param ms how long to wait
 * @param options an optional abort signal
 * @returns a promise that settles after the delay
 * @throws {AbortSignal["reason"]} if the signal aborts first
 *
 * @example
 * ```ts
 * import { delay } from "./delay.ts";
 * await delay(1);
 * ```
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", abort, { once: true });
  });
}
