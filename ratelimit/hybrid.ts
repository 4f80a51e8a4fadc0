/**
 * The hybrid provider: decisions from memory, backed by reservations held in the store.
 *
 * An instance admits locally only from a reservation the store granted it; reservations count
 * against the capacity in the store (`accepted + reserved ≤ capacity`), so **N instances on one
 * key never admit more than the capacity per window while the store is reachable** (absolute
 * strategy). Every `syncIntervalMs` each active key commits what it used and tops its
 * reservation up, in one script call, exactly once (instance id + sequence number; a resend after
 * a lost reply is not applied twice). A key whose reservation runs out asks the store at once
 * (one call, shared by concurrent callers); a key the store has no room for rejects locally until
 * the next sync. Idle keys give their reservation back and are forgotten, so memory follows the
 * working set. The price of the guarantee is under-admission: capacity reserved by one instance
 * and not used is unavailable to the others until it is committed, released (after
 * `5 × syncIntervalMs` idle) or lapses (`max(20 × syncIntervalMs, 1000)` ms after the holder's
 * last sync, e.g. when it crashed).
 *
 * @module
 */
import { type Comparator, validateComparator } from "../core/comparator.ts";
import { ClosedError, StoreError } from "../core/errors.ts";
import { newId } from "../core/uuid.ts";
import { checkN, type Config, entityKeyBuilder, limitsOf, validateKey } from "./_config.ts";
import { DOWN } from "./_guard.ts";
import { admitProbability } from "./_model.ts";
import { RL_HYBRID } from "./_scripts.ts";
import type { LocalAbsoluteRateLimiter, LocalSuppressedRateLimiter } from "./local.ts";
import type { StoreContext } from "./redis.ts";
import type {
  AbsoluteMethods,
  Rate,
  RateLimitDecision,
  RateLimitSetResult,
  SuppressedMethods,
  SuppressedSnapshot,
} from "./types.ts";

/** A sync sent and not yet acknowledged: resent unchanged (same sequence) until it is. */
interface Batch {
  seq: number;
  used: number;
  extra: number;
  declined: number;
  want: number;
  sentAt: number;
}

/** What this instance knows of one key. */
interface Entry {
  cap: number;
  hard: number;
  /** Tokens of the reservation still usable here. */
  avail: number;
  /** Local time after which the reservation must not be used any more. */
  resUntil: number;
  /** Admitted from the reservation, not sent yet. */
  used: number;
  /** Observed outside the reservation (suppressed above soft, fallbacks), not sent yet. */
  extra: number;
  /** Declined among `extra`, not sent yet. */
  declined: number;
  batch: Batch | undefined;
  flight: Promise<boolean> | undefined;
  /** The store's answer at the last sync. */
  observed: number;
  declinedTotal: number;
  reserved: number;
  mine: number;
  viewAt: number;
  retryAfterMs: number;
  remaining: number;
  blockedUntil: number;
  lastUse: number;
  /** Requests of callers waiting for a store call. */
  waiting: number;
}

function newEntry(cap: number, hard: number): Entry {
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
  };
}

const ALLOWED: RateLimitDecision = Object.freeze({ kind: "allowed" }) as RateLimitDecision;

/** The most background syncs one engine keeps in flight. */
const MAX_BACKGROUND = 32;

/** The engine both hybrid strategies share. */
class HybridEngine {
  readonly ctx: StoreContext;
  readonly cfg: Config;
  readonly kind: string;
  readonly instanceId: string = newId();
  readonly ttlMs: number;
  readonly idleMs: number;
  readonly entries = new Map<string, Entry>();
  #seq = 0;
  #keyOf: (key: string) => string;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onError: (e: StoreError) => void;

  constructor(ctx: StoreContext, kind: string, onError: (e: StoreError) => void) {
    this.ctx = ctx;
    this.cfg = ctx.cfg;
    this.kind = kind;
    this.#keyOf = entityKeyBuilder(ctx.cfg.prefix, kind);
    this.ttlMs = Math.max(20 * ctx.cfg.syncIntervalMs, 1000);
    this.idleMs = Math.max(5 * ctx.cfg.syncIntervalMs, 50);
    this.#onError = onError;
  }

