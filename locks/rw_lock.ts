/**
 * `RwLock`: a writer-preferring distributed readers-writer lease.
 *
 * @module
 */
import { intInRange } from "../core/int.ts";
import { LockCore } from "./_core.ts";
import { type Lease, lockLease } from "./_lease.ts";
import { type LockKeys, lockKeys } from "./_remote.ts";
import { type ReadGuard, readGuard, type WriteGuard, writeGuard } from "./guard.ts";
import type { LockOptions, WaitOptions } from "./options.ts";
import { duration } from "./_validate.ts";

/**
 * A distributed readers-writer lease that prefers writers: once a writer waits, new readers wait
 * behind it; writers are served first come, first served. Each reader and waiting writer is
 * stored with its own expiry, so processes with different `ttlMs` are correct together, and
 * crashed holders or waiters disappear by themselves. Write guards carry a fencing token.
 *
 * @example Many readers, one writer
 * ```ts
 * import { MemoryStore, RwLock } from "../mod.ts";
 * const lock = new RwLock({ key: "catalog", store: new MemoryStore() });
 * {
 *   await using r1 = await lock.read();
 *   await using r2 = await lock.read();
 *   console.assert((await lock.tryWrite()) === null);
 * }
 * await using w = await lock.write();
 * console.assert(w.fencingToken === 1);
 * ```
 */
export class RwLock implements AsyncDisposable {
  #core: LockCore<LockKeys>;
  #read: Lease;
  #write: Lease;

  /**
   * Creates the lock (no I/O, no timer until used).
   * @param options key, store and timing; see {@linkcode LockOptions}
   * @throws {InvalidKeyError} if `key` or `namespace` is invalid
   * @throws {InvalidArgumentError} if a duration, `ownerId` or `store` is invalid
   */
  constructor(options: LockOptions) {
    this.#core = new LockCore(options, "RwLock", (ns, key) => lockKeys(ns, key, "rw"));
    this.#read = lockLease(this.#core.store, this.#core.keys, "read");
    this.#write = lockLease(this.#core.store, this.#core.keys, "write");
  }

  /** The resource's name. */
  get key(): string {
    return this.#core.key;
  }
  /** The Redis key namespace. */
  get namespace(): string {
    return this.#core.namespace;
  }
  /** The lease length, ms. */
  get ttlMs(): number {
    return this.#core.ttlMs;
  }
  /** This lock object's owner id (for debugging; each acquisition has its own token). */
  get ownerId(): string {
    return this.#core.ownerId;
  }
  /** The bound on every `read()` / `write()` wait, ms, if any. */
  get maxWaitMs(): number | undefined {
    return this.#core.maxWaitMs;
  }
  /** The first fallback poll's bound, ms. */
  get retryIntervalMs(): number {
    return this.#core.retryIntervalMs;
  }

