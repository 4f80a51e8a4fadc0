/**
 * The rate limiter's pure model: a bucketed sliding window and the absolute and suppressed
 * decisions over it. No I/O and no clock: every function takes `now`. The local provider runs it
 * directly; the Lua scripts (lua/ratelimit_*.lua) implement the same functions, and their
 * MemoryStore models load the state, call these, and store it back.
 *
 * Buckets are aligned: bucket `i` holds what was recorded during `[i·g, (i+1)·g)`, and it counts
 * until `(i+1)·g + W` (so usage is never forgotten early; it may count up to `g` ms late).
 *
 * @module
 */
import { compare } from "../core/comparator.ts";
import { EVICT_SPAN_WINDOWS, HINT_BUCKETS } from "../core/limits.ts";

/** Window geometry. */
export interface WindowConfig {
  /** The window, ms. */
  readonly windowMs: number;
  /** The bucket size, ms (≤ windowMs). */
  readonly groupMs: number;
}

/** One key's window. */
export interface Series {
  /** Bucket indexes, ascending. */
  idx: number[];
  /** Observed count per bucket. */
  count: number[];
  /** Declined count per bucket (suppressed strategy; zeros otherwise). */
  declined: number[];
  /** Sum of `count`. */
  total: number;
  /** Sum of `declined`. */
  declinedTotal: number;
  /** The capacity (soft limit) of the last recording call. */
  capacity: number;
  /** The hard limit of the last recording call (absolute: = capacity). */
  hard: number;
  /**
   * A lower bound of the bucket indexes (where eviction and the hint's scan start): the first
   * bucket's index when created, raised past every evicted range. NaN when empty.
   */
  origin: number;
}

/**
 * An empty series.
 * @returns the series
 */
export function newSeries(): Series {
  return {
    idx: [],
    count: [],
    declined: [],
    total: 0,
    declinedTotal: 0,
    capacity: 0,
    hard: 0,
    origin: NaN,
  };
}

/**
 * The largest expired bucket index at `now`: bucket `i` is expired once `(i+1)·g ≤ now − W`.
 * @param now ms
 * @param cfg the window
 * @returns the index
 */
export function expiredThrough(now: number, cfg: WindowConfig): number {
  return Math.floor((now - cfg.windowMs) / cfg.groupMs) - 1;
}

/**
 * Drops expired buckets.
 * @param s the series (mutated)
 * @param now ms
 * @param cfg the window
 * @returns how many buckets were dropped
 */
export function evict(s: Series, now: number, cfg: WindowConfig): number {
  const limit = expiredThrough(now, cfg);
  let k = 0;
  while (k < s.idx.length && s.idx[k]! <= limit) {
    s.total -= s.count[k]!;
    s.declinedTotal -= s.declined[k]!;
    k++;
  }
  if (k === s.idx.length) {
    // Emptied: the last limits stay (the hybrid keeps them beside its reservations).
    if (k > 0) Object.assign(s, newSeries(), { capacity: s.capacity, hard: s.hard });
    return k;
  }
  if (k > 0) {
    s.idx.splice(0, k);
    s.count.splice(0, k);
    s.declined.splice(0, k);
  }
  if (s.origin <= limit) s.origin = limit + 1;
  return k;
}

/**
 * Adds `n` observed (of which `declined` declined) to the bucket of `now` (or to the newest
 * bucket if the clock went backwards).
 * @param s the series (mutated)
 * @param now ms
 * @param cfg the window
 * @param n observed
 * @param declined declined (≤ n)
 */
export function record(
  s: Series,
  now: number,
  cfg: WindowConfig,
  n: number,
  declined: number,
): void {
  const b = Math.floor(now / cfg.groupMs);
  const last = s.idx.length - 1;
  if (last >= 0 && s.idx[last]! >= b) {
    s.count[last] = s.count[last]! + n;
    s.declined[last] = s.declined[last]! + declined;
  } else {
    if (last < 0) s.origin = b;
    s.idx.push(b);
    s.count.push(n);
    s.declined.push(declined);
  }
  s.total += n;
  s.declinedTotal += declined;
}

/**
 * When the whole series has expired (ms): the newest bucket's end plus the window.
 * @param s the series
 * @param cfg the window
 * @returns the time, or -1 when empty
 */
export function expiresAt(s: Series, cfg: WindowConfig): number {
  const n = s.idx.length;
  return n === 0 ? -1 : (s.idx[n - 1]! + 1) * cfg.groupMs + cfg.windowMs;
}

/**
 * Whether the series spans two windows' worth of bucket slots from its origin (an inc then
 * evicts even when eviction could not change its answer).
 * @param s the series
 * @param now ms
 * @param cfg the window
 * @returns true when an eviction is due
 */
export function tooWide(s: Series, now: number, cfg: WindowConfig): boolean {
  return s.idx.length > 0 &&
    Math.floor(now / cfg.groupMs) - s.origin >=
      EVICT_SPAN_WINDOWS * Math.ceil(cfg.windowMs / cfg.groupMs);
}

