import assert from "node:assert/strict";
import { CounterOverflowError, InvalidArgumentError } from "./errors.ts";
import { addSafe, intInRange, safeInt } from "./int.ts";

Deno.test("safeInt() accepts safe integers and rejects everything else", () => {
  for (const ok of [0, -1, 1e12, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    assert.equal(safeInt(ok, "n"), ok);
  }
  for (const bad of [NaN, Infinity, -Infinity, 0.5, 2 ** 53, "1", null, undefined, 1n]) {
    assert.throws(() => safeInt(bad, "n"), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.match(e.message, /'n' must be a safe integer/);
      return true;
    });
  }
});

Deno.test("addSafe() throws CounterOverflowError past the safe-integer range", () => {
  assert.equal(addSafe(Number.MAX_SAFE_INTEGER - 1, 1), Number.MAX_SAFE_INTEGER);
  assert.throws(() => addSafe(Number.MAX_SAFE_INTEGER, 1), CounterOverflowError);
  assert.throws(() => addSafe(Number.MIN_SAFE_INTEGER, -1), CounterOverflowError);
});

Deno.test("intInRange() names the option and the range", () => {
  assert.equal(intInRange(5, "x", 1, 10), 5);
  assert.throws(
    () => intInRange(0, "allowedLagMs", 1, 60000),
    /'allowedLagMs' must be an integer from 1 to 60000: current value is 0/,
  );
  assert.throws(() => intInRange(NaN, "x", 1, 10), InvalidArgumentError);
  assert.throws(() => intInRange(1.5, "x", 1, 10), InvalidArgumentError);
});