  open(): void {
    if (this.ctx.closed()) throw new ClosedError("RateLimiter");
  }

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

  /** The entity's hash, bucket zset and reservation zset (one hash tag, see entityKeyBuilder). */
  keys(key: string): string[] {
    const tag = this.#keyOf(key);
    return [tag, `${tag}:z`, `${tag}:r`];
  }

  /** Capacity the store had left unreserved at the last sync. */
  free(e: Entry): number {
    return e.cap - (e.observed - e.declinedTotal) - e.reserved;
  }

  /** Whether `n` can be taken from the reservation now. */
  take(e: Entry, n: number, now: number): boolean {
    if (n === 0) return true; // a pure check: admitted, nothing recorded
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
   */
  sync(key: string, e: Entry, want: number, hintN = 1): Promise<boolean> {
    if (e.flight !== undefined) return e.flight;
    const p = this.#syncNow(key, e, want, hintN).finally(() => e.flight = undefined);
    e.flight = p;
    return p;
  }

  async #syncNow(key: string, e: Entry, want: number, hintN: number): Promise<boolean> {
    const now = this.cfg.now();
    if (e.batch === undefined) {
      e.batch = {
        seq: ++this.#seq,
        used: e.used,
        extra: e.extra,
        declined: e.declined,
        want: want < 0 ? -1 : e.cap >= 0 ? Math.min(want, e.cap) : want,
        sentAt: now,
      };
      e.used = 0;
      e.extra = 0;
      e.declined = 0;
    }
    const b = e.batch;
    if (b.want < 0) e.avail = 0; // releasing: nothing may be taken from it meanwhile
    const argv = [
      "sync",
      this.cfg.windowMs,
      this.cfg.groupMs,
      this.instanceId,
      b.seq,
      b.used,
      b.extra,
      b.declined,
      b.want,
      this.ttlMs,
      e.cap,
      e.hard,
      hintN,
    ];
    let r: unknown;
    try {
      r = await this.ctx.guard.run(() => this.ctx.store().run(RL_HYBRID, this.keys(key), argv));
    } catch (err) {
      if (err instanceof StoreError) return false; // "throw" policy: reported by the caller
      throw err;
    }
    if (r === DOWN) return false;
    const a = (r as string[]).map(Number);
    const after = this.cfg.now();
    e.batch = undefined;
    if (e.cap < 0) {
      e.cap = a[5]!;
      e.hard = a[6]!;
    }
    e.mine = a[1]!;
    e.avail = Math.max(0, a[1]! - e.used);
    e.resUntil = a[1]! > 0 ? b.sentAt + this.ttlMs - this.cfg.syncIntervalMs : -Infinity;
    e.observed = a[2]!;
    e.declinedTotal = a[3]!;
    e.reserved = a[4]!;
    e.viewAt = after;
    e.retryAfterMs = a[7]!;
    e.remaining = a[8]!;
    return true;
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

  /** Background syncs in flight (bounded, so the store sees a bounded load). */
  #background = 0;

  /** The reservation a key aims for: its recent use, at least a fair share of one interval. */
  want(e: Entry, recent: number): number {
    const perTick = Math.ceil(e.cap * this.cfg.syncIntervalMs / this.cfg.windowMs);
    return e.avail + e.waiting + Math.max(2 * recent, perTick);
  }

  tick(): void {
    const now = this.cfg.now();
    const due: Array<[string, Entry, number]> = [];
    for (const [key, e] of this.entries) {
      if (e.flight !== undefined) continue;
      if (due.length + this.#background >= MAX_BACKGROUND) break;
      if (e.batch !== undefined || e.used > 0 || e.extra > 0) {
        due.push([key, e, this.want(e, e.batch?.used ?? e.used)]);
      } else if (e.avail > 0 && now - e.lastUse >= this.idleMs) {
        due.push([key, e, -1]);
      } else if (e.avail > 0 && e.resUntil - now < this.ttlMs / 2) {
        due.push([key, e, e.avail]);
      } else if (e.avail === 0 && now - e.lastUse >= this.idleMs && now >= e.blockedUntil) {
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
        else if (await this.sync(key, e, -1).catch(() => false)) e.mine = 0;
        if (!owes(e) || Date.now() >= deadline) break;
        const wait = Math.min(Math.max(2, this.ctx.guard.retryInMs), deadline - Date.now());
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      }
    }));
    this.entries.clear();
  }

