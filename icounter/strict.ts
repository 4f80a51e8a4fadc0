/**
 * `StrictInstanceAwareCounter`: every operation is one atomic script call in the store.
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import type { DistkitError } from "../core/errors.ts";
import { safeInt } from "../core/int.ts";
import type { ConditionalEntry, CounterEntry } from "../counter/types.ts";
import type { StoreLike } from "../store/to_store.ts";
import { type Entry, type EntryResult, InstanceCore } from "./_core.ts";
import { one, oneIf, toConditionalEntries, toEntries, toKeys } from "./_validate.ts";
import type {
  InstanceAwareCounter,
  InstanceCloseOptions,
  InstanceConditionalResult,
  InstanceCount,
  KeyedInstanceConditionalResult,
} from "./types.ts";

/** Options for {@linkcode StrictInstanceAwareCounter}. */
export interface StrictInstanceAwareCounterOptions {
  /** Namespace of the counters (a valid key). Plain counters of the same prefix are separate. */
  prefix: string;
  /**
   * A {@linkcode Store}, or a connected client of node-redis 5/6, ioredis 5/6, iovalkey, Valkey
   * GLIDE 2 or Bun (one shared `RedisStore` per client).
   */
  store: StoreLike;
  /**
   * An instance that has not heartbeated for this long (server time) is dead: its slices leave
   * the totals. Heartbeats run every third of it. At least 150.
   * @default {30000}
   */
  deadInstanceThresholdMs?: number | undefined;
  /** This instance's id (a valid key). @default a UUID v7 */
  instanceId?: string | undefined;
  /** Called with background failures (a heartbeat that could not reach the store). */
  onError?: ((error: DistkitError) => void) | undefined;
}

const count = (r: EntryResult): InstanceCount => ({ total: r.total, mine: r.mine });
const conditional = (r: EntryResult): InstanceConditionalResult => ({
  total: r.total,
  mine: r.mine,
  previousTotal: r.previousTotal,
  previousMine: r.previousMine,
  matched: r.matched,
});
const keyed = (r: EntryResult): KeyedInstanceConditionalResult => ({
  key: r.key,
  ...conditional(r),
});

/**
 * Instance-aware counters where every operation is atomic in the store: each instance owns a
 * slice of every key; the total is the sum of the slices of live instances. An instance that
 * stops heartbeating (crash, partition) drops out of the totals after `deadInstanceThresholdMs`;
 * if it comes back, its slices come back with it, unless the key was reset meanwhile.
 *
 * @example Count open connections per service across processes
 * ```ts
 * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
 * const store = new MemoryStore();
 * await using a = new StrictInstanceAwareCounter({ prefix: "conns", store });
 * await using b = new StrictInstanceAwareCounter({ prefix: "conns", store });
 * await a.inc("ws", 3);
 * const r = await b.inc("ws", 2);
 * console.assert(r.total === 5 && r.mine === 2);
 * ```
 */
export class StrictInstanceAwareCounter implements InstanceAwareCounter {
  #core: InstanceCore;

  /**
   * Creates the counter; heartbeats start in the background (no I/O before that).
   * @param options prefix, store, threshold, instance id, error callback
   * @throws {InvalidKeyError} if the prefix or the instance id is invalid
   * @throws {InvalidArgumentError} if `deadInstanceThresholdMs` is below 150 or the store is unusable
   */
  constructor(options: StrictInstanceAwareCounterOptions) {
    this.#core = new InstanceCore(options, "StrictInstanceAwareCounter");
  }

  /** The namespace. */
  get prefix(): string {
    return this.#core.prefix;
  }
  /** This instance's id. */
  get instanceId(): string {
    return this.#core.instanceId;
  }
  /** The dead-instance threshold, ms. */
  get deadInstanceThresholdMs(): number {
    return this.#core.thresholdMs;
  }

  async #run(entries: Entry[]): Promise<EntryResult[]> {
    this.#core.open();
    if (entries.length === 0) return [];
    return (await this.#core.apply(entries)).results;
  }

  async #one(entry: Entry): Promise<EntryResult> {
    return (await this.#run([entry]))[0]!;
  }

