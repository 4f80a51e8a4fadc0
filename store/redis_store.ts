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
import {
  type BreakerOptions,
  registerHealth,
  Resilience,
  resilienceOptions,
} from "./_resilience.ts";
import type { RedisClientLike, Reply, Script, Store, Unsubscribe } from "./types.ts";

export type {
  EvalOptions,
  IoRedisClientLike,
  NodeRedisClientLike,
  PubSubListener,
  RedisClientLike,
} from "./types.ts";
export type { BreakerOptions } from "./_resilience.ts";

/** Options for {@linkcode RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Fail a call (a script run, a subscription) with `StoreError` when Redis has not answered
   * within this many ms (clients otherwise queue commands while disconnected, and a frozen
   * server never answers). From 0 to 3,600,000; `0` disables the bound (not recommended: a call
   * may then wait forever).
   * @default {2000}
   */
  commandTimeoutMs?: number | undefined;
  /**
   * After a store failure (a transport failure or a timeout, never an error reply) the store is
   * known down: calls fail at once with `StoreError` (the failure as its cause) while one call
   * at a time probes, `firstProbeMs` after the failure and then on a doubling backoff up to
   * `maxProbeMs`, until one succeeds. `false` disables the breaker (every call then waits for
   * its own bound).
   * @default {true} (`{ firstProbeMs: 50, maxProbeMs: 1000 }`)
   */
  breaker?: boolean | BreakerOptions | undefined;
  /**
   * Coalesce the calls of one turn of the event loop: consecutive calls of a script with a batch
   * form (the counters', instance-aware counters', locks' and rate limiter's hot scripts) go as
   * one EVALSHA of that form per slot (as many calls as are in flight, 32 to 256), one batch per
   * slot and turn. Each call still runs, and replies or fails, as it would alone, in the order
   * made (a call of another script waits for the batch before it); a lone caller's call (nothing
   * in flight) is sent at once as itself. Calls waiting for their turn are sent by `close()`. A server that refuses one
   * call on keys of several slots (a sharding proxy) gets that batch call by call, and batches per
   * slot from then on. `false` sends every call by itself, at once.
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
  readonly #batch: boolean;
  /** The call bound and the breaker (./_resilience.ts), around every `run` and `subscribe`. */
  readonly #resilience: Resilience;
  /** The implementation, once loaded. */
  #impl: RedisStoreImpl | undefined;
  #loading: Promise<RedisStoreImpl> | undefined;
  #closed = false;

  /**
   * Wraps a connected client; the client stays yours to close.
   * @param client a connected client or cluster of a supported family
   * @param options call bound, breaker, batching
   * @throws {InvalidArgumentError} if `client` is not one of the supported clients, or an option
   *   is out of range
   */
  constructor(client: RedisClientLike, options: RedisStoreOptions = {}) {
    const family = detectClient(client);
    if (family === undefined) {
      throw new InvalidArgumentError(
        `'store' must be a Store or a connected client of: ${SUPPORTED_CLIENTS}`,
      );
    }
    const resilience = new Resilience(resilienceOptions(options));
    if (options.batch !== undefined && typeof options.batch !== "boolean") {
      throw new InvalidArgumentError(
        `'batch' must be a boolean: current value is ${String(options.batch)}`,
      );
    }
    this.client = client;
    this.#family = family;
    this.clientName = family.name;
    this.isCluster = family.isCluster(client);
    this.#resilience = resilience;
    registerHealth(this, resilience);
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
          sent: (call) => this.#resilience.sent(call),
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
    if (this.#closed) return Promise.reject(new ClosedError("RedisStore"));
    const impl = this.#impl;
    if (impl !== undefined && this.#resilience.up) {
      // The usual path: the implementation bounds each call as it sends it (a batch once for
      // all its items), so a call pays for no bound of its own.
      try {
        return impl.run(script, keys, argv);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    // Down (the breaker answers, or this call is its probe), or the code is not loaded yet.
    return this.#resilience.run(() => this.#run(script, keys, argv));
  }

  #run(
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
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    if (this.#closed) return Promise.reject(new ClosedError("RedisStore"));
    return this.#resilience.subscribe(() => this.#subscribe(channel, listener));
  }

  async #subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
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
