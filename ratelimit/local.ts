/**
 * The local provider: the pure model over an in-process map. Synchronous, browser-safe, exact
 * within one process (JavaScript runs one call at a time, so check-and-record is atomic).
 *
 * @module
 */
import { type Comparator, validateComparator } from "../core/comparator.ts";
import { ClosedError } from "../core/errors.ts";
import {
  capOf,
  checkDuration,
  checkKey,
  checkN,
  type Config,
  limitsOf,
  validateKey,
} from "./_config.ts";
import { waitUntilAllowed } from "./_wait.ts";
import {
  absoluteCheck,
  absoluteInc,
  block,
  evict,
  expiresAt,
  type ModelDecision,
  newSeries,
  refund,
  type Series,
  setIf,
  suppressedCheck,
  suppressedInc,
  suppressionFactor,
} from "./_model.ts";
import type {
  AbsoluteMethods,
  Rate,
  RateLimitDecision,
  RateLimitSetResult,
  SuppressedMethods,
  SuppressedSnapshot,
  WaitUntilAllowedOptions,
} from "./types.ts";

/**
 * Turns a model decision into the public one.
 * @param d the model's decision
 * @param windowSizeSeconds the window
 * @returns the decision
 */
export function toDecision(d: ModelDecision, windowSizeSeconds: number): RateLimitDecision {
  if (d.kind === "rejected") {
    return {
      kind: "rejected",
      retryAfterMs: d.retryAfterMs,
      remainingAfterWaiting: d.remainingAfterWaiting,
      windowSizeSeconds,
      limit: d.limit,
      remaining: d.remaining,
      resetMs: d.resetMs,
    };
  }
  return d;
}

/** The answer for a key with nothing recorded (isAllowed): no rate is known, so limit 0. */
const UNKNOWN: RateLimitDecision = Object.freeze({
  kind: "allowed",
  limit: 0,
  remaining: 0,
  resetMs: 0,
}) as RateLimitDecision;

