/**
 * The resilience layer every store call goes through: a bound on each call (one timer for all
 * calls in flight, ../core/timeout_queue.ts) and a breaker. After a store failure (a transport
 * failure or a timeout; never an error reply, which proves the server answered) the breaker is
 * open: calls are answered at once with a `StoreError` saying the store is known down (the failure
 * that opened it as its cause), and one call at a time goes through as a probe, first
 * `firstProbeMs` after the failure and then on a doubling backoff capped at `maxProbeMs`, until
 * one succeeds. The breaker keeps no timer: a probe is the first call made once it is due.
 *
 * `RedisStore` applies it to every `run` and `subscribe` (so does a raw client, which `toStore`
 * wraps in a `RedisStore`); `MemoryStore` is never down. Primitives learn whether their store is
 * known down, and when it will next be probed, through {@linkcode healthOf}. The rate limiter,
 * which has a tighter bound of its own (`storeTimeoutMs`) and answers per its `onStoreError`
 * policy instead of throwing, uses {@linkcode BoundedCaller}.
 *
 * @module
 */
import { InvalidArgumentError, StoreError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { TimeoutQueue } from "../core/timeout_queue.ts";
import type { Store, Unsubscribe } from "./types.ts";

/**
 * The default bound of every store call, ms: far above a healthy round trip (well under 1 ms on a
 * LAN, a few ms across zones), and short enough that a lock guard renewing every `ttlMs / 3` with
 * the default 30 s ttl gets several renewals in before its lease could lapse, and a lax counter's
 * flush or an instance heartbeat fails and is retried rather than stalled.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2000;
/** The default delay before the first probe after a failure, ms. */
export const DEFAULT_FIRST_PROBE_MS = 50;
/** The default cap of the probe backoff, ms. */
export const DEFAULT_MAX_PROBE_MS = 1000;
/** The largest bound or probe delay accepted, ms (one hour; `setTimeout` overflows past 2^31). */
const MAX_MS = 3_600_000;

/**
 * How {@linkcode RedisStore}'s breaker probes a store known down.
 *
 * @example
 * ```ts ignore
 * const store = new RedisStore(client, { breaker: { firstProbeMs: 20, maxProbeMs: 500 } });
 * ```
 */
export interface BreakerOptions {
  /**
   * How long after a failure the first probe may go, ms (1 to 3,600,000). Each failed probe
   * doubles the delay.
   * @default {50}
   */
  firstProbeMs?: number | undefined;
  /**
   * The longest delay between probes, ms (`firstProbeMs` to 3,600,000).
   * @default {1000}
   */
  maxProbeMs?: number | undefined;
}

/**
 * What a primitive may ask of its store's resilience layer. @internal
 *
 * @example
 * ```ts
 * import { NEVER_DOWN } from "./_resilience.ts";
 * console.assert(!NEVER_DOWN.down && NEVER_DOWN.retryInMs === 0);
 * ```
 */
export interface StoreHealth {
  /** Whether the store is known down (the breaker is open). */
  readonly down: boolean;
  /** ms until the next probe may go (0 while the store is up, or when a probe is due). */
  readonly retryInMs: number;
  /**
   * A caller's own, tighter bound ran out on a call of this store: that counts as a store
   * failure (it opens the breaker, or backs the next probe off).
   * @param error the caller's timeout
   */
  failed(error: StoreError): void;
}

/** The health of a store that never goes down (`MemoryStore`). @internal */
export const NEVER_DOWN: StoreHealth = Object.freeze({
  down: false,
  retryInMs: 0,
  failed: () => {},
});

/** Each store's health, as the store registered it (nothing on the stores' public surface). */
const HEALTH = new WeakMap<object, StoreHealth>();

/**
 * Registers `store`'s health (`RedisStore`, `MemoryStore`: in their constructors).
 * @param store the store
 * @param health its layer
 * @internal
 */
export function registerHealth(store: object, health: StoreHealth): void {
  HEALTH.set(store, health);
}

/**
 * The health of `store`: its own layer's, or `undefined` for a `Store` implemented elsewhere.
 * @param store the store
 * @returns its health, when it has one
 * @internal
 */
export function healthOf(store: Store): StoreHealth | undefined {
  return HEALTH.get(store);
}

/** Error replies: the server answered, so never a store failure. */
const REPLIES = new WeakSet<object>();
/** The answers of an open breaker: not a new failure. */
const KNOWN_DOWN = new WeakSet<object>();

/**
 * Marks `error` as made from the server's error reply (so it never opens the breaker).
 * @param error the error
 * @returns `error`
 * @internal
 */
export function markReply<E extends object>(error: E): E {
  REPLIES.add(error);
  return error;
}

/**
 * Whether `error` is the answer of an open breaker (the store is known down).
 * @param error what a store call rejected with
 * @internal
 */
export function isKnownDown(error: unknown): boolean {
  return typeof error === "object" && error !== null && KNOWN_DOWN.has(error);
}

/**
 * Whether `error` is a store failure: a `StoreError` that is neither an error reply nor the
 * answer of an open breaker.
 * @param error what a store call rejected with
 * @internal
 */
export function isStoreFailure(error: unknown): error is StoreError {
  return error instanceof StoreError && !REPLIES.has(error) && !KNOWN_DOWN.has(error);
}

/** The layer's timeouts: a `StoreError` each, told apart from other failures. */
const TIMEOUTS = new WeakSet<object>();

/** Whether `e` is the layer's timeout. */
function isTimeout(e: unknown): e is StoreError {
  return typeof e === "object" && e !== null && TIMEOUTS.has(e);
}

/** A bound of `ms` whose timeouts are marked. */
function timeoutQueue(ms: number): TimeoutQueue {
  return new TimeoutQueue(ms, (ms) => {
    const e = new StoreError(`The store did not answer within ${ms} ms`);
    TIMEOUTS.add(e);
    return e;
  });
}

/** What {@linkcode Breaker.admit} answers: pass, probe, or the rejection. */
export type Admission = "pass" | "probe" | StoreError;

/**
 * The breaker's state machine (no timer, no I/O): up; down until the next probe is due; down
 * with a probe in flight. Tested with an injected clock.
 *
 * @example
 * ```ts
 * import { StoreError } from "../core/errors.ts";
 * import { Breaker } from "./_resilience.ts";
 * let now = 0;
 * const b = new Breaker(50, 1000, () => now);
 * b.failed(new StoreError("connection lost"), false);
 * console.assert(b.down && b.admit() instanceof StoreError);
 * now = 50;
 * console.assert(b.admit() === "probe");
 * b.succeeded(true);
 * console.assert(!b.down);
 * ```
 * @internal
 */
export class Breaker {
  readonly #first: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Failures in a row (0: up). */
  #failures = 0;
  #probeAt = 0;
  #probing = false;
  #last: StoreError | undefined;

  /**
   * @param firstProbeMs the delay before the first probe, ms
   * @param maxProbeMs the cap of the doubling delay, ms
   * @param now the clock, ms
   */
  constructor(firstProbeMs: number, maxProbeMs: number, now: () => number = Date.now) {
    this.#first = firstProbeMs;
    this.#max = maxProbeMs;
    this.#now = now;
  }

  /** Whether the store is known down. */
  get down(): boolean {
    return this.#failures > 0;
  }

  /** ms until the next probe may go (0 when up or due). */
  get retryInMs(): number {
    return this.#failures === 0 ? 0 : Math.max(0, this.#probeAt - this.#now());
  }

  /** Whether a probe is in flight. */
  get probing(): boolean {
    return this.#probing;
  }

  /**
   * Before a call: `"pass"` while up; while down, `"probe"` for the first call once a probe is
   * due and none is in flight (the caller must report its outcome), else the rejection to answer
   * with at once.
   */
  admit(): Admission {
    if (this.#failures === 0) return "pass";
    const wait = this.#probeAt - this.#now();
    if (!this.#probing && wait <= 0) {
      this.#probing = true;
      return "probe";
    }
    const last = this.#last!;
    const e = new StoreError(
      `The store is known to be down (a call failed: ${last.message}); ${
        this.#probing ? "a probe is in flight" : `the next probe goes in ${Math.ceil(wait)} ms`
      }`,
      last,
    );
    KNOWN_DOWN.add(e);
    return e;
  }

  /**
   * A call answered (a reply, an error reply included): the store is up.
   * @param probe whether it was the probe
   */
  succeeded(probe: boolean): void {
    if (probe) this.#probing = false;
    this.#failures = 0;
    this.#last = undefined;
  }

  /**
   * A call failed with a store failure: open the breaker, or (a probe) back the next probe off.
   * Other calls failing while it is open (sent before it opened: a burst of timeouts) change
   * nothing but the cause reported.
   * @param error the failure
   * @param probe whether it was the probe
   */
  failed(error: StoreError, probe: boolean): void {
    this.#last = error;
    if (probe) this.#probing = false;
    else if (this.#failures > 0) return;
    const n = Math.min(++this.#failures, 31);
    this.#probeAt = this.#now() + Math.min(this.#max, this.#first * 2 ** (n - 1));
  }

  /** A probe ended with no verdict on the store (closed, or a non-store error). */
  released(): void {
    this.#probing = false;
  }
}

/** What {@linkcode Resilience} is built from (validated by {@linkcode resilienceOptions}). */
export interface ResilienceParts {
  /** The bound of each call, ms (0: unbounded). */
  timeoutMs: number;
  /** The breaker's delays, or `false` for none. */
  breaker: false | { firstProbeMs: number; maxProbeMs: number };
  /** The breaker's clock (tests). */
  now?: () => number;
}

/**
 * Validates `RedisStore`'s `commandTimeoutMs` and `breaker` options.
 * @param options the user's options
 * @returns the layer's parts
 * @throws {InvalidArgumentError} naming the option and its range
 * @internal
 */
export function resilienceOptions(
  options: {
    commandTimeoutMs?: number | undefined;
    breaker?: boolean | BreakerOptions | undefined;
  },
): ResilienceParts {
  const timeoutMs = intInRange(
    options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    "commandTimeoutMs",
    0,
    MAX_MS,
  );
  const b = options.breaker === undefined ? true : options.breaker;
  if (b === false) return { timeoutMs, breaker: false };
  if (b !== true && (b === null || typeof b !== "object")) {
    throw new InvalidArgumentError(
      `'breaker' must be a boolean or { firstProbeMs, maxProbeMs }: current value is ${String(b)}`,
    );
  }
  const o = b === true ? {} : b;
  const firstProbeMs = intInRange(
    o.firstProbeMs ?? DEFAULT_FIRST_PROBE_MS,
    "breaker.firstProbeMs",
    1,
    MAX_MS,
  );
  const maxProbeMs = intInRange(
    o.maxProbeMs ?? Math.max(DEFAULT_MAX_PROBE_MS, firstProbeMs),
    "breaker.maxProbeMs",
    firstProbeMs,
    MAX_MS,
  );
  return { timeoutMs, breaker: { firstProbeMs, maxProbeMs } };
}

/**
 * One store's layer: the call bound and the breaker.
 *
 * @example
 * ```ts
 * import { Resilience } from "./_resilience.ts";
 * const r = new Resilience({ timeoutMs: 1000, breaker: { firstProbeMs: 50, maxProbeMs: 1000 } });
 * console.assert(await r.run(() => Promise.resolve(42)) === 42);
 * ```
 * @internal
 */
export class Resilience implements StoreHealth {
  readonly #timeouts: TimeoutQueue | undefined;
  /** Bounds probes when calls are not bounded. */
  readonly #probeTimeouts: TimeoutQueue | undefined;
  readonly #breaker: Breaker | undefined;

  /** @param parts the bound and the breaker's delays */
  constructor(parts: ResilienceParts) {
    this.#timeouts = parts.timeoutMs === 0 ? undefined : timeoutQueue(parts.timeoutMs);
    this.#probeTimeouts = parts.timeoutMs === 0 && parts.breaker !== false
      ? timeoutQueue(DEFAULT_COMMAND_TIMEOUT_MS)
      : undefined;
    this.#breaker = parts.breaker === false
      ? undefined
      : new Breaker(parts.breaker.firstProbeMs, parts.breaker.maxProbeMs, parts.now);
  }

  /** Whether the store is known down. */
  get down(): boolean {
    return this.#breaker?.down ?? false;
  }

  /** ms until the next probe may go. */
  get retryInMs(): number {
    return this.#breaker?.retryInMs ?? 0;
  }

  /** Calls in flight under the bound (tests). */
  get inFlight(): number {
    return this.#timeouts?.size ?? 0;
  }

  /** A caller's own bound ran out: a store failure. @param error its timeout */
  failed(error: StoreError): void {
    this.#breaker?.failed(error, false);
  }

  /** Whether the store is up (no failure since the last success): calls go straight through. */
  get up(): boolean {
    return this.#breaker === undefined || !this.#breaker.down;
  }

  /**
   * One call as it is sent, admitted while the store was {@linkcode Resilience.up}: bounded, and
   * its failure seen by the breaker. A store that batches bounds a batch once, for all its items.
   * @param call the call sent
   * @returns its result
   * @throws {StoreError} on a timeout or a failure
   */
  sent<T>(call: Promise<T>): Promise<T> {
    const t = this.#timeouts;
    if (this.#breaker === undefined) return t === undefined ? call : t.bound(call);
    return t === undefined
      ? call.catch(this.#callFailed)
      : t.bound(call, undefined, this.#callFailed);
  }

  /**
   * Runs one store call within the bound, or answers at once while the store is known down.
   * @param fn the call
   * @returns its result
   * @throws {StoreError} on a timeout, a failure, or at once while the store is known down
   */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.#run(fn, isStoreFailure);
  }

  /**
   * `run`, with `counts` telling which failures are the store's.
   * @param fn the call
   * @param counts whether a failure opens the breaker
   */
  #run<T>(fn: () => Promise<T>, counts: (e: unknown) => e is StoreError): Promise<T> {
    const b = this.#breaker;
    const admission = b === undefined ? "pass" : b.admit();
    if (admission instanceof StoreError) return Promise.reject(admission);
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      p = Promise.reject(e); // judged like a rejection
    }
    if (admission === "probe") {
      // A probe is always bounded (by the default bound when calls are not): it must not hold
      // the breaker's single probe slot forever.
      return (this.#timeouts ?? this.#probeTimeouts!).bound(p, this.#probeOk, (e): never => {
        if (counts(e)) b!.failed(e, true);
        else if (typeof e === "object" && e !== null && REPLIES.has(e)) b!.succeeded(true);
        else b!.released();
        throw e;
      });
    }
    if (b === undefined) return this.#timeouts === undefined ? p : this.#timeouts.bound(p);
    // The usual path: one promise per call, failures observed, successes left alone.
    const failed = counts === isStoreFailure ? this.#callFailed : (e: unknown): never => {
      if (counts(e)) b.failed(e, false);
      throw e;
    };
    return this.#timeouts === undefined
      ? p.catch(failed)
      : this.#timeouts.bound(p, undefined, failed);
  }

  /**
   * Subscribes within the bound (a subscription made after its caller gave up is undone), and
   * bounds the unsubscription too (its failure is ignored: the connection is gone).
   * @param fn makes the subscription
   * @returns its unsubscribe function
   */
  subscribe(fn: () => Promise<Unsubscribe>): Promise<Unsubscribe> {
    let made: Unsubscribe | undefined;
    let abandoned = false;
    const undo = (u: Unsubscribe) => void u().catch(() => {});
    // Only a timeout (a frozen server) counts as a store failure here: a refused subscription may
    // be pub/sub's own (the caller then polls), and says nothing about the scripts' calls.
    return this.#run(() => {
      const p = fn();
      p.then((u) => {
        made = u;
        if (abandoned) undo(u);
      }, () => {});
      return p;
    }, isTimeout).then(
      (u): Unsubscribe => () => {
        const q = u();
        return this.#timeouts === undefined ? q : this.#timeouts.bound(q, undefined, () => {});
      },
      (e) => {
        if (made !== undefined) undo(made);
        else abandoned = true;
        throw e;
      },
    );
  }

  #callFailed = (e: unknown): never => {
    if (isStoreFailure(e)) this.#breaker!.failed(e, false);
    throw e;
  };

  #probeOk = <T>(v: T): T => {
    this.#breaker!.succeeded(true);
    return v;
  };
}

