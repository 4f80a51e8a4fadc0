/**
 * `Lease`: the three store calls behind one kind of acquisition (a mutex, an RwLock's read or
 * write side, a semaphore's `n` permits), as the acquisition engine ({@linkcode LockCore}) and
 * the guards make them. Each primitive builds its leases over its own scripts; the engine, the
 * waiting forms, the hub and the guards are shared.
 *
 * @module
 */
import type { Store } from "../store/types.ts";
import { WaitHub } from "./_hub.ts";
import {
  acquireOnce,
  type AttemptResult,
  type LockKeys,
  type Mode,
  releaseOnce,
  type ReleaseResult,
  renewOnce,
  type SemaphoreKeys,
} from "./_remote.ts";
import { SEM_ACQUIRE_OP, SEM_RELEASE_OP, SEM_RENEW_OP } from "./_sem_scripts.ts";

/** One kind of acquisition on one store. */
export interface Lease {
  /** The store holding it. */
  readonly store: Store;
  /** The channel waiters park on (grants go to `<channel>:<route>`). */
  readonly channel: string;
  /**
   * One attempt.
   * @param token the acquisition's token
   * @param ttlMs the lease length
   * @param queueMs how long a failed attempt stays queued (0: not queued)
   */
  acquire(token: string, ttlMs: number, queueMs: number): Promise<AttemptResult>;
  /** Extends a held lease by `ttlMs`; whether `token` still held it. */
  renew(token: string, ttlMs: number): Promise<boolean>;
  /**
   * The owner-checked release (also how a waiter leaves the queue). Grants it made to waiters of
   * this process are delivered to them at once (no pub/sub hop).
   */
  release(token: string): Promise<ReleaseResult>;
}

/**
 * Hands each grant `r` made to its grantee's hub, if that hub is in this process.
 * @returns `r`
 */
export function delivered(channel: string, r: ReleaseResult): ReleaseResult {
  for (const grant of r.grants) WaitHub.deliver(channel, grant);
  return r;
}

/** The lease of a lock (`Mutex`, `RwLock`) in `mode`. */
export function lockLease(store: Store, keys: LockKeys, mode: Mode): Lease {
  return {
    store,
    channel: keys.channel,
    acquire: (token, ttlMs, queueMs) => acquireOnce(store, keys, mode, token, ttlMs, queueMs),
    renew: (token, ttlMs) => renewOnce(store, keys, mode, token, ttlMs),
    release: (token) =>
      releaseOnce(store, keys, mode, token).then((r) => delivered(keys.channel, r)),
  };
}

/**
 * The lease of `n` permits of a semaphore of `permits` (its user's `key`, for messages).
 */
export function semaphoreLease(
  store: Store,
  keys: SemaphoreKeys,
  key: string,
  n: number,
  permits: number,
): Lease {
  const { channel } = keys;
  const renewKeys = [keys.holders, keys.queue, keys.queueExp, keys.state];
  return {
    store,
    channel,
    acquire: (token, ttlMs, queueMs) =>
      SEM_ACQUIRE_OP.run(store, keys.all, { token, n, ttlMs, permits, queueMs, channel, key }),
    renew: (token, ttlMs) => SEM_RENEW_OP.run(store, renewKeys, { token, ttlMs }),
    release: (token) =>
      SEM_RELEASE_OP.run(store, keys.all, { token, permits, channel }).then((r) =>
        delivered(channel, r)
      ),
  };
}
