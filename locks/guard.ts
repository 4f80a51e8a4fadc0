/**
 * Lock guards: what a successful acquisition returns. A guard renews its lease every `ttlMs / 3`,
 * turns `lost` (and aborts its `signal` with `LockLostError`) when the store says the lease is
 * gone or no renewal succeeded for a whole `ttlMs`, and releases with `release()` or `await using`.
 *
 * @module
 */
import { LockLostError } from "../core/errors.ts";
import { CLOCK, type ClockEntry } from "./_clock.ts";
import type { Lease } from "./_lease.ts";

/** A guard's lifecycle: held, lost (the lease may be gone), or released. */
export type GuardState = "acquired" | "lost" | "released";

/**
 * What a lock hands a new guard (internal: guards are only made by locks, through
 * {@linkcode mutexGuard}, {@linkcode readGuard} and {@linkcode writeGuard}; locks/mod.ts exports
 * neither this nor those).
 */
export interface GuardInit {
  /** What was acquired: the calls that renew and release it. */
  readonly lease: Lease;
  /** The user's lock key, for messages. */
  readonly key: string;
  /** This acquisition's token. */
  readonly token: string;
  /** The lease length, ms. */
  readonly ttlMs: number;
  /** The 0-based attempt that won. */
  readonly onAttempt: number;
  /** The fencing token (0 for readers). */
  readonly fence: number;
  /**
   * `performance.now()` when an attempt was sent that the store ran no later than it set the
   * lease, so the lease runs at least ttlMs from it: the winning attempt, or for a lease handed
   * over by a release, the latest attempt that found the queue entry the grant consumed.
   */
  readonly sentAt: number;
  /**
   * Set by the guard when its release has been answered, or when it is lost: an attempt of its
   * wait that answers later and holds the lease then took it anew (see `Waiter` in ./_core.ts),
   * and is released. Not at the release call: an attempt answering between the call and its reply
   * ran before it, found the lease ours, and needs nothing.
   */
  ended: boolean;
}

/** The constructor token only this module holds: a guard cannot be made from outside. */
const MAKING: unique symbol = Symbol("distkit lock guard");

let makeMutex: (init: GuardInit) => MutexGuard;
let makeWrite: (init: GuardInit) => WriteGuard;
let makeRead: (init: GuardInit) => ReadGuard;
let makePermit: (init: GuardInit, permits: number) => SemaphoreGuard;

/** A new mutex guard (for `Mutex` only). @internal */
export function mutexGuard(init: GuardInit): MutexGuard {
  return makeMutex(init);
}

/** A new write guard (for `RwLock` only). @internal */
export function writeGuard(init: GuardInit): WriteGuard {
  return makeWrite(init);
}

/** A new read guard (for `RwLock` only). @internal */
export function readGuard(init: GuardInit): ReadGuard {
  return makeRead(init);
}

/** A new semaphore guard for `permits` (for `Semaphore` only). @internal */
export function semaphoreGuard(init: GuardInit, permits: number): SemaphoreGuard {
  return makePermit(init, permits);
}

/**
 * The common part of {@linkcode MutexGuard}, {@linkcode ReadGuard} and {@linkcode WriteGuard}.
 *
 * @example Scope a lock with `await using`
 * ```ts
 * import { MemoryStore, Mutex } from "../mod.ts";
 * const mutex = new Mutex({ key: "report", store: new MemoryStore() });
 * {
 *   await using guard = await mutex.lock();
 *   console.assert(guard.state === "acquired");
 * }
 * ```
 */
export abstract class LockGuard implements AsyncDisposable {
  /** The 0-based attempt that acquired the lock (0 when it was free at once). */
  readonly onAttempt: number;
  #init: GuardInit;
  #state: GuardState = "acquired";
  #controller: AbortController | undefined;
  #lostReason: LockLostError | undefined;
  /** Its place on the shared clock (one process-wide timer for every guard). */
  #entry: ClockEntry = { onTime: () => this.#onTimer(), clockPos: -1, clockAt: 0 };
  #renewDue: number;
  #renewing = false;
  #lastOk: number;
  #lastError: unknown;
  #released: Promise<"released" | "lost"> | undefined;