/**
 * Whether recording now opens a new bucket (none yet, or the newest is older than the current
 * one).
 * @param s the series
 * @param now ms
 * @param cfg the window
 * @returns true unless the newest bucket is the current one (or later: the clock went back)
 */
export function opensBucket(s: Series, now: number, cfg: WindowConfig): boolean {
  const n = s.idx.length;
  return n === 0 || s.idx[n - 1]! < Math.floor(now / cfg.groupMs);
}

/** The hints of a rejection. */
export interface Hint {
  /** ms until the request may fit (≥ 1). */
  retryAfterMs: number;
  /** Requests that fit after that wait. */
  remainingAfterWaiting: number;
}

/**
 * The rejection hint for `n` requests: walk the oldest bucket slots (at most
 * {@linkcode HINT_BUCKETS}, from the origin) until enough expires for `n` to fit, and report when and how much then fits. A request larger
 * than `cap` can never fit: `W + g` (when everything recorded so far has expired) and `cap`.
 * @param s the series (already evicted)
 * @param now ms
 * @param cfg the window
 * @param cap the capacity
 * @param n the request
 * @param extra usage held outside the buckets (hybrid reservations)
 * @param fallbackMs the wait when no bucket is there to expire
 * @returns the hint
 */
export function hint(
  s: Series,
  now: number,
  cfg: WindowConfig,
  cap: number,
  n: number,
  extra = 0,
  fallbackMs = cfg.windowMs,
): Hint {
  if (n > cap) return { retryAfterMs: cfg.windowMs + cfg.groupMs, remainingAfterWaiting: cap };
  const used = s.total - s.declinedTotal + extra;
  const need = used + n - cap;
  const m = s.idx.length;
  if (m === 0) {
    return {
      retryAfterMs: Math.max(1, fallbackMs),
      remainingAfterWaiting: Math.max(0, cap - used),
    };
  }
  // Scan at most HINT_BUCKETS bucket slots from the origin (the store reads them in one call).
  const last = Math.min(s.origin + HINT_BUCKETS - 1, s.idx[m - 1]!);
  let freed = 0;
  let k = 0;
  for (let slot = s.origin; slot <= last; slot++) {
    if (s.idx[k] === slot) {
      freed += s.count[k]! - s.declined[k]!;
      k++;
    }
    if (freed >= need || slot === last) {
      return {
        retryAfterMs: Math.max(1, (slot + 1) * cfg.groupMs + cfg.windowMs - now),
        remainingAfterWaiting: Math.max(0, cap - (used - freed)),
      };
    }
  }
  return { retryAfterMs: Math.max(1, fallbackMs), remainingAfterWaiting: Math.max(0, cap - used) };
}

/** A model decision: what the providers turn into a `RateLimitDecision`. */
export type ModelDecision =
  | { kind: "allowed" }
  | { kind: "rejected"; retryAfterMs: number; remainingAfterWaiting: number }
  | { kind: "suppressed"; suppressionFactor: number; isAllowed: boolean };

/**
 * Absolute admission, count-aware and all-or-nothing: `n` is admitted iff `total + n ≤ cap`.
 * A rejected call records nothing; `n = 0` is a check that records nothing.
 * @param s the series (mutated)
 * @param now ms
 * @param cfg the window
 * @param cap the caller's capacity
 * @param n the request (≥ 0)
 * @returns the decision
 */
export function absoluteInc(
  s: Series,
  now: number,
  cfg: WindowConfig,
  cap: number,
  n: number,
): ModelDecision {
  // Lazy eviction: expired usage only matters when it could change the answer, or when the
  // bucket span grows past two windows (which bounds the state and the work of one eviction):
  // only an inc that opens a bucket can widen it.
  if (s.total + n > cap || (tooWide(s, now, cfg) && opensBucket(s, now, cfg))) evict(s, now, cfg);
  if (s.total + n <= cap) {
    if (n > 0) {
      record(s, now, cfg, n, 0);
      s.capacity = cap;
      s.hard = cap;
    }
    return { kind: "allowed" };
  }
  return { kind: "rejected", ...hint(s, now, cfg, cap, n) };
}

/**
 * Whether one more request fits under the key's last capacity (unknown keys are allowed).
 * @param s the series (mutated by eviction only)
 * @param now ms
 * @param cfg the window
 * @returns the decision
 */
export function absoluteCheck(s: Series, now: number, cfg: WindowConfig): ModelDecision {
  if (s.idx.length === 0) return { kind: "allowed" };
  if (s.total + 1 > s.capacity || tooWide(s, now, cfg)) evict(s, now, cfg);
  if (s.idx.length === 0 || s.total + 1 <= s.capacity) return { kind: "allowed" };
  return { kind: "rejected", ...hint(s, now, cfg, s.capacity, 1) };
}

