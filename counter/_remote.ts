/**
 * Shell functions over the counter scripts: build KEYS/ARGV, run, decode. Shared by the strict
 * and the lax counter, which therefore address the same data.
 *
 * @module
 */
import { toConditionalEntries, toEntries, type ValidEntry } from "../core/entries.ts";
import { StoreError } from "../core/errors.ts";
import { encodeKeyPart } from "../core/keys.ts";
import type { Synced } from "../core/write_behind.ts";
import type { Reply, Store } from "../store/types.ts";
import {
  COUNTER_APPLY,
  COUNTER_CLEAR,
  COUNTER_DEL,
  COUNTER_GET,
  COUNTER_SYNC,
} from "./_scripts.ts";
import type { ConditionalEntry, CounterEntry, KeyedConditionalResult } from "./types.ts";

export { checkBatch, MAX_BATCH } from "../core/entries.ts";

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

/** How long the store remembers a lax writer's last applied batch, in ms (24 h). */
const SEQ_TTL_MS = 86_400_000;

/** One lax flush: a batch of deltas under its sequence number (0: none), and keys to read. */
export interface SyncBatch {
  seq: number;
  writes: ReadonlyArray<readonly [string, number]>;
  reads: readonly string[];
}

/**
 * Runs one `counter_sync` call: applies the batch once per sequence number, then reads the
 * batch's keys and `reads`. A reply of another shape (a client that handed over another command's
 * reply after a dropped connection) is a failed call, never a source of NaN.
 * @returns one outcome per key, the batch's first
 */
export async function syncBatch(
  store: Store,
  keys: readonly [hash: string, seqKey: string],
  batch: SyncBatch,
): Promise<Array<Synced<number>>> {
  const { seq, writes, reads } = batch;
  const argv: Array<string | number> = [seq, SEQ_TTL_MS, writes.length];
  for (const [k, delta] of writes) argv.push(k, delta);
  argv.push(...reads);
  const reply = await store.run(COUNTER_SYNC, keys, argv);
  if (
    !Array.isArray(reply) || !Array.isArray(reply[1]) || !Array.isArray(reply[2]) ||
    reply[2].length !== writes.length + reads.length
  ) {
    throw new StoreError(`Unexpected reply from counter_sync: ${JSON.stringify(reply)}`);
  }
  const dropped = new Set(reply[1].map(String));
  return reply[2].map((v, i) => ({
    value: Number(v),
    dropped: i < writes.length && dropped.has(writes[i]![0]),
  }));
}

/** One validated write. */
export type Write = ValidEntry<"inc" | "set">;

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
export async function applyWrites(
  store: Store,
  hash: string,
  writes: readonly Write[],
): Promise<KeyedConditionalResult[]> {
  if (writes.length === 0) return [];
  const argv: Array<string | number> = [];
  for (const w of writes) argv.push(w.op, w.key, w.cmp.op, w.cmp.operand, w.amount);
  const reply = await store.run(COUNTER_APPLY, [hash], argv) as Reply[];
  return writes.map((w, i) => ({
    key: w.key,
    value: Number(reply[3 * i]),
    previous: Number(reply[3 * i + 1]),
    matched: Number(reply[3 * i + 2]) === 1,
  }));
}

/** Reads counters (at most {@linkcode MAX_BATCH}, checked by the caller); positional results. */
export async function readValues(
  store: Store,
  hash: string,
  keys: readonly string[],
): Promise<number[]> {
  const reply = await store.run(COUNTER_GET, [hash], keys) as string[];
  return reply.map(Number);
}

/** Deletes one counter; returns its value before. */
export async function deleteValue(store: Store, hash: string, key: string): Promise<number> {
  return Number(await store.run(COUNTER_DEL, [hash], [key]));
}

/** Deletes every counter of the hash. */
export async function clearValues(store: Store, hash: string): Promise<void> {
  await store.run(COUNTER_CLEAR, [hash], []);
}
