/**
 * The hybrid absolute strategy: all-or-nothing admission from this instance's reservation, so N
 * instances on one key never admit more than the capacity per window while the store is
 * reachable (see ./hybrid.ts for the provider, ./_hybrid_engine.ts for the machinery).
 *
 * @module
 */
import type { Comparator } from "../core/comparator.ts";
import { capOf, checkDuration, checkN, validateKey } from "./_config.ts";
import { DOWN } from "../store/_resilience.ts";
import { newEntry, UNKNOWN_LIMIT } from "./_hybrid_entry.ts";
import { HYBRID_BLOCK, HYBRID_REFUND } from "./_scripts.ts";
import { waitUntilAllowed } from "./_wait.ts";
import type { Entry } from "./_hybrid_entry.ts";
import { hybridReset, hybridSetIf } from "./_hybrid_set_if.ts";
import { HybridShell, type OnSyncError } from "./_hybrid_shell.ts";
import type { LocalAbsoluteRateLimiter } from "./local.ts";
import { allowedBlind, type StoreContext } from "./redis.ts";
import type {
  AbsoluteMethods,
  Rate,
  RateLimitDecision,
  RateLimitSetResult,
  WaitUntilAllowedOptions,
} from "./types.ts";

/**
 * Store calls one inc makes at most before it rejects: a call's fresh reservation can be taken by
 * concurrent callers before this one runs again, so it asks again, but a contended key must not
 * keep a caller looping; three calls serve a caller behind two such races.
 */
