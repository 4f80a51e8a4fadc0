/**
 * `LaxInstanceAwareCounter`: increments and slice writes land in memory and reach the store in
 * batches, exactly once; global operations settle them first.
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import { CounterOverflowError, type DistkitError, StoreError } from "../core/errors.ts";
import { intInRange, safeInt } from "../core/int.ts";
import { CLOSE_TIMEOUT_MS, within } from "../core/final_flush.ts";
import { type Synced, type Tracked, WriteBehind } from "../core/write_behind.ts";
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

/** Options for {@linkcode LaxInstanceAwareCounter}. */
export interface LaxInstanceAwareCounterOptions {
  /** Namespace of the counters (a valid key); shared with a strict instance-aware counter. */
  prefix: string;
  /**
   * A {@linkcode Store}, or a connected client of node-redis 5/6, ioredis 5/6, iovalkey, Valkey
   * GLIDE 2 or Bun (one shared `RedisStore` per client).
   */
  store: StoreLike;
  /**
   * An instance that has not heartbeated for this long (server time) is dead. Heartbeats run
   * every third of it. At least 150.
   * @default {30000}
   */
  deadInstanceThresholdMs?: number | undefined;
  /** The longest a change waits in memory before its flush starts, ms (1 to 60 000). @default {20} */
  flushIntervalMs?: number | undefined;
  /** How long a value read from the store is served from memory, ms (1 to 60 000). @default {20} */
  allowedLagMs?: number | undefined;
  /** This instance's id (a valid key). @default a UUID v7 */
  instanceId?: string | undefined;
  /**
   * How long `close()` may take, ms (1 to 60 000): its final flush (at most 3 attempts, with
   * backoff) and leaving. A store call still unanswered then is abandoned, and `close()` rejects
   * with a `StoreError` (saying how many keys were not written, if any).
   * @default {5000}
   */
  closeTimeoutMs?: number | undefined;
  /** Called with background failures (a flush or heartbeat that failed is retried). */
  onError?: ((error: DistkitError) => void) | undefined;
}

/** A slice write sent in a batch. */
interface SliceWrite {
  op: "inc" | "seti";
  amount: number;
}

/** What this process knows of one key. */
interface Local extends Tracked {
  /** The store's total and my slice at the last sync (undefined: never read). */
  total: number | undefined;
  mine: number;
  /** The write sent in the unacknowledged batch. */
  inflight: SliceWrite | undefined;
  /** A slice value set locally and not sent yet (pending deltas apply on top). */
  pendingSet: number | undefined;
  pending: number;
}

const now = (): number => performance.now();
const count = (r: EntryResult): InstanceCount => ({ total: r.total, mine: r.mine });
const conditional = (r: EntryResult): InstanceConditionalResult => ({
  total: r.total,
  mine: r.mine,
  previousTotal: r.previousTotal,
  previousMine: r.previousMine,
  matched: r.matched,
});

/**
 * Instance-aware counters for hot paths: `inc`, `dec`, `get`, `setOnInstance` (and their batch
 * forms `incAll`, `getAll`, `setAllOnInstance`) are served from memory when the key is warm, and
 * flushed at most `flushIntervalMs` later, exactly once (each flush carries this instance's id and
 * a sequence number). Global and conditional operations settle pending changes first and are
 * atomic in the store. `close()` flushes.
 *
 * @example Live sessions per node, cheap to bump
 * ```ts
 * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
 * await using c = new LaxInstanceAwareCounter({ prefix: "sessions", store: new MemoryStore() });
 * await c.inc("eu");
 * await c.inc("eu");
 * console.assert((await c.get("eu")).mine === 2);
 * ```
 */
export class LaxInstanceAwareCounter implements InstanceAwareCounter {
  /** The flush lag, ms. */
  readonly flushIntervalMs: number;
  /** The read cache lifetime, ms. */
  readonly allowedLagMs: number;
  /** The budget of `close()`, ms. */
  readonly closeTimeoutMs: number;
  #core: InstanceCore;
  #engine: WriteBehind<Local, SliceWrite, EntryResult>;