/**
 * The probability of admitting `n` more requests: 1 up to the soft limit, 0 beyond the hard
 * limit, and in between `min(1, soft/observed) × min(1, (hard − accepted)/(hard − soft))`: the
 * share of the offered load that keeps acceptance at the target, ramped smoothly down to 0 as
 * accepted usage approaches the hard limit (no jump from `1 − 1/f` to 1).
 * @param observed observed usage in the window
 * @param declined declined usage in the window
 * @param soft the soft limit (capacity)
 * @param hard the hard limit
 * @param n the request
 * @returns the admit probability in [0, 1]
 */
export function admitProbability(
  observed: number,
  declined: number,
  soft: number,
  hard: number,
  n: number,
): number {
  const accepted = observed - declined;
  if (accepted + n <= soft) return 1;
  if (accepted + n > hard) return 0;
  let p = 1;
  if (observed > soft) p = soft / observed;
  const ramp = (hard - accepted) / (hard - soft);
  if (ramp < 1) p = p * ramp;
  return p;
}

/**
 * Suppressed admission: every call is recorded as observed; a refused one also as declined.
 * Up to the soft limit the call is `allowed`; beyond, it is `suppressed` with the factor
 * `1 − p` and admitted iff `random < p` (the randomness comes from the caller).
 * @param s the series (mutated)
 * @param now ms
 * @param cfg the window
 * @param soft the caller's soft limit
 * @param hard the caller's hard limit
 * @param n the request (≥ 0)
 * @param random a number in [0, 1)
 * @returns the decision
 */
export function suppressedInc(
  s: Series,
  now: number,
  cfg: WindowConfig,
  soft: number,
  hard: number,
  n: number,
  random: number,
): ModelDecision {
  // Lazy eviction, as in absoluteInc: within the soft limit even counting expired usage, the
  // call is allowed whatever has expired; beyond it the probability needs the exact window.
  if (
    s.total - s.declinedTotal + n > soft || (tooWide(s, now, cfg) && opensBucket(s, now, cfg))
  ) evict(s, now, cfg);
  const below = s.total - s.declinedTotal + n <= soft;
  const p = admitProbability(s.total, s.declinedTotal, soft, hard, n);
  const ok = p === 1 || random < p;
  if (n > 0) {
    record(s, now, cfg, n, ok ? 0 : n);
    s.capacity = soft;
    s.hard = hard;
  }
  if (below) return { kind: "allowed" };
  return { kind: "suppressed", suppressionFactor: 1 - p, isAllowed: ok };
}

/**
 * The factor a unit call would get now under the key's last limits (0 for an unknown key).
 * @param s the series (mutated by eviction only)
 * @param now ms
 * @param cfg the window
 * @returns the factor in [0, 1]
 */
export function suppressionFactor(s: Series, now: number, cfg: WindowConfig): number {
  evict(s, now, cfg);
  if (s.idx.length === 0) return 0;
  return 1 - admitProbability(s.total, s.declinedTotal, s.capacity, s.hard, 1);
}

/** The outcome of {@linkcode setIf}. */
export interface SetOutcome {
  /** Whether the comparator matched. */
  matched: boolean;
  /** The total compared. */
  previousTotal: number;
  /** The total after. */
  total: number;
}

/**
 * When `cmp` matches the live (observed) total, replaces the window with one bucket of `n` at
 * `now` (no declines) and the caller's limits; `n = 0` empties the key.
 * @param s the series (mutated)
 * @param now ms
 * @param cfg the window
 * @param op comparator op
 * @param operand comparator operand
 * @param n the new total (≥ 0)
 * @param cap the caller's capacity
 * @param hard the caller's hard limit
 * @returns the outcome
 */
export function setIf(
  s: Series,
  now: number,
  cfg: WindowConfig,
  op: string,
  operand: number,
  n: number,
  cap: number,
  hard: number,
): SetOutcome {
  evict(s, now, cfg);
  const previousTotal = s.total;
  if (!compare(op, operand, previousTotal)) {
    return { matched: false, previousTotal, total: s.total };
  }
  const fresh = newSeries();
  if (n > 0) {
    record(fresh, now, cfg, n, 0);
    fresh.capacity = cap;
    fresh.hard = hard;
  }
  Object.assign(s, fresh);
  return { matched: true, previousTotal, total: n };
}

/**
 * The decision a unit call would get now under the key's last limits, without recording it
 * (unknown keys are allowed).
 * @param s the series (mutated by eviction only)
 * @param now ms
 * @param cfg the window
 * @param random a number in [0, 1)
 * @returns the decision
 */
export function suppressedCheck(
  s: Series,
  now: number,
  cfg: WindowConfig,
  random: number,
): ModelDecision {
  evict(s, now, cfg);
  if (s.idx.length === 0 || s.total - s.declinedTotal + 1 <= s.capacity) return { kind: "allowed" };
  const p = admitProbability(s.total, s.declinedTotal, s.capacity, s.hard, 1);
  return { kind: "suppressed", suppressionFactor: 1 - p, isAllowed: p === 1 || random < p };
}
