/**
 * `LaxCounter`: increments land in memory and reach the store in batches, exactly once.
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import { CounterOverflowError, type DistkitError } from "../core/errors.ts";
import { intInRange, safeInt } from "../core/int.ts";
import { validateKey, validateKeys } from "../core/keys.ts";
import { CLOSE_TIMEOUT_MS } from "../core/final_flush.ts";
import { newId } from "../core/uuid.ts";
import { type Tracked, WriteBehind } from "../core/write_behind.ts";
import { type StoreLike, toStore } from "../store/to_store.ts";
import type { Store } from "../store/types.ts";
import {
  applyWrites,
  checkBatch,
  clearValues,
  counterHash,
  counterSeqKey,
  deleteValue,
  syncBatch,
  toConditionalWrites,
  toWrites,
  type Write,
} from "./_remote.ts";
import type {
  ConditionalEntry,
  ConditionalResult,
  Counter,
  CounterEntry,
  KeyedConditionalResult,
} from "./types.ts";

/** Options for {@linkcode LaxCounter}. */
export interface LaxCounterOptions {
  /** Namespace of the counters (a valid key); shared with a `StrictCounter` of the same prefix. */
  prefix: string;
  /**
   * A {@linkcode Store}, or a connected client of node-redis 5/6, ioredis 5/6, iovalkey, Valkey
   * GLIDE 2 or Bun (one shared `RedisStore` per client).
   */
  store: StoreLike;
  /**
   * The longest a change waits in memory before its flush starts, and how long a value read from
   * the store is served from memory. From 1 to 60 000.
   * @default {20}
   */
  allowedLagMs?: number | undefined;
  /**
   * How long `close()` keeps trying its final flush (at most 3 attempts, with backoff), ms, from
   * 1 to 60 000. A store call still unanswered then is abandoned, and `close()` rejects with a
   * `StoreError` saying how many keys were not written.
   * @default {5000}
   */
  closeTimeoutMs?: number | undefined;
  /**
   * Called with background failures: a flush that failed (it is retried with backoff) or a delta
   * the store refused because the total would leave the safe-integer range (it is dropped).
   */
  onError?: ((error: DistkitError) => void) | undefined;
}

/** What this process knows of one counter. */
interface Entry extends Tracked {
  /** The store's value at the last sync (it includes every acknowledged delta). */
  base: number | undefined;
  /** Delta sent in the unacknowledged batch. */
  inflight: number;
  /** Delta not sent yet. */
  pending: number;
}

/**
 * Counters for hot paths: `inc` touches only memory (on a warm key); changes are flushed at most
 * `allowedLagMs` after the first one, one script call per flush, exactly once even when a reply is
 * lost and the flush is resent. `set`, `del`, `clear` and the conditional forms reach the store
 * before they resolve. Buffering continues through a store outage; `close()` flushes.
 *
 * @example Count hits without a round trip per hit
 * ```ts
 * import { LaxCounter, MemoryStore } from "../mod.ts";
 * await using hits = new LaxCounter({ prefix: "hits", store: new MemoryStore() });
 * await hits.inc("home");
 * await hits.inc("home");
 * console.assert(await hits.get("home") === 2);
 * ```
 */
export class LaxCounter implements Counter, AsyncDisposable {
  /** The namespace. */
  readonly prefix: string;
  /** This writer's id (its flushes carry it with a sequence number). */
  readonly instanceId: string = newId();
  /** The flush lag, ms. */
  readonly allowedLagMs: number;
  /** The final flush's budget in `close()`, ms. */
  readonly closeTimeoutMs: number;
  #store: Store;
  #hash: string;
  #seqKey: string;
  #engine: WriteBehind<Entry, number, number>;

