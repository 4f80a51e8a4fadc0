/**
 * `TimeoutQueue`: bounds many calls that share one timeout with a single timer. Deadlines are
 * first in, first out (the same timeout for every call), so the timer only ever waits for the
 * oldest pending call; it is cleared in the tick in which nothing is left in flight, so it never
 * outlives the calls. (A timer per call costs a `setTimeout` and a `clearTimeout` each: on Deno, some 10 µs of
 * latency.) Internal: used by `RedisStore` and the rate limiter's store guard.
 *
 * @module
 */

/** How many microtask hops an idle queue waits before it clears its timer. */
const IDLE_HOPS = 8;

interface Entry {
  at: number;
  fail: (e: Error) => void;
  done: boolean;
}

/**
 * Rejects a bounded call `timeoutMs` after it started if it has not settled by then.
 *
 * @example
 * ```ts
 * import { TimeoutQueue } from "./timeout_queue.ts";
 * const q = new TimeoutQueue(1000, (ms) => new Error(`no answer within ${ms} ms`));
 * console.assert(await q.bound(Promise.resolve(42)) === 42);
 * ```
 */
export class TimeoutQueue {
  readonly #timeoutMs: number;
  readonly #error: (timeoutMs: number) => Error;
  #pending: Entry[] = [];
  #head = 0;
  #live = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #clearing = false;

  /**
   * @param timeoutMs the bound of every call, ms
   * @param error makes the rejection of a call that timed out
   */
  constructor(timeoutMs: number, error: (timeoutMs: number) => Error) {
    this.#timeoutMs = timeoutMs;
    this.#error = error;
  }

  /** Calls in flight (for tests). */
  get size(): number {
    return this.#live;
  }

  /**
   * `p`, or a rejection once the timeout passes first (`p` may still settle later; that is
   * ignored, never unhandled). `onValue` and `onError` map the outcome (a timeout included) in
   * the same promise, saving the caller a `.then` per call; what they throw rejects it.
   * @param p the call
   * @param onValue maps its value
   * @param onError maps its failure (or the timeout) to a value
   * @returns its (mapped) result
   */
  bound<T, U = T>(
    p: Promise<T>,
    onValue?: (v: T) => U,
    onError?: (e: unknown) => U,
  ): Promise<U> {
    return new Promise<U>((resolve, reject) => {
      const finish = (ok: boolean, x: unknown): void => {
        try {
          if (ok) resolve(onValue === undefined ? x as U : onValue(x as T));
          else if (onError !== undefined) resolve(onError(x));
          else reject(x);
        } catch (e) {
          reject(e);
        }
      };
      const entry: Entry = {
        at: performance.now() + this.#timeoutMs,
        fail: (e) => finish(false, e),
        done: false,
      };
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
        (v) => settle() && finish(true, v),
        (e) => settle() && finish(false, e),
      );
    });
  }

  /**
   * Nothing in flight: no timer may outlive the calls. The clear waits a few microtask hops, so
   * callers that settle and call again in the same tick (a burst of replies, each caller's next
   * call a few promise reactions later) keep the timer instead of clearing and re-arming it (a
   * `setTimeout` + `clearTimeout` pair costs some 5 µs of CPU on Deno, and delays the next I/O);
   * it still never outlives the tick.
   */
  #idle(): void {
    this.#pending = [];
    this.#head = 0;
    if (this.#timer !== undefined && !this.#clearing) {
      this.#clearing = true;
      this.#clearAfter(IDLE_HOPS);
    }
  }

  #clearAfter(hops: number): void {
    queueMicrotask(() => {
      if (this.#live > 0) return void (this.#clearing = false);
      if (hops > 1) return this.#clearAfter(hops - 1);
      this.#clearing = false;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    });
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
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(first.at - performance.now())));
  }

  #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#head < this.#pending.length) {
      const e = this.#pending[this.#head]!;
      if (!e.done && e.at > now) break;
      this.#head++;
      if (!e.done) {
        e.done = true;
        this.#live--;
        e.fail(this.#error(this.#timeoutMs));
      }
    }
    if (this.#live === 0) this.#idle();
    else this.#arm();
  };
}
