/**
 * The result types every rate-limiter provider returns.
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import type { RateLimit } from "./rate_limit.ts";

/**
 * The numbers every decision carries, computed in the same atomic step as the decision (no
 * extra store call) and the same for every provider given the same sequence:
 * - `limit`: the capacity of the rate used, per window: `floor(rate × windowSizeSeconds)` for the
 *   absolute strategy; for the suppressed strategy its hard limit, `floor(rate ×
 *   windowSizeSeconds × hardLimitFactor)`, beyond which nothing is admitted. `isAllowed(key)`
 *   reports the key's last rate's, and 0 for a key with no usage (no rate is known).
 * - `remaining`: `limit` minus the accepted usage in the window after this call, never negative
 *   (0 while the key is blocked).
 * - `resetMs`: ms until `remaining` next grows: until the oldest recorded usage leaves the
 *   window (while blocked: until the block ends, or later if the window is full then); 0 when
 *   nothing is recorded.
 *
 * The hybrid provider decides from memory: its numbers are those its view of the fleet implies
 * at decision time, counting other instances' reservations as used (see `rl.hybrid`).
 */
export interface DecisionNumbers {
  /** The capacity of the rate used per window (suppressed: the hard limit). */
  limit: number;
  /** `limit` minus the accepted usage in the window after this call, ≥ 0. */
  remaining: number;
  /** ms until `remaining` next grows; 0 when nothing is recorded. */
  resetMs: number;
}

/** The call was admitted and recorded. */
export interface Allowed extends DecisionNumbers {
  /** Discriminant. */
  kind: "allowed";
}

/**
 * The call was refused and nothing was recorded (absolute strategy only). The hints are a true
 * statement: after `retryAfterMs`, at least `remainingAfterWaiting` requests fit (unless others
 * use them first). A request larger than the capacity can never fit: it gets
 * `retryAfterMs` = the window plus one bucket (when everything recorded so far has expired) and
 * `remainingAfterWaiting = capacity`, which is less than the request: never `retryAfterMs: 0`.
 */
export interface Rejected extends DecisionNumbers {
  /** Discriminant. */
  kind: "rejected";
  /** How long to wait before the request may fit, ms (always ≥ 1). */
  retryAfterMs: number;
  /** How many requests fit after waiting `retryAfterMs`. */
  remainingAfterWaiting: number;
  /** The limiter's window, seconds. */
  windowSizeSeconds: number;
}

/**
 * The suppressed strategy's verdict above the soft limit: the call was recorded as observed
 * usage, and as declined usage when `isAllowed` is false.
 */
export interface Suppressed extends DecisionNumbers {
  /** Discriminant. */
  kind: "suppressed";
  /** The probability with which this call was refused, in [0, 1]. */
  suppressionFactor: number;
  /** Whether the caller may go ahead. */
  isAllowed: boolean;
}

/** What `inc` and `isAllowed` return. */
export type RateLimitDecision = Allowed | Rejected | Suppressed;

/** The suppressed strategy's view of a key. */
export interface SuppressedSnapshot {
  /** Observed usage in the window (admitted plus declined). */
  total: number;
  /** Declined usage in the window (≤ `total`). */
  declined: number;
  /** The factor the next unit call would be suppressed with, in [0, 1]. */
  suppressionFactor: number;
}

/** The outcome of `setIf`. */
export interface RateLimitSetResult {
  /** Whether the comparator matched the previous total (and the write happened). */
  matched: boolean;
  /** The total the comparator saw. */
  previousTotal: number;
  /** The total after the call. */
  total: number;
}

/** A rate: a {@linkcode RateLimit} or a number of requests per second. */
export type Rate = RateLimit | number;

/** Options of `waitUntilAllowed`. */
export interface WaitUntilAllowedOptions {
  /**
   * Give up after this many ms (0 to 2^53 − 1) with `RateLimitTimeoutError`, or as soon as a
   * rejection's `retryAfterMs` shows that the request cannot fit before then. @default {Infinity}
   */
  timeoutMs?: number | undefined;
  /** Aborting rejects with `signal.reason` and clears the pending timer. */
  signal?: AbortSignal | undefined;
}

