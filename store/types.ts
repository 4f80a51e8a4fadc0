/**
 * The contract between primitives and stores: an atomic script (Lua source plus its TypeScript
 * model) and a {@linkcode Store} that runs it, plus sharded pub/sub for wake-ups.
 *
 * @module
 */
import type { MemoryDb } from "./memory_db.ts";

/** A script reply: what Lua returns, as node-redis (RESP2) delivers it. */
export type Reply = string | number | null | Reply[];

/** What a model sees while it runs: the keyspace, the store's frozen clock and pub/sub. */
export interface ModelContext {
  /** The Redis-like keyspace. */
  readonly db: MemoryDb;
  /** Server time in whole milliseconds, frozen for the duration of one call (like `TIME`). */
  readonly nowMs: number;
  /** Sharded publish (`SPUBLISH`); delivered after the call returns. */
  publish(channel: string, message: string): void;
}

/**
 * The TypeScript model of a script: the same transition over the in-memory keyspace, returning
 * the same reply. Throw {@linkcode ScriptFailure} where the Lua returns an error reply.
 */
export type ScriptModel = (
  ctx: ModelContext,
  keys: readonly string[],
  argv: readonly string[],
) => Reply;

/**
 * An atomic operation, defined once twice over: Lua for Redis, a model for `MemoryStore`.
 *
 * @example
 * ```ts ignore
 * import { defineScript } from "./script.ts";
 * const GET = defineScript("counter_get", (ctx, keys, argv) => ctx.db.hget(keys[0]!, argv[0]!));
 * ```
 */
export interface Script {
  /** The file name under `lua/`, without `.lua`. */
  readonly name: string;
  /** SHA-1 of the Lua source, for EVALSHA (the source itself is loaded by `RedisStore` only). */
  readonly sha1: string;
  /** The executable specification. */
  readonly model: ScriptModel;
  /**
   * The batch form of a single-key script (several calls, one EVALSHA; each call runs as the
   * script would), when it has one: its name under `lua/` and SHA-1.
   */
  readonly batch?: { readonly name: string; readonly sha1: string } | undefined;
}

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