const MAX_STORE_ROUNDS = 3;

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
export class HybridAbsoluteRateLimiter extends HybridShell<LocalAbsoluteRateLimiter>
  implements AbsoluteMethods<true> {
  /**
   * Built by {@linkcode RateLimiter} (use `rl.redis` / `rl.hybrid`), not directly.
   * @param ctx the limiter's shared context
   * @param fallback the local limiter the "local" policy uses during an outage
   * @param onError told about background sync failures
   * @param instanceId {@linkcode instanceId} (a fresh one by default)
   */
  constructor(
    ctx: StoreContext,
    fallback: LocalAbsoluteRateLimiter,
    onError: OnSyncError,
    instanceId?: string,
  ) {
    super(ctx, "ha", fallback, onError, instanceId);
  }

  /** This instance's id in the store (its reservations and sequence numbers carry it). */
  get instanceId(): string {
    return this.engine.instanceId;
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
    return await this.incNow(key, rate, n);
  }

  /**
   * {@linkcode HybridAbsoluteRateLimiter.inc}, answered synchronously when no store call is
   * needed (the usual case): the HTTP middleware's path, which then adds no promise of its own.
   * @param key the entity
   * @param rate the rate
   * @param n the request size (≥ 0)
   * @returns the decision, or its promise when the store must be asked
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError} synchronously
   * @internal
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * import type { HybridAbsoluteRateLimiter } from "./hybrid_absolute.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.hybrid.absolute.inc("k", 10); // the first call loads the code and asks the store
   * // incNow is internal: the facade's type does not have it
   * const hybrid = rl.hybrid.absolute as unknown as HybridAbsoluteRateLimiter;
   * const d = hybrid.incNow("k", 10); // the next ones take from the reservation
   * console.assert(!(d instanceof Promise) && d.kind === "allowed");
   * ```
   */
  incNow(key: string, rate: Rate, n = 1): RateLimitDecision | Promise<RateLimitDecision> {
    const x = this.engine;
    const { e, cap } = x.enter(key, rate, n, false);
    const now = x.cfg.now();
    if (x.take(e, n, now)) return x.allowed(e, now, cap);
    if (n > cap) return x.never(e, now, cap);
    if (now < e.blockedUntil) return x.rejected(e, now);
    return this.#viaStore(key, rate, n, e, cap, now);
  }

  /** The rest of `inc` when the reservation cannot answer: store calls. */
  async #viaStore(
    key: string,
    rate: Rate,
    n: number,
    e: Entry,
    cap: number,
    now: number,
  ): Promise<RateLimitDecision> {
    const x = this.engine;
    e.lastUse = now;
    const gen = e.gen;
    // Concurrent callers share each store call; its reservation target covers all of them.
    e.waiting += n;
    try {
      for (let round = 0; round < MAX_STORE_ROUNDS; round++) {
        const ok = await x.sync(key, e, x.want(e, e.used), n);
        const after = x.cfg.now();
        if (x.take(e, n, after)) return x.allowed(e, after, cap);
        if (!ok) return this.#down(key, rate, n, e, cap);
        if (after < e.blockEnd) return x.rejected(e, after); // blocked
        if (x.free(e) <= 0) break; // no room in the store: reject until the next sync
      }
    } finally {
      e.waiting -= n;
    }
    const after = x.cfg.now();
    // A matched setIf/reset meanwhile made these numbers stale: answer, but block nothing.
    if (e.gen !== gen) return x.rejected(e, after);
    e.blockedUntil = Math.max(
      e.blockedUntil,
      after + Math.min(e.retryAfterMs, x.cfg.syncIntervalMs),
    );
    return x.rejected(e, after);
  }

  /** The failure policy's answer to an inc while the store is unreachable. */
  #down(key: string, rate: Rate, n: number, e: Entry, cap: number): RateLimitDecision {
    const p = this.engine.cfg.onStoreError;
    if (p === "throw") throw this.engine.failure();
    if (p === "allow") return allowedBlind(cap, n);
    if (p === "local") {
      const d = this.fallback.inc(key, rate, n);
      if (d.kind === "allowed") e.extra += n;
      return d;
    }
    const wait = Math.max(1, this.engine.ctx.guard.retryInMs);
    return {
      kind: "rejected",
      retryAfterMs: wait,
      remainingAfterWaiting: 0,
      windowSizeSeconds: this.engine.cfg.windowSizeSeconds,
      limit: cap,
      remaining: 0,
      resetMs: wait,
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
    const x = this.engine;
    x.open();
    const known = x.entries.get(key);
    const now = x.cfg.now();
    if (known !== undefined && now < known.blockEnd) return x.rejected(known, now);
    if (known !== undefined && now < known.resUntil && known.avail >= 1) {
      return x.allowed(known, now, Math.max(0, known.cap));
    }
    const e = await x.read(key);
    if (e === undefined) return this.#unknown(key);
    const after = x.cfg.now();
    if (after < e.blockEnd) return x.rejected(e, after);
    const cap = e.cap >= 0 ? e.cap : 0;
    if (e.observed === 0 && e.reserved === 0) return x.allowed(e, after, 0);
    if (e.avail >= 1 || e.observed - e.declinedTotal + e.reserved - e.mine + 1 <= cap) {
      return x.allowed(e, after, cap);
    }
    return x.rejected(e, after);
  }

  /** The failure policy's answer to an isAllowed while the store is unreachable. */
  #unknown(key: string): RateLimitDecision {
    const p = this.engine.cfg.onStoreError;
    if (p === "local") return this.fallback.isAllowed(key);
    if (p === "allow") return allowedBlind(0, 0);
    if (p === "throw") throw this.engine.failure();
    return {
      kind: "rejected",
      retryAfterMs: 1,
      remainingAfterWaiting: 0,
      windowSizeSeconds: this.engine.cfg.windowSizeSeconds,
      limit: 0,
      remaining: 0,
      resetMs: 1,
    };
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
    const e = await this.engine.read(key);
    if (e === undefined) {
      if (this.engine.cfg.onStoreError === "local") return this.fallback.get(key);
      throw this.engine.failure();
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
    return hybridSetIf(this.engine, key, rate, cmp, n, false);
  }

  /**
   * Forgets the key's usage and any block on it, fleet-wide (this instance's pending usage is
   * committed and its reservation given back first).
   * @param key the entity
   * @returns when done
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.hybrid.absolute.inc("k", 5, 5);
   * await rl.hybrid.absolute.reset("k");
   * console.assert(await rl.hybrid.absolute.get("k") === 0);
   * ```
   */
  reset(key: string): Promise<void> {
    return hybridReset(this.engine, key);
  }

  /**
   * Gives back `n` of the key's most recent usage (never below zero): this instance's usage not
   * committed yet first (back into its reservation, no store call needed for it), then the
   * store's newest.
   * @param key the entity
   * @param n how many (≥ 0)
   * @returns the fleet's live total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.hybrid.absolute.inc("k", 5, 3);
   * console.assert(await rl.hybrid.absolute.refund("k", 1) === 2);
   * ```
   */
  async refund(key: string, n: number): Promise<number> {
    validateKey(key);
    checkN(n);
    const x = this.engine;
    x.open();
    const e = x.entries.get(key);
    let left = n;
    if (e !== undefined) {
      const k = Math.min(left, e.used);
      e.used -= k;
      e.avail += k;
      left -= k;
      // A batch in flight lands first, so the store's newest usage includes it.
      while (e.flight !== undefined) await e.flight.catch(() => false);
    }
    const r = await x.call(key, HYBRID_REFUND, { op: "refund", n: left });
    if (r === DOWN) {
      if (x.cfg.onStoreError === "local") return this.fallback.refund(key, n);
      throw x.failure();
    }
    // Room was made: an inc need not wait for the next sync to find it (a block stays).
    const current = x.entries.get(key);
    if (current !== undefined) current.blockedUntil = current.blockEnd;
    const pending = e === undefined ? 0 : e.used + e.extra + (e.batch?.used ?? 0);
    return r + pending;
  }

  /**
   * Rejects every call on the key for `durationMs`, with a true `retryAfterMs`. The block is held
   * in the store: no instance is granted a reservation while it lasts, and each stops admitting
   * at its next sync (within `syncIntervalMs`); this one at once, answering the key from memory
   * until the block ends.
   * @param key the entity
   * @param durationMs the block's length, ms (1 to 31 536 000 000)
   * @returns when the store holds it
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.hybrid.absolute.block("k", 60_000);
   * console.assert((await rl.hybrid.absolute.inc("k", 5)).kind === "rejected");
   * ```
   */
  async block(key: string, durationMs: number): Promise<void> {
    validateKey(key);
    checkDuration(durationMs);
    const x = this.engine;
    x.open();
    const r = await x.call(key, HYBRID_BLOCK, { op: "block", ms: durationMs });
    if (r === DOWN) {
      if (x.cfg.onStoreError === "local") return this.fallback.block(key, durationMs);
      throw x.failure();
    }
    let e = x.entries.get(key);
    if (e === undefined) {
      e = newEntry(UNKNOWN_LIMIT, UNKNOWN_LIMIT);
      x.entries.set(key, e);
      x.schedule();
    }
    // Timed from the reply, not the request: the store started the block in between, so it ends
    // no later than this. Timed from the request, the memory's block ended up to a round trip
    // before the store's, and a caller that honoured its retryAfterMs was refused by the store.
    const at = x.cfg.now();
    x.blocked(e, at, durationMs);
    e.lastUse = at;
  }

  /**
   * Resolves with the admitting decision once `n` fits, sleeping on each rejection's
   * `retryAfterMs` (no polling).
   * @param key the entity
   * @param rate the rate
   * @param n the request size (≥ 0, at most the limit)
   * @param options `timeoutMs` and `signal`
   * @returns the admitting decision
   * @throws {RateLimitTimeoutError} when `timeoutMs` passes (or the hint shows it will first)
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * const d = await rl.hybrid.absolute.waitUntilAllowed("k", 5, 1, { timeoutMs: 1000 });
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
      checkRate: () => capOf(this.engine.cfg, rate),
      open: () => this.engine.open(),
    }, () => this.inc(key, rate, n));
  }
}
