/**
 * The hybrid suppressed strategy: up to the soft limit calls are admitted from reservations
 * (exact fleet-wide); beyond it each instance decides with the factor computed from its last
 * view of the store (see ./hybrid.ts for the provider, ./_hybrid_engine.ts for the machinery).
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import type { Entry } from "./_hybrid_entry.ts";
import { hybridSetIf } from "./_hybrid_set_if.ts";
import { HybridShell, type OnSyncError } from "./_hybrid_shell.ts";
import { admitProbability } from "./_model.ts";
import type { LocalSuppressedRateLimiter } from "./local.ts";
import { allowedBlind, type StoreContext } from "./redis.ts";
import { validateKey } from "./_config.ts";
import type { Rate, RateLimitDecision, RateLimitSetResult, SuppressedMethods } from "./types.ts";
import type { SuppressedSnapshot } from "./types.ts";

/** The store's totals as this instance sees them now (its own pending usage included). */
interface View {
  /** Observed, with this instance's pending usage and the others' reservations. */
  observed: number;
  /** Declined, with this instance's pending declines. */
  declined: number;
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
export class HybridSuppressedRateLimiter extends HybridShell<LocalSuppressedRateLimiter>
  implements SuppressedMethods<true> {
  /**
   * Built by {@linkcode RateLimiter} (use `rl.redis` / `rl.hybrid`), not directly.
   * @param ctx the limiter's shared context
   * @param fallback the local limiter the "local" policy uses during an outage
   * @param onError told about background sync failures
   */
  constructor(ctx: StoreContext, fallback: LocalSuppressedRateLimiter, onError: OnSyncError) {
    super(ctx, "hs", fallback, onError);
  }

  /** Observed, declined and others' reserved usage as this instance sees it. */
  #view(e: Entry): View {
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
    const x = this.engine;
    const { e, cap, hard } = x.enter(key, rate, n, true);
    let now = x.cfg.now();
    if (x.take(e, n, now)) return x.allowed(e, now, hard);
    if (now - e.viewAt >= x.cfg.suppressionFactorCacheMs || now >= e.blockedUntil) {
      // The view is too old to decide on: refresh it (and try for a reservation).
      e.lastUse = now;
      e.waiting += n;
      let ok: boolean;
      try {
        ok = await x.sync(key, e, x.want(e, e.used), n);
      } finally {
        e.waiting -= n;
      }
      now = x.cfg.now();
      if (x.take(e, n, now)) return x.allowed(e, now, hard);
      if (!ok) return this.#down(key, rate, n, e, hard);
      e.blockedUntil = now + x.cfg.syncIntervalMs;
    }
    const v = this.#view(e);
    const below = v.observed - v.declined + n <= cap;
    const p = admitProbability(v.observed, v.declined, cap, hard, n);
    const ok = p === 1 || x.cfg.random() < p;
    e.extra += n;
    if (!ok) e.declined += n;
    e.lastUse = now;
    const nums = x.numbers(e, now, hard);
    if (below) return { kind: "allowed", ...nums };
    return { kind: "suppressed", suppressionFactor: 1 - p, isAllowed: ok, ...nums };
  }

  /** The failure policy's answer to an inc while the store is unreachable. */
  #down(key: string, rate: Rate, n: number, e: Entry, hard: number): RateLimitDecision {
    const x = this.engine;
    const p = x.cfg.onStoreError;
    if (p === "throw") throw x.failure();
    if (p === "allow") return allowedBlind(hard, n);
    if (p === "deny") {
      return {
        kind: "suppressed",
        suppressionFactor: 1,
        isAllowed: false,
        limit: hard,
        remaining: 0,
        resetMs: 0,
      };
    }
    const d = this.fallback.inc(key, rate, n);
    e.extra += n;
    if (d.kind === "suppressed" && !d.isAllowed) e.declined += n;
    return d;
  }

  /** A read that needs the store: the entry, or StoreError when it is unreachable. */
  async #read(key: string): Promise<Entry> {
    const e = await this.engine.read(key);
    if (e === undefined) throw this.engine.failure();
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
    const now = this.engine.cfg.now();
    const v = this.#view(e);
    const limit = v.observed > 0 ? Math.max(0, e.hard) : 0;
    const nums = this.engine.numbers(e, now, limit);
    if (e.avail >= 1 || e.cap <= 0) return { kind: "allowed", ...nums };
    if (v.observed - v.declined + 1 <= e.cap) return { kind: "allowed", ...nums };
    const p = admitProbability(v.observed, v.declined, e.cap, e.hard, 1);
    return {
      kind: "suppressed",
      suppressionFactor: 1 - p,
      isAllowed: p === 1 || this.engine.cfg.random() < p,
      ...nums,
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
    return hybridSetIf(this.engine, key, rate, cmp, n, true);
  }
}
