import assert from "node:assert/strict";
import fc from "fast-check";
import { anyKey as anyPart } from "../tests/_support/keys.ts";
import { InvalidKeyError } from "./errors.ts";
import { decodeKeyPart, encodeKeyPart, validateKey, validateKeys } from "./keys.ts";

Deno.test("validateKey() accepts any string up to 255 UTF-8 bytes, ':', '{' and '}' included", () => {
  const keys = [
    "a",
    "user-42",
    "with space",
    "ünïcødé",
    "x".repeat(255),
    "é".repeat(127),
    "a:b",
    "{x}",
    "}{",
    ":",
    "::ffff:127.0.0.1",
    "2001:db8::1",
    "https://example.com/a?b=c#d",
    '{"user":123}',
    "🎉".repeat(63),
  ];
  for (const k of keys) assert.equal(validateKey(k), k);
  fc.assert(fc.property(anyPart, (k) => validateKey(k) === k));
});

Deno.test("validateKey() rejects bad keys with InvalidKeyError", async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["empty", "", /must not be empty/],
    ["too long ascii", "x".repeat(256), /at most 255 UTF-8 bytes: current length is 256/],
    ["too long multibyte", "é".repeat(128), /current length is 256/],
    ["too long with escapes", "%".repeat(256), /current length is 256/],
    ["lone high surrogate", "a\uD800", /well-formed unicode/],
    ["lone low surrogate", "\uDC00b", /well-formed unicode/],
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
  assert.deepEqual(validateKeys(["a", "b:c"]), ["a", "b:c"]);
  assert.throws(() => validateKeys(["a", ""]), InvalidKeyError);
});

Deno.test("keys: encodeKeyPart() escapes exactly %, :, { and }", async (t) => {
  const cases: Array<[string, string]> = [
    ["user-42", "user-42"],
    ["a:b", "a%3Ab"],
    ["a%3Ab", "a%253Ab"],
    ["a_b", "a_b"],
    ["{x}", "%7Bx%7D"],
    ["::ffff:127.0.0.1", "%3A%3Affff%3A127.0.0.1"],
    ["100%", "100%25"],
    ["é:🎉", "é%3A🎉"],
  ];
  for (const [k, e] of cases) {
    await t.step(`${JSON.stringify(k)} -> ${JSON.stringify(e)}`, () => {
      assert.equal(encodeKeyPart(k), e);
    });
  }
});

Deno.test("keys: encodeKeyPart() is injective, invertible, and the identity on old keys", () => {
  fc.assert(
    fc.property(anyPart, anyPart, (a, b) => {
      const ea = encodeKeyPart(a);
      assert.equal(decodeKeyPart(ea), a);
      assert.equal(ea === encodeKeyPart(b), a === b);
      assert.doesNotMatch(ea, /[:{}]/);
      // Every "%" of an encoding starts one of the four escapes.
      assert.doesNotMatch(ea, /%(?!25|3A|7B|7D)/);
      if (!/[%:{}]/.test(a)) assert.equal(ea, a);
    }),
    { numRuns: 2000 },
  );
});
