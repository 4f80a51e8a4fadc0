/**
 * `MemoryStore`: the embedded store. It runs each script's TypeScript model over an in-process
 * keyspace, so several primitives sharing one `MemoryStore` behave like several processes sharing
 * one Redis. Browser-safe.
 *
 * @module
 */
import { ClosedError, StoreError } from "../core/errors.ts";
import { MemoryDb } from "./memory_db.ts";
import { NEVER_DOWN, registerHealth } from "./_resilience.ts";
import { mapScriptError, ScriptFailure } from "./script_failure.ts";
import { modelOf, toArg } from "./script.ts";
import type { Reply, Script, Store, Unsubscribe } from "./types.ts";

/** Options for {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /** The clock standing in for Redis `TIME`, in ms. @default {Date.now} */
  now?: (() => number) | undefined;
}

/**
 * The embedded, in-process store.
 *
 * @example Two counters sharing one store see each other's writes
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * await using store = new MemoryStore();
 * ```
 *
 * @example Drive time in tests
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * let t = 0;
 * await using store = new MemoryStore({ now: () => t });
 * t += 1000;
 * ```
 */
export class MemoryStore implements Store {
  /** Brand telling a store from a raw Redis client. */
  readonly isDistkitStore = true as const;
  /** The keyspace, for tests that inspect state. */
  readonly db: MemoryDb = new MemoryDb();
  #now: () => number;
  #channels = new Map<string, Set<(message: string) => void>>();
  #closed = false;
  /** When set, every call fails with this error (tests simulate an outage with it). */
  failure: Error | undefined = undefined;

  /**
   * Creates an empty store.
   * @param options the clock
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    registerHealth(this, NEVER_DOWN); // it lives in this process: never down
  }

  /**
   * Runs the script's model atomically (synchronously, on a later microtask).
   * @param script the operation
   * @param keys its keys
   * @param argv its arguments
   * @returns the model's reply
   */
  run(script: Script, keys: readonly string[], argv: readonly (string | number)[]): Promise<Reply> {
    if (this.#closed) return Promise.reject(new ClosedError("MemoryStore"));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const model = modelOf(script);
    if (model === undefined) {
      return Promise.reject(new StoreError(`Script '${script.name}' has no model to run`));
    }
    const outbox: Array<[string, string]> = [];
    try {
      const nowMs = Math.floor(this.#now());
      this.db.now = nowMs;
      const reply = model(
        { db: this.db, nowMs, publish: (c, m) => void outbox.push([c, m]) },
        keys,
        argv.map(toArg),
      );
      for (const [channel, message] of outbox) this.#deliver(channel, message);
      return Promise.resolve(reply);
    } catch (e) {
      if (e instanceof ScriptFailure) return Promise.reject(mapScriptError(e.message, e));
      return Promise.reject(e);
    }
  }

  #deliver(channel: string, message: string): void {
    const listeners = this.#channels.get(channel);
    if (listeners === undefined) return;
    for (const l of [...listeners]) queueMicrotask(() => l(message));
  }

  /**
   * Subscribes to a channel; messages published by scripts arrive on a microtask.
   * @param channel the channel
   * @param listener called with each message
   * @returns a function that unsubscribes
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    if (this.#closed) return Promise.reject(new ClosedError("MemoryStore"));
    let set = this.#channels.get(channel);
    if (set === undefined) this.#channels.set(channel, set = new Set());
    const wrapped = (m: string) => listener(m);
    set.add(wrapped);
    return Promise.resolve(() => {
      const s = this.#channels.get(channel);
      s?.delete(wrapped);
      if (s?.size === 0) this.#channels.delete(channel);
      return Promise.resolve();
    });
  }

  /** Number of active subscriptions (tests check that waiters clean up). */
  get subscriptionCount(): number {
    let n = 0;
    for (const s of this.#channels.values()) n += s.size;
    return n;
  }

  /** Marks the store closed. @returns a resolved promise */
  close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    return Promise.resolve();
  }

  /** Same as {@linkcode MemoryStore.close}. @returns a resolved promise */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
