/**
 * The one place tests wait: `sleep(ms)` for a fixed pause (only where no condition can be awaited,
 * e.g. "time passes and nothing happens") and `waitFor(cond, options)` for everything else. Tests
 * only.
 *
 * @module
 */
export { delay as sleep } from "../../core/delay.ts";
import { delay } from "../../core/delay.ts";

/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Fail after this long. @default {5000} */
  timeoutMs?: number;
  /** Poll this often. @default {5} */
  intervalMs?: number;
  /** What is awaited, named in the failure ("Timed out after 2000 ms waiting for <message>"). */
  message?: string;
}

/**
 * Polls `cond` until it holds; fails with a message that names what was awaited when it does
 * not hold within `timeoutMs`. A `cond` that throws fails at once (the error is not retried).
 *
 * @param cond the condition, sync or async
 * @param options timeout, polling interval and what to name in the failure
 * @example
 * ```ts ignore
 * await waitFor(() => lax.pending === 0, { timeoutMs: 2000, message: "the flush" });
 * ```
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const { timeoutMs = 5000, intervalMs = 5, message = "the condition" } = options;
  const start = performance.now();
  while (!(await cond())) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message}`);
    }
    await delay(intervalMs);
  }
}