/** The map of series both local strategies keep; expired series are swept, amortised. @internal */
export class SeriesMap {
  #map = new Map<string, Series>();
  #sweepAt = 1024;
  #cfg: Config;
  constructor(cfg: Config) {
    this.#cfg = cfg;
  }
  get size(): number {
    return this.#map.size;
  }
  peek(key: string): Series | undefined {
    return this.#map.get(key);
  }
  take(key: string): Series {
    let s = this.#map.get(key);
    if (s === undefined) {
      if (this.#map.size >= this.#sweepAt) this.sweep();
      s = newSeries();
      this.#map.set(key, s);
    }
    return s;
  }
  /** Forgets a key whose window emptied (and that is not blocked). */
  settle(key: string, s: Series): void {
    if (s.idx.length === 0 && s.blockedUntil <= this.#cfg.now()) this.#map.delete(key);
  }
  /** Forgets a key. */
  delete(key: string): void {
    this.#map.delete(key);
  }
  /** Drops every series whose window has fully expired. */
  sweep(): number {
    const now = this.#cfg.now();
    let n = 0;
    for (const [k, s] of this.#map) {
      if (Math.max(expiresAt(s, this.#cfg), s.blockedUntil) <= now) {
        this.#map.delete(k);
        n++;
      }
    }
    this.#sweepAt = Math.max(1024, 2 * this.#map.size);
    return n;
  }
  clear(): void {
    this.#map.clear();
  }
}

/** What both local strategies share (memory accounting and cleanup). */
export abstract class LocalBase {
  /** The limiter's configuration. @internal */
  protected readonly cfg: Config;
  /** The keys held in memory. @internal */
  protected readonly series: SeriesMap;
  #closed = () => false;
  /**
   * Built by {@linkcode RateLimiter} (use `rl.local`), not directly.
   * @param cfg the limiter's configuration
   * @param closed whether the limiter is closed
   */
  constructor(cfg: Config, closed: () => boolean) {
    this.cfg = cfg;
    this.series = new SeriesMap(cfg);
    this.#closed = closed;
  }
  /** Throws after close. @internal */
  protected open(): void {
    if (this.#closed()) throw new ClosedError("RateLimiter");
  }
  /**
   * Number of keys held in memory.
   * @returns the count
   */
  get size(): number {
    return this.series.size;
  }
  /**
   * Drops every key whose window has fully expired (the cleanup loop calls this).
   * @returns how many were dropped
   */
  cleanup(): number {
    return this.series.sweep();
  }
  /** Forgets every key. @internal */
  clearAll(): void {
    this.series.clear();
  }
}

/**
 * The local absolute limiter: a key admits `n` iff its live total plus `n` fits the capacity
 * `floor(rate × window)`; a rejected call records nothing. Get it from `rl.local.absolute`.
 *
 * @example Ten per second, synchronously
 * ```ts
 * import { RateLimit, RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ windowSizeSeconds: 1 });
 * const limit = RateLimit.perSecond(10);
 * console.assert(rl.local.absolute.inc("user-1", limit, 10).kind === "allowed");
 * console.assert(rl.local.absolute.inc("user-1", limit).kind === "rejected");
 * ```
 */
export class LocalAbsoluteRateLimiter extends LocalBase implements AbsoluteMethods<false> {
  /**
   * Admits `n` requests when they fit, all or nothing.
   * @param key the entity
   * @param rate the rate (a RateLimit or requests per second)
   * @param n the request size (≥ 0; 0 only checks)
   * @returns allowed, or rejected with a wait and what fits after it
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(rl.local.absolute.inc("k", 5).kind === "allowed");
   * ```
   */
  inc(key: string, rate: Rate, n = 1): RateLimitDecision {
    checkKey(key);
    if (n !== 1) checkN(n);
    const cap = capOf(this.cfg, rate);
    this.open();
    const s = this.series.take(key);
    const d = absoluteInc(s, this.cfg.now(), this.cfg, cap, n);
    this.series.settle(key, s);
    return toDecision(d, this.cfg.windowSizeSeconds);
  }

  /**
   * Forgets the key's usage and any block on it.
   * @param key the entity
   * @throws {InvalidKeyError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * rl.local.absolute.inc("k", 5, 5);
   * rl.local.absolute.reset("k");
   * console.assert(rl.local.absolute.get("k") === 0);
   * ```
   */
  reset(key: string): void {
    validateKey(key);
    this.open();
    this.series.delete(key);
  }

  /**
   * Gives back `n` of the key's most recent usage (never below zero), e.g. for a request that
   * failed and should not count.
   * @param key the entity
   * @param n how many (≥ 0)
   * @returns the live total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * rl.local.absolute.inc("k", 5, 3);
   * console.assert(rl.local.absolute.refund("k", 1) === 2);
   * ```
   */
  refund(key: string, n: number): number {
    validateKey(key);
    checkN(n);
    this.open();
    const s = this.series.peek(key);
    if (s === undefined) return 0;
    const total = refund(s, this.cfg.now(), this.cfg, n);
    this.series.settle(key, s);
    return total;
  }

  /**
   * Rejects every call on the key for `durationMs`, with a true `retryAfterMs` (a later block
   * replaces an earlier one).
   * @param key the entity
   * @param durationMs the block's length, ms (1 to 31 536 000 000)
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * rl.local.absolute.block("k", 60_000);
   * console.assert(rl.local.absolute.inc("k", 5).kind === "rejected");
   * ```
   */
  block(key: string, durationMs: number): void {
    validateKey(key);
    checkDuration(durationMs);
    this.open();
    block(this.series.take(key), this.cfg.now(), this.cfg, durationMs);
  }

  /**
   * Resolves with the admitting decision once `n` fits, sleeping on each rejection's
   * `retryAfterMs`.
   * @param key the entity
   * @param rate the rate
   * @param n the request size (≥ 0, at most the limit)
   * @param options `timeoutMs` and `signal`
   * @returns the admitting decision
   * @throws {RateLimitTimeoutError} when `timeoutMs` passes (or the hint shows it will first)
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * const d = await rl.local.absolute.waitUntilAllowed("k", 5, 1, { timeoutMs: 1000 });
   * console.assert(d.kind === "allowed");
   * ```
   */
  waitUntilAllowed(
    key: string,
    rate: Rate,
    n = 1,
    options?: WaitUntilAllowedOptions,
  ): Promise<RateLimitDecision> {
    return waitUntilAllowed(key, n, options, {
      checkRate: () => capOf(this.cfg, rate),
      open: () => this.open(),
    }, () => this.inc(key, rate, n));
  }

  /**
   * Whether one more request fits under the key's last rate (unknown keys are allowed).
   * @param key the entity
   * @returns the decision; nothing is recorded
   * @throws {InvalidKeyError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(rl.local.absolute.isAllowed("k").kind === "allowed");
   * ```
   */
  isAllowed(key: string): RateLimitDecision {
    validateKey(key);
    this.open();
    const s = this.series.peek(key);
    if (s === undefined) return UNKNOWN;
    const d = absoluteCheck(s, this.cfg.now(), this.cfg);
    this.series.settle(key, s);
    return toDecision(d, this.cfg.windowSizeSeconds);
  }

  /**
   * The live total in the window.
   * @param key the entity
   * @returns the total (0 when unknown)
   * @throws {InvalidKeyError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * rl.local.absolute.inc("k", 5, 3);
   * console.assert(rl.local.absolute.get("k") === 3);
   * ```
   */
  get(key: string): number {
    validateKey(key);
    this.open();
    const s = this.series.peek(key);
    if (s === undefined) return 0;
    evict(s, this.cfg.now(), this.cfg);
    this.series.settle(key, s);
    return s.total;
  }

  /**
   * When `cmp` matches the live total, replaces the window with one bucket of `n` (0 empties it)
   * under the caller's rate.
   * @param key the entity
   * @param rate the rate
   * @param cmp the condition on the current total
   * @param n the new total (≥ 0)
   * @returns matched, the total compared, and the total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   * @example Prime a key
   * ```ts
   * import { Comparator, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * const r = rl.local.absolute.setIf("k", 10, Comparator.eq(0), 95);
   * console.assert(r.matched && r.total === 95);
   * ```
   */
  setIf(key: string, rate: Rate, cmp: Comparator, n: number): RateLimitSetResult {
    validateKey(key);
    validateComparator(cmp);
    checkN(n);
    const { cap } = limitsOf(this.cfg, rate, false);
    this.open();
    const s = this.series.take(key);
    const o = setIf(s, this.cfg.now(), this.cfg, cmp.op, cmp.operand, n, cap, cap);
    this.series.settle(key, s);
    return o;
  }
}

/**
 * The local suppressed limiter: up to the soft limit (`floor(rate × window)`) calls are allowed;
 * beyond it each call is admitted with probability `1 − suppressionFactor`, which ramps smoothly
 * to 0 at the hard limit (`× hardLimitFactor`). Every call is recorded as observed usage.
 *
 * @example Shed load probabilistically
 * ```ts
 * import { RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ windowSizeSeconds: 1, hardLimitFactor: 2 });
 * for (let i = 0; i < 10; i++) rl.local.suppressed.inc("k", 10);
 * const d = rl.local.suppressed.inc("k", 10);
 * console.assert(d.kind === "suppressed");
 * ```
 */
export class LocalSuppressedRateLimiter extends LocalBase implements SuppressedMethods<false> {
  /**
   * Records `n` requests and decides.
   * @param key the entity
   * @param rate the rate (soft limit per window; the hard limit is `× hardLimitFactor`)
   * @param n the request size (≥ 0)
   * @returns allowed, or suppressed with the factor and the verdict
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(rl.local.suppressed.inc("k", 5).kind === "allowed");
   * ```
   */
  inc(key: string, rate: Rate, n = 1): RateLimitDecision {
    validateKey(key);
    checkN(n);
    const { cap, hard } = limitsOf(this.cfg, rate, true);
    this.open();
    const s = this.series.take(key);
    const d = suppressedInc(s, this.cfg.now(), this.cfg, cap, hard, n, this.cfg.random());
    this.series.settle(key, s);
    return toDecision(d, this.cfg.windowSizeSeconds);
  }

  /**
   * The verdict a unit call would get now (random draw included), without recording it.
   * @param key the entity
   * @returns the decision
   * @throws {InvalidKeyError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(rl.local.suppressed.isAllowed("k").kind === "allowed");
   * ```
   */
  isAllowed(key: string): RateLimitDecision {
    validateKey(key);
    this.open();
    const s = this.series.peek(key);
    if (s === undefined) return UNKNOWN;
    const d = suppressedCheck(s, this.cfg.now(), this.cfg, this.cfg.random());
    this.series.settle(key, s);
    return toDecision(d, this.cfg.windowSizeSeconds);
  }

  /**
   * Observed and declined usage and the current factor.
   * @param key the entity
   * @returns the snapshot (zeros when unknown)
   * @throws {InvalidKeyError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * rl.local.suppressed.inc("k", 5, 2);
   * console.assert(rl.local.suppressed.get("k").total === 2);
   * ```
   */
  get(key: string): SuppressedSnapshot {
    validateKey(key);
    this.open();
    const s = this.series.peek(key);
    if (s === undefined) return { total: 0, declined: 0, suppressionFactor: 0 };
    const sf = suppressionFactor(s, this.cfg.now(), this.cfg);
    this.series.settle(key, s);
    return { total: s.total, declined: s.declinedTotal, suppressionFactor: sf };
  }

  /**
   * The factor a unit call would be suppressed with now.
   * @param key the entity
   * @returns the factor in [0, 1] (0 when unknown; no state is created)
   * @throws {InvalidKeyError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(rl.local.suppressed.getSuppressionFactor("k") === 0);
   * ```
   */
  getSuppressionFactor(key: string): number {
    return this.get(key).suppressionFactor;
  }

  /**
   * When `cmp` matches the observed total, replaces the window with one bucket of `n` (no
   * declines; 0 empties it) under the caller's rate.
   * @param key the entity
   * @param rate the rate
   * @param cmp the condition on the observed total
   * @param n the new total (≥ 0)
   * @returns matched, the total compared, and the total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   * @example
   * ```ts
   * import { Comparator, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(rl.local.suppressed.setIf("k", 10, Comparator.always, 0).matched);
   * ```
   */
  setIf(key: string, rate: Rate, cmp: Comparator, n: number): RateLimitSetResult {
    validateKey(key);
    validateComparator(cmp);
    checkN(n);
    const { cap, hard } = limitsOf(this.cfg, rate, true);
    this.open();
    const s = this.series.take(key);
    const o = setIf(s, this.cfg.now(), this.cfg, cmp.op, cmp.operand, n, cap, hard);
    this.series.settle(key, s);
    return o;
  }
}
