/**
 * `RateLimiter`: the facade over the six provider × strategy combinations.
 *
 * @module
 */
import { ClosedError, type DistkitError, InvalidArgumentError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { newId } from "../core/uuid.ts";
import { type StoreLike, toStore } from "../store/to_store.ts";
import { makeConfig, type StoreErrorPolicy } from "./_config.ts";
import { LazyProvider, type MethodName } from "./_lazy.ts";
import { LocalAbsoluteRateLimiter, LocalSuppressedRateLimiter } from "./local.ts";
import type { HybridAbsoluteRateLimiter, HybridSuppressedRateLimiter } from "./hybrid.ts";
import type { ProviderParts } from "./redis.ts";
import type {
  AbsoluteMethods,
  HybridAbsoluteLimiter,
  HybridSuppressedLimiter,
  LocalAbsoluteLimiter,
  LocalSuppressedLimiter,
  SuppressedMethods,
} from "./types.ts";

export type { StoreErrorPolicy };

/** The hybrid provider: its facades, and its implementations (which close). */
type HybridProvider = LazyProvider<
  HybridAbsoluteLimiter,
  HybridSuppressedLimiter,
  HybridAbsoluteRateLimiter,
  HybridSuppressedRateLimiter
>;

/** The methods of the asynchronous strategies, which load their code on first use. */
const ABSOLUTE: Record<MethodName<AbsoluteMethods<true>>, true> = {
  inc: true,
  isAllowed: true,
  get: true,
  setIf: true,
  reset: true,
  refund: true,
  block: true,
  waitUntilAllowed: true,
};
const SUPPRESSED: Record<MethodName<SuppressedMethods<true>>, true> = {
  inc: true,
  isAllowed: true,
  get: true,
  setIf: true,
  getSuppressionFactor: true,
};

/** Options for {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /**
   * A Store, or a connected client of node-redis 5/6, ioredis 5/6, iovalkey, Valkey GLIDE 2 or Bun
   * (one shared `RedisStore` per client); needed by `redis` and `hybrid`.
   */
  store?: StoreLike | undefined;
  /** Namespace of the store keys (a valid key). @default {"distkit-rl"} */
  prefix?: string | undefined;
  /** The sliding window, whole seconds, from 1 to 2 592 000 (30 days). @default {10} */
  windowSizeSeconds?: number | undefined;
  /**
   * The bucket size, ms: from `windowSizeSeconds × 1000 / 10 000` (at most 10 000 buckets per
   * window) to the window. Usage counts until its bucket's end plus the window, so it may count up
   * to this long after the window (never less). The default follows the window: 100 ms up to a
   * 100 s window, then a thousandth of it (1 000 buckets: 86 400 ms for a day), so any window works
   * without this option and usage counts at most 0.1 % of a long window late.
   * @default {max(100, windowSizeSeconds)}
   */
  rateGroupSizeMs?: number | undefined;
  /** The suppressed strategy's hard limit as a multiple of the rate, from 1 to 1000. @default {1} */
  hardLimitFactor?: number | undefined;
  /**
   * The hybrid suppressed limiter refreshes its view of the store before deciding on one older
   * than this, ms (1 to 3 600 000). The other providers compute the factor on every call.
   * @default {100}
   */
  suppressionFactorCacheMs?: number | undefined;
  /** How often the hybrid provider commits and renews its reservations, ms (1 to 60 000). @default {10} */
  syncIntervalMs?: number | undefined;
  /**
   * What a `redis` or `hybrid` call does while the store is unreachable: `"throw"` a
   * `StoreError`, `"allow"`, `"deny"`, or decide with a `"local"` in-process limiter.
   * @default {"throw"}
   */
  onStoreError?: StoreErrorPolicy | undefined;
  /**
   * The longest a call waits for the store, ms (1 to 60 000). After a failure, calls answer at
   * once by the policy until a probe (one call at a time, with capped backoff) succeeds.
   * @default {1000}
   */
  storeTimeoutMs?: number | undefined;
  /** Clock for local and hybrid decisions, ms (tests inject one). @default {Date.now} */
  now?: (() => number) | undefined;
  /** Randomness in [0, 1) for the suppressed strategy. @default {Math.random} */
  random?: (() => number) | undefined;
  /** Told about store failures (hybrid background syncs included). */
  onError?: ((error: DistkitError) => void) | undefined;
}

