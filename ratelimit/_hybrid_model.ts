/**
 * The hybrid provider's store-side model: the shared window plus per-instance reservations.
 * An instance admits locally only from a reservation it holds in the store, and reservations
 * count against the capacity (`accepted + reserved ≤ capacity`), so the fleet never admits more
 * than the capacity while the store is reachable. A sync commits what an instance used (exactly
 * once: it carries the instance id and a sequence number) and tops its reservation up.
 * lua/ratelimit_hybrid.lua implements the same functions.
 *
 * @module
 */
import { compare } from "../core/comparator.ts";
import { RESERVATION_SWEEP } from "../core/limits.ts";
import {
  evict,
  expiresAt,
  hint,
  newSeries,
  record,
  resetMsOf,
  type Series,
  type WindowConfig,
} from "./_model.ts";

/** A reservation held by one instance. */
export interface Reservation {
  /** Tokens held. */
  r: number;
  /** Server time it lapses, ms. */
  exp: number;
}

/** One entity's store state under the hybrid provider. */
export interface HybridState {
  /** The committed window. */
  s: Series;
  /** Reservations by instance id. */
  res: Map<string, Reservation>;
  /** Last applied sequence number by instance id. */
  seq: Map<string, number>;
  /** Sum of reservations. */
  reserved: number;
  /** Server time until which the key is blocked (`block`), ms; 0 when it is not. */
  blockedUntil: number;
}

/**
 * An empty state.
 * @returns the state
 */
export function newHybridState(): HybridState {
  return { s: newSeries(), res: new Map(), seq: new Map(), reserved: 0, blockedUntil: 0 };
}

/** What a sync carries. */
export interface SyncRequest {
  /** The instance. */
  id: string;
  /** Its sequence number (> 0; a number at or below the last applied one is not applied). */
  seq: number;
  /** Admitted from the reservation since the last applied sync. */
  used: number;
  /** Observed without the reservation (suppressed decisions above the soft limit, fallbacks). */
  extra: number;
  /** Declined, among `extra`. */
  declined: number;
  /** The reservation wanted after this sync: a top-up target (never shrinks), or -1 to release. */
  want: number;
  /** Reservation lifetime, ms. */
  ttlMs: number;
  /** The caller's capacity (soft limit), or -1 to keep the stored one. */
  cap: number;
  /** The caller's hard limit, or -1 to keep the stored one. */
  hard: number;
  /** The request size the rejection hint is for. */
  hintN: number;
}

/** What a sync answers. */
export interface SyncReply {
  /** Whether this sync was applied (false: a resend of an applied one). */
  applied: boolean;
  /** This instance's reservation now. */
  r: number;
  /** Observed total. */
  observed: number;
  /** Declined total. */
  declined: number;
  /** All reservations. */
  reserved: number;
  /** The stored capacity. */
  cap: number;
  /** The stored hard limit. */
  hard: number;
  /** When `hintN` more than this reservation may fit, ms. */
  retryAfterMs: number;
  /** How many then fit for this instance. */
  remainingAfterWaiting: number;
  /** ms until the oldest usage leaves the window (0 when none). */
  resetMs: number;
  /** ms the key stays blocked (0 when it is not). */
  blockedMs: number;
}

/** Drops expired buckets and lapsed reservations (at most {@linkcode RESERVATION_SWEEP}). */
function sweep(st: HybridState, now: number, cfg: WindowConfig): void {
  evict(st.s, now, cfg);
  if (st.blockedUntil <= now) st.blockedUntil = 0;
  const lapsed = [...st.res].filter(([, v]) => v.exp <= now)
    .sort((a, b) => a[1].exp - b[1].exp || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, RESERVATION_SWEEP);
  for (const [id, v] of lapsed) {
    st.reserved -= v.r;
    st.res.delete(id);
  }
}

/**
 * Applies a sync (unless already applied) and reports the state.
 * @param st the state (mutated)
 * @param now server time, ms
 * @param cfg the window
 * @param q the request
 * @returns the reply
 */
