/**
 * `FlushTimer`: the one timer a lax primitive owns. It runs its task at the earliest time anyone
 * asked for, holds no timer while nothing is requested, and stops for good on `close()`.
 *
 * @module
 */

/**
 * A single timer slot that keeps the earliest requested deadline.
 *
 * @example Flush at most 20 ms after the first change
 * ```ts
 * import { FlushTimer } from "./flush_timer.ts";
 * let flushes = 0;
 * const timer = new FlushTimer(() => void flushes++);
 * timer.schedule(20);
 * timer.schedule(50); // later than the pending deadline: ignored
 * timer.close(); // cleared; nothing leaks
 * console.assert(flushes === 0 && !timer.scheduled);
 * ```
 */
export class FlushTimer {
  #task: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = Infinity;
  #closed = false;

  /**
   * Creates an idle timer.
   * @param task what to run when a deadline comes (errors are the task's to handle)
   */
  constructor(task: () => void) {
    this.#task = task;
  }

  /** Whether a run is pending. */
  get scheduled(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Runs the task in `ms` milliseconds, unless it is already due sooner.
   * @param ms the delay (negative means now)
   * @example
   * ```ts
   * import { FlushTimer } from "./flush_timer.ts";
   * const t = new FlushTimer(() => {});
   * t.schedule(10);
   * t.close();
   * ```
   */
  schedule(ms: number): void {
    if (this.#closed) return;
    const due = performance.now() + ms;
    if (this.#timer !== undefined && this.#due <= due) return;
    clearTimeout(this.#timer);
    this.#due = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#due = Infinity;
      this.#task();
    }, Math.max(0, ms));
  }

  /**
   * Replaces the pending deadline with `ms` from now, sooner or later (a retry's backoff).
   * @param ms the delay
   * @example
   * ```ts
   * import { FlushTimer } from "./flush_timer.ts";
   * const t = new FlushTimer(() => {});
   * t.reschedule(100);
   * t.close();
   * ```
   */
  reschedule(ms: number): void {
    this.cancel();
    this.schedule(ms);
  }

  /** Drops the pending run, if any; later `schedule` calls still work. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = Infinity;
  }

  /** Drops the pending run and ignores every later `schedule`. */
  close(): void {
    this.#closed = true;
    this.cancel();
  }
}