/** Options of {@linkcode RateLimiter.runCleanupLoop}. */
export interface CleanupOptions {
  /** How often to sweep, ms (10 to 86 400 000). @default {30000} */
  intervalMs?: number | undefined;
}

/** The two strategies of one provider. */
export interface Provider<A, S> {
  /** All-or-nothing admission against the capacity. */
  readonly absolute: A;
  /** Probabilistic shedding between the soft and the hard limit. */
  readonly suppressed: S;
}

/**
 * Sliding-window rate limiting, in-process (`local`), atomic in the store (`redis`), or from
 * memory backed by store reservations (`hybrid`), each with the `absolute` and `suppressed`
 * strategies. Capacity per window is `floor(rate × window)`, computed exactly.
 *
 * @example Three providers, one limiter
 * ```ts
 * import { MemoryStore, RateLimit, RateLimiter } from "../mod.ts";
 * await using rl = new RateLimiter({ store: new MemoryStore(), windowSizeSeconds: 60 });
 * const perMinute = RateLimit.perMinute(100);
 * rl.local.absolute.inc("ip-1", perMinute);
 * await rl.redis.absolute.inc("user-1", perMinute);
 * const d = await rl.hybrid.absolute.inc("tenant-1", perMinute);
 * if (d.kind === "rejected") console.log(`retry in ${d.retryAfterMs} ms`);
 * ```
 */
export class RateLimiter implements AsyncDisposable {
  /** The validated configuration's window, seconds. */
  readonly windowSizeSeconds: number;
  /** The in-process provider (synchronous, browser-safe). */
  readonly local: Provider<LocalAbsoluteLimiter, LocalSuppressedLimiter>;
  #closed = false;
  #localImpl: [LocalAbsoluteRateLimiter, LocalSuppressedRateLimiter];
  #redis: LazyProvider<AbsoluteMethods<true>, SuppressedMethods<true>> | undefined;
  #hybrid: HybridProvider | undefined;
  #cleanup: ReturnType<typeof setInterval> | undefined;

