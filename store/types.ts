/**
 * The contract between primitives and stores: an atomic script (Lua source plus its TypeScript
 * model) and a {@linkcode Store} that runs it, plus sharded pub/sub for wake-ups.
 *
 * @module
 */
/** A script reply: what Lua returns, as node-redis (RESP2) delivers it. */
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

/** The node-redis call options distkit uses. */
export interface EvalOptions {
  /** The script's keys. */
  keys: string[];
  /** The script's arguments. */
  arguments: string[];
}

/** A pub/sub listener as node-redis calls it. */
export type PubSubListener = (message: string, channel: string) => unknown;

/**
 * The part of a node-redis v5 `createClient()` or `createCluster()` object distkit calls. Both
 * satisfy it structurally.
 */
export interface RedisClientLike {
  /** `EVALSHA sha numkeys keys... args...` */
  evalSha(sha1: string, options: EvalOptions): Promise<unknown>;
  /** `EVAL script numkeys keys... args...` */
  eval(script: string, options: EvalOptions): Promise<unknown>;
  /** `SSUBSCRIBE channel` */
  sSubscribe(channel: string, listener: PubSubListener): Promise<unknown>;
  /** `SUNSUBSCRIBE channel` */
  sUnsubscribe(channel: string, listener?: PubSubListener): Promise<unknown>;
  /**
   * A raw command: `(args)` on a client, `(firstKey, isReadonly, args)` on a cluster. When
   * present, scripts are sent with it (node-redis's own command layer costs about 0.4 µs of CPU a
   * call more).
   */
  sendCommand?(...args: never[]): Promise<unknown>;
}

/** What a primitive's `store` option accepts: a {@linkcode Store} or a raw node-redis client. */
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
