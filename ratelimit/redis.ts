/**
 * The store-backed provider: every call is one atomic script on the entity's own keys
 * (`{<prefix>:<entity>}:…`, both encoded: one hash tag of the library's own, so cluster-safe),
 * using the store's clock. Keys expire by themselves once their newest bucket leaves the window.
 *
 * @module
 */
import { validateComparator } from "../core/comparator.ts";
import { ClosedError, type DistkitError, StoreError } from "../core/errors.ts";
import type { Operation } from "../store/operation.ts";
import { BoundedCaller, DOWN } from "../store/_resilience.ts";
import type { Store } from "../store/types.ts";
import {
  capOf,
  checkDuration,
  checkN,
  type Config,
  entityKeyBuilder,
  limitsOf,
  validateKey,
} from "./_config.ts";
import { Comparator } from "../core/comparator.ts";
import { waitUntilAllowed } from "./_wait.ts";
import {
  ABSOLUTE_BLOCK,
  ABSOLUTE_DECIDE,
  ABSOLUTE_REFUND,
  ABSOLUTE_SET,
  ABSOLUTE_TOTAL,
  BLOCKED_MS,
  type RlWindow,
  SUPPRESSED_DECIDE,
  SUPPRESSED_FACTOR,
  SUPPRESSED_SET,
  SUPPRESSED_SNAPSHOT,
} from "./_scripts.ts";
import type { LocalAbsoluteRateLimiter, LocalSuppressedRateLimiter } from "./local.ts";
import type {
  AbsoluteMethods,
  Rate,
  RateLimitDecision,
  RateLimitSetResult,
  SuppressedMethods,
  SuppressedSnapshot,
  WaitUntilAllowedOptions,
} from "./types.ts";

/** What a store-backed limiter needs from its `RateLimiter`. @internal */
export interface StoreContext {
  cfg: Config;
  store: () => Store;
  guard: BoundedCaller;
  closed: () => boolean;
}

/**
 * What `RateLimiter` builds its store-backed providers from (`redis` here, `hybrid` in
 * ./hybrid.ts; both loaded on first use). @internal
 */
export interface ProviderParts {
  cfg: Config;
  store: Store;
  /** Whether the provider's calls are refused (the limiter is closed). */
  closed: () => boolean;
  /** Told about store failures. */
  onError: (e: DistkitError) => void;
  /** The local limiters the "local" outage policy uses (shared by `redis` and `hybrid`). */
  fallbacks: readonly [LocalAbsoluteRateLimiter, LocalSuppressedRateLimiter];
}

/**
 * Builds the `redis` provider: its two strategies over one bounded caller of their own
 * (`storeTimeoutMs`), on the store's breaker (../store/_resilience.ts).
 * @param p what the limiter gives
 * @returns the absolute and the suppressed limiter
 * @internal
 */
export function redisProvider(
  p: ProviderParts,
): [RedisAbsoluteRateLimiter, RedisSuppressedRateLimiter] {
  const guard = new BoundedCaller(
    p.store,
    p.cfg.storeTimeoutMs,
    p.cfg.onStoreError === "throw",
    (e) => p.onError(e),
  );
  const store = p.store;
  const ctx: StoreContext = { cfg: p.cfg, store: () => store, guard, closed: p.closed };
  return [
    new RedisAbsoluteRateLimiter(ctx, p.fallbacks[0]),
    new RedisSuppressedRateLimiter(ctx, p.fallbacks[1]),
  ];
}

