/**
 * The engine both hybrid strategies share: the entries (./_hybrid_entry.ts), the sync of one key
 * with the store (commit what it used, top its reservation up, exactly once), the periodic
 * background sync, the final release on close, and the answers built from an entry.
 *
 * @module
 */
import { ClosedError, StoreError } from "../core/errors.ts";
import { newId } from "../core/uuid.ts";
import { checkN, type Config, entityKeyBuilder, limitsOf, validateKey } from "./_config.ts";
import { DOWN } from "../store/_resilience.ts";
import { type Batch, type Entry, newEntry, RELEASE, UNKNOWN_LIMIT } from "./_hybrid_entry.ts";
import { HYBRID_SYNC, type HybridOp, type RlWindow } from "./_scripts.ts";
import type { Operation } from "../store/operation.ts";
import type { SyncReply } from "./_hybrid_model.ts";
import { reportedBlockEnd, type StoreContext } from "./redis.ts";
import type { DecisionNumbers, Rate, RateLimitDecision } from "./types.ts";

/**
 * Reservation lifetime in sync intervals: a live instance renews a key's reservation at each sync
 * (every interval while the key is used, and before half the lifetime has passed otherwise), so
 * it lapses only after many syncs in a row failed (a crashed or cut-off holder). Long enough that
 * a few lost syncs (a GC pause, a network blip) never take a live instance's reservation away;
 * short enough that a dead one's capacity soon comes back to the fleet.
 */
const RESERVATION_TTL_SYNCS = 20;

/**
 * Floor on the reservation lifetime, ms (it is the lifetime at the default 10 ms interval): store
 * round trips, timer delays and pauses do not shrink with the interval, and with a lifetime of a
 * few short intervals they would lapse live reservations.
 */
const MIN_RESERVATION_TTL_MS = 1000;

/**
 * A key unused for this many sync intervals releases its reservation and is then forgotten: soon
 * enough that capacity reserved and not used goes back to the other instances, late enough that a
 * key used in bursts a few intervals apart keeps its reservation between them.
 */
const IDLE_SYNCS = 5;

/** Floor on the idle time, ms, so that a very short sync interval does not release at once. */
const MIN_IDLE_MS = 50;

/**
 * The most background syncs one engine keeps in flight, so one tick puts a bounded load on the
 * store however many keys are active; keys not served this tick come first at the next one.
 */
const MAX_BACKGROUND = 32;

/**
 * A key's reservation target, in multiples of its use since the last sync: room for its rate to
 * double before the next sync without a store call on the request path.
 */
const TARGET_USE_MULTIPLE = 2;

/**
 * A reservation that is not used up is renewed in the background once less than this part of its
 * lifetime is left, so a key used rarely (but not idle) never finds it lapsed.
 */
const RENEW_BELOW_TTL_PART = 1 / 2;

/**
 * Shortest wait between `close`'s attempts to commit and release a key, ms: when the guard has no
 * retry time of its own, the retries do not spin.
 */
const CLOSE_RETRY_MIN_MS = 2;

/** The engine both hybrid strategies share. */
export class HybridEngine {
  /** The limiter's shared context (config, store, guard). */
  readonly ctx: StoreContext;
  /** `ctx.cfg`. */
  readonly cfg: Config;
  /** The key suffix of the strategy ("ha" absolute, "hs" suppressed). */
  readonly kind: string;
  /** This instance's id in the store: its reservations and sequence numbers carry it. */
  readonly instanceId: string;
  /** Reservation lifetime, ms ({@linkcode RESERVATION_TTL_SYNCS}). */
  readonly ttlMs: number;
  /** How long a key may go unused before it releases its reservation, ms ({@linkcode IDLE_SYNCS}). */
  readonly idleMs: number;
  /** What this instance knows, by key; in service order (a served key moves to the end). */
  readonly entries = new Map<string, Entry>();
  /** The window, formatted once for the script's argv. */
  readonly #win: RlWindow;
  /** The entity's hash key, tag included (see entityKeyBuilder). */
  readonly #keyOf: (key: string) => string;
  /** The last batch sequence number this engine used. */
  #seq = 0;
  /** The periodic sync's timer, while one is scheduled. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Background syncs in flight (at most {@linkcode MAX_BACKGROUND}). */
  #background = 0;
  /** Told about background sync failures. */
  #onError: (e: StoreError) => void;

