/**
 * Distributed locks: {@linkcode Mutex}, the writer-preferring {@linkcode RwLock} and the
 * weighted, first-come-first-served {@linkcode Semaphore}. Guards renew
 * their lease every `ttlMs / 3`, carry a fencing token (mutex and write guards), abort their
 * `signal` with `LockLostError` when the lease is lost, and release with `await using`.
 * Waiters are woken by (sharded) pub/sub when the holder releases.
 *
 * @example
 * ```ts
 * import { Mutex } from "./mod.ts";
 * import { MemoryStore } from "../store/mod.ts";
 * const mutex = new Mutex({ key: "jobs", store: new MemoryStore() });
 * await using guard = await mutex.lock();
 * console.assert(guard.state === "acquired");
 * ```
 *
 * @module
 */
export * from "./options.ts";
export {
  type GuardState,
  LockGuard,
  MutexGuard,
  ReadGuard,
  SemaphoreGuard,
  WriteGuard,
} from "./guard.ts";
export * from "./mutex.ts";
export * from "./rw_lock.ts";
export * from "./semaphore.ts";
export type { LockKeys, Mode, SemaphoreKeys } from "./_remote.ts";

// Types the locks' signatures use, so this entry point stands on its own.
export { DistkitError, LockLostError } from "../core/errors.ts";
export type { DistkitErrorCode } from "../core/errors.ts";
export type * from "../store/types.ts";
