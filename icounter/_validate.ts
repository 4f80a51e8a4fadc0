/**
 * Input validation for the instance-aware counters: every entry of a call is checked before any
 * I/O, so a bad entry applies nothing.
 *
 * @module
 */
import { Comparator, validateComparator } from "../core/comparator.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import { safeInt } from "../core/int.ts";
import { validateKey } from "../core/keys.ts";
import type { ConditionalEntry, CounterEntry } from "../counter/types.ts";
import { type Entry, type EntryOp, MAX_BATCH } from "./_core.ts";

/** Checks a batch's shape and size. */
export function checkBatch(entries: unknown, what: string): void {
  if (!Array.isArray(entries)) throw new InvalidArgumentError(`'${what}' must be an array`);
  if (entries.length > MAX_BATCH) {
    throw new InvalidArgumentError(
      `'${what}' must have at most ${MAX_BATCH} entries: current length is ${entries.length}`,
    );
  }
}

/** Validates a key list. */
export function toKeys(keys: readonly string[]): string[] {
  checkBatch(keys, "keys");
  return keys.map((k) => validateKey(k));
}

/** Validates `[key, n]` entries. */
export function toEntries(op: EntryOp, entries: readonly CounterEntry[]): Entry[] {
  checkBatch(entries, "entries");
  return entries.map((e) => {
    if (!Array.isArray(e)) {
      throw new InvalidArgumentError("Each entry must be a [key, amount] pair");
    }
    return { op, key: validateKey(e[0]), cmp: Comparator.always, amount: safeInt(e[1], "amount") };
  });
}

/** Validates `[key, cmp, n]` entries. */
export function toConditionalEntries(op: EntryOp, entries: readonly ConditionalEntry[]): Entry[] {
  checkBatch(entries, "entries");
  return entries.map((e) => {
    if (!Array.isArray(e)) {
      throw new InvalidArgumentError("Each entry must be a [key, comparator, amount] triple");
    }
    return {
      op,
      key: validateKey(e[0]),
      cmp: validateComparator(e[1]),
      amount: safeInt(e[2], "amount"),
    };
  });
}

/** One single-key entry, validated. */
export function one(op: EntryOp, key: string, amount: unknown, name: string): Entry {
  return { op, key: validateKey(key), cmp: Comparator.always, amount: safeInt(amount, name) };
}

/** One single-key conditional entry, validated (the comparator is required). */
export function oneIf(
  op: EntryOp,
  key: string,
  cmp: unknown,
  amount: unknown,
  name: string,
): Entry {
  return { op, key: validateKey(key), cmp: validateComparator(cmp), amount: safeInt(amount, name) };
}