  /**
   * @param ctx the limiter's shared context
   * @param kind the key suffix of the strategy
   * @param onError told about background sync failures
   * @param instanceId this instance's id (a fresh one by default)
   */
  constructor(
    ctx: StoreContext,
    kind: string,
    onError: (e: StoreError) => void,
    instanceId: string = newId(),
  ) {
    this.ctx = ctx;
    this.instanceId = instanceId;
    this.cfg = ctx.cfg;
    this.kind = kind;
    this.#keyOf = entityKeyBuilder(ctx.cfg.prefix, kind);
    this.ttlMs = Math.max(RESERVATION_TTL_SYNCS * ctx.cfg.syncIntervalMs, MIN_RESERVATION_TTL_MS);
    this.idleMs = Math.max(IDLE_SYNCS * ctx.cfg.syncIntervalMs, MIN_IDLE_MS);
    this.#win = Object.freeze({
      w: String(ctx.cfg.windowMs),
      g: String(ctx.cfg.groupMs),
      seconds: ctx.cfg.windowSizeSeconds,
    });
    this.#onError = onError;
  }

  /** @throws {ClosedError} once the limiter is closed */
  open(): void {
    if (this.ctx.closed()) throw new ClosedError("RateLimiter");
  }

  /**
   * An inc's common start: checks the key and `n`, computes the rate's limits, checks the limiter
   * is open, and returns the key's entry (made, or updated to these limits).
   * @returns the entry and the limits of this call
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError}
   */
  enter(
    key: string,
    rate: Rate,
    n: number,
    suppressed: boolean,
  ): { e: Entry; cap: number; hard: number } {
    validateKey(key);
    checkN(n);
    const { cap, hard } = limitsOf(this.cfg, rate, suppressed);
    this.open();
    return { e: this.entry(key, cap, hard), cap, hard };
  }

  /** The key's entry, made (and the timer started) when new, else updated to these limits. */
  entry(key: string, cap: number, hard: number): Entry {
    let e = this.entries.get(key);
    if (e === undefined) {
      e = newEntry(cap, hard);
      this.entries.set(key, e);
      this.schedule();
    } else {
      e.cap = cap;
      e.hard = hard;
    }
    return e;
  }

  /** The key's store keys: its hash, its bucket index and its reservation holders (one tag). */
  keys(key: string): string[] {
    const tag = this.#keyOf(key);
    return [tag, `${tag}:z`, `${tag}:r`];
  }

  /** Capacity the store had left unreserved at the last sync. */
  free(e: Entry): number {
    return e.cap - (e.observed - e.declinedTotal) - e.reserved;
  }

  /** Whether `n` can be taken from the reservation now (and takes it). */
  take(e: Entry, n: number, now: number): boolean {
    // A pure check: admitted, nothing recorded; its numbers need a view of the store, so an
    // entry that has never had one (new, or made again after the sweep dropped it) syncs first
    // (it answered "nothing used" before: remaining = the whole capacity).
    if (n === 0) return e.viewAt > -Infinity;
    if (now < e.resUntil && e.avail >= n) {
      e.avail -= n;
      e.used += n;
      e.lastUse = now;
      return true;
    }
    return false;
  }

  /**
   * Commits the key's pending usage and tops its reservation up to `want` (or releases it with
   * -1). Concurrent callers share one call. Resolves false when the store is unreachable (the
   * batch is kept and resent later, same sequence number).
   * @param hintN the request size the store's rejection hint is for
   */
  sync(key: string, e: Entry, want: number, hintN = 1): Promise<boolean> {
    if (e.flight !== undefined) return e.flight;
    const p = this.#syncNow(key, e, want, hintN).finally(() => e.flight = undefined);
    e.flight = p;
    return p;
  }

  async #syncNow(key: string, e: Entry, want: number, hintN: number): Promise<boolean> {
    const b = this.#batch(e, want, this.cfg.now());
    if (b.want < 0) e.avail = 0; // releasing: nothing may be taken from it meanwhile
    const op: Extract<HybridOp, { op: "sync" }> = {
      op: "sync",
      id: this.instanceId,
      seq: b.seq,
      used: b.used,
      extra: b.extra,
      declined: b.declined,
      want: b.want,
      ttlMs: this.ttlMs,
      cap: e.cap,
      hard: e.hard,
      hintN,
    };
    let r: SyncReply | typeof DOWN;
    try {
      r = await this.call(key, HYBRID_SYNC, op);
    } catch (err) {
      if (err instanceof StoreError) return false; // "throw" policy: reported by the caller
      throw err;
    }
    if (r === DOWN) return false;
    this.#learn(e, b, r);
    return true;
  }

  /** The batch to send: the unacknowledged one again, else the pending usage moved into a new one. */
  #batch(e: Entry, want: number, now: number): Batch {
    if (e.batch === undefined) {
      e.batch = {
        seq: ++this.#seq,
        used: e.used,
        extra: e.extra,
        declined: e.declined,
        want: want < 0 ? RELEASE : e.cap >= 0 ? Math.min(want, e.cap) : want,
        sentAt: now,
      };
      e.used = 0;
      e.extra = 0;
      e.declined = 0;
    }
    return e.batch;
  }

  /** Takes in the store's answer to batch `b`: the reservation, the totals and the hint. */
  #learn(e: Entry, b: Batch, a: SyncReply): void {
    const after = this.cfg.now();
    e.batch = undefined;
    if (e.cap < 0) {
      e.cap = a.cap;
      e.hard = a.hard;
    }
    e.mine = a.r;
    e.observed = a.observed;
    e.declinedTotal = a.declined;
    e.reserved = a.reserved;
    if (a.blockedMs === 0 && after < e.blockEnd) {
      // Not blocked when the store ran it, yet this instance knows of a block that is not over:
      // the store ran it before the block (its reply came back late), or the block has just
      // ended. Either way, keep to the block as told to callers: its reservation is not used
      // (the store releases it at the next sync), and the block's hint stays.
      e.avail = 0;
      return;
    }
    e.avail = Math.max(0, a.r - e.used); // what was taken meanwhile came out of the old one
    e.resUntil = a.r > 0 ? b.sentAt + this.ttlMs - this.cfg.syncIntervalMs : -Infinity;
    e.viewAt = after;
    e.retryAfterMs = a.retryAfterMs;
    e.remaining = a.remainingAfterWaiting;
    e.resetAt = a.resetMs > 0 ? after + a.resetMs : 0;
    if (a.blockedMs > 0) {
      // Blocked (by any instance): the store released this instance's reservation; reject
      // from memory until the block ends (the store ran the call after the batch's first send).
      const end = reportedBlockEnd(e.blockEnd, a.blockedMs, b.sentAt, after);
      this.blocked(e, after, Math.max(0, end - after));
    }
  }

  /**
   * Takes in a block of `ms` from `now`: calls are rejected from memory until it ends. It replaces
   * any block known before, as in the store.
   */
  blocked(e: Entry, now: number, ms: number): void {
    e.blockEnd = now + ms;
    e.blockedUntil = e.blockEnd;
    e.avail = 0;
    // The block's end, when a request fits then (or the limit is not known here yet); else when
    // the oldest usage the last sync saw leaves the window, if later. Taking the larger of the
    // block and the last hint always made a block on a key with committed usage say the window's
    // length (1 s for a 400 ms block) once a background sync had come in before it, and a block
    // that replaced a longer one say the longer one's end.
    const room = e.cap < 0 || e.cap - this.accepted(e) >= 1;
    e.retryAfterMs = room ? ms : Math.max(ms, e.resetAt - now);
    e.viewAt = now;
  }

  /**
   * The accepted usage the fleet state implies, as this instance sees it: the store's accepted
   * total at the last sync, the other instances' reservations (they may use them at any time, so
   * they count as used), and this instance's usage not committed yet. Its own unused reservation
   * does not count.
   */
  accepted(e: Entry): number {
    return e.observed - e.declinedTotal + Math.max(0, e.reserved - e.mine) + this.pending(e);
  }

  /** This instance's accepted usage not committed yet (in the batch in flight, or not sent). */
  pending(e: Entry): number {
    const b = e.batch;
    return e.used + e.extra - e.declined + (b ? b.used + b.extra - b.declined : 0);
  }

  /**
   * A decision's numbers from the entry (see {@linkcode HybridEngine.accepted}): `remaining` is
   * what the fleet may still admit without passing `limit`, counting other instances'
   * reservations as used (exact with one instance); `resetMs` is when the oldest usage the store
   * held at the last sync leaves the window, or, when it held none but this instance has usage
   * to commit, when the current bucket does (that usage is committed no earlier).
   */
  numbers(e: Entry, now: number, limit: number): DecisionNumbers {
    if (now < e.blockEnd) return { limit, remaining: 0, resetMs: Math.ceil(e.blockEnd - now) };
    let resetMs = 0;
    if (e.resetAt > now) resetMs = Math.ceil(e.resetAt - now);
    else if (e.resetAt > 0 || this.pending(e) > 0) {
      const g = this.cfg.groupMs;
      resetMs = (Math.floor(now / g) + 1) * g + this.cfg.windowMs - now;
    }
    return { limit, remaining: Math.max(0, limit - this.accepted(e)), resetMs };
  }

  /** An allowed decision with the entry's numbers. */
  allowed(e: Entry, now: number, limit: number): RateLimitDecision {
    return { kind: "allowed", ...this.numbers(e, now, limit) };
  }

  /** One call of the hybrid script on the key's store keys, under the guard. */
  call<O, R>(
    key: string,
    op: Operation<{ win: RlWindow; o: O }, R>,
    o: O,
  ): Promise<R | typeof DOWN> {
    const args = { win: this.#win, o };
    return this.ctx.guard.run(
      () => this.ctx.store().run(op.script, this.keys(key), op.encode(args)),
      (r) => r === DOWN ? DOWN : op.decode(r, args),
    );
  }

  /** The periodic sync: active keys commit and renew, idle ones release and are forgotten. */
  schedule(): void {
    if (this.#timer !== undefined || this.ctx.closed()) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.tick();
      if (this.entries.size > 0) this.schedule();
    }, this.cfg.syncIntervalMs);
  }

  /** The reservation a key aims for: its recent use, at least a fair share of one interval. */
  want(e: Entry, recent: number): number {
    const perTick = Math.ceil(e.cap * this.cfg.syncIntervalMs / this.cfg.windowMs);
    return e.avail + e.waiting + Math.max(TARGET_USE_MULTIPLE * recent, perTick);
  }

  /** One periodic pass: starts the background syncs due (bounded) and forgets idle keys. */
  tick(): void {
    const now = this.cfg.now();
    const due: Array<[string, Entry, number]> = [];
    for (const [key, e] of this.entries) {
      if (e.flight !== undefined) continue;
      if (due.length + this.#background >= MAX_BACKGROUND) break;
      if (e.batch !== undefined || e.used > 0 || e.extra > 0) {
        // Something to commit (or resend): commit it and top the reservation up.
        due.push([key, e, this.want(e, e.batch?.used ?? e.used)]);
      } else if ((e.avail > 0 || e.mine > 0) && now - e.lastUse >= this.idleMs) {
        // Idle with a reservation: give it back. That includes one the store still holds while
        // nothing of it may be used here (a block set `avail` to 0): given back, it is the
        // fleet's again at once, not when it lapses a reservation lifetime later.
        due.push([key, e, RELEASE]);
      } else if (e.avail > 0 && e.resUntil - now < this.ttlMs * RENEW_BELOW_TTL_PART) {
        // In use, nothing to commit, reservation aging: renew it as it is.
        due.push([key, e, e.avail]);
      } else if (e.avail === 0 && now - e.lastUse >= this.idleMs && now >= e.blockedUntil) {
        // Idle, nothing held, nothing owed: forget it.
        this.entries.delete(key);
      }
    }
    for (const [key, e, want] of due) {
      // Rotate: keys not served this tick come first next time.
      this.entries.delete(key);
      this.entries.set(key, e);
      this.#background++;
      this.sync(key, e, want).catch(this.#report).finally(() => this.#background--);
    }
  }

  #report = (e: unknown): void => {
    if (e instanceof StoreError) this.#onError(e);
  };

  /**
   * Stops the timer; commits and releases every key, retrying lost or failed syncs for up to
   * `storeTimeoutMs` in all.
   */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = Date.now() + this.cfg.storeTimeoutMs;
    const owes = (e: Entry) =>
      e.batch !== undefined || e.used > 0 || e.extra > 0 || e.avail > 0 || e.mine > 0;
    await Promise.allSettled([...this.entries].map(async ([key, e]) => {
      while (owes(e)) {
        if (e.flight !== undefined) await e.flight.catch(() => false);
        else if (await this.sync(key, e, RELEASE).catch(() => false)) e.mine = 0;
        if (!owes(e) || Date.now() >= deadline) break;
        const wait = Math.min(
          Math.max(CLOSE_RETRY_MIN_MS, this.ctx.guard.retryInMs),
          deadline - Date.now(),
        );
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      }
    }));
    this.entries.clear();
  }

  /** The rejection the last sync's hint gives, aged by the time since. */
  rejected(e: Entry, now: number): RateLimitDecision {
    return {
      kind: "rejected",
      retryAfterMs: Math.max(1, e.retryAfterMs - Math.max(0, now - e.viewAt)),
      remainingAfterWaiting: e.remaining,
      windowSizeSeconds: this.cfg.windowSizeSeconds,
      ...this.numbers(e, now, Math.max(0, e.cap)),
    };
  }

  /** Never fits: a window and a bucket (all current usage expired) and the capacity. */
  never(e: Entry, now: number, cap: number): RateLimitDecision {
    return {
      kind: "rejected",
      retryAfterMs: this.cfg.windowMs + this.cfg.groupMs,
      remainingAfterWaiting: cap,
      windowSizeSeconds: this.cfg.windowSizeSeconds,
      ...this.numbers(e, now, cap),
    };
  }

  /**
   * A read: commits the key's pending usage and learns the store's view of it.
   * @returns the entry (a throwaway one for an unknown key), or undefined when the store is
   *   unreachable
   */
  async read(key: string): Promise<Entry | undefined> {
    this.open();
    const known = this.entries.get(key);
    const e = known ?? newEntry(UNKNOWN_LIMIT, UNKNOWN_LIMIT);
    const ok = await this.sync(key, e, e.avail);
    if (!ok) return undefined;
    return e;
  }

  /** The error of a call that needs the store while it is unreachable. */
  failure(): StoreError {
    return new StoreError("Rate-limit store unreachable");
  }
}