  rejected(e: Entry, now: number): RateLimitDecision {
    return {
      kind: "rejected",
      retryAfterMs: Math.max(1, e.retryAfterMs - Math.max(0, now - e.viewAt)),
      remainingAfterWaiting: e.remaining,
      windowSizeSeconds: this.cfg.windowSizeSeconds,
    };
  }

  /** Never fits: a window and a bucket (all current usage expired) and the capacity. */
  never(cap: number): RateLimitDecision {
    return {
      kind: "rejected",
      retryAfterMs: this.cfg.windowMs + this.cfg.groupMs,
      remainingAfterWaiting: cap,
      windowSizeSeconds: this.cfg.windowSizeSeconds,
    };
  }

  /** A read: commits the key's pending usage and learns the store's view of it. */
  async read(key: string): Promise<Entry | undefined> {
    this.open();
    const known = this.entries.get(key);
    const e = known ?? newEntry(-1, -1);
    const ok = await this.sync(key, e, e.avail);
    if (!ok) return undefined;
    return e;
  }

  failure(): StoreError {
    return new StoreError("Rate-limit store unreachable");
  }
}

/**
 * The hybrid absolute limiter. Get it from `rl.hybrid.absolute`.
 *
 * @example
 * ```ts
 * import { MemoryStore, RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ store: new MemoryStore() });
 * console.assert((await rl.hybrid.absolute.inc("user-1", 100)).kind === "allowed");
 * ```
 */
export class HybridAbsoluteRateLimiter implements AbsoluteMethods<true> {
  #x: HybridEngine;
  #fallback: LocalAbsoluteRateLimiter;
  /**
   * Built by {@linkcode RateLimiter} (use `rl.redis` / `rl.hybrid`), not directly.
   * @param ctx the limiter's shared context
   * @param fallback the local limiter the "local" policy uses during an outage
   * @param onError told about background sync failures
   */
  constructor(
    ctx: StoreContext,
    fallback: LocalAbsoluteRateLimiter,
    onError: (e: StoreError) => void,
  ) {
    this.#x = new HybridEngine(ctx, "ha", onError);
    this.#fallback = fallback;
  }

  /** This instance's id in the store (its reservations and sequence numbers carry it). */
  get instanceId(): string {
    return this.#x.instanceId;
  }

  /** Number of keys held in memory. */
  get size(): number {
    return this.#x.entries.size;
  }

