/**
 * Validation of lock options and arguments (before any I/O).
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { MAX_KEY_BYTES } from "../core/keys.ts";
import type { WaitOptions } from "./options.ts";

/** The longest duration a timer can wait (setTimeout's ceiling, about 24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647;

/** Checks a non-negative duration. @returns it */
export function duration(v: unknown, name: string): number {
  return intInRange(v, name, 0, MAX_DURATION_MS);
}

const ENCODER = new TextEncoder();
/** A lone surrogate has no UTF-8 form: Redis would store U+FFFD, another owner's id. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Checks the owner id: any non-empty string of at most 200 characters or at most 255 UTF-8 bytes
 * (like a key; it is never part of a key name), well-formed unicode. @returns it
 */
export function ownerIdOf(v: unknown): string {
  if (
    typeof v !== "string" || v.length === 0 ||
    (v.length > 200 && ENCODER.encode(v).length > MAX_KEY_BYTES) || LONE_SURROGATE.test(v)
  ) {
    throw new InvalidArgumentError(
      `'ownerId' must be a non-empty, well-formed string of at most 200 characters or 255 UTF-8 bytes: current value is ${
        typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : String(v)
      }`,
    );
  }
  return v;
}

/** Checks wait options. @returns the timeout (or undefined) and the signal */
export function waitOptions(
  opts: WaitOptions | undefined,
): { timeoutMs: number | undefined; signal: AbortSignal | undefined } {
  if (opts === undefined) return { timeoutMs: undefined, signal: undefined };
  if (opts === null || typeof opts !== "object") {
    throw new InvalidArgumentError("'opts' must be an object");
  }
  const timeoutMs = opts.timeoutMs === undefined
    ? undefined
    : duration(opts.timeoutMs, "timeoutMs");
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError("'signal' must be an AbortSignal");
  }
  return { timeoutMs, signal };
}
