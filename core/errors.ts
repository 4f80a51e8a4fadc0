/**
 * The error classes every distkit primitive throws. Each carries a stable string `code` so callers
 * can branch without `instanceof` across package copies.
 *
 * @module
 */

/** Every code a {@linkcode DistkitError} can carry. */
export type DistkitErrorCode =
  | "INVALID_KEY"
  | "INVALID_ARGUMENT"
  | "COUNTER_OVERFLOW"
  | "STORE_ERROR"
  | "CLOSED"
  | "LOCK_TIMEOUT"
  | "LOCK_RETRIES_EXHAUSTED"
  | "LOCK_LOST"
  | "RATE_LIMIT_TIMEOUT";

/**
 * Base class of every error distkit throws on purpose.
 *
 * @example Branch on the code
 * ```ts
 * import { DistkitError, InvalidKeyError } from "./errors.ts";
 * const err: unknown = new InvalidKeyError("Key must not be empty");
 * if (err instanceof DistkitError && err.code === "INVALID_KEY") console.log(err.message);
 * ```
 */
export class DistkitError extends Error {
  /** Stable machine-readable code. */
  readonly code: DistkitErrorCode;
  /**
   * Creates the error.
   * @param code the stable code
   * @param message a sentence-case message naming the offending value
   * @param options the underlying cause, when there is one
   */
  constructor(code: DistkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "DistkitError";
  }
}

/**
 * A key or prefix that is empty, longer than 255 UTF-8 bytes, or contains `:`, `{` or `}`.
 *
 * @example
 * ```ts
 * import { InvalidKeyError } from "./errors.ts";
 * const e = new InvalidKeyError("Key must not be empty");
 * console.assert(e.code === "INVALID_KEY");
 * ```
 */
export class InvalidKeyError extends DistkitError {
  /**
   * Creates the error.
   * @param message what is wrong with the key
   */
  constructor(message: string) {
    super("INVALID_KEY", message);
    this.name = "InvalidKeyError";
  }
}

/**
 * An option or argument outside its allowed range (NaN, a fraction, a negative timeout...).
 *
 * @example
 * ```ts
 * import { InvalidArgumentError } from "./errors.ts";
 * const e = new InvalidArgumentError("'ttlMs' must be a positive integer: current value is 0");
 * console.assert(e.code === "INVALID_ARGUMENT");
 * ```
 */
export class InvalidArgumentError extends DistkitError {
  /**
   * Creates the error.
   * @param message names the argument and the allowed range
   */
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "InvalidArgumentError";
  }
}

/**
 * A counter operation whose result would leave the safe-integer range (±(2^53−1)). Nothing was
 * written.
 *
 * @example
 * ```ts
 * import { CounterOverflowError } from "./errors.ts";
 * console.assert(new CounterOverflowError("too big").code === "COUNTER_OVERFLOW");
 * ```
 */
export class CounterOverflowError extends DistkitError {
  /**
   * Creates the error.
   * @param message what overflowed
   */
  constructor(message: string) {
    super("COUNTER_OVERFLOW", message);
    this.name = "CounterOverflowError";
  }
}

/**
 * The store (Redis) failed or could not be reached; `cause` holds the client's error.
 *
 * @example
 * ```ts
 * import { StoreError } from "./errors.ts";
 * const e = new StoreError("Redis call failed", new Error("ECONNREFUSED"));
 * console.assert(e.code === "STORE_ERROR");
 * ```
 */
export class StoreError extends DistkitError {
  /**
   * Creates the error.
   * @param message what was attempted
   * @param cause the underlying client error
   */
  constructor(message: string, cause?: unknown) {
    super("STORE_ERROR", message, { cause });
    this.name = "StoreError";
  }
}

/**
 * A call on a primitive after its `close()`.
 *
 * @example
 * ```ts
 * import { ClosedError } from "./errors.ts";
 * console.assert(new ClosedError("LaxCounter").code === "CLOSED");
 * ```
 */
export class ClosedError extends DistkitError {
  /**
   * Creates the error.
   * @param what the closed object, for the message
   */
  constructor(what: string) {
    super("CLOSED", `Cannot use ${what} after close()`);
    this.name = "ClosedError";
  }
}