  /**
   * Admits `n` requests when they fit: from this instance's reservation when it can (no I/O),
   * else after one store call.
   * @param key the entity
   * @param rate the rate
   * @param n the request size (≥ 0)
   * @returns allowed, or rejected with a wait and what fits after it
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.hybrid.absolute.inc("k", 10, 10)).kind === "allowed");
   * console.assert((await rl.hybrid.absolute.inc("k", 10, 1)).kind === "allowed");
   * ```
   */
  async inc(key: string, rate: Rate, n = 1): Promise<RateLimitDecision> {
    validateKey(key);
    checkN(n);
    const { cap } = limitsOf(this.#x.cfg, rate, false);
    const x = this.#x;
    x.open();
    const e = x.entry(key, cap, cap);
    const now = x.cfg.now();
    if (x.take(e, n, now)) return ALLOWED;
    if (n > cap) return x.never(cap);
    if (now < e.blockedUntil) return x.rejected(e, now);
    e.lastUse = now;
    // Concurrent callers share each store call; its reservation target covers all of them.
    e.waiting += n;
    try {
      for (let round = 0; round < 3; round++) {
        const ok = await x.sync(key, e, x.want(e, e.used), n);
        const after = x.cfg.now();
        if (x.take(e, n, after)) return ALLOWED;
        if (!ok) return this.#down(key, rate, n, e);
        if (x.free(e) <= 0) break; // no room in the store: reject until the next sync
      }
    } finally {
      e.waiting -= n;
    }
    const after = x.cfg.now();
    e.blockedUntil = after + Math.min(e.retryAfterMs, x.cfg.syncIntervalMs);
    return x.rejected(e, after);
  }

  #down(key: string, rate: Rate, n: number, e: Entry): RateLimitDecision {
    const p = this.#x.cfg.onStoreError;
    if (p === "throw") throw this.#x.failure();
    if (p === "allow") return ALLOWED;
    if (p === "local") {
      const d = this.#fallback.inc(key, rate, n);
      if (d.kind === "allowed") e.extra += n;
      return d;
    }
    return {
      kind: "rejected",
      retryAfterMs: Math.max(1, this.#x.ctx.guard.retryInMs),
      remainingAfterWaiting: 0,
      windowSizeSeconds: this.#x.cfg.windowSizeSeconds,
    };
  }

  /**
   * Whether one more request fits (from the reservation, else after one store call).
   * @param key the entity
   * @returns the decision
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.hybrid.absolute.isAllowed("k")).kind === "allowed");
   * ```
   */
  async isAllowed(key: string): Promise<RateLimitDecision> {
    validateKey(key);
    const x = this.#x;
    x.open();
    const known = x.entries.get(key);
    const now = x.cfg.now();
    if (known !== undefined && now < known.resUntil && known.avail >= 1) return ALLOWED;
    const e = await x.read(key);
    if (e === undefined) {
      const p = x.cfg.onStoreError;
      if (p === "local") return this.#fallback.isAllowed(key);
      if (p === "allow") return ALLOWED;
      if (p === "throw") throw x.failure();
      return {
        kind: "rejected",
        retryAfterMs: 1,
        remainingAfterWaiting: 0,
        windowSizeSeconds: x.cfg.windowSizeSeconds,
      };
    }
    const cap = e.cap >= 0 ? e.cap : 0;
    if (e.observed === 0 && e.reserved === 0) return ALLOWED;
    if (e.avail >= 1 || e.observed - e.declinedTotal + e.reserved - e.mine + 1 <= cap) {
      return ALLOWED;
    }
    return x.rejected(e, x.cfg.now());
  }

  /**
   * The fleet's live total: this instance's pending usage is committed first.
   * @param key the entity
   * @returns the total in the window
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.hybrid.absolute.inc("k", 10, 4);
   * console.assert(await rl.hybrid.absolute.get("k") === 4);
   * ```
   */
  async get(key: string): Promise<number> {
    validateKey(key);
    const e = await this.#x.read(key);
    if (e === undefined) {
      if (this.#x.cfg.onStoreError === "local") return this.#fallback.get(key);
      throw this.#x.failure();
    }
    return e.observed + e.used + e.extra;
  }

  /**
   * When `cmp` matches the fleet's total, replaces the window with one bucket of `n`.
   * @param key the entity
   * @param rate the rate
   * @param cmp the condition
   * @param n the new total (≥ 0)
   * @returns matched, the total compared, and the total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.hybrid.absolute.setIf("k", 10, Comparator.eq(0), 7)).total === 7);
   * ```
   */
  setIf(key: string, rate: Rate, cmp: Comparator, n: number): Promise<RateLimitSetResult> {
    return hybridSetIf(this.#x, key, rate, cmp, n, false);
  }

  /** Commits, releases and forgets every key; stops the timer. @internal */
  close(): Promise<void> {
    return this.#x.close();
  }
}

async function hybridSetIf(
  x: HybridEngine,
  key: string,
  rate: Rate,
  cmp: Comparator,
  n: number,
  suppressed: boolean,
): Promise<RateLimitSetResult> {
  validateKey(key);
  validateComparator(cmp);
  checkN(n);
  const { cap, hard } = limitsOf(x.cfg, rate, suppressed);
  x.open();
  // Commit this instance's usage and give its reservation back, so the new total stands alone.
  const e = x.entries.get(key) ?? newEntry(-1, -1);
  while (e.flight !== undefined) await e.flight.catch(() => false);
  if (!(await x.sync(key, e, -1))) throw x.failure();
  const argv = ["set", x.cfg.windowMs, x.cfg.groupMs, cap, hard, n, cmp.op, cmp.operand];
  const r = await x.ctx.guard.run(() => x.ctx.store().run(RL_HYBRID, x.keys(key), argv));
  if (r === DOWN) throw x.failure();
  const a = r as [number, string, string];
  const out = { matched: Number(a[0]) === 1, previousTotal: Number(a[1]), total: Number(a[2]) };
  if (out.matched) {
    e.blockedUntil = -Infinity;
    await x.read(key);
  }
  return out;
}

/**
 * The hybrid suppressed limiter: up to the soft limit calls are admitted from reservations
 * (exact fleet-wide); beyond it each instance decides with the factor computed from its last
 * view of the store (refreshed every `syncIntervalMs`, and before any decision made on a view
 * older than `suppressionFactorCacheMs`). Get it from `rl.hybrid.suppressed`.
 *
 * @example
 * ```ts
 * import { MemoryStore, RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ store: new MemoryStore() });
 * console.assert((await rl.hybrid.suppressed.inc("k", 10)).kind === "allowed");
 * ```
 */
export class HybridSuppressedRateLimiter implements SuppressedMethods<true> {
  #x: HybridEngine;
  #fallback: LocalSuppressedRateLimiter;
  /**
   * Built by {@linkcode RateLimiter} (use `rl.redis` / `rl.hybrid`), not directly.
   * @param ctx the limiter's shared context
   * @param fallback the local limiter the "local" policy uses during an outage
   * @param onError told about background sync failures
   */
  constructor(
    ctx: StoreContext,
    fallback: LocalSuppressedRateLimiter,
    onError: (e: StoreError) => void,
  ) {
    this.#x = new HybridEngine(ctx, "hs", onError);
    this.#fallback = fallback;
  }

  /** Number of keys held in memory. */
  get size(): number {
    return this.#x.entries.size;
  }

  /** Observed, declined and others' reserved usage as this instance sees it. */
  #view(e: Entry): { observed: number; declined: number } {
    const b = e.batch;
    const pending = e.used + e.extra + (b ? b.used + b.extra : 0);
    const pendingDeclined = e.declined + (b ? b.declined : 0);
    return {
      observed: e.observed + pending + Math.max(0, e.reserved - e.mine),
      declined: e.declinedTotal + pendingDeclined,
    };
  }

  /**
   * Records `n` requests and decides: from the reservation up to the soft limit, then
   * probabilistically from this instance's view of the store.
   * @param key the entity
   * @param rate the rate
   * @param n the request size (≥ 0)
   * @returns allowed, or suppressed with the factor and the verdict
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.hybrid.suppressed.inc("k", 10, 2)).kind === "allowed");
   * ```
   */
  async inc(key: string, rate: Rate, n = 1): Promise<RateLimitDecision> {
    validateKey(key);
    checkN(n);
    const { cap, hard } = limitsOf(this.#x.cfg, rate, true);
    const x = this.#x;
    x.open();
    const e = x.entry(key, cap, hard);
    let now = x.cfg.now();
    if (x.take(e, n, now)) return ALLOWED;
    if (now - e.viewAt >= x.cfg.suppressionFactorCacheMs || now >= e.blockedUntil) {
      e.lastUse = now;
      e.waiting += n;
      let ok: boolean;
      try {
        ok = await x.sync(key, e, x.want(e, e.used), n);
      } finally {
        e.waiting -= n;
      }
      now = x.cfg.now();
      if (x.take(e, n, now)) return ALLOWED;
      if (!ok) {
        const p = x.cfg.onStoreError;
        if (p === "throw") throw x.failure();
        if (p === "allow") return ALLOWED;
        if (p === "deny") return { kind: "suppressed", suppressionFactor: 1, isAllowed: false };
        const d = this.#fallback.inc(key, rate, n);
        e.extra += n;
        if (d.kind === "suppressed" && !d.isAllowed) e.declined += n;
        return d;
      }
      e.blockedUntil = now + x.cfg.syncIntervalMs;
    }
    const v = this.#view(e);
    const below = v.observed - v.declined + n <= cap;
    const p = admitProbability(v.observed, v.declined, cap, hard, n);
    const ok = p === 1 || x.cfg.random() < p;
    e.extra += n;
    if (!ok) e.declined += n;
    e.lastUse = now;
    if (below) return ALLOWED;
    return { kind: "suppressed", suppressionFactor: 1 - p, isAllowed: ok };
  }

  async #read(key: string): Promise<Entry> {
    const e = await this.#x.read(key);
    if (e === undefined) throw this.#x.failure();
    return e;
  }

  /**
   * The verdict a unit call would get now, without recording it.
   * @param key the entity
   * @returns the decision
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.hybrid.suppressed.isAllowed("k")).kind === "allowed");
   * ```
   */
  async isAllowed(key: string): Promise<RateLimitDecision> {
    validateKey(key);
    const e = await this.#read(key);
    if (e.avail >= 1 || e.cap <= 0) return ALLOWED;
    const v = this.#view(e);
    if (v.observed - v.declined + 1 <= e.cap) return ALLOWED;
    const p = admitProbability(v.observed, v.declined, e.cap, e.hard, 1);
    return {
      kind: "suppressed",
      suppressionFactor: 1 - p,
      isAllowed: p === 1 || this.#x.cfg.random() < p,
    };
  }

  /**
   * The fleet's observed and declined totals (this instance's pending usage committed first).
   * @param key the entity
   * @returns the snapshot
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.hybrid.suppressed.inc("k", 10, 3);
   * console.assert((await rl.hybrid.suppressed.get("k")).total === 3);
   * ```
   */
  async get(key: string): Promise<SuppressedSnapshot> {
    validateKey(key);
    const e = await this.#read(key);
    const total = e.observed + e.used + e.extra;
    const declined = e.declinedTotal + e.declined;
    const sf = e.cap <= 0 || total === 0
      ? 0
      : 1 - admitProbability(total + Math.max(0, e.reserved - e.mine), declined, e.cap, e.hard, 1);
    return { total, declined, suppressionFactor: sf };
  }

  /**
   * The factor a unit call would be suppressed with now.
   * @param key the entity
   * @returns the factor in [0, 1]
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert(await rl.hybrid.suppressed.getSuppressionFactor("k") === 0);
   * ```
   */
  async getSuppressionFactor(key: string): Promise<number> {
    return (await this.get(key)).suppressionFactor;
  }

  /**
   * When `cmp` matches the fleet's observed total, replaces the window with one bucket of `n`.
   * @param key the entity
   * @param rate the rate
   * @param cmp the condition
   * @param n the new total (≥ 0)
   * @returns matched, the total compared, and the total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.hybrid.suppressed.setIf("k", 10, Comparator.always, 2)).matched);
   * ```
   */
  setIf(key: string, rate: Rate, cmp: Comparator, n: number): Promise<RateLimitSetResult> {
    return hybridSetIf(this.#x, key, rate, cmp, n, true);
  }

  /** Commits, releases and forgets every key; stops the timer. @internal */
  close(): Promise<void> {
    return this.#x.close();
  }
}
