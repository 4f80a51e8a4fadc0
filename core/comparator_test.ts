import assert from "node:assert/strict";
import { Comparator, compare } from "./comparator.ts";
import { InvalidArgumentError } from "./errors.ts";

/** `eq(5)`, `always`: how a case names its comparator. */
const name = (c: Comparator) => c.op === "always" ? "always" : `${c.op}(${c.operand})`;

Deno.test("Comparator matches its embedded operand; always always matches", async (t) => {
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
    await t.step(`${name(cmp)} on ${current} is ${expected}`, () => {
      assert.equal(cmp.matches(current), expected);
    });
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