/** What both store-backed strategies share: keys, the guarded call, failure answers. */
export abstract class StoreBase {
  /** The limiter's shared context. @internal */
  protected readonly ctx: StoreContext;
  readonly #keyOf: (key: string) => string;
  /** The window, formatted once. @internal */
  protected readonly win: RlWindow;
  /**
   * Built by {@linkcode RateLimiter}, not directly.
   * @param ctx the limiter's shared context
   * @param kind the key suffix of the strategy
   */
  constructor(ctx: StoreContext, kind: string) {
    this.ctx = ctx;
    this.#keyOf = entityKeyBuilder(ctx.cfg.prefix, kind);
    this.win = Object.freeze({
      w: String(ctx.cfg.windowMs),
      g: String(ctx.cfg.groupMs),
      seconds: ctx.cfg.windowSizeSeconds,
    });
  }
  /** The entity's store keys. @internal */
  protected keys(key: string): string[] {
    return [this.#keyOf(key)];
  }
  /**
   * Runs one operation on the entity's keys under the guard.
   * @param op the operation
   * @param args its arguments
   */
  protected call<A, R>(key: string, op: Operation<A, R>, args: A): Promise<R | typeof DOWN>;
  /**
   * The same, with the result (or DOWN) mapped by `map` in the same promise.
   * @param op the operation
   * @param args its arguments
   * @param map maps the result, or DOWN
   */
  protected call<A, R, V>(
    key: string,
    op: Operation<A, R>,
    args: A,
    map: (r: R | typeof DOWN) => V,
  ): Promise<V>;
  protected call<A, R, V>(
    key: string,
    op: Operation<A, R>,
    args: A,
    map?: (r: R | typeof DOWN) => V,
  ): Promise<R | typeof DOWN | V> {
    if (this.ctx.closed()) throw new ClosedError("RateLimiter");
    const store = this.ctx.store();
    const keys = this.keys(key);
    // The reply is decoded in the guard's own reaction: one promise hop, as for a raw call.
    const fn = () => store.run(op.script, keys, op.encode(args));
    return this.ctx.guard.run(fn, (r) => {
      const out = r === DOWN ? DOWN : op.decode(r, args);
      return map === undefined ? out : map(out);
    });
  }
  /** Reads need the store. @internal */
  protected unreachable(): never {
    throw new StoreError("Rate-limit store unreachable: reads need the store");
  }
  /** The "deny" policy's answer (nothing fits until the store is probed again). @internal */
  protected denied(limit: number): RateLimitDecision {
    const wait = Math.max(1, this.ctx.guard.retryInMs);
    return {
      kind: "rejected",
      retryAfterMs: wait,
      remainingAfterWaiting: 0,
      windowSizeSeconds: this.ctx.cfg.windowSizeSeconds,
      limit,
      remaining: 0,
      resetMs: wait,
    };
  }
}

/**
 * The "allow" policy's answer while the store is unreachable: the numbers are those of a window
 * holding only this call (nothing else is known).
 * @param limit the limit
 * @param n the request
 * @returns the decision
 * @internal
 */
export function allowedBlind(limit: number, n: number): RateLimitDecision {
  return { kind: "allowed", limit, remaining: Math.max(0, limit - n), resetMs: 0 };
}

/**
 * When a block a store reply reported ends, on this instance's clock. The store ran the call
 * between `sent` and `now`, so its block ends between `sent + ms` and `now + ms`. A known end in
 * that range is that block's, and callers may have been told it: it stays, so that a reply that
 * came back late does not reject a caller who honoured it. Otherwise (a block not known yet, or one
 * the store has replaced by a shorter one) the latest end, so that a caller who honours it is not
 * refused by the store. The redis and hybrid providers both learn blocks so.
 * @param known the end known here, if any
 * @param ms how long the reply said the block lasts
 * @param sent when the call was made
 * @param now now
 * @returns the end to keep
 * @internal
 */
export function reportedBlockEnd(
  known: number | undefined,
  ms: number,
  sent: number,
  now: number,
): number {
  return known !== undefined && known >= sent + ms && known <= now + ms ? known : now + ms;
}

/** The size at which a {@linkcode BlockCache} map is first swept. */
const SWEEP_MIN = 1024;

/**
 * Drops the entries of `map` (key → time) older than `graceMs` at `now`, once it has reached
 * `at`; amortised: the next sweep waits until the map has doubled.
 * @returns the size of the next sweep
 */
function sweep(map: Map<string, number>, now: number, graceMs: number, at: number): number {
  if (map.size < at) return at;
  for (const [k, t] of map) if (now - t >= graceMs) map.delete(k);
  return Math.max(SWEEP_MIN, 2 * map.size);
}

/**
 * Keys known to be blocked, by this instance (until when, on its clock), so that their calls are
 * answered without a store call while the block lasts. An ended block is remembered for `graceMs`
 * more (the longest a store reply may take), so that a reply that comes back late reporting it
 * does not start it again (see {@linkcode BlockCache.learn}). Expired entries are swept,
 * amortised.
 * @internal
 */
export class BlockCache {
  #map = new Map<string, number>();
  /** Keys whose block was lifted, and when (see {@linkcode BlockCache.lift}). */
  #lifted = new Map<string, number>();
  #sweepAt = SWEEP_MIN;
  #liftedSweepAt = SWEEP_MIN;
  #graceMs: number;
  /** @param graceMs how long an ended block is remembered, ms */
  constructor(graceMs = 0) {
    this.#graceMs = graceMs;
  }
  /** Whether any key is held (the hot path's one test). */
  get size(): number {
    return this.#map.size;
  }
  /** When the key's block ends, if it lasts at `now`. */
  until(key: string, now: number): number | undefined {
    const t = this.#map.get(key);
    if (t === undefined) return undefined;
    if (t > now) return t;
    if (now - t >= this.#graceMs) this.#map.delete(key);
    return undefined;
  }
  /**
   * Remembers a block a store reply to a call made at `sent` reported ({@linkcode reportedBlockEnd}),
   * unless the key's block was lifted after `sent`.
   */
  learn(key: string, ms: number, sent: number, now: number): void {
    const lifted = this.#lifted.get(key);
    if (lifted !== undefined) {
      if (sent < lifted) return;
      this.#lifted.delete(key);
    }
    const known = this.#map.get(key);
    const end = reportedBlockEnd(known, ms, sent, now);
    if (end !== known) this.set(key, end, now);
  }
  /** Remembers a block (a later one replaces it). */
  set(key: string, until: number, now: number): void {
    this.#sweepAt = sweep(this.#map, now, this.#graceMs, this.#sweepAt);
    this.#map.set(key, until);
  }
  /** Forgets the key's block. */
  delete(key: string): void {
    this.#map.delete(key);
  }
  /**
   * Forgets the key's block, lifted in the store (by a reset or a matched setIf) before `at`: a
   * reply to a call made before then may come from before the lift, so a block it reports is not
   * learnt (a call made later asks the store again). Remembered for `graceMs`.
   */
  lift(key: string, at: number): void {
    this.#map.delete(key);
    this.#liftedSweepAt = sweep(this.#lifted, at, this.#graceMs, this.#liftedSweepAt);
    this.#lifted.set(key, at);
  }
}

/**
 * The rejection of a key blocked until `until` (local clock), answered from memory.
 * @param until when the block ends
 * @param now now
 * @param limit the limit
 * @param windowSizeSeconds the window
 * @returns the decision
 * @internal
 */
export function blockedFromMemory(
  until: number,
  now: number,
  limit: number,
  windowSizeSeconds: number,
): RateLimitDecision {
  const wait = Math.max(1, until - now);
  return {
    kind: "rejected",
    retryAfterMs: wait,
    remainingAfterWaiting: 0,
    windowSizeSeconds,
    limit,
    remaining: 0,
    resetMs: wait,
  };
}

/**
 * The store-backed absolute limiter: exact across every process sharing the store. Get it from
 * `rl.redis.absolute`.
 *
 * @example
 * ```ts
 * import { MemoryStore, RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ store: new MemoryStore() });
 * console.assert((await rl.redis.absolute.inc("user-1", 10, 3)).kind === "allowed");
 * console.assert(await rl.redis.absolute.get("user-1") === 3);
 * ```
 */
export class RedisAbsoluteRateLimiter extends StoreBase implements AbsoluteMethods<true> {
  #fallback: LocalAbsoluteRateLimiter;
  /**
   * Built by {@linkcode RateLimiter} (use `rl.redis` / `rl.hybrid`), not directly.
   * @param ctx the limiter's shared context
   * @param fallback the local limiter the "local" policy uses during an outage
   */
  #blocks: BlockCache;
  constructor(ctx: StoreContext, fallback: LocalAbsoluteRateLimiter) {
    super(ctx, "ra");
    this.#fallback = fallback;
    // A reply comes back within the store call's bound, or is dropped.
    this.#blocks = new BlockCache(ctx.cfg.storeTimeoutMs);
  }