/** The methods of an absolute limiter; `R<T>` is `T` (local) or `Promise<T>` (redis, hybrid). */
export interface AbsoluteMethods<P extends boolean> {
  /** Admits `n` requests when they fit in the window, all or nothing. */
  inc(key: string, rate: Rate, n?: number): Ret<P, RateLimitDecision>;
  /** Forgets the key's usage and any block on it. */
  reset(key: string): Ret<P, void>;
  /**
   * Gives back `n` of the key's most recent usage (never below zero); returns the live total
   * after.
   */
  refund(key: string, n: number): Ret<P, number>;
  /**
   * Rejects every call on the key for `durationMs` (1 to 31 536 000 000), with a true
   * `retryAfterMs`; a later block replaces an earlier one.
   */
  block(key: string, durationMs: number): Ret<P, void>;
  /**
   * Resolves with the admitting decision once `n` fits, sleeping on the rejections'
   * `retryAfterMs` (never polling); rejects with `RateLimitTimeoutError` (code
   * `RATE_LIMIT_TIMEOUT`) after `timeoutMs`, with the signal's reason when it is aborted.
   */
  waitUntilAllowed(
    key: string,
    rate: Rate,
    n?: number,
    options?: WaitUntilAllowedOptions,
  ): Promise<RateLimitDecision>;
  /** Whether one more request would fit (read-only; unknown keys are allowed). */
  isAllowed(key: string): Ret<P, RateLimitDecision>;
  /** The live total in the window (0 for an unknown key). */
  get(key: string): Ret<P, number>;
  /** Replaces the key's window with one bucket of `n` when `cmp` matches its total. */
  setIf(key: string, rate: Rate, cmp: Comparator, n: number): Ret<P, RateLimitSetResult>;
}

/** The methods of a suppressed limiter. */
export interface SuppressedMethods<P extends boolean> {
  /** Records `n` requests and decides, probabilistically above the soft limit. */
  inc(key: string, rate: Rate, n?: number): Ret<P, RateLimitDecision>;
  /** The decision a unit call would get now, without recording it (random draw included). */
  isAllowed(key: string): Ret<P, RateLimitDecision>;
  /** Observed and declined totals and the current factor. */
  get(key: string): Ret<P, SuppressedSnapshot>;
  /** Replaces the key's window with one bucket of `n` when `cmp` matches its observed total. */
  setIf(key: string, rate: Rate, cmp: Comparator, n: number): Ret<P, RateLimitSetResult>;
  /** The factor a unit call would be suppressed with now, in [0, 1]. */
  getSuppressionFactor(key: string): Ret<P, number>;
}

/** `T` for synchronous providers, `Promise<T>` for asynchronous ones. */
export type Ret<P extends boolean, T> = P extends true ? Promise<T> : T;

/** `rl.local.absolute`: synchronous, in-process. */
export interface LocalAbsoluteLimiter extends AbsoluteMethods<false> {
  /** Number of keys held in memory. */
  readonly size: number;
  /** Drops every key whose window has fully expired; returns how many. */
  cleanup(): number;
}

/** `rl.local.suppressed`: synchronous, in-process. */
export interface LocalSuppressedLimiter extends SuppressedMethods<false> {
  /** Number of keys held in memory. */
  readonly size: number;
  /** Drops every key whose window has fully expired; returns how many. */
  cleanup(): number;
}

/** `rl.hybrid.absolute` / `rl.hybrid.suppressed`: what the hybrid strategies add. */
export interface HybridInfo {
  /** Number of keys held in memory (idle keys are released and forgotten). */
  readonly size: number;
}

/** `rl.hybrid.absolute`. */
export interface HybridAbsoluteLimiter extends AbsoluteMethods<true>, HybridInfo {
  /** This instance's id in the store (its reservations and sequence numbers carry it). */
  readonly instanceId: string;
}

/** `rl.hybrid.suppressed`. */
export interface HybridSuppressedLimiter extends SuppressedMethods<true>, HybridInfo {}