/** Returned by {@linkcode BoundedCaller} instead of a result while the store cannot answer. */
export const DOWN: unique symbol = Symbol("store down");

/** The layer of each `Store` implemented elsewhere, bounded as its first caller bounds. */
const FOREIGN = new WeakMap<Store, Resilience>();

/**
 * A caller with a bound of its own, tighter than the store's, that gets {@linkcode DOWN} (or a
 * `StoreError`, with `throwOnDown`) instead of a store failure: the rate limiter. Its timeouts
 * count as store failures in the store's own breaker; a `Store` without a layer of its own
 * (implemented elsewhere) gets one, shared by every caller on it.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * import { BoundedCaller, DOWN } from "./_resilience.ts";
 * const store = new MemoryStore();
 * const c = new BoundedCaller(store, 1000, false, () => {});
 * console.assert(await c.run(() => Promise.resolve(1)) === 1);
 * console.assert(await c.run(() => Promise.reject(new Error("x"))).catch(() => DOWN) === DOWN);
 * await store.close();
 * ```
 * @internal
 */
export class BoundedCaller {
  readonly #health: StoreHealth;
  /** The layer this caller routes calls through (a foreign store's), if any. */
  readonly #layer: Resilience | undefined;
  readonly #timeouts: TimeoutQueue;
  readonly #mine = new WeakSet<object>();
  readonly #throw: boolean;
  readonly #onError: (e: StoreError) => void;

