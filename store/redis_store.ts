/**
 * `RedisStore`: runs atomic operations on any supported Redis client (node-redis 5/6, ioredis
 * 5/6, iovalkey; standalone or cluster) with EVALSHA (falling back to EVAL on NOSCRIPT, so a
 * `SCRIPT FLUSH` or a restart is survived), and gives sharded pub/sub where the client has it.
 * No client is ever imported at run time: clients are typed structurally and told apart by shape
 * (./_detect.ts), each through its own small driver file.
 *
 * This class validates its arguments and loads its implementation (./_redis_store_impl.ts) with
 * a dynamic `import()` on its first call, so an application that never runs a script on Redis (a
 * browser using `MemoryStore`, whose primitives still accept a raw client) does not load it.
 *
 * @module
 */
import { ClosedError, InvalidArgumentError, StoreError } from "../core/errors.ts";
import type { RedisStoreImpl } from "./_redis_store_impl.ts";
import { type ClientFamily, detectClient, SUPPORTED_CLIENTS } from "./_detect.ts";
import type { RedisClientLike, Reply, Script, Store, Unsubscribe } from "./types.ts";

export type {
  EvalOptions,
  IoRedisClientLike,
  NodeRedisClientLike,
  PubSubListener,
  RedisClientLike,
} from "./types.ts";

/** Options for {@linkcode RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Fail a call with `StoreError` when Redis has not answered within this many ms (clients
   * otherwise queue commands while disconnected). `0` disables the bound.
   * @default {0}
   */
  commandTimeoutMs?: number | undefined;
  /**
   * Send the calls of one tick to a batchable script (the rate limiter's) as one EVALSHA per
   * script (and slot, on a cluster). Each call still runs, and replies or fails, as it would
   * alone, in the order made; a lone call is sent as itself. A server that refuses one call on
   * keys of several slots (a sharding proxy) gets that batch call by call, and batches per slot
   * from then on. `false` sends every call by itself.
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
 *
 * @example ioredis
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { RedisStore } from "./redis_store.ts";
 * await using store = new RedisStore(new Redis("redis://127.0.0.1:6379"));
 * ```
 */
export class RedisStore implements Store {
  /** Brand telling a store from a raw Redis client. */
  readonly isDistkitStore = true as const;
  /** The wrapped client or cluster. */
  readonly client: RedisClientLike;
  /** Whether the client is a cluster. */
  readonly isCluster: boolean;
  /** The client's family: `node-redis`, `ioredis` (iovalkey included), ... */
  readonly clientName: string;
  readonly #family: ClientFamily;
  readonly #commandTimeoutMs: number;
  readonly #batch: boolean;
  /** The implementation, once loaded. */
  #impl: RedisStoreImpl | undefined;
  #loading: Promise<RedisStoreImpl> | undefined;
  #closed = false;

  /**
   * Wraps a connected client; the client stays yours to close.
   * @param client a connected client or cluster of a supported family
   * @param options call bounds
   * @throws {InvalidArgumentError} if `client` is not one of the supported clients
   */
  constructor(client: RedisClientLike, options: RedisStoreOptions = {}) {
    const family = detectClient(client);
    if (family === undefined) {
      throw new InvalidArgumentError(
        `'store' must be a Store or a connected client of: ${SUPPORTED_CLIENTS}`,
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
    this.#family = family;
    this.clientName = family.name;
    this.isCluster = family.isCluster(client);
    this.#commandTimeoutMs = t;
    this.#batch = options.batch !== false;
  }

  /** Loads and builds the implementation (once; again after a failed load). */
  #load(): Promise<RedisStoreImpl> {
    this.#loading ??= Promise.all([
      import("./_redis_store_impl.ts"),
      this.#family.load(this.client),
    ]).then(
      ([m, driver]) =>
        this.#impl = new m.RedisStoreImpl({
          driver,
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
   * Subscribes with `SSUBSCRIBE` (on a connection the store opens from a standalone client; a
   * cluster client's own per-shard subscribers). One Redis subscription per channel is shared by
   * every listener of this store. Rejects with `StoreError` when the client has no pub/sub
   * (waiters then poll).
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
   * Closes the subscriber connections this store opened; the user's client stays open. Calls
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
