/**
 * Bounds every store call of a limiter: a per-call timeout (node-redis queues commands while
 * disconnected, so a call could otherwise wait for minutes), and a breaker that, after a failure,
 * answers at once without touching the store until the next probe. One probe at a time checks
 * whether the store is back.
 *
 * @module
 */
import { StoreError } from "../core/errors.ts";

/** Returned instead of a result while the store is unreachable (and the policy is not "throw"). */
export const DOWN: unique symbol = Symbol("store down");

/** The store-call guard. */
export class StoreGuard {
  #timeoutMs: number;
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
    this.#timeoutMs = timeoutMs;
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
  run<T>(fn: () => Promise<T>): Promise<T | typeof DOWN> {
    if (this.#failures > 0) return this.#probe(fn);
    // The usual path: one reaction per call, no async frame.
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      p = Promise.reject(e); // judged like a rejection
    }
    return this.#bounded(p).then(this.#ok, this.#failed) as Promise<T | typeof DOWN>;
  }

  /** While the store is known down: answer at once, or let one call through as the probe. */
  async #probe<T>(fn: () => Promise<T>): Promise<T | typeof DOWN> {
    if (this.#probing || Date.now() < this.#downUntil) return this.#down(this.#lastError!);
    this.#probing = true;
    try {
      return this.#ok(await this.#bounded(fn()));
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

  // One timer for all calls in flight: deadlines are FIFO (same timeout for every call), so the
  // timer only ever waits for the oldest pending call.
  #pending: Array<{ at: number; fail: (e: StoreError) => void; done: boolean }> = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  #bounded<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { at: Date.now() + this.#timeoutMs, fail: reject, done: false };
      this.#pending.push(entry);
      this.#live++;
      if (this.#timer === undefined) this.#arm();
      const settle = () => {
        if (entry.done) return false;
        entry.done = true;
        if (--this.#live === 0) this.#idle();
        return true;
      };
      p.then(
        (v) => settle() && resolve(v),
        (e) => settle() && reject(e),
      );
    });
  }

  #live = 0;

  /** Nothing in flight: no timer may outlive the calls. */
  #idle(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
    this.#head = 0;
  }

  #arm(): void {
    while (this.#head < this.#pending.length && this.#pending[this.#head]!.done) this.#head++;
    if (this.#head >= 1024 || this.#head === this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    const first = this.#pending[this.#head];
    if (first === undefined) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(() => {
      const now = Date.now();
      while (this.#head < this.#pending.length) {
        const e = this.#pending[this.#head]!;
        if (!e.done && e.at > now) break;
        this.#head++;
        if (!e.done) {
          e.done = true;
          this.#live--;
          e.fail(new StoreError(`The store did not answer within ${this.#timeoutMs} ms`));
        }
      }
      if (this.#live === 0) this.#idle();
      else this.#arm();
    }, Math.max(0, first.at - Date.now()));
  }
}
