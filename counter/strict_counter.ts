/**
 * `StrictCounter`: every operation is one atomic script call in the store.
 *
 * @module
 */
import { Comparator, validateComparator } from "../core/comparator.ts";
import { ClosedError } from "../core/errors.ts";
import { safeInt } from "../core/int.ts";
import { validateKey, validateKeys } from "../core/keys.ts";
import { type StoreLike, toStore } from "../store/to_store.ts";
import type { Store } from "../store/types.ts";
import {
  applyWrites,
  checkBatch,
  clearValues,
  counterHash,
  deleteValue,
  incValue,
  readValues,
  toConditionalWrites,
  toWrites,
} from "./_remote.ts";
import type {
  ConditionalEntry,
  ConditionalResult,
  Counter,
  CounterEntry,
  KeyedConditionalResult,
} from "./types.ts";

/** Options for {@linkcode StrictCounter}. */
export interface StrictCounterOptions {
  /** Namespace of the counters (a valid key). */
  prefix: string;
  /**
   * A {@linkcode Store}, or a connected client of node-redis 5/6, ioredis 5/6, iovalkey, Valkey
   * GLIDE 2 or Bun (one shared `RedisStore` per client).
   */
  store: StoreLike;
}

/**
 * Counters whose every operation is atomic in the store, batches included.
 *
 * @example Count page views
 * ```ts
 * import { MemoryStore, StrictCounter } from "../mod.ts";
 * const views = new StrictCounter({ prefix: "views", store: new MemoryStore() });
 * await views.inc("home");
 * console.assert(await views.get("home") === 1);
 * ```
 */
export class StrictCounter implements Counter, AsyncDisposable {
  /** The namespace. */
  readonly prefix: string;
  #store: Store;
  #hash: string;
  #closed = false;

  /**
   * Creates the counter (no I/O, no timer until used).
   * @param options prefix and store
   * @throws {InvalidKeyError} if the prefix is invalid
   * @throws {InvalidArgumentError} if the store is neither a Store nor a node-redis client
   */
  constructor(options: StrictCounterOptions) {
    this.prefix = validateKey(options?.prefix, "Prefix");
    this.#store = toStore(options.store);
    this.#hash = counterHash(this.prefix);
  }

  #open(): void {
    if (this.#closed) throw new ClosedError("StrictCounter");
  }

