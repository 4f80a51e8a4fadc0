/**
 * `RedisStore`: runs atomic operations on a node-redis v5 client or cluster with EVALSHA (falling
 * back to EVAL on NOSCRIPT, so a `SCRIPT FLUSH` or a restart is survived), and gives sharded
 * pub/sub. node-redis is never imported at run time: the client is typed structurally.
 *
 * This class validates its arguments and loads its implementation (./_redis_store_impl.ts) with
 * a dynamic `import()` on its first call, so an application that never runs a script on Redis (a
 * browser using `MemoryStore`, whose primitives still accept a raw client) does not load it.
 *
 * @module
 */
import { ClosedError, InvalidArgumentError, StoreError } from "../core/errors.ts";
import type { RedisStoreImpl } from "./_redis_store_impl.ts";
import type { RedisClientLike, Reply, Script, Store, Unsubscribe } from "./types.ts";

export type { EvalOptions, PubSubListener, RedisClientLike } from "./types.ts";

/** Options for {@linkcode RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Fail a call with `StoreError` when Redis has not answered within this many ms (node-redis
   * otherwise queues commands while disconnected). `0` disables the bound.
   * @default {0}
   */
  commandTimeoutMs?: number | undefined;
  /**
   * Coalesce the calls of one tick: consecutive calls of a script with a batch form (the
   * counters', instance-aware counters', locks' and rate limiter's hot scripts) go as one EVALSHA
   * of that form per slot (at most 128 calls). Each call still runs, and replies or fails, as it
   * would alone, in the order made (a call of another script waits for the batch before it); a
   * lone call is sent as itself, with no timer. A server that refuses one call on keys of several
   * slots (a sharding proxy) gets that batch call by call, and batches per slot from then on.
   * `false` sends every call by itself.
   * @default {true}
   */
  batch?: boolean | undefined;
}

/**
 * The Redis-backed store.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { RedisStore } from "./redis_store.ts";
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * await using store = new RedisStore(client);
 * ```
 */
export class RedisStore implements Store {
  /** Brand telling a store from a raw Redis client. */
  readonly isDistkitStore = true as const;
  /** The wrapped node-redis client or cluster. */
  readonly client: RedisClientLike;
  /** Whether the client is a cluster. */
  readonly isCluster: boolean;
  readonly #commandTimeoutMs: number;
  readonly #batch: boolean;
  /** The implementation, once loaded. */
  #impl: RedisStoreImpl | undefined;
  #loading: Promise<RedisStoreImpl> | undefined;
  #closed = false;

  /**
   * Wraps a connected client; the client stays yours to close.
   * @param client a connected node-redis v5 client or cluster
   * @param options call bounds
   * @throws {InvalidArgumentError} if `client` does not look like a node-redis v5 client
   */
  constructor(client: RedisClientLike, options: RedisStoreOptions = {}) {
    if (
      client === null || typeof client !== "object" || typeof client.evalSha !== "function" ||
      typeof client.eval !== "function"
    ) {
      throw new InvalidArgumentError(
        "'store' must be a Store or a connected node-redis v5 client or cluster",
      );
    }
    const t = options.commandTimeoutMs ?? 0;
    if (!Number.isSafeInteger(t) || t < 0) {
      throw new InvalidArgumentError(
        `'commandTimeoutMs' must be a non-negative integer: current value is ${t}`,
      );
    }
    if (options.batch !== undefined && typeof options.batch !== "boolean") {
      throw new InvalidArgumentError(
        `'batch' must be a boolean: current value is ${String(options.batch)}`,
      );
    }
    this.client = client;
    this.isCluster = "masters" in client;
    this.#commandTimeoutMs = t;
    this.#batch = options.batch !== false;
  }

  /** Loads and builds the implementation (once; again after a failed load). */
  #load(): Promise<RedisStoreImpl> {
    this.#loading ??= import("./_redis_store_impl.ts").then(
      (m) =>
        this.#impl = new m.RedisStoreImpl({
          client: this.client,
          isCluster: this.isCluster,
          commandTimeoutMs: this.#commandTimeoutMs,
          batch: this.#batch,
        }),
      (e) => {
        this.#loading = undefined;
        throw new StoreError(
          `Cannot load RedisStore's code: ${e instanceof Error ? e.message : e}`,
          e,
        );
      },
    );
    return this.#loading;
  }

  /**
   * Runs `script` with EVALSHA, loading it with EVAL on NOSCRIPT.
   * @param script the operation
   * @param keys its keys (one hash tag)
   * @param argv its arguments
   * @returns the script's reply
   */
  run(
    script: Script,
    keys: readonly string[],
    argv: readonly (string | number)[],
  ): Promise<Reply> {
    const impl = this.#impl;
    if (impl !== undefined && !this.#closed) return impl.run(script, keys, argv);
    if (this.#closed) return Promise.reject(new ClosedError("RedisStore"));
    // The first calls wait for the code; they are sent in the order made.
    return this.#load().then((i) => i.run(script, keys, argv));
  }

  /**
   * Subscribes with `SSUBSCRIBE` (on a second connection for a standalone client; the cluster
   * client manages its own per-shard connections). One Redis subscription per channel is shared
   * by every listener of this store.
   * @param channel the channel (carrying its keys' hash tag)
   * @param listener called with each message
   * @returns a function that unsubscribes
   */
  async subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    if (this.#closed) throw new ClosedError("RedisStore");
    const impl = this.#impl ?? await this.#load();
    return impl.subscribe(channel, listener);
  }

  /**
   * Closes the subscriber connection this store opened; the user's client stays open. Calls
   * still waiting for the code when this is called are sent first, as calls in flight would be.
   * @returns when closed
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const impl = this.#impl ?? await this.#loading?.catch(() => undefined);
    await impl?.close();
  }

  /** Same as {@linkcode RedisStore.close}. @returns when closed */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
