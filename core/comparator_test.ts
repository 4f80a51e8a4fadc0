import assert from "node:assert/strict";
import { Comparator, compare } from "./comparator.ts";
import { InvalidArgumentError } from "./errors.ts";

Deno.test("Comparator matches its embedded operand; always always matches", () => {
  const table: Array<[Comparator, number, boolean]> = [
    [Comparator.eq(5), 5, true],
    [Comparator.eq(5), 4, false],
    [Comparator.ne(5), 4, true],
    [Comparator.ne(5), 5, false],
    [Comparator.lt(5), 4, true],
    [Comparator.lt(5), 5, false],
    [Comparator.le(5), 5, true],
    [Comparator.le(5), 6, false],
    [Comparator.gt(5), 6, true],
    [Comparator.gt(5), 5, false],
    [Comparator.ge(5), 5, true],
    [Comparator.ge(5), 4, false],
    [Comparator.always, -9007199254740991, true],
    [Comparator.always, 0, true],
  ];
  for (const [cmp, current, expected] of table) {
    assert.equal(cmp.matches(current), expected, `${cmp.op}(${cmp.operand}) on ${current}`);
  }
});

Deno.test("compare() treats an unknown op as false", () => {
  assert.equal(compare("bogus", 1, 1), false);
});

Deno.test("Comparator factories reject operands that are not safe integers", () => {
  for (const bad of [NaN, Infinity, 1.5, 2 ** 53]) {
    assert.throws(() => Comparator.eq(bad), InvalidArgumentError);
    assert.throws(() => Comparator.ge(bad), InvalidArgumentError);
  }
});
