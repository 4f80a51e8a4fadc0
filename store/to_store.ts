/**
 * Accepts either a {@linkcode Store} or a raw client of a supported family (node-redis, ioredis,
 * iovalkey), as every primitive's `store` option does.
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";
import { RedisStore } from "./redis_store.ts";
import { SUPPORTED_CLIENTS } from "./_detect.ts";
import type { RedisClientLike, Store, StoreLike } from "./types.ts";

export type { StoreLike } from "./types.ts";

const WRAPPED = new WeakMap<object, RedisStore>();

/**
 * Returns `store` itself, or one shared `RedisStore` per raw client (so every primitive on one
 * client shares one subscriber connection, and one breaker), with `RedisStore`'s defaults: every
 * call bounded by 2,000 ms, and the breaker on.
 *
 * @param store a Store or a connected client or cluster of a supported family
 * @returns a Store
 * @throws {InvalidArgumentError} if it is neither
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * import { toStore } from "./to_store.ts";
 * const s = new MemoryStore();
 * console.assert(toStore(s) === s);
 * ```
 */
export function toStore(store: StoreLike | undefined): Store {
  if (store === null || typeof store !== "object") {
    throw new InvalidArgumentError(
      `'store' must be a Store or a connected client of: ${SUPPORTED_CLIENTS}`,
    );
  }
  if ((store as Store).isDistkitStore === true) return store as Store;
  let wrapped = WRAPPED.get(store);
  if (wrapped === undefined) {
    wrapped = new RedisStore(store as RedisClientLike);
    WRAPPED.set(store, wrapped);
  }
  return wrapped;
}