  /**
   * Adds `n` to my slice.
   * @param key the counter
   * @param n a safe integer, may be negative
   * @returns the new total and my new slice
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.inc("k", 5)).total === 5);
   * ```
   */
  async inc(key: string, n = 1): Promise<InstanceCount> {
    return count(await this.#one(one("inc", key, n, "n")));
  }

  /**
   * Subtracts `n` from my slice.
   * @param key the counter
   * @param n a safe integer
   * @returns the new total and my new slice
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.dec("k", 2)).mine === -2);
   * ```
   */
  async dec(key: string, n = 1): Promise<InstanceCount> {
    return await this.inc(key, -safeInt(n, "n"));
  }

  /**
   * The total and my slice (0 when my slice was voided by a `set`/`del` of another instance).
   * @param key the counter
   * @returns total and mine
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.get("k")).total === 0);
   * ```
   */
  async get(key: string): Promise<InstanceCount> {
    return count(await this.#one(one("get", key, 0, "n")));
  }

  /**
   * Global: the total becomes `value`, held as my slice; every other instance's slice of the key
   * is void from now on (it is never subtracted later, and reads as 0).
   * @param key the counter
   * @param value a safe integer
   * @returns `{ total: value, mine: value }`
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.set("k", 9)).total === 9);
   * ```
   */
  async set(key: string, value: number): Promise<InstanceCount> {
    return count(await this.#one(one("set", key, value, "value")));
  }

  /**
   * Sets my slice only; the total moves by the difference.
   * @param key the counter
   * @param value a safe integer
   * @returns the new total and `value`
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.setOnInstance("k", 4)).mine === 4);
   * ```
   */
  async setOnInstance(key: string, value: number): Promise<InstanceCount> {
    return count(await this.#one(one("seti", key, value, "value")));
  }

  /**
   * Global: removes the key for every instance (their slices become void).
   * @param key the counter
   * @returns the total and my slice as they were before
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 3);
   * console.assert((await c.del("k")).total === 3);
   * ```
   */
  async del(key: string): Promise<InstanceCount> {
    const r = await this.#one(one("del", key, 0, "n"));
    return { total: r.previousTotal, mine: r.previousMine };
  }

  /**
   * Removes my slice of the key.
   * @param key the counter
   * @returns the new total and the slice removed
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 3);
   * const r = await c.delOnInstance("k");
   * console.assert(r.total === 0 && r.mine === 3);
   * ```
   */
  async delOnInstance(key: string): Promise<InstanceCount> {
    const r = await this.#one(one("delo", key, 0, "n"));
    return { total: r.total, mine: r.previousMine };
  }

  /**
   * Global: removes every key of this prefix for every instance. Slices other instances still
   * remember from before can never come back.
   * @returns when done
   * @throws {ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.clear();
   * console.assert((await c.get("k")).total === 0);
   * ```
   */
  async clear(): Promise<void> {
    this.#core.open();
    await this.#core.clear();
  }

  /**
   * Removes every slice of mine from the totals (in steps of 1000 keys).
   * @returns when done
   * @throws {ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.clearOnInstance();
   * console.assert((await c.get("k")).total === 0);
   * ```
   */
  async clearOnInstance(): Promise<void> {
    this.#core.open();
    await this.#core.drop(false);
  }

  /**
   * Adds `n` to my slice when `cmp` matches the total, atomically.
   * @param key the counter
   * @param cmp the condition on the total
   * @param n a safe integer
   * @returns the new and previous total and slice, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.incIf("k", Comparator.lt(10), 1)).matched);
   * ```
   */
  async incIf(key: string, cmp: Comparator, n: number): Promise<InstanceConditionalResult> {
    return conditional(await this.#one(oneIf("inc", key, cmp, n, "n")));
  }

  /**
   * Like {@linkcode StrictInstanceAwareCounter.set}, when `cmp` matches the total.
   * @param key the counter
   * @param cmp the condition on the total
   * @param value a safe integer
   * @returns the new and previous total and slice, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(!(await c.setIf("k", Comparator.gt(0), 5)).matched);
   * ```
   */
  async setIf(key: string, cmp: Comparator, value: number): Promise<InstanceConditionalResult> {
    return conditional(await this.#one(oneIf("set", key, cmp, value, "value")));
  }

  /**
   * Sets my slice when `cmp` matches my slice, atomically.
   * @param key the counter
   * @param cmp the condition on my slice
   * @param value a safe integer
   * @returns the new and previous total and slice, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.setOnInstanceIf("k", Comparator.eq(0), 2)).mine === 2);
   * ```
   */
  async setOnInstanceIf(
    key: string,
    cmp: Comparator,
    value: number,
  ): Promise<InstanceConditionalResult> {
    return conditional(await this.#one(oneIf("seti", key, cmp, value, "value")));
  }

  /**
   * Several reads, one atomic call (at most 1000 keys), input order.
   * @param keys the counters
   * @returns `[key, { total, mine }]` pairs
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.getAll(["a", "b"])).length === 2);
   * ```
   */
  async getAll(keys: readonly string[]): Promise<Array<[string, InstanceCount]>> {
    const entries = toKeys(keys).map((key): Entry => ({ op: "get", key, amount: 0 }));
    return (await this.#run(entries)).map((r) => [r.key, count(r)]);
  }

  /**
   * Several increments of my slices, one atomic call (at most 1000), duplicates in order.
   * @param entries `[key, n]` pairs
   * @returns `[key, { total, mine }]` pairs, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const r = await c.incAll([["k", 1], ["k", 2]]);
   * console.assert(r[1]![1].total === 3);
   * ```
   */
  async incAll(entries: readonly CounterEntry[]): Promise<Array<[string, InstanceCount]>> {
    return (await this.#run(toEntries("inc", entries))).map((r) => [r.key, count(r)]);
  }

  /**
   * Several global sets, one atomic call (at most 1000), duplicates in order.
   * @param entries `[key, value]` pairs
   * @returns `[key, { total, mine }]` pairs, input order
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.setAll([["a", 1], ["b", 2]]);
   * ```
   */
  async setAll(entries: readonly CounterEntry[]): Promise<Array<[string, InstanceCount]>> {
    return (await this.#run(toEntries("set", entries))).map((r) => [r.key, count(r)]);
  }

  /**
   * Several sets of my slices, one atomic call (at most 1000), duplicates in order.
   * @param entries `[key, value]` pairs
   * @returns `[key, { total, mine }]` pairs, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.setAllOnInstance([["a", 1], ["b", 2]]);
   * ```
   */
  async setAllOnInstance(
    entries: readonly CounterEntry[],
  ): Promise<Array<[string, InstanceCount]>> {
    return (await this.#run(toEntries("seti", entries))).map((r) => [r.key, count(r)]);
  }

  /**
   * Several conditional increments (on the total), one atomic call, in order.
   * @param entries `[key, comparator, n]` triples
   * @returns one result per entry, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.incAllIf([["k", Comparator.eq(0), 1]]);
   * console.assert(r!.matched);
   * ```
   */
  async incAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedInstanceConditionalResult[]> {
    return (await this.#run(toConditionalEntries("inc", entries))).map(keyed);
  }

  /**
   * Several conditional global sets (on the total), one atomic call, in order.
   * @param entries `[key, comparator, value]` triples
   * @returns one result per entry, input order
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.setAllIf([["k", Comparator.eq(0), 9]]);
   * console.assert(r!.total === 9);
   * ```
   */
  async setAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedInstanceConditionalResult[]> {
    return (await this.#run(toConditionalEntries("set", entries))).map(keyed);
  }

  /**
   * Several conditional sets of my slices (on my slice), one atomic call, in order.
   * @param entries `[key, comparator, value]` triples
   * @returns one result per entry, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * await using c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.setAllOnInstanceIf([["k", Comparator.eq(0), 4]]);
   * console.assert(r!.mine === 4);
   * ```
   */
  async setAllOnInstanceIf(
    entries: readonly ConditionalEntry[],
  ): Promise<KeyedInstanceConditionalResult[]> {
    return (await this.#run(toConditionalEntries("seti", entries))).map(keyed);
  }

  /**
   * Stops the heartbeats; with `leave` (the default) removes my slices from the totals now,
   * otherwise they stay until the threshold passes, as after a crash. Later calls throw
   * `ClosedError`.
   * @param options `leave`
   * @returns when done
   * @throws {StoreError} if leaving failed (the counter is closed anyway)
   * @example
   * ```ts
   * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
   * const c = new StrictInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.close({ leave: true });
   * ```
   */
  async close(options: InstanceCloseOptions = {}): Promise<void> {
    if (this.#core.closed) return;
    await this.#core.stop();
    if (options.leave ?? true) await this.#core.drop(true);
  }

  /** Same as `close()` (leaving). @returns when closed */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
