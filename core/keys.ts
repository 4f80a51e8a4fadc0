/**
 * Key and prefix validation. distkit owns `:` (its separator) and `{`/`}` (its hash tags), so user
 * keys may contain neither.
 *
 * @module
 */
import { InvalidKeyError } from "./errors.ts";

/** The longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 255;

const ENCODER = new TextEncoder();

/**
 * Checks that `key` is a valid distkit key or prefix and returns it.
 *
 * @param key the string to check
 * @param what how to name it in the message ("Key", "Prefix", ...)
 * @returns `key`, unchanged
 * @throws {InvalidKeyError} if it is not a non-empty string of at most 255 UTF-8 bytes without
 * `:`, `{` or `}`
 *
 * @example Validate before any I/O
 * ```ts
 * import { validateKey } from "./keys.ts";
 * validateKey("user-42");
 * try { validateKey("a:b"); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function validateKey(key: unknown, what = "Key"): string {
  if (typeof key !== "string") {
    throw new InvalidKeyError(`${what} must be a string: current type is ${typeof key}`);
  }
  if (key.length === 0) throw new InvalidKeyError(`${what} must not be empty`);
  // A UTF-16 code unit encodes to at most 3 UTF-8 bytes, so short keys skip the byte count.
  if (key.length * 3 > MAX_KEY_BYTES) {
    const bytes = ENCODER.encode(key).length;
    if (bytes > MAX_KEY_BYTES) {
      throw new InvalidKeyError(
        `${what} must be at most ${MAX_KEY_BYTES} UTF-8 bytes: current length is ${bytes}`,
      );
    }
  }
  if (key.includes(":") || key.includes("{") || key.includes("}")) {
    throw new InvalidKeyError(
      `${what} must not contain ':', '{' or '}': current value is ${JSON.stringify(key)}`,
    );
  }
  return key;
}

/**
 * Validates every key of a list (before any I/O) and returns the list.
 *
 * @param keys the keys
 * @returns `keys`
 * @throws {InvalidKeyError} on the first invalid key
 * @throws {InvalidArgumentError} if `keys` is not an array
 *
 * @example
 * ```ts
 * import { validateKeys } from "./keys.ts";
 * validateKeys(["a", "b"]);
 * ```
 */
export function validateKeys(keys: readonly string[]): readonly string[] {
  if (!Array.isArray(keys)) throw new InvalidKeyError("Keys must be an array");
  for (const k of keys) validateKey(k);
  return keys;
}
