/**
 * The `Counter` contract shared by {@linkcode StrictCounter} and {@linkcode LaxCounter}.
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";

/** The outcome of a conditional write (`incIf`, `setIf`). */
export interface ConditionalResult {
  /** The value after the call (unchanged when `matched` is false). */
  value: number;
  /** The value the comparator saw. */
  previous: number;
  /** Whether the comparator matched and the write happened. */
  matched: boolean;
}

/** One entry of a conditional batch result. */
export interface KeyedConditionalResult extends ConditionalResult {
  /** The entry's key. */
  key: string;
}

/** `[key, amount]`: one entry of `incAll` / `setAll`. */
export type CounterEntry = readonly [key: string, amount: number];
/** `[key, comparator, amount]`: one entry of `incAllIf` / `setAllIf`. */
export type ConditionalEntry = readonly [key: string, cmp: Comparator, amount: number];

/**
 * A named set of integer counters under one prefix.
 *
 * @example
 * ```ts
 * import { MemoryStore, StrictCounter } from "../mod.ts";
 * import type { Counter } from "./types.ts";
 * const counter: Counter = new StrictCounter({ prefix: "hits", store: new MemoryStore() });
 * await counter.inc("home");
 * ```
 */
export interface Counter {
  /** Adds `n` (default 1) and returns the new value. */
  inc(key: string, n?: number): Promise<number>;
  /** Subtracts `n` (default 1) and returns the new value. */
  dec(key: string, n?: number): Promise<number>;
  /** The current value (0 when missing). */
  get(key: string): Promise<number>;
  /** Overwrites the value and returns it. */
  set(key: string, value: number): Promise<number>;
  /** Removes the counter and returns its value before deletion (0 when missing). */
  del(key: string): Promise<number>;
  /** Removes every counter under this prefix. */
  clear(): Promise<void>;
  /** Adds `n` when `cmp` matches the current value. */
  incIf(key: string, cmp: Comparator, n: number): Promise<ConditionalResult>;
  /** Sets `value` when `cmp` matches the current value. */
  setIf(key: string, cmp: Comparator, value: number): Promise<ConditionalResult>;
  /** Values of several counters, in input order. */
  getAll(keys: readonly string[]): Promise<Array<[string, number]>>;
  /** Several increments in one atomic step, in input order (duplicates apply in order). */
  incAll(entries: readonly CounterEntry[]): Promise<Array<[string, number]>>;
  /** Several sets in one atomic step, in input order. */
  setAll(entries: readonly CounterEntry[]): Promise<Array<[string, number]>>;
  /** Several conditional increments in one atomic step, in input order. */
  incAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedConditionalResult[]>;
  /** Several conditional sets in one atomic step, in input order. */
  setAllIf(entries: readonly ConditionalEntry[]): Promise<KeyedConditionalResult[]>;
}
