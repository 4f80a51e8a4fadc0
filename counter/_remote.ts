/**
 * Shell functions over the counter scripts: build KEYS/ARGV, run, decode. Shared by the strict
 * and the lax counter, which therefore address the same data.
 *
 * @module
 */
import { toConditionalEntries, toEntries } from "../core/entries.ts";
import { encodeKeyPart } from "../core/keys.ts";
import type { Synced } from "../core/write_behind.ts";
import type { Store } from "../store/types.ts";
import {
  APPLY_WRITES,
  CLEAR_VALUES,
  DELETE_VALUE,
  INC_VALUE,
  READ_VALUES,
  SYNC_BATCH,
  type SyncBatch,
  type Write,
} from "./_scripts.ts";
import type { ConditionalEntry, CounterEntry, KeyedConditionalResult } from "./types.ts";

export { checkBatch, MAX_BATCH } from "../core/entries.ts";
export type { SyncBatch, Write };

/**
 * The hash holding every counter of a prefix: `{<prefix>}:counter`, the prefix encoded (see
 * `encodeKeyPart`); its fields are the user keys themselves.
 */
export function counterHash(prefix: string): string {
  return `{${encodeKeyPart(prefix)}}:counter`;
}

/** A lax writer's flush-sequence key: `{<prefix>}:counter-seq:<instance id>`, both encoded. */
export function counterSeqKey(prefix: string, instanceId: string): string {
  return `{${encodeKeyPart(prefix)}}:counter-seq:${encodeKeyPart(instanceId)}`;
}

/**
 * Runs one `counter_sync` call (see `SYNC_BATCH`). A reply of another shape (a client that
 * handed over another command's reply after a dropped connection) is a failed call, never a
 * source of NaN.
 * @returns one outcome per key, the batch's first
 */
export function syncBatch(
  store: Store,
  keys: readonly [hash: string, seqKey: string],
  batch: SyncBatch,
): Promise<Array<Synced<number>>> {
  return SYNC_BATCH.run(store, keys, batch);
}

/** Validates `[key, n]` entries (all of them, before any I/O). */
export function toWrites(op: "inc" | "set", entries: readonly CounterEntry[]): Write[] {
  return toEntries(op, entries);
}

/** Validates `[key, cmp, n]` entries (all of them, before any I/O). */
export function toConditionalWrites(
  op: "inc" | "set",
  entries: readonly ConditionalEntry[],
): Write[] {
  return toConditionalEntries(op, entries);
}

/** Runs writes atomically; positional results. */
export function applyWrites(
  store: Store,
  hash: string,
  writes: readonly Write[],
): Promise<KeyedConditionalResult[]> {
  if (writes.length === 0) return Promise.resolve([]);
  return APPLY_WRITES.run(store, [hash], writes);
}

/** Reads counters (at most {@linkcode MAX_BATCH}, checked by the caller); positional results. */
export function readValues(store: Store, hash: string, keys: readonly string[]): Promise<number[]> {
  return READ_VALUES.run(store, [hash], keys);
}

/** Adds `n` to one counter; returns its new value. */
export function incValue(store: Store, hash: string, key: string, n: number): Promise<number> {
  return INC_VALUE.run(store, [hash], { key, n });
}

/** Deletes one counter; returns its value before. */
export function deleteValue(store: Store, hash: string, key: string): Promise<number> {
  return DELETE_VALUE.run(store, [hash], key);
}

/** Deletes every counter of the hash. */
export function clearValues(store: Store, hash: string): Promise<void> {
  return CLEAR_VALUES.run(store, [hash], undefined);
}