  /**
   * Admits `n` requests when they fit, all or nothing, atomically in the store.
   * @param key the entity
   * @param rate the rate
   * @param n the request size (≥ 0)
   * @returns allowed, or rejected with a wait and what fits after it
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.redis.absolute.inc("k", 1)).kind === "allowed");
   * ```
   */
  inc(key: string, rate: Rate, n = 1): Promise<RateLimitDecision> {
    // Not async: the hot path pays one promise reaction, not an async frame and its hops.
    try {
      validateKey(key);
      checkN(n);
      const cap = capOf(this.ctx.cfg, rate);
      if (this.#blocks.size > 0) {
        const now = this.ctx.cfg.now();
        const until = this.#blocks.until(key, now);
        if (until !== undefined) {
          if (this.ctx.closed()) throw new ClosedError("RateLimiter");
          return Promise.resolve(
            blockedFromMemory(until, now, cap, this.ctx.cfg.windowSizeSeconds),
          );
        }
      }
      const sent = this.ctx.cfg.now();
      return this.call(
        key,
        ABSOLUTE_DECIDE,
        { win: this.win, o: { op: "inc", cap, n } },
        (r) => r !== DOWN ? this.#learn(key, r, sent) : this.#down(key, rate, n, cap),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Remembers a block the store reported, so that calls meanwhile need no store call.
   * @param sent when the call was made
   */
  #learn(key: string, d: RateLimitDecision, sent: number): RateLimitDecision {
    if (d.kind === "rejected") {
      const ms = BLOCKED_MS.get(d);
      if (ms !== undefined) this.#blocks.learn(key, ms, sent, this.ctx.cfg.now());
    }
    return d;
  }

  /** The failure policy's answer to an inc while the store is unreachable. */
  #down(key: string, rate: Rate, n: number, cap: number): RateLimitDecision {
    const p = this.ctx.cfg.onStoreError;
    if (p === "allow") return allowedBlind(cap, n);
    if (p === "local") return this.#fallback.inc(key, rate, n);
    return this.denied(cap);
  }

  /**
   * Forgets the key's usage and any block on it (in the store, for every instance).
   * @param key the entity
   * @returns when done
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.redis.absolute.inc("k", 5, 5);
   * await rl.redis.absolute.reset("k");
   * console.assert(await rl.redis.absolute.get("k") === 0);
   * ```
   */
  async reset(key: string): Promise<void> {
    validateKey(key);
    this.#blocks.delete(key);
    const r = await this.call(key, ABSOLUTE_SET, {
      win: this.win,
      o: { op: "set", cap: 1, n: 0, cmp: Comparator.always.op, operand: 0 },
    });
    if (r === DOWN) {
      if (this.ctx.cfg.onStoreError === "local") return this.#fallback.reset(key);
      return this.unreachable();
    }
    this.#blocks.lift(key, this.ctx.cfg.now());
  }

  /**
   * Gives back `n` of the key's most recent usage (never below zero), atomically in the store.
   * @param key the entity
   * @param n how many (≥ 0)
   * @returns the live total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.redis.absolute.inc("k", 5, 3);
   * console.assert(await rl.redis.absolute.refund("k", 1) === 2);
   * ```
   */
  async refund(key: string, n: number): Promise<number> {
    validateKey(key);
    checkN(n);
    const r = await this.call(key, ABSOLUTE_REFUND, { win: this.win, o: { op: "refund", n } });
    if (r !== DOWN) return r;
    if (this.ctx.cfg.onStoreError === "local") return this.#fallback.refund(key, n);
    return this.unreachable();
  }

  /**
   * Rejects every call on the key for `durationMs`, with a true `retryAfterMs`. The block is
   * held in the store (every instance sees it); this instance then answers the key from memory,
   * without a store call, until it ends.
   * @param key the entity
   * @param durationMs the block's length, ms (1 to 31 536 000 000)
   * @returns when the store holds it
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.redis.absolute.block("k", 60_000);
   * console.assert((await rl.redis.absolute.inc("k", 5)).kind === "rejected");
   * ```
   */
  async block(key: string, durationMs: number): Promise<void> {
    validateKey(key);
    checkDuration(durationMs);
    const r = await this.call(key, ABSOLUTE_BLOCK, {
      win: this.win,
      o: { op: "block", ms: durationMs },
    });
    if (r === DOWN) {
      if (this.ctx.cfg.onStoreError === "local") return this.#fallback.block(key, durationMs);
      return this.unreachable();
    }
    // Timed from the reply, not the request: the store started the block in between, so it ends
    // no later than this. Timed from the request, the memory's block ended up to a round trip
    // before the store's, and a caller that honoured its retryAfterMs was refused by the store
    // (as the hybrid provider's was).
    const at = this.ctx.cfg.now();
    this.#blocks.set(key, at + durationMs, at);
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
   * const d = await rl.redis.absolute.waitUntilAllowed("k", 5, 1, { timeoutMs: 1000 });
   * console.assert(d.kind === "allowed");
   * ```
   */
  waitUntilAllowed(
    key: string,
    rate: Rate,
    n = 1,
    options?: WaitUntilAllowedOptions,
  ): Promise<RateLimitDecision> {
    return waitUntilAllowed(
      key,
      n,
      options,
      { checkRate: () => capOf(this.ctx.cfg, rate) },
      () => this.inc(key, rate, n),
    );
  }

  /**
   * Whether one more request fits under the key's last rate (unknown keys are allowed).
   * @param key the entity
   * @returns the decision
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.redis.absolute.isAllowed("k")).kind === "allowed");
   * ```
   */
  async isAllowed(key: string): Promise<RateLimitDecision> {
    validateKey(key);
    if (this.#blocks.size > 0) {
      const now = this.ctx.cfg.now();
      const until = this.#blocks.until(key, now);
      if (until !== undefined) {
        if (this.ctx.closed()) throw new ClosedError("RateLimiter");
        return blockedFromMemory(until, now, 0, this.ctx.cfg.windowSizeSeconds);
      }
    }
    const sent = this.ctx.cfg.now();
    const r = await this.call(key, ABSOLUTE_DECIDE, { win: this.win, o: { op: "check" } });
    if (r !== DOWN) return this.#learn(key, r, sent);
    const p = this.ctx.cfg.onStoreError;
    if (p === "allow") return allowedBlind(0, 0);
    if (p === "local") return this.#fallback.isAllowed(key);
    return this.denied(0);
  }

  /**
   * The live total in the window.
   * @param key the entity
   * @returns the total (0 when unknown)
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert(await rl.redis.absolute.get("k") === 0);
   * ```
   */
  async get(key: string): Promise<number> {
    validateKey(key);
    const r = await this.call(key, ABSOLUTE_TOTAL, this.win);
    if (r !== DOWN) return r;
    if (this.ctx.cfg.onStoreError === "local") return this.#fallback.get(key);
    return this.unreachable();
  }

  /**
   * When `cmp` matches the live total, replaces the window with one bucket of `n`.
   * @param key the entity
   * @param rate the rate
   * @param cmp the condition
   * @param n the new total (≥ 0; 0 deletes the key)
   * @returns matched, the total compared, and the total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.redis.absolute.setIf("k", 10, Comparator.lt(5), 5)).matched);
   * ```
   */
  async setIf(key: string, rate: Rate, cmp: Comparator, n: number): Promise<RateLimitSetResult> {
    validateKey(key);
    validateComparator(cmp);
    checkN(n);
    const { cap } = limitsOf(this.ctx.cfg, rate, false);
    const r = await this.call(key, ABSOLUTE_SET, {
      win: this.win,
      o: { op: "set", cap, n, cmp: cmp.op, operand: cmp.operand },
    });
    if (r === DOWN) return this.unreachable();
    // A match replaced the window and lifted any block, in the store: here too.
    if (r.matched) this.#blocks.lift(key, this.ctx.cfg.now());
    return r;
  }
}

/**
 * The store-backed suppressed limiter. Get it from `rl.redis.suppressed`. The random draw is
 * made here and passed to the script.
 *
 * @example
 * ```ts
 * import { MemoryStore, RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ store: new MemoryStore() });
 * console.assert((await rl.redis.suppressed.inc("k", 10)).kind === "allowed");
 * console.assert((await rl.redis.suppressed.get("k")).total === 1);
 * ```
 */
export class RedisSuppressedRateLimiter extends StoreBase implements SuppressedMethods<true> {
  #fallback: LocalSuppressedRateLimiter;
  /**
   * Built by {@linkcode RateLimiter} (use `rl.redis` / `rl.hybrid`), not directly.
   * @param ctx the limiter's shared context
   * @param fallback the local limiter the "local" policy uses during an outage
   */
  constructor(ctx: StoreContext, fallback: LocalSuppressedRateLimiter) {
    super(ctx, "rs");
    this.#fallback = fallback;
  }

  #policy(local: () => RateLimitDecision, hard: number, n: number): RateLimitDecision {
    const p = this.ctx.cfg.onStoreError;
    if (p === "allow") return allowedBlind(hard, n);
    if (p === "local") return local();
    return {
      kind: "suppressed",
      suppressionFactor: 1,
      isAllowed: false,
      limit: hard,
      remaining: 0,
      resetMs: 0,
    };
  }

  /**
   * Records `n` requests and decides, atomically in the store.
   * @param key the entity
   * @param rate the rate
   * @param n the request size (≥ 0)
   * @returns allowed, or suppressed with the factor and the verdict
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.redis.suppressed.inc("k", 1)).kind === "allowed");
   * ```
   */
  inc(key: string, rate: Rate, n = 1): Promise<RateLimitDecision> {
    // Not async, like the absolute inc: one promise per decision.
    try {
      validateKey(key);
      checkN(n);
      const { cap, hard } = limitsOf(this.ctx.cfg, rate, true);
      return this.call(
        key,
        SUPPRESSED_DECIDE,
        { win: this.win, o: { op: "inc", cap, hard, n, draw: this.ctx.cfg.random() } },
        (r) => r !== DOWN ? r : this.#policy(() => this.#fallback.inc(key, rate, n), hard, n),
      );
    } catch (e) {
      return Promise.reject(e);
    }
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
   * console.assert((await rl.redis.suppressed.isAllowed("k")).kind === "allowed");
   * ```
   */
  async isAllowed(key: string): Promise<RateLimitDecision> {
    validateKey(key);
    const draw = this.ctx.cfg.random();
    const r = await this.call(key, SUPPRESSED_DECIDE, { win: this.win, o: { op: "check", draw } });
    if (r !== DOWN) return r;
    return this.#policy(() => this.#fallback.isAllowed(key), 0, 0);
  }

  /**
   * Observed and declined usage and the current factor.
   * @param key the entity
   * @returns the snapshot
   * @throws {InvalidKeyError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.redis.suppressed.get("k")).declined === 0);
   * ```
   */
  async get(key: string): Promise<SuppressedSnapshot> {
    validateKey(key);
    const r = await this.call(key, SUPPRESSED_SNAPSHOT, this.win);
    if (r === DOWN) {
      if (this.ctx.cfg.onStoreError === "local") return this.#fallback.get(key);
      return this.unreachable();
    }
    return r;
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
   * console.assert(await rl.redis.suppressed.getSuppressionFactor("k") === 0);
   * ```
   */
  async getSuppressionFactor(key: string): Promise<number> {
    validateKey(key);
    const r = await this.call(key, SUPPRESSED_FACTOR, this.win);
    if (r === DOWN) {
      if (this.ctx.cfg.onStoreError === "local") return this.#fallback.getSuppressionFactor(key);
      return this.unreachable();
    }
    return r;
  }

  /**
   * When `cmp` matches the observed total, replaces the window with one bucket of `n`.
   * @param key the entity
   * @param rate the rate
   * @param cmp the condition
   * @param n the new total (≥ 0; 0 deletes the key)
   * @returns matched, the total compared, and the total after
   * @throws {InvalidKeyError | InvalidArgumentError | ClosedError | StoreError}
   * @example
   * ```ts
   * import { Comparator, MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * console.assert((await rl.redis.suppressed.setIf("k", 10, Comparator.always, 3)).total === 3);
   * ```
   */
  async setIf(key: string, rate: Rate, cmp: Comparator, n: number): Promise<RateLimitSetResult> {
    validateKey(key);
    validateComparator(cmp);
    checkN(n);
    const { cap, hard } = limitsOf(this.ctx.cfg, rate, true);
    const r = await this.call(key, SUPPRESSED_SET, {
      win: this.win,
      o: { op: "set", cap, hard, n, cmp: cmp.op, operand: cmp.operand },
    });
    if (r === DOWN) return this.unreachable();
    return r;
  }
}
