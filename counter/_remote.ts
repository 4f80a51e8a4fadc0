/**
 * Shell functions over the counter scripts: build KEYS/ARGV, run, decode. Shared by the strict
 * and the lax counter, which therefore address the same data.
 *
 * @module
 */
import { toConditionalEntries, toEntries, type ValidEntry } from "../core/entries.ts";
import { encodeKeyPart } from "../core/keys.ts";
import type { Reply, Store } from "../store/types.ts";
import { COUNTER_APPLY, COUNTER_CLEAR, COUNTER_DEL, COUNTER_GET } from "./_scripts.ts";
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
