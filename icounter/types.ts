/**
 * Result shapes and the contract shared by {@linkcode StrictInstanceAwareCounter} and
 * {@linkcode LaxInstanceAwareCounter}.
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import type { ConditionalEntry, CounterEntry } from "../counter/types.ts";

export type { ConditionalEntry, CounterEntry };

/** A key's total over live instances and this instance's slice of it. */
export interface InstanceCount {
  /** The sum of the current slices of every live instance. */
  total: number;
  /** This instance's slice. */
  mine: number;
}

/** The outcome of a conditional instance-aware write. */
export interface InstanceConditionalResult extends InstanceCount {
  /** The total the comparator saw (or would have seen). */
  previousTotal: number;
  /** This instance's slice before the call. */
  previousMine: number;
  /** Whether the comparator matched and the write happened. */
  matched: boolean;
}

/** One entry of a conditional batch result. */
export interface KeyedInstanceConditionalResult extends InstanceConditionalResult {
  /** The entry's key. */
  key: string;
}

/** Options for `close()`. */
export interface InstanceCloseOptions {
  /**
   * Remove this instance's slices from the totals now. With `false` the instance just stops
   * heartbeating, like a crash: its slices leave the totals once `deadInstanceThresholdMs` has
   * passed.
   * @default {true}
   */
  leave?: boolean | undefined;
}

/**
 * Counters whose total is the sum of per-instance slices, where an instance that stops
 * heartbeating drops out of the total (and comes back with its slices if it returns in time).
 *
 * @example
 * ```ts
 * import { MemoryStore, StrictInstanceAwareCounter } from "../mod.ts";
 * import type { InstanceAwareCounter } from "./types.ts";
 * await using c: InstanceAwareCounter = new StrictInstanceAwareCounter({
 *   prefix: "conns",
 *   store: new MemoryStore(),
 * });
 * await c.inc("ws");
 * ```
 */
export interface InstanceAwareCounter extends AsyncDisposable {
  /** This instance's id. */
  readonly instanceId: string;
  /** Adds `n` to my slice. */
  inc(key: string, n?: number): Promise<InstanceCount>;
  /** Subtracts `n` from my slice. */
  dec(key: string, n?: number): Promise<InstanceCount>;
  /** The total and my slice. */
  get(key: string): Promise<InstanceCount>;
  /** Global: the total becomes `value` (my slice), every other slice of the key is void. */
  set(key: string, value: number): Promise<InstanceCount>;
  /** Sets my slice only. */
  setOnInstance(key: string, value: number): Promise<InstanceCount>;
  /** Global: removes the key for every instance; returns total and my slice as they were. */
  del(key: string): Promise<InstanceCount>;
  /** Removes my slice; returns the new total and the slice removed. */
  delOnInstance(key: string): Promise<InstanceCount>;
  /** Global: removes every key of the prefix for every instance. */
  clear(): Promise<void>;
  /** Removes every slice of mine. */
  clearOnInstance(): Promise<void>;
  /** Adds `n` to my slice when `cmp` matches the total. */
  incIf(key: string, cmp: Comparator, n: number): Promise<InstanceConditionalResult>;
  /** Like `set`, when `cmp` matches the total. */
  setIf(key: string, cmp: Comparator, value: number): Promise<InstanceConditionalResult>;
  /** Sets my slice when `cmp` matches my slice. */
  setOnInstanceIf(key: string, cmp: Comparator, value: number): Promise<InstanceConditionalResult>;
  /** Several `get`s, input order. */
  getAll(keys: readonly string[]): Promise<Array<[string, InstanceCount]>>;
  /** Several `inc`s, input order, duplicates in order. */
  incAll(entries: readonly CounterEntry[]): Promise<Array<[string, InstanceCount]>>;
  /** Several `set`s, input order, duplicates in order. */
  setAll(entries: readonly CounterEntry[]): Promise<Array<[string, InstanceCount]>>;
  /** Several `setOnInstance`s, input order, duplicates in order. */
  setAllOnInstance(entries: readonly CounterEntry[]): Promise<Array<[string, InstanceCount]>>;
  /** Several `incIf`s, input order. */
  incAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedInstanceConditionalResult[]>;
  /** Several `setIf`s, input order. */
  setAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedInstanceConditionalResult[]>;
  /** Several `setOnInstanceIf`s, input order. */
  setAllOnInstanceIf(
    entries: readonly ConditionalEntry[],
  ): Promise<KeyedInstanceConditionalResult[]>;
  /** Stops heartbeats; with `leave` (default) removes my slices now. */
  close(options?: InstanceCloseOptions): Promise<void>;
}
