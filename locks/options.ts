/**
 * Options shared by {@linkcode Mutex} and {@linkcode RwLock}, and their validation.
 *
 * @module
 */
import type { StoreLike } from "../store/to_store.ts";

/** Options of {@linkcode Mutex} and {@linkcode RwLock}. */
export interface LockOptions {
  /** The resource's name: any key (a non-empty string of at most 255 UTF-8 bytes). */
  key: string;
  /**
   * A {@linkcode Store}, or a connected client of node-redis 5/6, ioredis 5/6, iovalkey, Valkey
   * GLIDE 2 or Bun (one shared `RedisStore` per client).
   */
  store: StoreLike;
  /** Namespace of the lock's Redis keys (a valid key). @default {"distkit-locks"} */
  namespace?: string | undefined;
  /**
   * Lease length, ms: a holder that stops renewing (crash, partition) loses the lock after this
   * long. Renewed every `ttlMs / 3` while held. From 10 to 2 147 483 647.
   * @default {30000}
   */
  ttlMs?: number | undefined;
  /**
   * Names this process in the store for debugging (each lease stores `<ownerId>/<token>`); the
   * per-acquisition token is what owns a lease. A non-empty string of at most 200 characters or
   * 255 UTF-8 bytes.
   * @default a new UUID v7 per lock object
   */
  ownerId?: string | undefined;
  /** Bounds every `lock()` / `read()` / `write()` wait, ms. @default unbounded */
  maxWaitMs?: number | undefined;
  /**
   * The first fallback poll's bound, ms; later polls back off (full jitter) up to
   * `max(retryIntervalMs, min(1000, ttlMs / 3))`. Wake-ups come by pub/sub, so this is rarely
   * what decides a hand-off. From 1 to 60 000.
   * @default {50}
   */
  retryIntervalMs?: number | undefined;
}

/** Options of {@linkcode Semaphore}: those of the locks, and its number of permits. */
export interface SemaphoreOptions extends LockOptions {
  /**
   * How many permits the semaphore has (an integer from 1 to 1 000 000). Every process using the
   * key must give the same count: while the semaphore is in use, an acquisition with another
   * count is refused with `InvalidArgumentError` (and changes nothing); a new count applies once
   * the semaphore is idle (no holder, no waiter).
   */
  permits: number;
}

/** Options of a waiting acquisition (`lock`, `read`, `write`). */
export interface WaitOptions {
  /**
   * Give up after this many ms (also bounded by the lock's `maxWaitMs`), whatever the store does.
   * The first attempt gets at least 30 ms to answer, so `0` is one attempt.
   */
  timeoutMs?: number | undefined;
  /** Aborting rejects the wait with `signal.reason`; nothing is left in the store. */
  signal?: AbortSignal | undefined;
}