export function hybridSync(
  st: HybridState,
  now: number,
  cfg: WindowConfig,
  q: SyncRequest,
): SyncReply {
  sweep(st, now, cfg);
  if (q.cap >= 0) {
    st.s.capacity = q.cap;
    st.s.hard = q.hard;
  }
  const cap = st.s.capacity;
  let applied = false;
  if (q.seq > (st.seq.get(q.id) ?? 0)) {
    applied = true;
    st.seq.set(q.id, q.seq);
    const mine = st.res.get(q.id);
    let r = mine?.r ?? 0;
    st.reserved -= r;
    r = Math.max(0, r - q.used);
    const observed = q.used + q.extra;
    if (observed > 0) record(st.s, now, cfg, observed, q.declined);
    if (q.want < 0 || st.blockedUntil > 0) {
      // Released, or blocked: no instance may admit from a reservation while the block lasts.
      r = 0;
    } else if (q.want > r) {
      const free = cap - (st.s.total - st.s.declinedTotal) - st.reserved - r;
      if (free > 0) {
        const holders = st.res.size + (mine === undefined ? 1 : 0);
        const fair = Math.max(1, Math.ceil(free / holders));
        r += Math.min(q.want - r, free, fair);
      }
    }
    st.reserved += r;
    if (r > 0) st.res.set(q.id, { r, exp: now + q.ttlMs });
    else st.res.delete(q.id);
  }
  const r = st.res.get(q.id)?.r ?? 0;
  st.s.origin = st.s.idx[0] ?? NaN; // the hybrid keeps a zset: its scan starts at the oldest bucket
  const h = hint(st.s, now, cfg, cap, q.hintN, st.reserved - r, cfg.groupMs);
  return {
    applied,
    r,
    observed: st.s.total,
    declined: st.s.declinedTotal,
    reserved: st.reserved,
    cap,
    hard: st.s.hard,
    retryAfterMs: h.retryAfterMs,
    remainingAfterWaiting: h.remainingAfterWaiting,
    resetMs: resetMsOf(st.s, now, cfg),
    blockedMs: st.blockedUntil > 0 ? st.blockedUntil - now : 0,
  };
}

/**
 * `setIf` on the hybrid keyspace: compares the observed total, replaces the window (the
 * reservations stay).
 * @param st the state (mutated)
 * @param now server time, ms
 * @param cfg the window
 * @param op comparator op
 * @param operand comparator operand
 * @param n the new total
 * @param cap the caller's capacity
 * @param hard the caller's hard limit
 * @returns matched, previous total, total
 */
export function hybridSet(
  st: HybridState,
  now: number,
  cfg: WindowConfig,
  op: string,
  operand: number,
  n: number,
  cap: number,
  hard: number,
): { matched: boolean; previousTotal: number; total: number } {
  sweep(st, now, cfg);
  const previousTotal = st.s.total;
  if (!compare(op, operand, previousTotal)) {
    return { matched: false, previousTotal, total: previousTotal };
  }
  const fresh = newSeries();
  if (n > 0) record(fresh, now, cfg, n, 0);
  fresh.capacity = cap;
  fresh.hard = hard;
  st.s = fresh;
  st.blockedUntil = 0;
  return { matched: true, previousTotal, total: n };
}

/**
 * Gives back up to `n` of the committed window's most recent accepted usage (never below zero).
 * @param st the state (mutated)
 * @param now server time, ms
 * @param cfg the window
 * @param n how many
 * @returns the observed total after
 */
export function hybridRefund(st: HybridState, now: number, cfg: WindowConfig, n: number): number {
  sweep(st, now, cfg);
  const s = st.s;
  let left = n;
  for (let k = s.idx.length - 1; k >= 0 && left > 0; k--) {
    const take = Math.min(left, s.count[k]! - s.declined[k]!);
    s.count[k] = s.count[k]! - take;
    s.total -= take;
    left -= take;
    if (s.count[k] === 0) {
      s.idx.splice(k, 1);
      s.count.splice(k, 1);
      s.declined.splice(k, 1);
    }
  }
  return s.total;
}

/**
 * Blocks the key for `ms` (replacing an earlier block).
 * @param st the state (mutated)
 * @param now server time, ms
 * @param cfg the window
 * @param ms the block's length
 */
export function hybridBlock(st: HybridState, now: number, cfg: WindowConfig, ms: number): void {
  sweep(st, now, cfg);
  st.blockedUntil = now + ms;
}

/**
 * When the state lapses entirely: the later of its newest bucket's expiry and its last
 * reservation's.
 * @param st the state
 * @param cfg the window
 * @returns ms, or -1 when the state is empty
 */
export function hybridExpiresAt(st: HybridState, cfg: WindowConfig): number {
  let at = Math.max(expiresAt(st.s, cfg), st.blockedUntil > 0 ? st.blockedUntil : -1);
  for (const v of st.res.values()) at = Math.max(at, v.exp);
  return at;
}