/**
 * A waiting lock acquisition ran out of time.
 *
 * @example
 * ```ts
 * import { LockTimeoutError } from "./errors.ts";
 * const e = new LockTimeoutError("jobs", 250);
 * console.assert(e.code === "LOCK_TIMEOUT" && e.waitedMs === 250);
 * ```
 */
export class LockTimeoutError extends DistkitError {
  /** How long the caller waited before giving up, in milliseconds. */
  readonly waitedMs: number;
  /**
   * Creates the error.
   * @param key the lock key
   * @param waitedMs how long the caller waited
   * @param cause the store's error, when the last attempt failed with one
   */
  constructor(key: string, waitedMs: number, cause?: unknown) {
    super("LOCK_TIMEOUT", `Cannot acquire lock '${key}': timed out after ${waitedMs} ms`, {
      cause,
    });
    this.name = "LockTimeoutError";
    this.waitedMs = waitedMs;
  }
}

/**
 * A retry-bounded lock acquisition used all its attempts.
 *
 * @example
 * ```ts
 * import { LockRetriesExhaustedError } from "./errors.ts";
 * const e = new LockRetriesExhaustedError("jobs", 3);
 * console.assert(e.code === "LOCK_RETRIES_EXHAUSTED" && e.retries === 3);
 * ```
 */
export class LockRetriesExhaustedError extends DistkitError {
  /** The number of retries made after the first attempt. */
  readonly retries: number;
  /**
   * Creates the error.
   * @param key the lock key
   * @param retries retries after the first attempt
   * @param cause the store's error, when the last attempt failed with one (or went unanswered)
   *   rather than finding the lock held
   */
  constructor(key: string, retries: number, cause?: unknown) {
    super(
      "LOCK_RETRIES_EXHAUSTED",
      cause === undefined
        ? `Cannot acquire lock '${key}': still held after ${retries + 1} attempts`
        : `Cannot acquire lock '${key}': no attempt of ${retries + 1} succeeded; the last failed: ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
      { cause },
    );
    this.name = "LockRetriesExhaustedError";
    this.retries = retries;
  }
}

/**
 * The reason a guard's `signal` is aborted with: its lease is gone, or could not be renewed for a
 * whole `ttlMs`.
 *
 * @example
 * ```ts
 * import { LockLostError } from "./errors.ts";
 * console.assert(new LockLostError("jobs", "expired").code === "LOCK_LOST");
 * ```
 */
export class LockLostError extends DistkitError {
  /** The lock (or semaphore) key. */
  readonly key: string;
  /**
   * Creates the error.
   * @param key the lock key
   * @param detail why the lease is considered lost
   * @param cause the last renewal error, if any
   * @param of what was held: a lock, or a semaphore's permits (named so in the message)
   */
  constructor(key: string, detail: string, cause?: unknown, of: "lock" | "semaphore" = "lock") {
    super(
      "LOCK_LOST",
      of === "semaphore"
        ? `Permits of semaphore '${key}' were lost: ${detail}`
        : `Lock '${key}' was lost: ${detail}`,
      { cause },
    );
    this.name = "LockLostError";
    this.key = key;
  }
}

/**
 * A rate limiter's `waitUntilAllowed` ran out of time before the request fit (at `timeoutMs`, or
 * earlier once the limiter's hint showed that it could not fit before then).
 *
 * @example
 * ```ts
 * import { RateLimitTimeoutError } from "./errors.ts";
 * const e = new RateLimitTimeoutError("user-1", 500, 1200);
 * console.assert(e.code === "RATE_LIMIT_TIMEOUT" && e.waitedMs === 500 && e.retryAfterMs === 1200);
 * ```
 */
export class RateLimitTimeoutError extends DistkitError {
  /** How long the caller waited before giving up, in milliseconds. */
  readonly waitedMs: number;
  /** The last decision's wait hint when it gave up, in milliseconds. */
  readonly retryAfterMs: number;
  /**
   * Creates the error.
   * @param key the rate-limited key
   * @param waitedMs how long the caller waited
   * @param retryAfterMs the last decision's wait hint
   */
  constructor(key: string, waitedMs: number, retryAfterMs: number) {
    super(
      "RATE_LIMIT_TIMEOUT",
      `Cannot admit a request for '${key}' in time: waited ${waitedMs} ms, the limiter asks for ${retryAfterMs} ms more`,
    );
    this.name = "RateLimitTimeoutError";
    this.waitedMs = waitedMs;
    this.retryAfterMs = retryAfterMs;
  }
}