  /**
   * Made by the locks, not by users.
   * @param token the module's constructor token
   * @param init what the lock learned when it acquired
   * @throws {TypeError} when called from outside (get a guard from its lock)
   */
  protected constructor(token: typeof MAKING, init: GuardInit) {
    if (token !== MAKING) {
      throw new TypeError(
        "Lock guards are made by their lock: call lock(), read(), write() or acquire()",
      );
    }
    this.#init = init;
    this.onAttempt = init.onAttempt;
    this.#lastOk = init.sentAt;
    this.#renewDue = init.sentAt + this.#interval;
    this.#plan();
  }

  /** `"acquired"`, `"lost"` or `"released"`; local, no I/O. */
  get state(): GuardState {
    return this.#state;
  }

  /** Aborted with a `LockLostError` as soon as the lease is known or presumed lost. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#lostReason !== undefined) this.#controller.abort(this.#lostReason);
    }
    return this.#controller.signal;
  }

  get #interval(): number {
    return Math.max(1, Math.floor(this.#init.ttlMs / 3));
  }

  /**
   * When the guard presumes its lease lost: ttlMs after the last renewal that succeeded (counted
   * from when it was sent), minus a small margin, so the holder hears of the loss before the store
   * lets anyone else in.
   */
  get #lossAt(): number {
    const ttl = this.#init.ttlMs;
    return this.#lastOk + ttl - Math.min(Math.floor(ttl / 10), 100);
  }

  /** Schedules the guard's next renewal or its loss deadline, whichever is first. */
  #plan(): void {
    if (this.#state !== "acquired") return CLOCK.cancel(this.#entry);
    const next = this.#renewing ? this.#lossAt : Math.min(this.#renewDue, this.#lossAt);
    CLOCK.schedule(this.#entry, next);
  }

  #onTimer(): void {
    if (this.#state !== "acquired") return; // released: its entry leaves at the reply
    const now = performance.now();
    if (now >= this.#lossAt) {
      return this.#lose(`no renewal succeeded for ${this.#init.ttlMs} ms`);
    }
    if (!this.#renewing && now >= this.#renewDue) void this.#renew();
    else this.#plan();
  }

  async #renew(): Promise<void> {
    const { lease, token, ttlMs } = this.#init;
    const sentAt = performance.now();
    this.#renewing = true;
    this.#plan();
    let held: boolean;
    try {
      held = await lease.renew(token, ttlMs);
    } catch (e) {
      this.#renewing = false;
      if (this.#state !== "acquired") return;
      this.#lastError = e; // transient until the loss deadline says otherwise
      this.#renewDue = performance.now() + Math.max(1, Math.floor(this.#interval / 3));
      return this.#plan();
    }
    this.#renewing = false;
    if (this.#state !== "acquired") return;
    if (!held) return this.#lose("the lease is gone");
    this.#lastOk = Math.max(this.#lastOk, sentAt);
    this.#lastError = undefined;
    this.#renewDue = sentAt + this.#interval;
    this.#plan();
  }

  #lose(detail: string): void {
    if (this.#state !== "acquired") return;
    this.#state = "lost";
    this.#init.ended = true;
    CLOCK.cancel(this.#entry);
    this.#lostReason = new LockLostError(
      this.#init.key,
      detail,
      this.#lastError,
      this instanceof SemaphoreGuard ? "semaphore" : "lock",
    );
    this.#controller?.abort(this.#lostReason);
  }

  /**
   * Stops renewal and runs the owner-checked delete (always, even after a loss: a lease that
   * survived a transient error is freed too). Idempotent: later calls return the first result.
   * @returns `"released"` if this guard still held the lease, `"lost"` if it had been lost
   * @throws {StoreError} if the store failed; the lease then expires after its ttl
   *
   * @example
   * ```ts
   * import { MemoryStore, Mutex } from "../mod.ts";
   * const guard = await new Mutex({ key: "k", store: new MemoryStore() }).lock();
   * console.assert(await guard.release() === "released");
   * ```
   */
  release(): Promise<"released" | "lost"> {
    if (this.#released !== undefined) return this.#released;
    const wasLost = this.#state === "lost";
    this.#state = "released";
    const { lease, token } = this.#init;
    // The clock entry goes after the reply (a renewal due meanwhile does nothing): a lease handed
    // to a waiter of this process then starts its guard before this one leaves the shared clock,
    // which keeps its timer.
    // Ended once the release is answered: an attempt of this guard's wait answering later ran
    // after it on the store (same connection), so it took the lock anew (see GuardInit.ended).
    const done = () => {
      CLOCK.cancel(this.#entry);
      this.#init.ended = true;
    };
    this.#released = lease.release(token).then(({ held }) => {
      done();
      return held && !wasLost ? "released" : "lost";
    }, (e) => {
      done();
      throw e;
    });
    return this.#released;
  }

  /**
   * Releases; a store failure is swallowed (the lease then expires after its ttl), so disposal
   * never hides the error of the scope it closes.
   * @returns when released
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.release();
    } catch {
      // The lease expires by itself.
    }
  }
}

/**
 * Proof of holding a {@linkcode Mutex}.
 *
 * @example
 * ```ts
 * import { MemoryStore, Mutex } from "../mod.ts";
 * const mutex = new Mutex({ key: "invoices", store: new MemoryStore() });
 * await using guard = await mutex.lock();
 * console.assert(guard.fencingToken >= 1);
 * ```
 */
export class MutexGuard extends LockGuard {
  /** Strictly increasing per lock key across all holders: hand it to the protected resource. */
  readonly fencingToken: number;
  static {
    makeMutex = (init) => new MutexGuard(MAKING, init);
  }
  private constructor(token: typeof MAKING, init: GuardInit) {
    super(token, init);
    this.fencingToken = init.fence;
  }
}

/**
 * Proof of holding an {@linkcode RwLock} for writing (exclusive).
 *
 * @example
 * ```ts
 * import { MemoryStore, RwLock } from "../mod.ts";
 * const lock = new RwLock({ key: "catalog", store: new MemoryStore() });
 * await using guard = await lock.write();
 * console.assert(guard.fencingToken >= 1);
 * ```
 */
export class WriteGuard extends LockGuard {
  /** Strictly increasing per lock key across all writers: hand it to the protected resource. */
  readonly fencingToken: number;
  static {
    makeWrite = (init) => new WriteGuard(MAKING, init);
  }
  private constructor(token: typeof MAKING, init: GuardInit) {
    super(token, init);
    this.fencingToken = init.fence;
  }
}

/**
 * Proof of holding an {@linkcode RwLock} for reading (shared with other readers).
 *
 * @example
 * ```ts
 * import { MemoryStore, RwLock } from "../mod.ts";
 * const lock = new RwLock({ key: "catalog", store: new MemoryStore() });
 * await using a = await lock.read();
 * await using b = await lock.read();
 * console.assert(a.state === "acquired" && b.state === "acquired");
 * ```
 */
export class ReadGuard extends LockGuard {
  static {
    makeRead = (init) => new ReadGuard(MAKING, init);
  }
  private constructor(token: typeof MAKING, init: GuardInit) {
    super(token, init);
  }
}

/**
 * Proof of holding `permits` permits of a {@linkcode Semaphore}. The permits are renewed every
 * `ttlMs / 3` and come back to the semaphore on `release()` (or by themselves, `ttlMs` after the
 * last renewal, if the holder stops).
 *
 * @example
 * ```ts
 * import { MemoryStore, Semaphore } from "../mod.ts";
 * const sem = new Semaphore({ key: "downloads", store: new MemoryStore(), permits: 3 });
 * await using permit = await sem.acquire(2);
 * console.assert(permit.permits === 2 && permit.fencingToken >= 1);
 * ```
 */
export class SemaphoreGuard extends LockGuard {
  /** How many permits this guard holds. */
  readonly permits: number;
  /**
   * Strictly increasing per semaphore key across all acquisitions (each acquisition's is larger
   * than that of every acquisition granted before it): hand it to the protected resource.
   */
  readonly fencingToken: number;
  static {
    makePermit = (init, permits) => new SemaphoreGuard(MAKING, init, permits);
  }
  private constructor(token: typeof MAKING, init: GuardInit, permits: number) {
    super(token, init);
    this.permits = permits;
    this.fencingToken = init.fence;
  }
}
