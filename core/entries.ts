/**
 * Batch input validation shared by every counter: each entry of a call is checked before any
 * I/O, so a batch with one bad entry applies none.
 *
 * @module
 */
import { Comparator, validateComparator } from "./comparator.ts";
import { InvalidArgumentError } from "./errors.ts";
import { safeInt } from "./int.ts";
import { validateKey } from "./keys.ts";

/** The most entries (or keys) one batch call may carry: one script call stays short. */
export const MAX_BATCH = 1000;

/** One validated write: an operation on a key, under a condition, with an amount. */
export interface ValidEntry<Op extends string> {
  /** What to do. */
  op: Op;
  /** A valid key. */
  key: string;
  /** The condition (`Comparator.always` for unconditional forms). */
  cmp: Comparator;
  /** A safe integer. */
  amount: number;
}

/**
 * Checks a batch's shape and size.
 * @param entries the batch
 * @param what the argument's name, for the message
 * @throws {InvalidArgumentError} if it is not an array of at most {@linkcode MAX_BATCH} items
 */
export function checkBatch(entries: unknown, what: string): void {
  if (!Array.isArray(entries)) throw new InvalidArgumentError(`'${what}' must be an array`);
  if (entries.length > MAX_BATCH) {
    throw new InvalidArgumentError(
      `'${what}' must have at most ${MAX_BATCH} entries: current length is ${entries.length}`,
    );
  }
}

/**
 * Validates a key list.
 * @param keys the keys
 * @returns a copy
 * @throws {InvalidArgumentError | InvalidKeyError}
 */
export function toKeys(keys: readonly string[]): string[] {
  checkBatch(keys, "keys");
  return keys.map((k) => validateKey(k));
}

/**
 * Validates `[key, amount]` entries.
 * @param op the operation every entry carries
 * @param entries the batch
 * @returns the validated entries, in input order
 * @throws {InvalidArgumentError | InvalidKeyError}
 */
export function toEntries<Op extends string>(
  op: Op,
  entries: ReadonlyArray<readonly [string, number]>,
): ValidEntry<Op>[] {
  checkBatch(entries, "entries");
  return entries.map((e) => {
    if (!Array.isArray(e)) {
      throw new InvalidArgumentError("Each entry must be a [key, amount] pair");
    }
    return { op, key: validateKey(e[0]), cmp: Comparator.always, amount: safeInt(e[1], "amount") };
  });
}

/**
 * Validates `[key, comparator, amount]` entries.
 * @param op the operation every entry carries
 * @param entries the batch
 * @returns the validated entries, in input order
 * @throws {InvalidArgumentError | InvalidKeyError}
 */
export function toConditionalEntries<Op extends string>(
  op: Op,
  entries: ReadonlyArray<readonly [string, Comparator, number]>,
): ValidEntry<Op>[] {
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
