/**
 * `RateLimit`: a rate as an exact (count, period) pair, and the integer capacity it gives over a
 * window. Capacity is computed in exact decimal arithmetic (BigInt), so `RateLimit.perDay(11)`
 * over a one-day window admits 11, not 10 (trypema computes `11 / 86400 * 86400` in floating
 * point and gets 10.999…).
 *
 * @module
 */
import { InvalidArgumentError } from "../core/errors.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** A month is 30 days, as in trypema. */
const MONTH = 30 * DAY;

/** An exact decimal: `mant / 10^scale`. */
interface Decimal {
  mant: bigint;
  scale: bigint;
}

/**
 * The exact decimal a JS number prints as (`String(x)`, the shortest round-trip form), so `0.3`
 * means 3/10 rather than the binary double nearest to it.
 */
function toDecimal(x: number): Decimal {
  const s = String(x);
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(s);
  if (m === null) throw new InvalidArgumentError(`Cannot read ${s} as a decimal`);
  const frac = m[2] ?? "";
  const exp = Number(m[3] ?? "0") - frac.length;
  const mant = BigInt(m[1]! + frac);
  return exp >= 0 ? { mant: mant * 10n ** BigInt(exp), scale: 0n } : { mant, scale: BigInt(-exp) };
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** floor(num / den), clamped to the safe-integer range. */
function floorDiv(num: bigint, den: bigint): number {
  const q = num / den;
  return Number(q > MAX ? MAX : q);
}

/**
 * A rate limit: `count` requests per `periodMs`. Fractional counts are allowed (`perSecond(0.5)`).
 * A number given where a `RateLimit` is expected means requests per second.
 *
 * @example Build rates
 * ```ts
 * import { RateLimit } from "./rate_limit.ts";
 * const r = RateLimit.perDay(11);
 * console.assert(r.capacity(86_400_000) === 11);
 * console.assert(RateLimit.perSecond(0.3).capacity(10_000) === 3);
 * ```
 */
export class RateLimit {
  /** Requests per period (finite, > 0). */
  readonly count: number;
  /** The period, ms. */
  readonly periodMs: number;
  #dec: Decimal;
  #capWindow = -1;
  #cap = 0;
  #hardKey = "";
  #hard = 0;

  /**
   * `count` requests per `periodMs` (the static constructors are shorter).
   * @param count requests per period: a finite number greater than 0
   * @param periodMs the period in ms: a positive safe integer
   * @throws {InvalidArgumentError} if either is out of range
   */
  constructor(count: number, periodMs: number) {
    if (typeof count !== "number" || !Number.isFinite(count) || count <= 0) {
      throw new InvalidArgumentError(
        `'rate' must be a finite number greater than 0: current value is ${String(count)}`,
      );
    }
    if (!Number.isSafeInteger(periodMs) || periodMs < 1) {
      throw new InvalidArgumentError(
        `'periodMs' must be a positive integer: current value is ${String(periodMs)}`,
      );
    }
    this.count = count;
    this.periodMs = periodMs;
    this.#dec = toDecimal(count);
  }

  /**
   * `count` requests per second.
   * @param count requests (finite, > 0)
   * @returns the rate
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perSecond(10).capacity(10_000) === 100);
   * ```
   */
  static perSecond(count: number): RateLimit {
    return new RateLimit(count, SECOND);
  }
  /**
   * `count` requests per minute.
   * @param count requests (finite, > 0)
   * @returns the rate
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perMinute(60).capacity(60_000) === 60);
   * ```
   */
  static perMinute(count: number): RateLimit {
    return new RateLimit(count, MINUTE);
  }
  /**
   * `count` requests per hour.
   * @param count requests (finite, > 0)
   * @returns the rate
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perHour(3600).capacity(1000) === 1);
   * ```
   */
  static perHour(count: number): RateLimit {
    return new RateLimit(count, HOUR);
  }
  /**
   * `count` requests per day.
   * @param count requests (finite, > 0)
   * @returns the rate
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perDay(11).capacity(86_400_000) === 11);
   * ```
   */
  static perDay(count: number): RateLimit {
    return new RateLimit(count, DAY);
  }
  /**
   * `count` requests per week.
   * @param count requests (finite, > 0)
   * @returns the rate
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perWeek(7).capacity(86_400_000) === 1);
   * ```
   */
  static perWeek(count: number): RateLimit {
    return new RateLimit(count, WEEK);
  }
  /**
   * `count` requests per month (30 days).
   * @param count requests (finite, > 0)
   * @returns the rate
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perMonth(30).capacity(86_400_000) === 1);
   * ```
   */
  static perMonth(count: number): RateLimit {
    return new RateLimit(count, MONTH);
  }

  /**
   * Requests per second, as a float (for display).
   * @returns the rate per second
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perMinute(120).perSecond === 2);
   * ```
   */
  get perSecond(): number {
    return this.count * SECOND / this.periodMs;
  }

  /**
   * How many requests fit in a window: `floor(count × windowMs / periodMs)`, exactly.
   * @param windowMs the window, ms
   * @returns the capacity (a safe integer, possibly 0)
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perSecond(2.9).capacity(1000) === 2);
   * ```
   */
  capacity(windowMs: number): number {
    if (windowMs !== this.#capWindow) {
      const d = this.#dec;
      this.#cap = floorDiv(d.mant * BigInt(windowMs), BigInt(this.periodMs) * 10n ** d.scale);
      this.#capWindow = windowMs;
    }
    return this.#cap;
  }

  /**
   * The suppressed strategy's hard limit: `floor(count × windowMs × factor / periodMs)`, exactly
   * (never below {@linkcode RateLimit.capacity}).
   * @param windowMs the window, ms
   * @param factor the hard-limit factor (≥ 1)
   * @returns the hard limit
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(RateLimit.perSecond(1.3).hardLimit(1000, 2) === 2);
   * ```
   */
  hardLimit(windowMs: number, factor: number): number {
    const key = `${windowMs}/${factor}`;
    if (key !== this.#hardKey) {
      const d = this.#dec;
      const f = toDecimal(factor);
      this.#hard = Math.max(
        this.capacity(windowMs),
        floorDiv(
          d.mant * f.mant * BigInt(windowMs),
          BigInt(this.periodMs) * 10n ** (d.scale + f.scale),
        ),
      );
      this.#hardKey = key;
    }
    return this.#hard;
  }

  /**
   * A short description, e.g. `10/1000ms`.
   * @returns the description
   * @example
   * ```ts
   * import { RateLimit } from "./rate_limit.ts";
   * console.assert(String(RateLimit.perSecond(10)) === "10/1000ms");
   * ```
   */
  toString(): string {
    return `${this.count}/${this.periodMs}ms`;
  }
}

const NUMBER_RATES = new Map<number, RateLimit>();

/**
 * Accepts a {@linkcode RateLimit} or a number of requests per second.
 *
 * @param rate the caller's rate
 * @returns a RateLimit
 * @throws {InvalidArgumentError} if it is neither, or the number is not finite and > 0
 *
 * @example
 * ```ts
 * import { toRateLimit } from "./rate_limit.ts";
 * console.assert(toRateLimit(5).capacity(1000) === 5);
 * ```
 */
export function toRateLimit(rate: RateLimit | number): RateLimit {
  if (rate instanceof RateLimit) return rate;
  if (typeof rate === "number") {
    let r = NUMBER_RATES.get(rate);
    if (r === undefined) {
      r = RateLimit.perSecond(rate);
      if (NUMBER_RATES.size >= 1024) NUMBER_RATES.clear();
      NUMBER_RATES.set(rate, r);
    }
    return r;
  }
  throw new InvalidArgumentError(
    `'rate' must be a RateLimit or a number of requests per second: current type is ${typeof rate}`,
  );
}