  /**
   * Adds `n` and returns the new value.
   * @param key the counter
   * @param n a safe integer, may be negative
   * @returns the new value
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(await c.inc("k", 5) === 5);
   * ```
   */
  inc(key: string, n = 1): Promise<number> {
    // Not async: the hottest call saves a promise and a turn of the microtask queue.
    try {
      validateKey(key);
      safeInt(n, "n");
      this.#open();
    } catch (e) {
      return Promise.reject(e);
    }
    return incValue(this.#store, this.#hash, key, n);
  }

  /**
   * Subtracts `n` and returns the new value.
   * @param key the counter
   * @param n a safe integer
   * @returns the new value
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(await c.dec("k", 2) === -2);
   * ```
   */
  async dec(key: string, n = 1): Promise<number> {
    return await this.inc(key, -safeInt(n, "n"));
  }

  /**
   * The current value (0 when missing).
   * @param key the counter
   * @returns its value
   * @throws {InvalidKeyError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(await c.get("missing") === 0);
   * ```
   */
  async get(key: string): Promise<number> {
    validateKey(key);
    this.#open();
    return (await readValues(this.#store, this.#hash, [key]))[0]!;
  }

  /**
   * Overwrites the value.
   * @param key the counter
   * @param value a safe integer
   * @returns `value`
   * @throws {InvalidKeyError | InvalidArgumentError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(await c.set("k", 9) === 9);
   * ```
   */
  async set(key: string, value: number): Promise<number> {
    return (await this.setIf(key, Comparator.always, value)).value;
  }

  /**
   * Removes a counter.
   * @param key the counter
   * @returns its value before deletion (0 when missing)
   * @throws {InvalidKeyError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 4);
   * console.assert(await c.del("k") === 4);
   * ```
   */
  async del(key: string): Promise<number> {
    validateKey(key);
    this.#open();
    return await deleteValue(this.#store, this.#hash, key);
  }

  /**
   * Removes every counter under this prefix.
   * @returns when done
   * @throws {StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * await c.clear();
   * ```
   */
  async clear(): Promise<void> {
    this.#open();
    await clearValues(this.#store, this.#hash);
  }

  /**
   * Adds `n` when `cmp` matches the current value, atomically.
   * @param key the counter
   * @param cmp the condition on the current value
   * @param n a safe integer
   * @returns the new value, the value compared, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | StoreError}
   * @example Increment only below a cap
   * ```ts
   * import { Comparator, MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * const r = await c.incIf("seats", Comparator.lt(10), 1);
   * console.assert(r.matched && r.value === 1 && r.previous === 0);
   * ```
   */
  async incIf(key: string, cmp: Comparator, n: number): Promise<ConditionalResult> {
    const w = { op: "inc" as const, key: validateKey(key), cmp: validateComparator(cmp) };
    const amount = safeInt(n, "n");
    this.#open();
    const [r] = await applyWrites(this.#store, this.#hash, [{ ...w, amount }]);
    return { value: r!.value, previous: r!.previous, matched: r!.matched };
  }

  /**
   * Sets `value` when `cmp` matches the current value, atomically.
   * @param key the counter
   * @param cmp the condition on the current value
   * @param value a safe integer
   * @returns the new value, the value compared, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | StoreError}
   * @example Compare-and-set
   * ```ts
   * import { Comparator, MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * const r = await c.setIf("k", Comparator.eq(0), 7);
   * console.assert(r.matched && r.value === 7);
   * ```
   */
  async setIf(key: string, cmp: Comparator, value: number): Promise<ConditionalResult> {
    const w = { op: "set" as const, key: validateKey(key), cmp: validateComparator(cmp) };
    const amount = safeInt(value, "value");
    this.#open();
    const [r] = await applyWrites(this.#store, this.#hash, [{ ...w, amount }]);
    return { value: r!.value, previous: r!.previous, matched: r!.matched };
  }

  /**
   * Values of several counters (at most 1000), read atomically, in input order.
   * @param keys the counters
   * @returns `[key, value]` pairs
   * @throws {InvalidKeyError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.getAll(["a", "b"])).length === 2);
   * ```
   */
  async getAll(keys: readonly string[]): Promise<Array<[string, number]>> {
    validateKeys(keys);
    checkBatch(keys, "keys");
    this.#open();
    if (keys.length === 0) return [];
    const values = await readValues(this.#store, this.#hash, keys);
    return keys.map((k, i) => [k, values[i]!]);
  }

  /**
   * Several increments as one atomic step (at most 1000 entries); duplicates apply in order.
   * @param entries `[key, n]` pairs
   * @returns `[key, new value]` pairs, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | StoreError} and then
   * nothing is applied
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * const r = await c.incAll([["k", 1], ["k", 2]]);
   * console.assert(r[1]![1] === 3);
   * ```
   */
  async incAll(entries: readonly CounterEntry[]): Promise<Array<[string, number]>> {
    const writes = toWrites("inc", entries);
    this.#open();
    return (await applyWrites(this.#store, this.#hash, writes)).map((r) => [r.key, r.value]);
  }

  /**
   * Several sets as one atomic step (at most 1000 entries).
   * @param entries `[key, value]` pairs
   * @returns `[key, value]` pairs, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | StoreError} and then nothing is applied
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * await c.setAll([["a", 1], ["b", 2]]);
   * ```
   */
  async setAll(entries: readonly CounterEntry[]): Promise<Array<[string, number]>> {
    const writes = toWrites("set", entries);
    this.#open();
    return (await applyWrites(this.#store, this.#hash, writes)).map((r) => [r.key, r.value]);
  }

  /**
   * Several conditional increments as one atomic step (at most 1000 entries), in order.
   * @param entries `[key, comparator, n]` triples
   * @returns one result per entry, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | StoreError} and then
   * nothing is applied
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.incAllIf([["k", Comparator.eq(0), 1]]);
   * console.assert(r!.matched);
   * ```
   */
  async incAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedConditionalResult[]> {
    const writes = toConditionalWrites("inc", entries);
    this.#open();
    return await applyWrites(this.#store, this.#hash, writes);
  }

  /**
   * Several conditional sets as one atomic step (at most 1000 entries), in order.
   * @param entries `[key, comparator, value]` triples
   * @returns one result per entry, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | StoreError} and then nothing is applied
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictCounter } from "../mod.ts";
   * const c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.setAllIf([["k", Comparator.gt(5), 1]]);
   * console.assert(!r!.matched && r!.value === 0);
   * ```
   */
  async setAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedConditionalResult[]> {
    const writes = toConditionalWrites("set", entries);
    this.#open();
    return await applyWrites(this.#store, this.#hash, writes);
  }

  /**
   * Marks the counter closed (it owns no timers); later calls throw `ClosedError`.
   * @returns when closed
   * @example
   * ```ts
   * import { MemoryStore, StrictCounter } from "../mod.ts";
   * await using c = new StrictCounter({ prefix: "p", store: new MemoryStore() });
   * ```
   */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** Same as {@linkcode StrictCounter.close}. @returns when closed */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
