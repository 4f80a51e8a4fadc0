/**
 * Bounds every store call of a limiter: a per-call timeout (node-redis queues commands while
 * disconnected, so a call could otherwise wait for minutes), and a breaker that, after a failure,
 * answers at once without touching the store until the next probe. One probe at a time checks
 * whether the store is back.
 *
 * @module
 */
import { StoreError } from "../core/errors.ts";
import { TimeoutQueue } from "../core/timeout_queue.ts";

/** Returned instead of a result while the store is unreachable (and the policy is not "throw"). */
export const DOWN: unique symbol = Symbol("store down");

/** The store-call guard. */
export class StoreGuard {
  #timeouts: TimeoutQueue;
  #throw: boolean;
  #onError: (e: StoreError) => void;
  #failures = 0;
  #downUntil = 0;
  #probing = false;
  #lastError: StoreError | undefined;

  /**
   * @param timeoutMs the per-call bound
   * @param throwOnDown whether callers get the `StoreError` (else {@linkcode DOWN})
   * @param onError told about every failure
   */
  constructor(timeoutMs: number, throwOnDown: boolean, onError: (e: StoreError) => void) {
    this.#timeouts = new TimeoutQueue(
      timeoutMs,
      (ms) => new StoreError(`The store did not answer within ${ms} ms`),
    );
    this.#throw = throwOnDown;
    this.#onError = onError;
  }

  /** Whether the last call failed and no probe has succeeded since. */
  get down(): boolean {
    return this.#failures > 0;
  }

  /** ms until the next probe may run (0 when the store is up). */
  get retryInMs(): number {
    return Math.max(0, this.#downUntil - Date.now());
  }

  /**
   * Runs `fn` within the bound, or answers at once while the store is known down.
   * @param fn the store call
   * @returns its result, or DOWN
   * @throws {StoreError} with the "throw" policy; any non-store error of `fn`
   */
  run<T>(fn: () => Promise<T>): Promise<T | typeof DOWN>;
  /**
   * The same, with the answer mapped by `map` in the same promise.
   * @param fn the store call
   * @param map maps its result, or DOWN
   * @returns what `map` returned
   */
  run<T, V>(fn: () => Promise<T>, map: (r: T | typeof DOWN) => V): Promise<V>;
  run<T, V>(
    fn: () => Promise<T>,
    map?: (r: T | typeof DOWN) => V,
  ): Promise<T | typeof DOWN | V> {
    if (this.#failures > 0) {
      const r = this.#probe(fn);
      return map === undefined ? r : r.then(map);
    }
    // The usual path: one reaction per call, no async frame.
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      p = Promise.reject(e); // judged like a rejection
    }
    return this.#timeouts.bound<T, T | typeof DOWN, T | typeof DOWN | V>(
      p,
      this.#ok,
      this.#failed,
      map,
    );
  }

  /** While the store is known down: answer at once, or let one call through as the probe. */
  async #probe<T>(fn: () => Promise<T>): Promise<T | typeof DOWN> {
    if (this.#probing || Date.now() < this.#downUntil) return this.#down(this.#lastError!);
    this.#probing = true;
    try {
      return this.#ok(await this.#timeouts.bound(fn()));
    } catch (e) {
      return this.#failed(e);
    } finally {
      this.#probing = false;
    }
  }

  /** A call succeeded: the store is up. */
  #ok = <T>(v: T): T => {
    if (this.#failures > 0) {
      this.#failures = 0;
      this.#lastError = undefined;
    }
    return v;
  };

  /** A call failed: a store error opens the breaker (and answers per policy); others rethrow. */
  #failed = (e: unknown): typeof DOWN => {
    if (!(e instanceof StoreError)) throw e;
    this.#failures++;
    this.#downUntil = Date.now() + Math.min(1000, 25 * 2 ** Math.min(this.#failures, 6));
    this.#lastError = e;
    this.#onError(e);
    return this.#down(e);
  };

  #down(e: StoreError): typeof DOWN {
    if (this.#throw) throw new StoreError(`Rate-limit store unreachable: ${e.message}`, e);
    return DOWN;
  }
}
