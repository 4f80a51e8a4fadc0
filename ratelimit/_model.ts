/**
 * The rate limiter's pure model: a bucketed sliding window and the absolute and suppressed
 * decisions over it. No I/O and no clock: every function takes `now`. The local provider runs it
 * directly; the Lua scripts (lua/ratelimit_*.lua) implement the same functions, and their
 * MemoryStore models load the state, call these, and store it back.
 *
 * Buckets are aligned: bucket `i` holds what was recorded during `[i·g, (i+1)·g)`, and it counts
 * until `(i+1)·g + W` (so usage is never forgotten early; it may count up to `g` ms late).
 * Expired buckets are evicted as soon as a call sees one (the origin is the oldest bucket, so that
 * test is one comparison): every decision's numbers are those of the live window.
 *
 * Every decision carries its numbers ({@linkcode Numbers}), defined here and only here:
 * - `limit`: the capacity of the rate used, per window: `floor(rate × windowSizeSeconds)`
 *   (absolute), and for the suppressed strategy its hard limit, `floor(rate × windowSizeSeconds
 *   × hardLimitFactor)`, beyond which nothing is admitted;
 * - `remaining`: `limit` minus the accepted (admitted, not declined) usage in the live window
 *   after the call, never below 0;
 * - `resetMs`: ms until `remaining` next grows: until the oldest bucket holding usage leaves the
 *   window (`(origin + 1)·g + W − now`, at least 1); 0 when nothing is recorded.
 *
 * @module
 */
import { compare } from "../core/comparator.ts";
import { HINT_BUCKETS } from "../core/limits.ts";

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
   * The oldest bucket's index (where eviction, the hint's scan and `resetMs` start). NaN when
   * empty. (States written before 0.x may hold a lower bound instead: the next eviction makes it
   * exact.)
   */
  origin: number;
  /** Server time until which every admission is refused (`block`), ms; 0 when never blocked. */
  blockedUntil: number;
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
    blockedUntil: 0,
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
    // Emptied: the last limits stay (the hybrid keeps them beside its reservations), and a block
    // while it lasts.
    if (k > 0) {
      Object.assign(s, newSeries(), {
        capacity: s.capacity,
        hard: s.hard,
        blockedUntil: s.blockedUntil > now ? s.blockedUntil : 0,
      });
    }
    return k;
  }
  if (k > 0) {
    s.idx.splice(0, k);
    s.count.splice(0, k);
    s.declined.splice(0, k);
  }
  // The origin stays exact: the oldest bucket left.
  if (s.origin <= limit) s.origin = s.idx[0]!;
  return k;
}

/**
 * Evicts when the oldest bucket has expired (one comparison when it has not).
 * @param s the series (mutated)
 * @param now ms
 * @param cfg the window
 */
export function evictDue(s: Series, now: number, cfg: WindowConfig): void {
  if (s.idx.length > 0 && s.origin <= expiredThrough(now, cfg)) evict(s, now, cfg);
}

/** The numbers every decision carries (see the module documentation). */
export interface Numbers {
  /** The capacity of the rate used per window (suppressed: the hard limit). */
  limit: number;
  /** `limit` minus the accepted usage in the window after the call, ≥ 0. */
  remaining: number;
  /** ms until `remaining` next grows; 0 when nothing is recorded. */
  resetMs: number;
}

/**
 * ms until the oldest recorded usage leaves the window (0 when nothing is recorded).
 * @param s the series (evicted at `now`)
 * @param now ms
 * @param cfg the window
 * @returns the time, ms
 */
export function resetMsOf(s: Series, now: number, cfg: WindowConfig): number {
  if (s.idx.length === 0) return 0;
  return Math.max(1, (s.origin + 1) * cfg.groupMs + cfg.windowMs - now);
}

/**
 * The numbers of a decision on the (evicted) series.
 * @param s the series
 * @param now ms
 * @param cfg the window
 * @param limit the limit
 * @returns the numbers
 */
export function numbersOf(s: Series, now: number, cfg: WindowConfig, limit: number): Numbers {
  return {
    limit,
    remaining: Math.max(0, limit - (s.total - s.declinedTotal)),
    resetMs: resetMsOf(s, now, cfg),
  };
}

