/**
 * `Mutex`: a fenced, self-renewing distributed lease with FIFO hand-off.
 *
 * @module
 */
import { intInRange } from "../core/int.ts";
import { LockCore } from "./_core.ts";
import { type Lease, lockLease } from "./_lease.ts";
import { type LockKeys, lockKeys } from "./_remote.ts";
import { type MutexGuard, mutexGuard } from "./guard.ts";
import type { LockOptions, WaitOptions } from "./options.ts";
import { duration } from "./_validate.ts";

/**
 * A distributed mutual-exclusion lease. Each acquisition gets its own token and a fencing token
 * from a per-lock counter; its guard renews the lease every `ttlMs / 3` and aborts its `signal`
 * when the lease is lost. Waiters queue in the store (first come, first served), are woken by
 * pub/sub when the holder releases, and fall back to polling with jittered backoff.
 *
 * This is a lease, not consensus: a holder paused longer than `ttlMs` (or a Redis failover) can
 * overlap with the next holder. Protect resources that must never see two writers by checking
 * `fencingToken` on their side.
 *
 * @example Take turns on a shared resource
 * ```ts
 * import { MemoryStore, Mutex } from "../mod.ts";
 * const store = new MemoryStore();
 * const mutex = new Mutex({ key: "nightly-report", store, ttlMs: 10_000 });
 * {
 *   await using guard = await mutex.lock({ timeoutMs: 5_000 });
 *   // ... work; pass guard.fencingToken to the resource, watch guard.signal
 * }
 * await using again = await mutex.tryLock(); // free again: a guard, not null
 * console.assert(again !== null && again.fencingToken === 2);
 * ```
 */
export class Mutex implements AsyncDisposable {
  #core: LockCore<LockKeys>;
  #lease: Lease;

  /**
   * Creates the mutex (no I/O, no timer until used).
   * @param options key, store and timing; see {@linkcode LockOptions}
   * @throws {InvalidKeyError} if `key` or `namespace` is invalid
   * @throws {InvalidArgumentError} if a duration, `ownerId` or `store` is invalid
   */
  constructor(options: LockOptions) {
    this.#core = new LockCore(options, "Mutex", (ns, key) => lockKeys(ns, key, "mutex"));
    this.#lease = lockLease(this.#core.store, this.#core.keys, "write");
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
  /** The bound on every `lock()` wait, ms, if any. */
  get maxWaitMs(): number | undefined {
    return this.#core.maxWaitMs;
  }
  /** The first fallback poll's bound, ms. */
  get retryIntervalMs(): number {
    return this.#core.retryIntervalMs;
  }

  /**
   * Waits for the lock (bounded by `maxWaitMs`, `opts.timeoutMs` and `opts.signal`). A bounded or
   * abortable wait settles within its bound (or right after its signal aborts) whatever the store
   * does (down, frozen, never connected); what it may have left in the store is removed when the
   * store answers again.
   * @param opts timeout and abort signal
   * @returns the guard
   * @throws {LockTimeoutError} when the wait runs out
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   * @throws {AbortSignal["reason"]} when `opts.signal` aborts (nothing is left in the store)
   * @throws {InvalidArgumentError} if `opts` is invalid
   *
   * @example
   * ```ts
   * import { MemoryStore, Mutex } from "../mod.ts";
   * const mutex = new Mutex({ key: "k", store: new MemoryStore() });
   * await using guard = await mutex.lock({ timeoutMs: 1000 });
   * console.assert(guard.onAttempt === 0);
   * ```
   */
  async lock(opts?: WaitOptions): Promise<MutexGuard> {
    const init = await this.#core.acquire({ lease: this.#lease, ...this.#core.bounded(opts) });
    return mutexGuard(init!);
  }

  /**
   * One attempt, no waiting, no queueing.
   * @returns the guard, or `null` if the lock is held (or writers are queued)
   * @throws {StoreError} if the store failed
   *
   * @example
   * ```ts
   * import { MemoryStore, Mutex } from "../mod.ts";
   * const mutex = new Mutex({ key: "k", store: new MemoryStore() });
   * await using first = await mutex.tryLock();
   * console.assert(first !== null && (await mutex.tryLock()) === null);
   * ```
   */
  async tryLock(): Promise<MutexGuard | null> {
    const init = await this.#core.acquire({ lease: this.#lease, oneShot: true });
    return init === null ? null : mutexGuard(init);
  }

  /**
   * Waits at most `ms` for the lock.
   * @param ms the bound, ms (0: a single attempt)
   * @returns the guard
   * @throws {LockTimeoutError} when the time runs out (`waitedMs` says how long it waited)
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   *
   * @example
   * ```ts
   * import { LockTimeoutError, MemoryStore, Mutex } from "../mod.ts";
   * const mutex = new Mutex({ key: "k", store: new MemoryStore() });
   * await using held = await mutex.lock();
   * try { await mutex.tryLockWithTimeout(20); } catch (e) { console.assert(e instanceof LockTimeoutError); }
   * ```
   */
  async tryLockWithTimeout(ms: number): Promise<MutexGuard> {
    const timeoutMs = duration(ms, "ms");
    const init = await this.#core.acquire({ lease: this.#lease, timeoutMs });
    return mutexGuard(init!);
  }

  /**
   * Makes at most `n + 1` attempts (woken by releases, else polling).
   * @param n retries after the first attempt
   * @returns the guard
   * @throws {LockRetriesExhaustedError} when every attempt failed: found the lock held, failed (the last store error is its `cause`), or went unanswered for a while (a store that is down or frozen)
   * @throws {ClosedError} if the lock is closed before (or while) it waits, or its store is
   *
   * @example
   * ```ts
   * import { LockRetriesExhaustedError, MemoryStore, Mutex } from "../mod.ts";
   * const mutex = new Mutex({ key: "k", store: new MemoryStore(), retryIntervalMs: 5 });
   * await using held = await mutex.lock();
   * try { await mutex.tryLockWithRetries(2); } catch (e) { console.assert(e instanceof LockRetriesExhaustedError); }
   * ```
   */
  async tryLockWithRetries(n: number): Promise<MutexGuard> {
    const retries = intInRange(n, "n", 0, 1_000_000);
    const init = await this.#core.acquire({ lease: this.#lease, retries });
    return mutexGuard(init!);
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
   * import { ClosedError, MemoryStore, Mutex } from "../mod.ts";
   * const store = new MemoryStore();
   * const mutex = new Mutex({ key: "k", store });
   * const holder = await new Mutex({ key: "k", store }).lock();
   * const waiting = mutex.lock(); // waits: the lock is held
   * await mutex.close();
   * try { await waiting; } catch (e) { console.assert(e instanceof ClosedError); }
   * await holder.release();
   * ```
   */
  close(): Promise<void> {
    return this.#core.close();
  }

  /**
   * Same as {@linkcode Mutex.close}.
   * @returns when closed
   *
   * @example
   * ```ts
   * import { MemoryStore, Mutex } from "../mod.ts";
   * {
   *   await using lock = new Mutex({ key: "k", store: new MemoryStore() });
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