  /**
   * Validates every option; starts no timer (the hybrid provider's sync timer starts with its
   * first key, the cleanup loop with {@linkcode RateLimiter.runCleanupLoop}) and loads no code:
   * the `redis` and `hybrid` providers load theirs on their first call.
   * @param options window, bucket, limits, store and failure policy
   * @throws {InvalidArgumentError | InvalidKeyError} naming the invalid option and its range
   */
  constructor(options: RateLimiterOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("'options' must be an object");
    }
    const cfg = makeConfig(options);
    this.windowSizeSeconds = cfg.windowSizeSeconds;
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new InvalidArgumentError("'onError' must be a function");
    }
    const onError = options.onError ?? (() => {});
    const store = options.store === undefined ? undefined : toStore(options.store);
    const closed = () => this.#closed;
    this.#localImpl = [
      new LocalAbsoluteRateLimiter(cfg, closed),
      new LocalSuppressedRateLimiter(cfg, closed),
    ];
    this.local = Object.freeze({ absolute: this.#localImpl[0], suppressed: this.#localImpl[1] });
    if (store === undefined) return;
    const fallbacks = [
      new LocalAbsoluteRateLimiter(cfg, closed),
      new LocalSuppressedRateLimiter(cfg, closed),
    ] as const;
    // A call made before the code was loaded runs once it is, as if made then; one made while
    // the limiter was open passes the closed check even if close() came meanwhile.
    const parts = (p: { readonly replayingOpenCalls: boolean }): ProviderParts => ({
      cfg,
      store,
      onError,
      fallbacks,
      closed: () => this.#closed && !p.replayingOpenCalls,
    });
    const redis: LazyProvider<AbsoluteMethods<true>, SuppressedMethods<true>> = new LazyProvider(
      () => import("./redis.ts").then((m) => m.redisProvider(parts(redis))),
      [ABSOLUTE, SUPPRESSED],
      [{}, {}],
      closed,
    );
    const id = newId();
    const hybrid: HybridProvider = new LazyProvider<
      HybridAbsoluteLimiter,
      HybridSuppressedLimiter,
      HybridAbsoluteRateLimiter,
      HybridSuppressedRateLimiter
    >(
      () => import("./hybrid.ts").then((m) => m.hybridProvider(parts(hybrid), id)),
      [ABSOLUTE, SUPPRESSED],
      [
        {
          instanceId: id,
          get size() {
            return hybrid.impl?.[0].size ?? 0;
          },
        },
        {
          get size() {
            return hybrid.impl?.[1].size ?? 0;
          },
        },
      ],
      closed,
      [["incNow"], []], // the HTTP core's synchronous path
    );
    this.#redis = redis;
    this.#hybrid = hybrid;
  }

  #need<T>(p: T | undefined, name: string): T {
    if (this.#closed) throw new ClosedError("RateLimiter");
    if (p === undefined) {
      throw new InvalidArgumentError(
        `The '${name}' provider needs a 'store': pass a Store or a connected node-redis client`,
      );
    }
    return p;
  }

  /**
   * The store-backed provider: every call one atomic script in the store.
   * @throws {InvalidArgumentError} if the limiter has no store
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.redis.suppressed.inc("k", 5);
   * ```
   */
  get redis(): Provider<AbsoluteMethods<true>, SuppressedMethods<true>> {
    return this.#need(this.#redis, "redis").provider;
  }

  /**
   * The hybrid provider: decisions from memory, backed by reservations in the store.
   * @throws {InvalidArgumentError} if the limiter has no store
   * @example
   * ```ts
   * import { MemoryStore, RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter({ store: new MemoryStore() });
   * await rl.hybrid.absolute.inc("k", 5);
   * ```
   */
  get hybrid(): Provider<HybridAbsoluteLimiter, HybridSuppressedLimiter> {
    return this.#need(this.#hybrid, "hybrid").provider;
  }

  /**
   * Starts sweeping expired local windows every `intervalMs` (idempotent; a second call
   * restarts it with the new interval). Store keys expire by themselves and hybrid keys are
   * forgotten when idle, so this only bounds the local provider's memory between its own
   * amortised sweeps.
   * @param options the interval
   * @throws {InvalidArgumentError | ClosedError}
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * rl.runCleanupLoop({ intervalMs: 1000 });
   * rl.stopCleanupLoop();
   * ```
   */
  runCleanupLoop(options: CleanupOptions = {}): void {
    const ms = intInRange(options.intervalMs ?? 30_000, "intervalMs", 10, 86_400_000);
    if (this.#closed) throw new ClosedError("RateLimiter");
    this.stopCleanupLoop();
    this.#cleanup = setInterval(() => this.cleanup(), ms);
  }

  /**
   * Stops the cleanup loop (idempotent).
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * rl.stopCleanupLoop();
   * ```
   */
  stopCleanupLoop(): void {
    clearInterval(this.#cleanup);
    this.#cleanup = undefined;
  }

  /**
   * Whether the cleanup loop is running.
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(!rl.cleanupLoopRunning);
   * ```
   */
  get cleanupLoopRunning(): boolean {
    return this.#cleanup !== undefined;
  }

  /**
   * One cleanup pass now: drops local windows that have fully expired.
   * @returns how many keys were dropped
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * await using rl = new RateLimiter();
   * console.assert(rl.cleanup() === 0);
   * ```
   */
  cleanup(): number {
    return this.local.absolute.cleanup() + this.local.suppressed.cleanup();
  }

  /**
   * Stops every timer, commits and releases the hybrid provider's reservations (bounded by
   * `storeTimeoutMs`), and closes the limiter: later calls throw `ClosedError`. The store is not
   * closed (it is the caller's).
   * @returns when done
   * @example
   * ```ts
   * import { RateLimiter } from "../mod.ts";
   * const rl = new RateLimiter();
   * await rl.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.stopCleanupLoop();
    this.#closed = true;
    // The hybrid code may still be loading for a first call: that call runs, then this closes.
    const h = this.#hybrid?.impl ?? await this.#hybrid?.settled();
    if (h !== undefined) await Promise.all([h[0].close(), h[1].close()]);
    this.#localImpl[0].clearAll();
    this.#localImpl[1].clearAll();
  }

  /** Same as {@linkcode RateLimiter.close}. @returns when closed */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
