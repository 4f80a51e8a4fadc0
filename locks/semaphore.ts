/**
 * `Semaphore`: `permits` holders at a time, weighted, first come first served, fenced and
 * self-renewing, on the locks' machinery.
 *
 * @module
 */
import { ClosedError, InvalidArgumentError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { LockCore } from "./_core.ts";
import { type Lease, semaphoreLease } from "./_lease.ts";
import { type SemaphoreKeys, semaphoreKeys } from "./_remote.ts";
import { SEM_PEEK_OP } from "./_sem_scripts.ts";
import { type SemaphoreGuard, semaphoreGuard } from "./guard.ts";
import type { SemaphoreOptions, WaitOptions } from "./options.ts";
import { duration } from "./_validate.ts";

/** The largest `permits`. */
const MAX_PERMITS = 1_000_000;

/**
 * A distributed counting semaphore: at most `permits` permits are held at any moment, an
 * acquisition takes `n` of them (1 by default), and waiters are served first come, first served:
 * the head of the queue is never overtaken by a later, smaller request, so large requests do not
 * starve. A release grants the freed permits to every waiter that now fits, in order, inside the
 * same atomic call, and wakes each one's process by pub/sub. Holders and waiters each carry their
 * own expiry (server time), so a crashed holder's permits come back after its `ttlMs` and a
 * crashed waiter leaves the queue by itself; an idle semaphore leaves nothing in the store but
 * its fencing counter.
 *
 * Like the locks, this is a lease, not consensus: a holder paused longer than `ttlMs` (or a
 * Redis failover) can overlap with the holders after it. Its guard's `signal` aborts when the
 * permits are presumed lost (before the store gives them to anyone else, clocks permitting);
 * protect resources that must never be overcommitted by checking `fencingToken` on their side.
 *
 * @example Three workers at a time
 * ```ts
 * import { MemoryStore, Semaphore } from "../mod.ts";
 * const sem = new Semaphore({ key: "api-slots", store: new MemoryStore(), permits: 3 });
 * {
 *   await using permit = await sem.acquire(); // waits while 3 are held
 *   console.assert((await sem.available()) === 2);
 * }
 * console.assert((await sem.available()) === 3);
 * ```
 */
export class Semaphore implements AsyncDisposable {
  #core: LockCore<SemaphoreKeys>;
  #permits: number;
  /** The lease of each permit count asked for so far. */
  #leases = new Map<number, Lease>();

  /**
   * Creates the semaphore object (no I/O, no timer until used).
   * @param options key, store, permits and timing; see {@linkcode SemaphoreOptions}
   * @throws {InvalidKeyError} if `key` or `namespace` is invalid
   * @throws {InvalidArgumentError} if `permits`, a duration, `ownerId` or `store` is invalid
   */
  constructor(options: SemaphoreOptions) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("Semaphore options must be an object");
    }
    this.#permits = intInRange(options.permits, "permits", 1, MAX_PERMITS);
    this.#core = new LockCore(options, "Semaphore", semaphoreKeys);
  }

  /** The resource's name. */
  get key(): string {
    return this.#core.key;
  }
  /** The Redis key namespace. */
  get namespace(): string {
    return this.#core.namespace;
  }
  /** How many permits the semaphore has. */
  get permits(): number {
    return this.#permits;
  }
  /** The lease length, ms. */
  get ttlMs(): number {
    return this.#core.ttlMs;
  }
  /** This object's owner id (for debugging; each acquisition has its own token). */
  get ownerId(): string {
    return this.#core.ownerId;
  }
  /** The bound on every `acquire()` wait, ms, if any. */
  get maxWaitMs(): number | undefined {
    return this.#core.maxWaitMs;
  }
  /** The first fallback poll's bound, ms. */
  get retryIntervalMs(): number {
    return this.#core.retryIntervalMs;
  }

  /** The lease of `n` permits (`n` validated). */
  #lease(n: unknown): [Lease, number] {
    const count = intInRange(n, "n", 1, this.#permits);
    let lease = this.#leases.get(count);
    if (lease === undefined) {
      const { store, keys, key } = this.#core;
      this.#leases.set(count, lease = semaphoreLease(store, keys, key, count, this.#permits));
    }
    return [lease, count];
  }

  #guard(init: Awaited<ReturnType<LockCore["acquire"]>>, n: number): SemaphoreGuard {
    return semaphoreGuard(init!, n);
  }

  /**
   * Waits for `n` permits (bounded by `maxWaitMs`, `opts.timeoutMs` and `opts.signal`), in line
   * behind the acquisitions that asked before. A bounded or abortable wait settles within its
   * bound whatever the store does; what it may have left in the store is removed when the store
   * answers again.
   * @param n how many permits, from 1 to `permits`
   * @param opts timeout and abort signal
   * @returns the guard
   * @throws {LockTimeoutError} when the wait runs out (it leaves the queue)
   * @throws {ClosedError} if the semaphore is closed before (or while) it waits, or its store is
   * @throws {AbortSignal["reason"]} when `opts.signal` aborts (nothing is left in the store)
   * @throws {InvalidArgumentError} if `n` or `opts` is invalid, or the semaphore is in use with
   *   another count of permits
   *
   * @example
   * ```ts
   * import { MemoryStore, Semaphore } from "../mod.ts";
   * const sem = new Semaphore({ key: "k", store: new MemoryStore(), permits: 4 });
   * await using permit = await sem.acquire(3, { timeoutMs: 1000 });
   * console.assert(permit.permits === 3);
   * ```
   */
  async acquire(n = 1, opts?: WaitOptions): Promise<SemaphoreGuard> {
    const [lease, count] = this.#lease(n);
    const init = await this.#core.acquire({ lease, tag: `*${count}`, ...this.#core.bounded(opts) });
    return this.#guard(init, count);
  }

  /**
   * One attempt, no waiting, no queueing: succeeds only if `n` permits are free and nobody waits.
   * @param n how many permits, from 1 to `permits`
   * @returns the guard, or `null`
   * @throws {StoreError} if the store failed
   * @throws {InvalidArgumentError} if `n` is invalid, or the semaphore is in use with another
   *   count of permits
   *
   * @example
   * ```ts
   * import { MemoryStore, Semaphore } from "../mod.ts";
   * const sem = new Semaphore({ key: "k", store: new MemoryStore(), permits: 2 });
   * await using a = await sem.tryAcquire(2);
   * console.assert(a !== null && (await sem.tryAcquire()) === null);
   * ```
   */
  async tryAcquire(n = 1): Promise<SemaphoreGuard | null> {
    const [lease, count] = this.#lease(n);
    const init = await this.#core.acquire({ lease, tag: `*${count}`, oneShot: true });
    return init === null ? null : this.#guard(init, count);
  }

  /**
   * Waits at most `ms` for `n` permits.
   * @param n how many permits, from 1 to `permits`
   * @param ms the bound, ms (0: a single attempt)
   * @returns the guard
   * @throws {LockTimeoutError} when the time runs out
   * @throws {ClosedError} if the semaphore is closed before (or while) it waits, or its store is
   * @throws {InvalidArgumentError} if an argument is invalid, or the semaphore is in use with
   *   another count of permits
   *
   * @example
   * ```ts
   * import { LockTimeoutError, MemoryStore, Semaphore } from "../mod.ts";
   * const sem = new Semaphore({ key: "k", store: new MemoryStore(), permits: 1 });
   * await using held = await sem.acquire();
   * try { await sem.tryAcquireWithTimeout(1, 20); } catch (e) { console.assert(e instanceof LockTimeoutError); }
   * ```
   */
  async tryAcquireWithTimeout(n: number, ms: number): Promise<SemaphoreGuard> {
    const [lease, count] = this.#lease(n);
    const timeoutMs = duration(ms, "ms");
    const init = await this.#core.acquire({ lease, tag: `*${count}`, timeoutMs });
    return this.#guard(init, count);
  }

  /**
   * Makes at most `retries + 1` attempts for `n` permits (woken by releases, else polling).
   * @param n how many permits, from 1 to `permits`
   * @param retries attempts after the first
   * @returns the guard
   * @throws {LockRetriesExhaustedError} when every attempt failed: found too few permits, failed (the last store error is its `cause`), or went unanswered for a while
   * @throws {ClosedError} if the semaphore is closed before (or while) it waits, or its store is
   * @throws {InvalidArgumentError} if an argument is invalid, or the semaphore is in use with
   *   another count of permits
   *
   * @example
   * ```ts
   * import { MemoryStore, Semaphore } from "../mod.ts";
   * const sem = new Semaphore({ key: "k", store: new MemoryStore(), permits: 2 });
   * await using permit = await sem.tryAcquireWithRetries(2, 3);
   * ```
   */
  async tryAcquireWithRetries(n: number, retries: number): Promise<SemaphoreGuard> {
    const [lease, count] = this.#lease(n);
    const r = intInRange(retries, "retries", 0, 1_000_000);
    const init = await this.#core.acquire({ lease, tag: `*${count}`, retries: r });
    return this.#guard(init, count);
  }

  /**
   * How many permits are free now (read-only, one store call): `permits` minus those held by
   * live holders, never below 0 (the count of the semaphore in use, if it differs from this
   * object's). Queued waiters may take them at any moment: this is a snapshot.
   * @returns the free permits
   * @throws {StoreError} if the store failed
   * @throws {ClosedError} if the semaphore is closed
   *
   * @example
   * ```ts
   * import { MemoryStore, Semaphore } from "../mod.ts";
   * const sem = new Semaphore({ key: "k", store: new MemoryStore(), permits: 5 });
   * await using p = await sem.acquire(2);
   * console.assert((await sem.available()) === 3);
   * ```
   */
  async available(): Promise<number> {
    const { used, limit } = await this.#peek();
    return Math.max(0, (limit ?? this.#permits) - used);
  }

  /**
   * How many acquisitions are queued now (read-only, one store call; a snapshot).
   * @returns the number of live queued waiters
   * @throws {StoreError} if the store failed
   * @throws {ClosedError} if the semaphore is closed
   *
   * @example
   * ```ts
   * import { MemoryStore, Semaphore } from "../mod.ts";
   * const sem = new Semaphore({ key: "k", store: new MemoryStore(), permits: 1 });
   * console.assert((await sem.waiting()) === 0);
   * ```
   */
  async waiting(): Promise<number> {
    return (await this.#peek()).waiting;
  }

  #peek() {
    const { store, keys, closed, what } = this.#core;
    if (closed) return Promise.reject(new ClosedError(what));
    return SEM_PEEK_OP.run(store, [keys.holders, keys.queueExp, keys.state], undefined);
  }

  /**
   * Closes the semaphore object: every pending wait rejects with `ClosedError` (its queue entry is
   * removed and its subscription ends), and later calls throw `ClosedError`. Guards already held
   * are left alone: they keep (and renew) their permits until released. Idempotent.
   * @returns when the pending waits have settled
   *
   * @example
   * ```ts
   * import { ClosedError, MemoryStore, Semaphore } from "../mod.ts";
   * const store = new MemoryStore();
   * const sem = new Semaphore({ key: "k", store, permits: 1 });
   * const holder = await sem.acquire();
   * const waiting = sem.acquire(); // waits: the one permit is held
   * await sem.close();
   * try { await waiting; } catch (e) { console.assert(e instanceof ClosedError); }
   * await holder.release();
   * ```
   */
  close(): Promise<void> {
    return this.#core.close();
  }

  /**
   * Same as {@linkcode Semaphore.close}.
   * @returns when closed
   *
   * @example
   * ```ts
   * import { MemoryStore, Semaphore } from "../mod.ts";
   * {
   *   await using sem = new Semaphore({ key: "k", store: new MemoryStore(), permits: 2 });
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
