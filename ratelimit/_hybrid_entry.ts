/**
 * What a hybrid engine keeps per key: the reservation it holds, the usage not yet committed, the
 * sync in flight, and its last view of the store.
 *
 * Times are this instance's clock (`cfg.now()`), ms; counts are requests.
 *
 * @module
 */

/**
 * The `cap` / `hard` of an entry whose limits are not known here (an entry made for a read): the
 * sync sends it as "keep the stored limits" and learns them from the store's reply.
 */
export const UNKNOWN_LIMIT = -1;

/** The `want` of a sync that releases the reservation (commits, then gives it all back). */
export const RELEASE = -1;

/** A sync sent and not yet acknowledged: resent unchanged (same sequence) until it is. */
export interface Batch {
  /**
   * The engine's sequence number of this batch; the store applies a batch only when its number
   * is above the last one it applied for this instance, so a resend is not applied twice.
   */
  seq: number;
  /** The entry's `used` moved into this batch. */
  used: number;
  /** The entry's `extra` moved into this batch. */
  extra: number;
  /** The entry's `declined` moved into this batch. */
  declined: number;
  /**
   * The reservation asked for: a top-up target (at most `cap` when known), or
   * {@linkcode RELEASE}.
   */
  want: number;
  /**
   * When it was first sent. The store starts the reservation's lifetime when it applies the
   * batch, which is no earlier, so a lifetime counted from here ends no later than the store's.
   */
  sentAt: number;
}

/** What this instance knows of one key. */
export interface Entry {
  /**
   * Capacity per window of the key's last rate (the soft limit, for suppressed), or
   * {@linkcode UNKNOWN_LIMIT} until a sync reply tells it.
   */
  cap: number;
  /**
   * Hard limit per window of the key's last rate (suppressed; `= cap` for absolute), or
   * {@linkcode UNKNOWN_LIMIT} until a sync reply tells it.
   */
  hard: number;
  /** Tokens of the reservation still usable here. */
  avail: number;
  /**
   * Local time after which the reservation must not be used any more: one sync interval before
   * the store lets it lapse, so it is never used after it was given to others.
   */
  resUntil: number;
  /** Admitted from the reservation, not sent yet. */
  used: number;
  /** Observed outside the reservation (suppressed above soft, fallbacks), not sent yet. */
  extra: number;
  /** Declined among `extra`, not sent yet. */
  declined: number;
  /** The sync sent and not acknowledged yet (resent as is), or undefined. */
  batch: Batch | undefined;
  /**
   * The store call in flight for this key, shared by every caller that needs one meanwhile;
   * resolves false when the store was unreachable. Undefined when none is.
   */
  flight: Promise<boolean> | undefined;
  /** The store's observed total in the window at the last sync (every instance's commits). */
  observed: number;
  /** The store's declined total in the window at the last sync. */
  declinedTotal: number;
  /** The sum of every instance's reservation in the store at the last sync (this one's too). */
  reserved: number;
  /**
   * This instance's reservation as the store held it at the last sync (`avail` is what is left
   * of it here); the others' reservations are `reserved - mine`.
   */
  mine: number;
  /** Local time the last sync's reply arrived: the age of `observed` … `remaining`. */
  viewAt: number;
  /** The store's hint at the last sync: how long until the request then asked for could fit. */
  retryAfterMs: number;
  /** The store's hint at the last sync: how many requests fit after `retryAfterMs`. */
  remaining: number;
  /**
   * Absolute: local time until which an inc the reservation cannot serve is rejected without
   * asking the store (it had no room). Suppressed: local time until which decisions use the last
   * view without refreshing it. Either way the entry is not forgotten before then.
   */
  blockedUntil: number;
  /**
   * Local time the key last served an inc (from the reservation, from the store or, suppressed,
   * from the view): the idle clock that releases and forgets the key.
   */
  lastUse: number;
  /** Requests of callers waiting for a store call (the reservation target covers them). */
  waiting: number;
  /**
   * Local time the store's oldest usage (at the last sync) leaves the window; 0 when the store
   * held none.
   */
  resetAt: number;
  /** Absolute: local time the key's block (`block`) ends; 0 when none is known. */
  blockEnd: number;
  /**
   * Bumped by a matched `setIf`/`reset`: a call whose store reply predates it must not block the
   * entry from that reply's stale numbers.
   */
  gen: number;
}

/**
 * A fresh entry: no reservation, nothing pending, no view of the store yet.
 * @param cap the capacity (soft limit), or {@linkcode UNKNOWN_LIMIT}
 * @param hard the hard limit, or {@linkcode UNKNOWN_LIMIT}
 * @returns the entry
 */
export function newEntry(cap: number, hard: number): Entry {
  return {
    cap,
    hard,
    avail: 0,
    resUntil: -Infinity,
    used: 0,
    extra: 0,
    declined: 0,
    batch: undefined,
    flight: undefined,
    observed: 0,
    declinedTotal: 0,
    reserved: 0,
    mine: 0,
    viewAt: -Infinity,
    retryAfterMs: 0,
    remaining: 0,
    blockedUntil: -Infinity,
    lastUse: -Infinity,
    waiting: 0,
    resetAt: 0,
    blockEnd: 0,
    gen: 0,
  };
}