  /**
   * Waits for a shared (read) lease.
   * @param opts timeout and abort signal
   * @returns the guard
   * @throws {LockTimeoutError} when the wait runs out
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   * @throws {AbortSignal["reason"]} when `opts.signal` aborts
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).read();
   * ```
   */
  async read(opts?: WaitOptions): Promise<ReadGuard> {
    return readGuard(
      (await this.#core.acquire({ lease: this.#read, ...this.#core.bounded(opts) }))!,
    );
  }

  /**
   * Waits for the exclusive (write) lease; while waiting, it blocks new readers.
   * @param opts timeout and abort signal
   * @returns the guard
   * @throws {LockTimeoutError} when the wait runs out (the writer leaves the queue)
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   * @throws {AbortSignal["reason"]} when `opts.signal` aborts (the writer leaves the queue)
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).write();
   * ```
   */
  async write(opts?: WaitOptions): Promise<WriteGuard> {
    return writeGuard(
      (await this.#core.acquire({ lease: this.#write, ...this.#core.bounded(opts) }))!,
    );
  }

  /**
   * One read attempt.
   * @returns the guard, or `null` if a writer holds or waits
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).tryRead();
   * console.assert(g !== null);
   * ```
   */
  async tryRead(): Promise<ReadGuard | null> {
    const init = await this.#core.acquire({ lease: this.#read, oneShot: true });
    return init === null ? null : readGuard(init);
  }

  /**
   * One write attempt; a failure does not queue (so it never blocks readers).
   * @returns the guard, or `null`
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).tryWrite();
   * console.assert(g !== null);
   * ```
   */
  async tryWrite(): Promise<WriteGuard | null> {
    const init = await this.#core.acquire({ lease: this.#write, oneShot: true });
    return init === null ? null : writeGuard(init);
  }

  /**
   * Waits at most `ms` for a read lease.
   * @param ms the bound, ms
   * @returns the guard
   * @throws {LockTimeoutError} when the time runs out
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).tryReadWithTimeout(100);
   * ```
   */
  async tryReadWithTimeout(ms: number): Promise<ReadGuard> {
    const timeoutMs = duration(ms, "ms");
    return readGuard((await this.#core.acquire({ lease: this.#read, timeoutMs }))!);
  }

  /**
   * Waits at most `ms` for the write lease.
   * @param ms the bound, ms
   * @returns the guard
   * @throws {LockTimeoutError} when the time runs out
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).tryWriteWithTimeout(100);
   * ```
   */
  async tryWriteWithTimeout(ms: number): Promise<WriteGuard> {
    const timeoutMs = duration(ms, "ms");
    return writeGuard((await this.#core.acquire({ lease: this.#write, timeoutMs }))!);
  }

  /**
   * At most `n + 1` read attempts.
   * @param n retries after the first attempt
   * @returns the guard
   * @throws {LockRetriesExhaustedError} when every attempt failed: found the lock held, failed (the last store error is its `cause`), or went unanswered for a while (a store that is down or frozen)
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).tryReadWithRetries(3);
   * ```
   */
  async tryReadWithRetries(n: number): Promise<ReadGuard> {
    const retries = intInRange(n, "n", 0, 1_000_000);
    return readGuard((await this.#core.acquire({ lease: this.#read, retries }))!);
  }

  /**
   * At most `n + 1` write attempts.
   * @param n retries after the first attempt
   * @returns the guard
   * @throws {LockRetriesExhaustedError} when every attempt failed: found the lock held, failed (the last store error is its `cause`), or went unanswered for a while (a store that is down or frozen)
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * await using g = await new RwLock({ key: "k", store: new MemoryStore() }).tryWriteWithRetries(3);
   * ```
   */
  async tryWriteWithRetries(n: number): Promise<WriteGuard> {
    const retries = intInRange(n, "n", 0, 1_000_000);
    return writeGuard((await this.#core.acquire({ lease: this.#write, retries }))!);
  }

  /**
   * Closes the lock object: every pending wait rejects with `ClosedError` (its queue entry is
   * removed and its subscription ends), and later calls throw `ClosedError`. Guards already
   * held are left alone: they keep their lease (and renew it) until released, and `release()`
   * still works after `close()`. Nothing keeps the process alive afterwards. Idempotent.
   * @returns when the pending waits have settled (at once with a store that is down)
   *
   * @example Stop waiting on shutdown
   * ```ts
   * import { ClosedError, MemoryStore, RwLock } from "../mod.ts";
   * const store = new MemoryStore();
   * const lock = new RwLock({ key: "k", store });
   * const writer = await new RwLock({ key: "k", store }).write();
   * const waiting = lock.read(); // waits: a writer holds the lock
   * await lock.close();
   * try { await waiting; } catch (e) { console.assert(e instanceof ClosedError); }
   * await writer.release();
   * ```
   */
  close(): Promise<void> {
    return this.#core.close();
  }

  /**
   * Same as {@linkcode RwLock.close}.
   * @returns when closed
   *
   * @example
   * ```ts
   * import { MemoryStore, RwLock } from "../mod.ts";
   * {
   *   await using lock = new RwLock({ key: "k", store: new MemoryStore() });
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