  /**
   * Creates the counter; heartbeats start in the background (no I/O before that).
   * @param options prefix, store, threshold, flush interval, cache lag, id, error callback
   * @throws {InvalidKeyError} if the prefix or the instance id is invalid
   * @throws {InvalidArgumentError} if an option is out of range or the store is unusable
   */
  constructor(options: LaxInstanceAwareCounterOptions) {
    const flush = intInRange(options?.flushIntervalMs ?? 20, "flushIntervalMs", 1, 60_000);
    const lag = intInRange(options?.allowedLagMs ?? 20, "allowedLagMs", 1, 60_000);
    const closeMs = intInRange(
      options?.closeTimeoutMs ?? CLOSE_TIMEOUT_MS,
      "closeTimeoutMs",
      1,
      60_000,
    );
    this.#core = new InstanceCore(options, "LaxInstanceAwareCounter");
    this.flushIntervalMs = flush;
    this.allowedLagMs = lag;
    this.closeTimeoutMs = closeMs;
    this.#engine = new WriteBehind<Local, SliceWrite, EntryResult>({
      what: "LaxInstanceAwareCounter",
      flushIntervalMs: flush,
      allowedLagMs: lag,
      closeTimeoutMs: closeMs,
      onError: options.onError ?? (() => {}),
      sink: {
        create: () => ({
          total: undefined,
          mine: 0,
          syncedAt: -Infinity,
          inflight: undefined,
          pendingSet: undefined,
          pending: 0,
          pins: 0,
        }),
        settled: (e) => e.inflight === undefined && e.pendingSet === undefined && e.pending === 0,
        known: (e) => e.total !== undefined,
        take: (e) => {
          if (e.pendingSet !== undefined) {
            e.inflight = { op: "seti", amount: e.pendingSet + e.pending };
          } else if (e.pending !== 0) {
            e.inflight = { op: "inc", amount: e.pending };
          } else return undefined;
          e.pendingSet = undefined;
          e.pending = 0;
          return e.inflight;
        },
        acknowledge: (e) => void (e.inflight = undefined),
        learn: (e, r) => {
          e.total = r.total;
          e.mine = r.mine;
        },
        send: (seq, writes, reads) => this.#send(seq, writes, reads),
      },
    });
    this.#core.onRestored = (r) => this.#engine.record(r.key, r);
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

  /** Number of keys with changes not yet acknowledged by the store. */
  get pending(): number {
    return this.#engine.pending;
  }

  /** One lenient apply call: the batch's slice writes under `seq`, then reads of `reads`. */
  async #send(
    seq: number,
    writes: ReadonlyArray<readonly [string, SliceWrite]>,
    reads: readonly string[],
  ): Promise<Array<Synced<EntryResult>>> {
    const entries: Entry[] = [
      ...writes.map(([key, w]): Entry => ({ op: w.op, key, amount: w.amount })),
      ...reads.map((key): Entry => ({ op: "get", key, amount: 0 })),
    ];
    const { results } = await this.#core.apply(entries, { seq, lenient: true });
    return results.map((r) => ({ value: r, dropped: !r.matched }));
  }

  #view(e: Local): InstanceCount {
    let mine = e.mine;
    if (e.inflight !== undefined) {
      mine = e.inflight.op === "inc" ? mine + e.inflight.amount : e.inflight.amount;
    }
    if (e.pendingSet !== undefined) mine = e.pendingSet;
    mine += e.pending;
    return { total: (e.total ?? 0) + mine - e.mine, mine };
  }

  #add(key: string, e: Local, n: number): InstanceCount {
    const v = this.#view(e);
    const total = v.total + n;
    const mine = v.mine + n;
    if (!Number.isSafeInteger(total) || !Number.isSafeInteger(mine)) {
      throw new CounterOverflowError(`${key}: ${v.total} + ${n} leaves the safe-integer range`);
    }
    e.pending += n;
    this.#engine.touch(key);
    return { total, mine };
  }

  #setMine(key: string, e: Local, value: number): InstanceCount {
    const v = this.#view(e);
    if (!Number.isSafeInteger(v.total - v.mine + value)) {
      throw new CounterOverflowError(`${key}: setting ${value} leaves the safe-integer range`);
    }
    e.pendingSet = value;
    e.pending = 0;
    this.#engine.touch(key);
    return { total: v.total - v.mine + value, mine: value };
  }

  /** Settles every earlier change, then runs entries atomically in the store. */
  #absolute(entries: Entry[]): Promise<EntryResult[]> {
    this.#core.open();
    if (entries.length === 0) return Promise.resolve([]);
    return this.#engine.exclusive(async () => {
      const { results } = await this.#core.apply(entries);
      for (const r of results) this.#engine.record(r.key, r);
      return results;
    });
  }

  // ---------------------------------------------------------------- memory-first operations

  /**
   * Adds `n` to my slice in memory (a cold key is flushed and read back first, in one call).
   * @param key the counter
   * @param n a safe integer, may be negative
   * @returns the total and my slice as this process sees them
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.inc("k", 5)).mine === 5);
   * ```
   */
  async inc(key: string, n = 1): Promise<InstanceCount> {
    const e = this.#engine.validEntry(key);
    if (n !== 1) safeInt(n, "n");
    return await this.#engine.write(key, e, (e) => this.#add(key, e, n), (e) => this.#view(e));
  }

  /**
   * Subtracts `n` from my slice; see {@linkcode LaxInstanceAwareCounter.inc}.
   * @param key the counter
   * @param n a safe integer
   * @returns the total and my slice as this process sees them
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.dec("k", 3)).mine === -3);
   * ```
   */
  async dec(key: string, n = 1): Promise<InstanceCount> {
    return await this.inc(key, -safeInt(n, "n"));
  }

  /**
   * The total and my slice: from memory when warm (no store call), else read from the store.
   * @param key the counter
   * @returns total and mine as this process sees them
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.get("k")).total === 0);
   * ```
   */
  async get(key: string): Promise<InstanceCount> {
    return this.#view(await this.#engine.get(key));
  }

  /**
   * Sets my slice in memory (flushed like an increment; it stays `value` even if another
   * instance resets the key before the flush).
   * @param key the counter
   * @param value a safe integer
   * @returns the total and `value`, as this process sees them
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 10);
   * console.assert((await c.setOnInstance("k", 7)).total === 7);
   * ```
   */
  async setOnInstance(key: string, value: number): Promise<InstanceCount> {
    const [[, r]] = await this.setAllOnInstance([[key, value]]) as [[string, InstanceCount]];
    return r;
  }

  /**
   * Several reads: warm keys from memory, cold ones from the store in one call.
   * @param keys the counters (at most 1000)
   * @returns `[key, { total, mine }]` pairs, input order
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.getAll(["a", "b"])).length === 2);
   * ```
   */
  async getAll(keys: readonly string[]): Promise<Array<[string, InstanceCount]>> {
    const ks = toKeys(keys);
    this.#core.open();
    const held = await this.#engine.read(ks);
    return ks.map((k, i) => [k, this.#view(held[i]!)]);
  }

  /**
   * Several increments in memory, in order; all are validated first.
   * @param entries `[key, n]` pairs (at most 1000)
   * @returns `[key, { total, mine }]` pairs as this process sees them, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const r = await c.incAll([["k", 1], ["k", 2]]);
   * console.assert(r[1]![1].mine === 3);
   * ```
   */
  async incAll(entries: readonly CounterEntry[]): Promise<Array<[string, InstanceCount]>> {
    return await this.#applyLocally(toEntries("inc", entries));
  }

  /**
   * Several slice sets in memory, in order; all are validated first.
   * @param entries `[key, value]` pairs (at most 1000)
   * @returns `[key, { total, mine }]` pairs as this process sees them, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const r = await c.setAllOnInstance([["a", 7], ["b", 3]]);
   * console.assert(r[0]![1].mine === 7);
   * ```
   */
  async setAllOnInstance(
    entries: readonly CounterEntry[],
  ): Promise<Array<[string, InstanceCount]>> {
    return await this.#applyLocally(toEntries("seti", entries));
  }

  /** Applies inc/seti entries in memory (validated against the local view first). */
  #applyLocally(entries: Entry[]): Promise<Array<[string, InstanceCount]>> {
    this.#core.open();
    const engine = this.#engine;
    // Held across the read of the cold ones: an entry the sweep dropped meanwhile reads as 0.
    return engine.hold(entries.map((w) => w.key), async (held) => {
      const cold = entries.filter((w, i) => !engine.isWarm(w.key, held[i]!)).map((w) => w.key);
      if (cold.length > 0) {
        // Learn the store's values first, so the results are right; a failure leaves them local.
        await engine.sync(cold).catch(() => {});
      }
      // Dry run: nothing changes unless every entry stays in range.
      const sim = new Map<string, InstanceCount>();
      entries.forEach((w, i) => {
        const v = sim.get(w.key) ?? this.#view(held[i]!);
        const mine = w.op === "inc" ? v.mine + w.amount : w.amount;
        const total = v.total - v.mine + mine;
        if (!Number.isSafeInteger(mine) || !Number.isSafeInteger(total)) {
          throw new CounterOverflowError(`${w.key}: the batch leaves the safe-integer range`);
        }
        sim.set(w.key, { total, mine });
      });
      return entries.map((w, i) => [
        w.key,
        w.op === "inc"
          ? this.#add(w.key, held[i]!, w.amount)
          : this.#setMine(w.key, held[i]!, w.amount),
      ]);
    });
  }

  // ---------------------------------------------------------------- settled, atomic operations

  /**
   * Global: settles pending changes, then the total becomes `value` (my slice); every other
   * instance's slice of the key is void.
   * @param key the counter
   * @param value a safe integer
   * @returns `{ total: value, mine: value }`
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 5);
   * console.assert((await c.set("k", 20)).total === 20);
   * ```
   */
  async set(key: string, value: number): Promise<InstanceCount> {
    return count((await this.#absolute([one("set", key, value, "value")]))[0]!);
  }

  /**
   * Global: settles pending changes, then removes the key for every instance.
   * @param key the counter
   * @returns the total and my slice as they were before
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 5);
   * console.assert((await c.del("k")).total === 5);
   * ```
   */
  async del(key: string): Promise<InstanceCount> {
    const [r] = await this.#absolute([one("del", key, 0, "n")]);
    return { total: r!.previousTotal, mine: r!.previousMine };
  }

  /**
   * Settles pending changes, then removes my slice of the key.
   * @param key the counter
   * @returns the new total and the slice removed
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 5);
   * console.assert((await c.delOnInstance("k")).mine === 5);
   * ```
   */
  async delOnInstance(key: string): Promise<InstanceCount> {
    const [r] = await this.#absolute([one("delo", key, 0, "n")]);
    return { total: r!.total, mine: r!.previousMine };
  }

  /**
   * Global: settles pending changes, then removes every key of the prefix for every instance.
   * @returns when done
   * @throws {ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.clear();
   * console.assert((await c.get("k")).total === 0);
   * ```
   */
  async clear(): Promise<void> {
    this.#core.open();
    await this.#engine.exclusive(async () => {
      await this.#core.clear();
      this.#forget(true);
    });
  }

  /**
   * Settles pending changes, then removes every slice of mine.
   * @returns when done
   * @throws {ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 4);
   * await c.clearOnInstance();
   * console.assert((await c.get("k")).mine === 0);
   * ```
   */
  async clearOnInstance(): Promise<void> {
    this.#core.open();
    await this.#engine.exclusive(async () => {
      await this.#core.drop(false);
      this.#forget(false);
    });
  }

  /**
   * Drops cached bases after `clear` (every total is now 0) or `clearOnInstance` (my slices are
   * gone); changes made meanwhile stay pending on top.
   */
  #forget(cleared: boolean): void {
    this.#engine.invalidate((e) => {
      e.total = cleared ? 0 : (e.total ?? 0) - e.mine;
      e.mine = 0;
    });
  }

  /**
   * Settles pending changes, then adds `n` to my slice when `cmp` matches the total, atomically
   * in the store.
   * @param key the counter
   * @param cmp the condition on the total
   * @param n a safe integer
   * @returns the new and previous total and slice, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.incIf("k", Comparator.eq(0), 1)).matched);
   * ```
   */
  async incIf(key: string, cmp: Comparator, n: number): Promise<InstanceConditionalResult> {
    return conditional((await this.#absolute([oneIf("inc", key, cmp, n, "n")]))[0]!);
  }

  /**
   * Settles pending changes, then sets the total (globally) when `cmp` matches it, atomically.
   * @param key the counter
   * @param cmp the condition on the total
   * @param value a safe integer
   * @returns the new and previous total and slice, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert((await c.setIf("k", Comparator.eq(0), 9)).total === 9);
   * ```
   */
  async setIf(key: string, cmp: Comparator, value: number): Promise<InstanceConditionalResult> {
    return conditional((await this.#absolute([oneIf("set", key, cmp, value, "value")]))[0]!);
  }

  /**
   * Settles pending changes, then sets my slice when `cmp` matches it, atomically.
   * @param key the counter
   * @param cmp the condition on my slice
   * @param value a safe integer
   * @returns the new and previous total and slice, and whether it matched
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * console.assert(!(await c.setOnInstanceIf("k", Comparator.eq(1), 9)).matched);
   * ```
   */
  async setOnInstanceIf(
    key: string,
    cmp: Comparator,
    value: number,
  ): Promise<InstanceConditionalResult> {
    return conditional((await this.#absolute([oneIf("seti", key, cmp, value, "value")]))[0]!);
  }

  /**
   * Settles pending changes, then several global sets as one atomic call, in order.
   * @param entries `[key, value]` pairs (at most 1000)
   * @returns `[key, { total, mine }]` pairs, input order
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k", 5);
   * await c.setAll([["k", 20]]);
   * await c.flush();
   * console.assert((await c.get("k")).total === 20);
   * ```
   */
  async setAll(entries: readonly CounterEntry[]): Promise<Array<[string, InstanceCount]>> {
    return (await this.#absolute(toEntries("set", entries))).map((r) => [r.key, count(r)]);
  }

  /**
   * Settles pending changes, then several conditional increments as one atomic call, in order.
   * @param entries `[key, comparator, n]` triples (at most 1000)
   * @returns one result per entry, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.incAllIf([["k", Comparator.ge(0), 2]]);
   * console.assert(r!.total === 2);
   * ```
   */
  async incAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedInstanceConditionalResult[]> {
    return (await this.#absolute(toConditionalEntries("inc", entries))).map((r) => ({
      key: r.key,
      ...conditional(r),
    }));
  }

  /**
   * Settles pending changes, then several conditional global sets as one atomic call, in order.
   * @param entries `[key, comparator, value]` triples (at most 1000)
   * @returns one result per entry, input order
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.setAllIf([["k", Comparator.eq(0), 5]]);
   * console.assert(r!.matched);
   * ```
   */
  async setAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedInstanceConditionalResult[]> {
    return (await this.#absolute(toConditionalEntries("set", entries))).map((r) => ({
      key: r.key,
      ...conditional(r),
    }));
  }

  /**
   * Settles pending changes, then several conditional slice sets as one atomic call, in order.
   * @param entries `[key, comparator, value]` triples (at most 1000)
   * @returns one result per entry, input order
   * @throws {InvalidKeyError | InvalidArgumentError | CounterOverflowError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * const [r] = await c.setAllOnInstanceIf([["k", Comparator.eq(0), 3]]);
   * console.assert(r!.mine === 3);
   * ```
   */
  async setAllOnInstanceIf(
    entries: readonly ConditionalEntry[],
  ): Promise<KeyedInstanceConditionalResult[]> {
    return (await this.#absolute(toConditionalEntries("seti", entries))).map((r) => ({
      key: r.key,
      ...conditional(r),
    }));
  }

  /**
   * Pushes every pending change to the store now.
   * @returns when the store has acknowledged them
   * @throws {StoreError} if the store cannot be reached (the changes stay buffered and retried)
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * await using c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.flush();
   * console.assert(c.pending === 0);
   * ```
   */
  async flush(): Promise<void> {
    await this.#engine.flush();
  }

  /**
   * Flushes, stops heartbeats and, with `leave` (the default), removes my slices from the totals
   * now; with `leave: false` they stay until the threshold passes, as after a crash. All of it
   * settles within `closeTimeoutMs`, even if the store never answers; the final flush is tried at
   * most 3 times. When it fails, the instance does not leave (the store is unreachable): its
   * slices drop out of the totals once the threshold passes.
   * @param options `leave`
   * @returns when done
   * @throws {StoreError} if changes could not be written (its message says how many keys) or
   * leaving failed (the counter is closed anyway, its timers stopped)
   * @example
   * ```ts
   * import { LaxInstanceAwareCounter, MemoryStore } from "../mod.ts";
   * const c = new LaxInstanceAwareCounter({ prefix: "p", store: new MemoryStore() });
   * await c.inc("k");
   * await c.close({ leave: false });
   * ```
   */
  async close(options: InstanceCloseOptions = {}): Promise<void> {
    const stopped = this.#core.stop(); // later calls throw ClosedError; no more heartbeats
    const leave = options.leave ?? true;
    await this.#engine.close((deadline) => this.#leave(stopped, leave, deadline));
  }

  /** After the final flush: waits for calls in flight, then leaves (with `leave`) by `deadline`. */
  async #leave(stopped: Promise<void>, leave: boolean, deadline: number): Promise<void> {
    // A heartbeat or a read still in flight first: leaving must be the last call.
    const settled = within(Promise.all([stopped, this.#engine.idle()]), deadline - now());
    if ((await settled).status === "timeout" && leave) {
      throw new StoreError(`LaxInstanceAwareCounter.close(): the store did not answer in time`);
    }
    if (!leave) return;
    const left = await within(this.#core.drop(true), deadline - now());
    if (left.status === "timeout") {
      throw new StoreError(
        `LaxInstanceAwareCounter.close(): leaving took longer than ${this.closeTimeoutMs} ms`,
      );
    }
    if (left.status === "rejected") {
      const e = left.reason;
      throw e instanceof StoreError ? e : new StoreError("Leaving failed", e);
    }
  }

  /** Same as `close()` (leaving). @returns when closed */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
