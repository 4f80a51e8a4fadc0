/**
 * `TimeoutQueue`: bounds many calls that share one timeout with a single timer. Deadlines are
 * first in, first out (the same timeout for every call), so the timer only ever waits for the
 * oldest pending call; it is cleared in the tick in which nothing is left in flight, so it never
 * outlives the calls. (A timer per call costs a `setTimeout` and a `clearTimeout` each: on Deno, some 10 µs of
 * latency.) Internal: used by the store's resilience layer (store/_resilience.ts).
 *
 * @module
 */

/** How many microtask hops an idle queue waits before it clears its timer. */
const IDLE_HOPS = 8;

/** One bounded call: its deadline, its promise's settle functions and its mappers. */
class Entry {
  readonly at: number;
  done = false;
  readonly #resolve: (v: unknown) => void;
  readonly #reject: (e: unknown) => void;
  readonly #onValue: ((v: never) => unknown) | undefined;
  readonly #onError: ((e: unknown) => unknown) | undefined;
  readonly #then: ((u: never) => unknown) | undefined;
  readonly #queue: TimeoutQueue;

  constructor(
    queue: TimeoutQueue,
    at: number,
    onValue: ((v: never) => unknown) | undefined,
    onError: ((e: unknown) => unknown) | undefined,
    then: ((u: never) => unknown) | undefined,
  ) {
    this.#queue = queue;
    this.at = at;
    this.#resolve = settlers.resolve;
    this.#reject = settlers.reject;
    this.#onValue = onValue;
    this.#onError = onError;
    this.#then = then;
  }

  /** The call settled: the first of this and a timeout wins. */
  settle(ok: boolean, x: unknown): void {
    if (this.done) return;
    this.done = true;
    this.#queue.left();
    this.finish(ok, x);
  }

  /** Settles the caller's promise, mapped. */
  finish(ok: boolean, x: unknown): void {
    try {
      let u: unknown;
      if (ok) u = this.#onValue === undefined ? x : this.#onValue(x as never);
      else if (this.#onError !== undefined) u = this.#onError(x);
      else return this.#reject(x);
      this.#resolve(this.#then === undefined ? u : this.#then(u as never));
    } catch (e) {
      this.#reject(e);
    }
  }
}

/** Where the shared executor leaves a new promise's settle functions (no closure per call). */
const settlers: { resolve: (v: unknown) => void; reject: (e: unknown) => void } = {
  resolve: () => {},
  reject: () => {},
};
function executor(resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  settlers.resolve = resolve;
  settlers.reject = reject;
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
  /** The time read in this tick, or -1. */
  #now = -1;

  /**
   * @param timeoutMs the bound of every call, ms
   * @param error makes the rejection of a call that timed out
   */
  constructor(timeoutMs: number, error: (timeoutMs: number) => Error) {
    this.#timeoutMs = timeoutMs;
    this.#error = error;
  }

  /**
   * The time, read once per burst: the calls of one tick (a `Promise.all`, callers resumed by a
   * burst of replies) share one reading, forgotten on a later microtask. A reading costs some
   * 0.1 to 0.5 µs on Deno, as much as the rest of a bound call; a shared one is at most that tick's
   * few µs old, so a deadline can only come that much early, never late.
   */
  #clock(): number {
    if (this.#now < 0) {
      this.#now = performance.now();
      queueMicrotask(this.#forget);
    }
    return this.#now;
  }

  #forget = (): void => {
    this.#now = -1;
  };

  /** Calls in flight (for tests). */
  get size(): number {
    return this.#live;
  }

  /**
   * `p`, or a rejection once the timeout passes first (`p` may still settle later; that is
   * ignored, never unhandled). `onValue` and `onError` map the outcome (a timeout included) in
   * the same promise, saving the caller a `.then` per call, and `then` maps what either
   * returned (a second stage without a second promise); what they throw rejects it.
   * @param p the call
   * @param onValue maps its value
   * @param onError maps its failure (or the timeout) to a value
   * @param then maps what `onValue` or `onError` returned
   * @returns its (mapped) result
   */
  bound<T, U = T, V = U>(
    p: Promise<T>,
    onValue?: (v: T) => U,
    onError?: (e: unknown) => U,
    then?: (u: U) => V,
  ): Promise<V> {
    const out = new Promise<unknown>(executor) as Promise<V>;
    const entry = new Entry(
      this,
      this.#clock() + this.#timeoutMs,
      onValue as ((v: never) => unknown) | undefined,
      onError,
      then as ((u: never) => unknown) | undefined,
    );
    this.#pending.push(entry);
    this.#live++;
    if (this.#timer === undefined) this.#arm();
    p.then((v) => entry.settle(true, v), (e) => entry.settle(false, e));
    return out;
  }

  /** A call settled before its deadline. @internal */
  left(): void {
    if (--this.#live === 0) return this.#idle();
    // Never idle (a steady load): drop the settled calls at the head now, so the queue does not
    // keep every call of the last `timeoutMs` (at 100k calls/s and 2 s, 200k entries and their
    // replies for the collector to trace), only those behind a call still in flight.
    const p = this.#pending;
    let h = this.#head;
    while (h < p.length && p[h]!.done) h++;
    if (h >= 1024 && 2 * h >= p.length) {
      this.#pending = p.slice(h);
      h = 0;
    }
    this.#head = h;
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
        e.finish(false, this.#error(this.#timeoutMs));
      }
    }
    if (this.#live === 0) this.#idle();
    else this.#arm();
  };
}
