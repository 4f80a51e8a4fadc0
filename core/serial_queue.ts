/**
 * `SerialQueue`: runs async tasks one at a time, in call order. The lax primitives send every
 * store call through one, so a flush, a read-back and an absolute write never interleave.
 *
 * @module
 */

/**
 * Runs async tasks one after another; a failed task does not stop the ones behind it.
 *
 * @example
 * ```ts
 * import { SerialQueue } from "./serial_queue.ts";
 * const q = new SerialQueue();
 * const order: number[] = [];
 * await Promise.all([q.run(async () => void order.push(1)), q.run(async () => void order.push(2))]);
 * console.assert(order.join() === "1,2");
 * ```
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Runs `task` after every task queued before it has settled.
   * @param task the work
   * @returns the task's result
   * @example
   * ```ts
   * import { SerialQueue } from "./serial_queue.ts";
   * console.assert(await new SerialQueue().run(() => Promise.resolve(7)) === 7);
   * ```
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => {});
    return run;
  }
}
