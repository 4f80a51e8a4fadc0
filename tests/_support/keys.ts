/** Key strings for the "any string is a key" suites: a generator and a fixed list of hard cases. */
import fc from "fast-check";

/**
 * Any unicode string (graphemes, any code point), and strings made of the escape's own
 * characters, where a collision of a naive encoding would hide (`a:b` vs `a%3Ab`).
 */
export const anyKey: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom("%", ":", "{", "}", "2", "5", "3", "A", "a", "7", "B", "b", "D", "_"),
    minLength: 1,
    maxLength: 10,
  }),
);

/** Keys that must be pairwise independent counters, locks and limits. */
export const HARD_KEYS: readonly string[] = [
  "a",
  "a:b",
  "a_b",
  "a%3Ab",
  "a%253Ab",
  "{x}",
  "x",
  "}{",
  "%7Bx%7D",
  "::ffff:127.0.0.1",
  "2001:db8::1",
  "user:123",
  "https://example.com/a?b={c}",
  '{"user":123}',
  "ünï:cødé 🎉",
  "line\nbreak\r\n",
  "b",
];