  /**
   * Creates the counter (no I/O, no timer until used).
   * @param options prefix, store, lag and error callback
   * @throws {InvalidKeyError} if the prefix is invalid
   * @throws {InvalidArgumentError} if `allowedLagMs` is out of range or the store is unusable
   */
  constructor(options: LaxCounterOptions) {
    this.prefix = validateKey(options?.prefix, "Prefix");
    this.allowedLagMs = intInRange(options.allowedLagMs ?? 20, "allowedLagMs", 1, 60_000);
    this.closeTimeoutMs = intInRange(
      options.closeTimeoutMs ?? CLOSE_TIMEOUT_MS,
      "closeTimeoutMs",
      1,
      60_000,
    );
    this.#store = toStore(options.store);
    this.#hash = counterHash(this.prefix);
    this.#seqKey = counterSeqKey(this.prefix, this.instanceId);
    this.#engine = new WriteBehind<Entry, number, number>({
      what: "LaxCounter",
      flushIntervalMs: this.allowedLagMs,
      allowedLagMs: this.allowedLagMs,
      closeTimeoutMs: this.closeTimeoutMs,
      onError: options.onError ?? (() => {}),
      sink: {
        create: () => ({ base: undefined, inflight: 0, pending: 0, syncedAt: -Infinity, pins: 0 }),
        settled: (e) => e.pending === 0 && e.inflight === 0,
        known: (e) => e.base !== undefined,
        take: (e) => {
          if (e.pending === 0) return undefined;
          const delta = e.pending;
          e.inflight += delta;
          e.pending = 0;
          return delta;
        },
        acknowledge: (e, delta) => void (e.inflight -= delta),
        learn: (e, value) => void (e.base = value),
        send: (seq, writes, reads) =>
          syncBatch(this.#store, [this.#hash, this.#seqKey], { seq, writes, reads }),
      },
    });
  }

  /** Number of keys with changes not yet acknowledged by the store. */
  get pending(): number {
    return this.#engine.pending;
  }

  #view(e: Entry): number {
    return (e.base ?? 0) + e.inflight + e.pending;
  }

  #add(key: string, e: Entry, n: number): number {
    const value = this.#view(e) + n;
    if (!Number.isSafeInteger(value)) {
      throw new CounterOverflowError(
        `${key}: ${this.#view(e)} + ${n} leaves the safe-integer range`,
      );
    }
    e.pending += n;
    this.#engine.touch(key);
    return value;
  }

  /** Settles every earlier change, then runs an absolute operation and records its values. */
  #absolute<T extends { key: string; value: number }>(
    op: () => Promise<T[]>,
  ): Promise<T[]> {
    return this.#engine.exclusive(async () => {
      const results = await op();
      // Changes made meanwhile stay pending on top.
      for (const r of results) this.#engine.record(r.key, r.value);
      return results;
    });
  }

  // ---------------------------------------------------------------- Counter

  /**
   * Adds `n` in memory and returns the new local value. A cold key (never read, or idle for
   * longer than the lag) is flushed and read back first, in one call. During a store outage the
   * change stays buffered and the local view is returned.
   * @param key the counter
   * @param n a safe integer, may be negative
   * @returns the new value as this process sees it
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(await c.inc("k", 5) === 5);
   * ```
   */
  async inc(key: string, n = 1): Promise<number> {
    const e = this.#engine.validEntry(key);
    if (n !== 1) safeInt(n, "n");
    return await this.#engine.write(key, e, (e) => this.#add(key, e, n), (e) => this.#view(e));
  }

  /**
   * Subtracts `n`; see {@linkcode LaxCounter.inc}.
   * @param key the counter
   * @param n a safe integer
   * @returns the new value as this process sees it
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(await c.dec("k", 2) === -2);
   * ```
   */
  async dec(key: string, n = 1): Promise<number> {
    return await this.inc(key, -safeInt(n, "n"));
  }

  /**
   * The value as this process sees it: from memory when warm, else read from the store.
   * @param key the counter
   * @returns its value
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(await c.get("k") === 0);
   * ```
   */
  async get(key: string): Promise<number> {
    return this.#view(await this.#engine.get(key));
  }

  /**
   * Overwrites the value in the store, after settling this process's earlier changes.
   * @param key the counter
   * @param value a safe integer
   * @returns `value`
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 5);
   * console.assert(await c.set("k", 20) === 20);
   * ```
   */
  async set(key: string, value: number): Promise<number> {
    const [[, v]] = await this.setAll([[key, value]]) as [[string, number]];
    return v;
  }

  /**
   * Removes the counter from the store after settling this process's changes to it.
   * @param key the counter
   * @returns its value before deletion, this process's unflushed changes included
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 10);
   * console.assert(await c.del("k") === 10);
   * ```
   */
  async del(key: string): Promise<number> {
    validateKey(key);
    this.#engine.open();
    const [r] = await this.#absolute(async () => {
      const before = await deleteValue(this.#store, this.#hash, key);
      return [{ key, value: 0, before }];
    });
    return r!.before;
  }

  /**
   * Removes every counter under this prefix, after settling this process's earlier changes.
   * @returns when the store is cleared
   * @throws {ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.clear();
   * console.assert(await c.get("k") === 0);
   * ```
   */
  async clear(): Promise<void> {
    this.#engine.open();
    await this.#absolute(async () => {
      await clearValues(this.#store, this.#hash);
      return this.#engine.keys().map((key) => ({ key, value: 0 }));
    });
  }

  /**
   * Adds `n` when `cmp` matches the store's value, atomically in the store (after settling this
   * process's changes).
   * @param key the counter
   * @param cmp the condition
   * @param n a safe integer
   * @returns the new value, the value compared, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.incIf("k", Comparator.eq(0), 1)).matched);
   * ```
   */
  async incIf(key: string, cmp: Comparator, n: number): Promise<ConditionalResult> {
    const [r] = await this.incAllIf([[key, cmp, n]]);
    return { value: r!.value, previous: r!.previous, matched: r!.matched };
  }

  /**
   * Sets `value` when `cmp` matches the store's value, atomically in the store.
   * @param key the counter
   * @param cmp the condition
   * @param value a safe integer
   * @returns the new value, the value compared, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(!(await c.setIf("k", Comparator.gt(0), 5)).matched);
   * ```
   */
  async setIf(key: string, cmp: Comparator, value: number): Promise<ConditionalResult> {
    const [r] = await this.setAllIf([[key, cmp, value]]);
    return { value: r!.value, previous: r!.previous, matched: r!.matched };
  }

  /**
   * Values of several counters, in input order; cold keys are read in one call.
   * @param keys the counters
   * @returns `[key, value]` pairs
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.getAll(["a", "b"])).length === 2);
   * ```
   */
  async getAll(keys: readonly string[]): Promise<Array<[string, number]>> {
    validateKeys(keys);
    checkBatch(keys, "keys");
    this.#engine.open();
    const held = await this.#engine.read(keys);
    return keys.map((k, i) => [k, this.#view(held[i]!)]);
  }

  /**
   * Several increments in memory, like {@linkcode LaxCounter.inc}; all are validated first.
   * @param entries `[key, n]` pairs
   * @returns `[key, new local value]` pairs, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * const r = await c.incAll([["k", 1], ["k", 2]]);
   * console.assert(r[1]![1] === 3);
   * ```
   */
  async incAll(entries: readonly CounterEntry[]): Promise<Array<[string, number]>> {
    const writes = toWrites("inc", entries);
    this.#engine.open();
    return await this.#engine.hold(writes.map((w) => w.key), (held) => this.#incAll(writes, held));
  }

  async #incAll(writes: Write[], held: Entry[]): Promise<Array<[string, number]>> {
    // Validate the whole batch against the local view before changing anything.
    const sums = new Map<string, number>();
    const starts = new Map<string, number>();
    const entries = new Map<string, Entry>();
    writes.forEach((w, i) => {
      const e = held[i]!;
      if (!starts.has(w.key)) starts.set(w.key, this.#view(e));
      entries.set(w.key, e);
      const v = (sums.get(w.key) ?? this.#view(e)) + w.amount;
      if (!Number.isSafeInteger(v)) {
        throw new CounterOverflowError(`${w.key}: the batch leaves the safe-integer range`);
      }
      sums.set(w.key, v);
    });
    const cold = writes.filter((w, i) => !this.#engine.isWarm(w.key, held[i]!)).map((w) => w.key);
    const out: Array<[string, number]> = writes.map((w, i) => [
      w.key,
      this.#add(w.key, held[i]!, w.amount),
    ]);
    if (cold.length === 0) return out;
    try {
      await this.#engine.sync(cold);
    } catch {
      return out;
    }
    // Cold keys learned the store's value: report each entry on top of it, in order.
    const running = new Map<string, number>();
    for (const [k, sum] of sums) {
      running.set(k, this.#view(entries.get(k)!) - (sum - starts.get(k)!));
    }
    return writes.map((w) => {
      const v = running.get(w.key)! + w.amount;
      running.set(w.key, v);
      return [w.key, v];
    });
  }

  /**
   * Several sets in the store as one atomic step, after settling this process's earlier changes.
   * @param entries `[key, value]` pairs
   * @returns `[key, value]` pairs, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 5);
   * await c.setAll([["k", 20]]);
   * console.assert(await c.get("k") === 20);
   * ```
   */
  async setAll(entries: readonly CounterEntry[]): Promise<Array<[string, number]>> {
    const writes = toWrites("set", entries);
    this.#engine.open();
    return (await this.#apply(writes)).map((r) => [r.key, r.value]);
  }

  /**
   * Several conditional increments in the store as one atomic step, after settling this
   * process's changes.
   * @param entries `[key, comparator, n]` triples
   * @returns one result per entry, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.incAllIf([["k", Comparator.ge(0), 3]]);
   * console.assert(r!.value === 3);
   * ```
   */
  async incAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedConditionalResult[]> {
    const writes = toConditionalWrites("inc", entries);
    this.#engine.open();
    return await this.#apply(writes);
  }

  /**
   * Several conditional sets in the store as one atomic step, after settling this process's
   * changes.
   * @param entries `[key, comparator, value]` triples
   * @returns one result per entry, in input order
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.setAllIf([["k", Comparator.eq(0), 9]]);
   * console.assert(r!.matched);
   * ```
   */
  async setAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedConditionalResult[]> {
    const writes = toConditionalWrites("set", entries);
    this.#engine.open();
    return await this.#apply(writes);
  }

  #apply(writes: Write[]): Promise<KeyedConditionalResult[]> {
    if (writes.length === 0) return Promise.resolve([]);
    return this.#absolute(() => applyWrites(this.#store, this.#hash, writes));
  }

  /**
   * Pushes every pending change to the store now.
   * @returns when the store has acknowledged them
   * @throws {StoreError} if the store cannot be reached (the changes stay buffered and retried)
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.flush();
   * console.assert(c.pending === 0);
   * ```
   */
  async flush(): Promise<void> {
    await this.#engine.flush();
  }

  /**
   * Flushes, then stops: later calls throw `ClosedError`. The final flush is tried at most 3
   * times within `closeTimeoutMs`; it settles in that time even if the store never answers.
   * @returns when the final flush is acknowledged
   * @throws {StoreError} if changes could not be written: its message says how many keys (the
   * counter is closed anyway, its timer stopped)
   * @example
   * ```ts
   * import { LaxCounter, MemoryStore } from "../mod.ts";
   * const c = new LaxCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.close();
   * ```
   */
  async close(): Promise<void> {
    await this.#engine.close();
  }

  /** Same as {@linkcode LaxCounter.close}. @returns when closed */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
