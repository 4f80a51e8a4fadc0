import assert from "node:assert/strict";
import { InvalidKeyError } from "./errors.ts";
import { validateKey, validateKeys } from "./keys.ts";

Deno.test("validateKey() accepts ordinary keys up to 255 UTF-8 bytes", () => {
  for (const k of ["a", "user-42", "with space", "ünïcødé", "x".repeat(255), "é".repeat(127)]) {
    assert.equal(validateKey(k), k);
  }
});

Deno.test("validateKey() rejects bad keys with InvalidKeyError", async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["empty", "", /must not be empty/],
    ["too long ascii", "x".repeat(256), /at most 255 UTF-8 bytes: current length is 256/],
    ["too long multibyte", "é".repeat(128), /current length is 256/],
    ["colon", "a:b", /must not contain/],
    ["open brace", "a{b", /must not contain/],
    ["close brace", "a}b", /must not contain/],
    ["not a string", 42, /must be a string/],
    ["undefined", undefined, /must be a string/],
  ];
  for (const [name, key, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => validateKey(key), (e: unknown) => {
        assert.ok(e instanceof InvalidKeyError);
        assert.equal(e.code, "INVALID_KEY");
        assert.match(e.message, message);
        return true;
      });
    });
  }
});

Deno.test("validateKey() names what it validates", () => {
  assert.throws(() => validateKey("", "Prefix"), /Prefix must not be empty/);
});

Deno.test("validateKeys() rejects the first bad key of a list", () => {
  assert.deepEqual(validateKeys(["a", "b"]), ["a", "b"]);
  assert.throws(() => validateKeys(["a", "b:c"]), InvalidKeyError);
});
