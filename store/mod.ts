/**
 * Stores: {@linkcode MemoryStore} (embedded, browser-safe) and {@linkcode RedisStore} (any supported
 * client: node-redis, ioredis, iovalkey; standalone or cluster). Both run the same atomic operations.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./mod.ts";
 * await using store = new MemoryStore();
 * ```
 *
 * @module
 */
export * from "./types.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory_store.ts";
export { type DumpedValue, MemoryDb } from "./memory_db.ts";
export { type BreakerOptions, RedisStore, type RedisStoreOptions } from "./redis_store.ts";
export { toStore } from "./to_store.ts";
export { groupBySlot, runPerSlot, slotOf } from "./slot.ts";