  /**
   * @param store the store called
   * @param timeoutMs this caller's bound
   * @param throwOnDown whether callers get the `StoreError` (else {@linkcode DOWN})
   * @param onError told about every store failure (not the answers of an open breaker)
   */
  constructor(
    store: Store,
    timeoutMs: number,
    throwOnDown: boolean,
    onError: (e: StoreError) => void,
  ) {
    let health = healthOf(store);
    if (health === undefined) {
      let layer = FOREIGN.get(store);
      if (layer === undefined) {
        // The first caller's bound (a store implemented elsewhere has none of its own).
        layer = new Resilience({
          timeoutMs,
          breaker: { firstProbeMs: DEFAULT_FIRST_PROBE_MS, maxProbeMs: DEFAULT_MAX_PROBE_MS },
        });
        FOREIGN.set(store, layer);
      }
      this.#layer = layer;
      health = layer;
    }
    this.#health = health;
    this.#timeouts = new TimeoutQueue(timeoutMs, (ms) => {
      const e = new StoreError(`The store did not answer within ${ms} ms`);
      this.#mine.add(e);
      return e;
    });
    this.#throw = throwOnDown;
    this.#onError = onError;
  }

  /** Whether the store is known down. */
  get down(): boolean {
    return this.#health.down;
  }

  /** ms until the store's next probe may go (0 when it is up). */
  get retryInMs(): number {
    return this.#health.retryInMs;
  }

  /**
   * Runs `fn` within this caller's bound.
   * @param fn the store call
   * @returns its result, or DOWN
   * @throws {StoreError} with `throwOnDown`; any non-store error of `fn`
   */
  run<T>(fn: () => Promise<T>): Promise<T | typeof DOWN>;
  /**
   * The same, with the answer mapped by `map` in the same promise.
   * @param fn the store call
   * @param map maps its result, or DOWN
   * @returns what `map` returned
   */
  run<T, V>(fn: () => Promise<T>, map: (r: T | typeof DOWN) => V): Promise<V>;
  run<T, V>(
    fn: () => Promise<T>,
    map?: (r: T | typeof DOWN) => V,
  ): Promise<T | typeof DOWN | V> {
    let p: Promise<T>;
    if (this.#layer !== undefined) {
      p = this.#layer.run(fn);
    } else {
      try {
        p = fn();
      } catch (e) {
        p = Promise.reject(e); // judged like a rejection
      }
    }
    return this.#timeouts.bound<T, T | typeof DOWN, T | typeof DOWN | V>(
      p,
      undefined,
      this.#failed,
      map,
    );
  }

  /** A call failed: a store error answers per policy (others rethrow). */
  #failed = (e: unknown): typeof DOWN => {
    if (!(e instanceof StoreError)) throw e;
    if (this.#mine.has(e)) this.#health.failed(e);
    if (!isKnownDown(e)) this.#onError(e);
    if (this.#throw) throw new StoreError(`Rate-limit store unreachable: ${e.message}`, e);
    return DOWN;
  };
}
