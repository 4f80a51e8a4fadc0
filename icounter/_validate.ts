/**
 * Input validation for the instance-aware counters: every entry of a call is checked before any
 * I/O, so a bad entry applies nothing.
 *
 * @module
 */
import { Comparator, validateComparator } from "../core/comparator.ts";
import { safeInt } from "../core/int.ts";
import { validateKey } from "../core/keys.ts";
import type { Entry, EntryOp } from "./_core.ts";

export { checkBatch, toConditionalEntries, toEntries, toKeys } from "../core/entries.ts";

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
