/**
 * Comparators for conditional writes (`incIf`, `setIf`, ...). A failed comparison is not an
 * error: nothing is written and `matched` is `false`.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";
import { safeInt } from "./int.ts";

/** The comparison a {@linkcode Comparator} makes. `"always"` is distkit's `Nil`. */
export type ComparatorOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "always";

/**
 * A condition on a current value, built by `Comparator.eq(v)` and friends.
 *
 * @example Apply an increment only below a limit
 * ```ts
 * import { Comparator } from "./comparator.ts";
 * const below10 = Comparator.lt(10);
 * console.assert(below10.matches(9) && !below10.matches(10));
 * ```
 */
export class Comparator {
  /** The comparison. */
  readonly op: ComparatorOp;
  /** The operand (0 for `always`). */
  readonly operand: number;

  private constructor(op: ComparatorOp, operand: number) {
    this.op = op;
    this.operand = operand;
  }

  /**
   * Matches when the current value equals `v`.
   * @param v a safe integer
   * @returns the comparator
   * @example
   * ```ts
   * import { Comparator } from "./comparator.ts";
   * console.assert(Comparator.eq(3).matches(3));
   * ```
   */
  static eq(v: number): Comparator {
    return new Comparator("eq", safeInt(v, "operand"));
  }
  /**
   * Matches when the current value differs from `v`.
   * @param v a safe integer
   * @returns the comparator
   * @example
   * ```ts
   * import { Comparator } from "./comparator.ts";
   * console.assert(Comparator.ne(3).matches(4));
   * ```
   */
  static ne(v: number): Comparator {
    return new Comparator("ne", safeInt(v, "operand"));
  }
  /**
   * Matches when the current value is less than `v`.
   * @param v a safe integer
   * @returns the comparator
   * @example
   * ```ts
   * import { Comparator } from "./comparator.ts";
   * console.assert(Comparator.lt(3).matches(2));
   * ```
   */
  static lt(v: number): Comparator {
    return new Comparator("lt", safeInt(v, "operand"));
  }
  /**
   * Matches when the current value is at most `v`.
   * @param v a safe integer
   * @returns the comparator
   * @example
   * ```ts
   * import { Comparator } from "./comparator.ts";
   * console.assert(Comparator.le(3).matches(3));
   * ```
   */
  static le(v: number): Comparator {
    return new Comparator("le", safeInt(v, "operand"));
  }
  /**
   * Matches when the current value is greater than `v`.
   * @param v a safe integer
   * @returns the comparator
   * @example
   * ```ts
   * import { Comparator } from "./comparator.ts";
   * console.assert(Comparator.gt(3).matches(4));
   * ```
   */
  static gt(v: number): Comparator {
    return new Comparator("gt", safeInt(v, "operand"));
  }
  /**
   * Matches when the current value is at least `v`.
   * @param v a safe integer
   * @returns the comparator
   * @example
   * ```ts
   * import { Comparator } from "./comparator.ts";
   * console.assert(Comparator.ge(3).matches(3));
   * ```
   */
  static ge(v: number): Comparator {
    return new Comparator("ge", safeInt(v, "operand"));
  }
  /** Always matches (distkit's `Nil`). */
  static readonly always: Comparator = new Comparator("always", 0);

  /**
   * Evaluates the comparator on a current value.
   * @param current the value to compare
   * @returns whether the condition holds
   * @example
   * ```ts
   * import { Comparator } from "./comparator.ts";
   * console.assert(Comparator.always.matches(-5));
   * ```
   */
  matches(current: number): boolean {
    return compare(this.op, this.operand, current);
  }
}

/**
 * The comparison shared by the TypeScript models and (mirrored) by the Lua scripts.
 *
 * @param op the comparison
 * @param operand its operand
 * @param current the current value
 * @returns whether `current op operand` holds; an unknown op is false
 * @example
 * ```ts
 * import { compare } from "./comparator.ts";
 * console.assert(compare("ge", 5, 5));
 * ```
 */
export function compare(op: string, operand: number, current: number): boolean {
  switch (op) {
    case "eq":
      return current === operand;
    case "ne":
      return current !== operand;
    case "lt":
      return current < operand;
    case "le":
      return current <= operand;
    case "gt":
      return current > operand;
    case "ge":
      return current >= operand;
    case "always":
      return true;
    default:
      return false;
  }
}

/**
 * Checks that `c` is a {@linkcode Comparator}.
 * @param c the value to check
 * @returns `c`
 * @throws {InvalidArgumentError} otherwise
 * @example
 * ```ts
 * import { Comparator, validateComparator } from "./comparator.ts";
 * validateComparator(Comparator.always);
 * ```
 */
export function validateComparator(c: unknown): Comparator {
  if (!(c instanceof Comparator)) {
    throw new InvalidArgumentError("'cmp' must be a Comparator: use Comparator.eq(v) and friends");
  }
  return c;
}