/** Whether the key is blocked at `now`. */
export function blocked(s: Series, now: number): boolean {
  return s.blockedUntil > now;
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
  // Scan at most HINT_BUCKETS bucket slots from the origin (ratelimit_absolute.lua reads them in
  // one call on a rejection; ratelimit_hybrid.lua, asked on every sync, in chunks of 1, 4, 16, 64).
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
  & (
    | { kind: "allowed" }
    | { kind: "rejected"; retryAfterMs: number; remainingAfterWaiting: number }
    | { kind: "suppressed"; suppressionFactor: number; isAllowed: boolean }
  )
  & Numbers;

/**
 * The rejection of `n` by a blocked key: the wait is the longer of the block's and the window's
 * (when `n` does not fit even then), `remaining` is 0, and `resetMs` is when the block ends (or,
 * when the window is full then, when its oldest usage leaves it, whichever is later).
 */
function blockedReject(
  s: Series,
  now: number,
  cfg: WindowConfig,
  cap: number,
  n: number,
): ModelDecision {
  const wait = s.blockedUntil - now;
  const used = s.total - s.declinedTotal;
  const h = n > cap
    ? hint(s, now, cfg, cap, n)
    : s.idx.length === 0
    ? { retryAfterMs: 1, remainingAfterWaiting: cap }
    : used + n <= cap
    ? { retryAfterMs: 1, remainingAfterWaiting: cap - used }
    : hint(s, now, cfg, cap, n);
  return {
    kind: "rejected",
    retryAfterMs: Math.max(wait, h.retryAfterMs),
    remainingAfterWaiting: h.remainingAfterWaiting,
    limit: cap,
    remaining: 0,
    resetMs: used < cap ? wait : Math.max(wait, resetMsOf(s, now, cfg)),
  };
}

/**
 * Absolute admission, count-aware and all-or-nothing: `n` is admitted iff `total + n ≤ cap`
 * (and the key is not blocked). A rejected call records nothing; `n = 0` is a check that
 * records nothing.
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
  if (s.idx.length > 0 && s.origin <= expiredThrough(now, cfg)) evict(s, now, cfg);
  if (s.blockedUntil > now) return blockedReject(s, now, cfg, cap, n);
  if (s.total + n <= cap) {
    if (n > 0) {
      record(s, now, cfg, n, 0);
      s.capacity = cap;
      s.hard = cap;
    }
    // The hot path: one object, no intermediate (see numbersOf).
    return {
      kind: "allowed",
      limit: cap,
      remaining: cap - s.total,
      resetMs: s.idx.length === 0
        ? 0
        : Math.max(1, (s.origin + 1) * cfg.groupMs + cfg.windowMs - now),
    };
  }
  return { kind: "rejected", ...hint(s, now, cfg, cap, n), ...numbersOf(s, now, cfg, cap) };
}

/**
 * Whether one more request fits under the key's last capacity: an unknown key (nothing recorded)
 * is allowed, with `limit` 0 (no rate is known), unless it is blocked.
 * @param s the series (mutated by eviction only)
 * @param now ms
 * @param cfg the window
 * @returns the decision
 */
export function absoluteCheck(s: Series, now: number, cfg: WindowConfig): ModelDecision {
  evictDue(s, now, cfg);
  const cap = s.idx.length === 0 ? 0 : s.capacity;
  if (blocked(s, now)) {
    if (s.idx.length === 0) {
      const wait = s.blockedUntil - now;
      return {
        kind: "rejected",
        retryAfterMs: wait,
        remainingAfterWaiting: 0,
        limit: 0,
        remaining: 0,
        resetMs: wait,
      };
    }
    return blockedReject(s, now, cfg, cap, 1);
  }
  if (s.idx.length === 0 || s.total + 1 <= cap) {
    return { kind: "allowed", ...numbersOf(s, now, cfg, cap) };
  }
  return { kind: "rejected", ...hint(s, now, cfg, cap, 1), ...numbersOf(s, now, cfg, cap) };
}

/**
 * Gives back up to `n` of the most recent usage (newest buckets first; never below zero).
 * @param s the series (mutated)
 * @param now ms
 * @param cfg the window
 * @param n how many (≥ 0)
 * @returns the live total after
 */
export function refund(s: Series, now: number, cfg: WindowConfig, n: number): number {
  evictDue(s, now, cfg);
  let left = n;
  while (left > 0 && s.idx.length > 0) {
    const k = s.idx.length - 1;
    const take = Math.min(left, s.count[k]! - s.declined[k]!);
    s.count[k] = s.count[k]! - take;
    s.total -= take;
    left -= take;
    if (s.count[k]! > 0) break;
    s.idx.pop();
    s.count.pop();
    s.declined.pop();
  }
  if (s.idx.length === 0) {
    Object.assign(s, newSeries(), {
      capacity: s.capacity,
      hard: s.hard,
      blockedUntil: s.blockedUntil > now ? s.blockedUntil : 0,
    });
  }
  return s.total;
}

/**
 * Blocks the key for `ms`: every admission is refused until `now + ms` (a later block replaces
 * an earlier one, shorter or longer).
 * @param s the series (mutated, evicted)
 * @param now ms
 * @param cfg the window
 * @param ms the block's length (≥ 1)
 * @returns when the block ends, ms
 */
export function block(s: Series, now: number, cfg: WindowConfig, ms: number): number {
  evictDue(s, now, cfg);
  s.blockedUntil = now + ms;
  return s.blockedUntil;
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
 * Its numbers count against the hard limit (`limit` = `hard`).
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
  evictDue(s, now, cfg);
  const below = s.total - s.declinedTotal + n <= soft;
  const p = admitProbability(s.total, s.declinedTotal, soft, hard, n);
  const ok = p === 1 || random < p;
  if (n > 0) {
    record(s, now, cfg, n, ok ? 0 : n);
    s.capacity = soft;
    s.hard = hard;
  }
  const nums = numbersOf(s, now, cfg, hard);
  if (below) return { kind: "allowed", ...nums };
  return { kind: "suppressed", suppressionFactor: 1 - p, isAllowed: ok, ...nums };
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
  const nums = numbersOf(s, now, cfg, s.idx.length === 0 ? 0 : s.hard);
  if (s.idx.length === 0 || s.total - s.declinedTotal + 1 <= s.capacity) {
    return { kind: "allowed", ...nums };
  }
  const p = admitProbability(s.total, s.declinedTotal, s.capacity, s.hard, 1);
  return {
    kind: "suppressed",
    suppressionFactor: 1 - p,
    isAllowed: p === 1 || random < p,
    ...nums,
  };
}
