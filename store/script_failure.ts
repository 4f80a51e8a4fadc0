/**
 * Error replies shared by the Lua scripts and their models, and their mapping to distkit errors.
 *
 * @module
 */
import { markReply } from "./_resilience.ts";
import {
  CounterOverflowError,
  type DistkitError,
  InvalidArgumentError,
  StoreError,
} from "../core/errors.ts";

/** Prefix of a Lua error reply meaning "the result would leave the safe-integer range". */
export const OVERFLOW_REPLY = "DISTKIT_OVERFLOW";
/** Prefix of a Lua error reply meaning "an argument is out of range". */
export const ARGUMENT_REPLY = "DISTKIT_ARGUMENT";

/**
 * Thrown by a model where its Lua script returns `redis.error_reply(message)`.
 *
 * @example
 * ```ts
 * import { OVERFLOW_REPLY, ScriptFailure } from "./script_failure.ts";
 * const f = new ScriptFailure(`${OVERFLOW_REPLY} 9007199254740991 + 1`);
 * console.assert(f.message.startsWith(OVERFLOW_REPLY));
 * ```
 */
export class ScriptFailure extends Error {
  /** @param message the error reply, starting with its code word */
  constructor(message: string) {
    super(message);
    this.name = "ScriptFailure";
  }
}

/**
 * Maps a script's error reply text to the distkit error a caller sees.
 *
 * @param message the error reply text
 * @param cause the original error
 * @returns the matching {@linkcode DistkitError}
 *
 * @example
 * ```ts
 * import { mapScriptError, OVERFLOW_REPLY } from "./script_failure.ts";
 * console.assert(mapScriptError(`${OVERFLOW_REPLY} x`).code === "COUNTER_OVERFLOW");
 * ```
 */
export function mapScriptError(message: string, cause?: unknown): DistkitError {
  // Marked as a reply: the server answered, so the store's breaker stays closed.
  if (message.startsWith(OVERFLOW_REPLY)) {
    return markReply(new CounterOverflowError(message.slice(OVERFLOW_REPLY.length).trim()));
  }
  if (message.startsWith(ARGUMENT_REPLY)) {
    return markReply(new InvalidArgumentError(message.slice(ARGUMENT_REPLY.length).trim()));
  }
  return markReply(new StoreError(`Redis call failed: ${message}`, cause));
}
