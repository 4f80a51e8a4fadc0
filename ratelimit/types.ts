/**
 * The result types every rate-limiter provider returns.
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import type { RateLimit } from "./rate_limit.ts";

/** The call was admitted and recorded. */
export interface Allowed {
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
export interface Rejected {
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
export interface Suppressed {
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

/** The methods of an absolute limiter; `R<T>` is `T` (local) or `Promise<T>` (redis, hybrid). */
export interface AbsoluteMethods<P extends boolean> {
  /** Admits `n` requests when they fit in the window, all or nothing. */
  inc(key: string, rate: Rate, n?: number): Ret<P, RateLimitDecision>;
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
