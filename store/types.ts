/**
 * The contract between primitives and stores: an atomic script (Lua source plus its TypeScript
 * model) and a {@linkcode Store} that runs it, plus sharded pub/sub for wake-ups.
 *
 * @module
 */
import type { NodeRedisClientLike } from "./driver_node_redis.ts";
import type { IoRedisClientLike } from "./driver_ioredis.ts";
import type { GlideClientLike } from "./driver_glide.ts";
import type { BunRedisClientLike } from "./driver_bun.ts";

/** A script reply: what Lua returns, in one shape whatever the client (see `Driver`). */
export type Reply = string | number | null | Reply[];

/**
 * An atomic operation's script, as a store sees it: an opaque handle naming a Lua script. Its
 * TypeScript model (what `MemoryStore` runs) is registered beside it by the library and is not
 * part of this type; primitives call scripts through typed operations that encode the arguments
 * and decode the reply in one place.
 *
 * @example
 * ```ts
 * import type { Script } from "./types.ts";
 * const name = (s: Script): string => `${s.name} (${s.sha1})`;
 * ```
 */
export interface Script {
  /** The file name under `lua/`, without `.lua`. */
  readonly name: string;
  /** SHA-1 of the Lua source, for EVALSHA (the source itself is loaded by `RedisStore` only). */
  readonly sha1: string;
  /**
   * The script's batch form, when it has one (several calls, one EVALSHA; each call runs as the
   * script would, in order, with its own keys and arguments): its name and SHA-1.
   */
  readonly batch?: { readonly name: string; readonly sha1: string } | undefined;
}

export type { EvalOptions, NodeRedisClientLike, PubSubListener } from "./driver_node_redis.ts";
export type { IoRedisClientLike } from "./driver_ioredis.ts";
export type { GlideCallOptions, GlideClientLike, GlideRoute } from "./driver_glide.ts";
export type { BunRedisClientLike } from "./driver_bun.ts";

/**
 * Any raw client distkit has a driver for, typed structurally: node-redis 5/6 (`createClient()`,
 * `createCluster()`, RESP2 or RESP3), ioredis 5/6 (`Redis`, `Cluster`) and iovalkey.
 */
export type RedisClientLike =
  | NodeRedisClientLike
  | IoRedisClientLike
  | GlideClientLike
  | BunRedisClientLike;

/** What a primitive's `store` option accepts: a {@linkcode Store} or a supported raw client. */
export type StoreLike = Store | RedisClientLike;

/** Unsubscribes a pub/sub listener. */
export type Unsubscribe = () => Promise<void>;

/**
 * Where primitives keep their shared state: {@linkcode RedisStore} or {@linkcode MemoryStore}.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * import type { Store } from "./types.ts";
 * const store: Store = new MemoryStore();
 * await store.close();
 * ```
 */
export interface Store extends AsyncDisposable {
  /** Brand used to tell a store from a raw Redis client. */
  readonly isDistkitStore: true;
  /**
   * Runs `script` atomically. Every key in `keys` must carry the same hash tag. Arguments are
   * passed as strings (numbers are formatted without exponent).
   *
   * @throws {CounterOverflowError | InvalidArgumentError} when the script refuses the call
   * @throws {StoreError} when the store fails or cannot be reached
   */
  run(script: Script, keys: readonly string[], argv: readonly (string | number)[]): Promise<Reply>;
  /**
   * Subscribes to a sharded pub/sub channel (the channel name carries its keys' hash tag).
   * Resolves once the subscription is active.
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe>;
  /** Releases what the store itself opened (never the user's client). */
  close(): Promise<void>;
}
