/**
 * The limiter's validated configuration and per-call argument checks, shared by every provider.
 *
 * @module
 */
import type { RateLimiterOptions } from "./rate_limiter.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import { intInRange } from "../core/int.ts";
import { encodeKeyPart, validateKey } from "../core/keys.ts";
import type { WindowConfig } from "./_model.ts";
import { RateLimit, toRateLimit } from "./rate_limit.ts";
import type { Rate } from "./types.ts";

/** What a provider does with a call while the store is unreachable. */
export type StoreErrorPolicy = "throw" | "allow" | "deny" | "local";

/** The most buckets one window may hold (bounds the work of every script call). */
export const MAX_BUCKETS = 10_000;

/** The default bucket count per window: usage counts at most a thousandth of it late. */
export const DEFAULT_BUCKETS = 1000;

/** The smallest default bucket, ms (the bucket every window up to 100 s gets). */
export const MIN_DEFAULT_GROUP_MS = 100;

/**
 * The default bucket size of a window: `max(100, ceil(windowMs / 1000))` (= `max(100,
 * windowSizeSeconds)` ms). Windows up to 100 s keep 100 ms buckets (≤ 1 000 per window); longer
 * ones get exactly 1 000, a tenth of {@linkcode MAX_BUCKETS}, so every valid window has a valid
 * default, usage counts at most 0.1 % of a long window late, a busy key keeps at most ~2 000
 * bucket fields, and the hybrid's wait hint while capacity sits only in reservations (one bucket)
 * stays a thousandth of the window.
 * @param windowMs the window, ms (1 000 to 2 592 000 000)
 * @returns the bucket size, ms
 */
export function defaultGroupMs(windowMs: number): number {
  return Math.max(MIN_DEFAULT_GROUP_MS, Math.ceil(windowMs / DEFAULT_BUCKETS));
}

/** The validated configuration. */
export interface Config extends WindowConfig {
  readonly prefix: string;
  readonly windowSizeSeconds: number;
  readonly hardLimitFactor: number;
  readonly suppressionFactorCacheMs: number;
  readonly syncIntervalMs: number;
  readonly storeTimeoutMs: number;
  readonly onStoreError: StoreErrorPolicy;
  readonly now: () => number;
  readonly random: () => number;
}

/** The options {@linkcode makeConfig} reads: the window and store settings of `RateLimiterOptions`. */
export type ConfigOptions = Pick<
  RateLimiterOptions,
  | "prefix"
  | "windowSizeSeconds"
  | "rateGroupSizeMs"
  | "hardLimitFactor"
  | "suppressionFactorCacheMs"
  | "syncIntervalMs"
  | "storeTimeoutMs"
  | "onStoreError"
  | "now"
  | "random"
>;

const POLICIES: readonly string[] = ["throw", "allow", "deny", "local"];

function fn(v: unknown, name: string): (() => number) | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "function") {
    throw new InvalidArgumentError(`'${name}' must be a function: current type is ${typeof v}`);
  }
  return v as () => number;
}

/**
 * Validates every option.
 * @param o the options
 * @returns the configuration
 * @throws {InvalidArgumentError | InvalidKeyError} naming the option and its range
 */
export function makeConfig(o: ConfigOptions): Config {
  const prefix = validateKey(o.prefix ?? "distkit-rl", "Prefix");
  const windowSizeSeconds = intInRange(
    o.windowSizeSeconds ?? 10,
    "windowSizeSeconds",
    1,
    2_592_000,
  );
  const windowMs = windowSizeSeconds * 1000;
  const groupMs = intInRange(
    o.rateGroupSizeMs ?? defaultGroupMs(windowMs),
    "rateGroupSizeMs",
    Math.ceil(windowMs / MAX_BUCKETS),
    windowMs,
  );
  const f = o.hardLimitFactor ?? 1;
  if (typeof f !== "number" || !Number.isFinite(f) || f < 1 || f > 1000) {
    throw new InvalidArgumentError(
      `'hardLimitFactor' must be a number from 1 to 1000: current value is ${String(f)}`,
    );
  }
  const policy = o.onStoreError ?? "throw";
  if (!POLICIES.includes(policy)) {
    throw new InvalidArgumentError(
      `'onStoreError' must be "throw", "allow", "deny" or "local": current value is ${
        JSON.stringify(policy)
      }`,
    );
  }
  return {
    prefix,
    windowSizeSeconds,
    windowMs,
    groupMs,
    hardLimitFactor: f,
    suppressionFactorCacheMs: intInRange(
      o.suppressionFactorCacheMs ?? 100,
      "suppressionFactorCacheMs",
      1,
      3_600_000,
    ),
    syncIntervalMs: intInRange(o.syncIntervalMs ?? 10, "syncIntervalMs", 1, 60_000),
    storeTimeoutMs: intInRange(o.storeTimeoutMs ?? 1000, "storeTimeoutMs", 1, 60_000),
    onStoreError: policy,
    now: fn(o.now, "now") ?? burstClock(Date.now),
    random: fn(o.random, "random") ?? Math.random,
  };
}

/**
 * A clock read once per synchronous burst: the first call reads `now()` and later calls in the
 * same task reuse it (refreshed after the current microtask checkpoint, and every 256 calls), so
 * a loop of decisions does not pay a clock read (~100 ns) each.
 * @param now the underlying clock
 * @returns the cached clock
 */
export function burstClock(now: () => number): () => number {
  let value = 0;
  let valid = false;
  let uses = 0;
  const invalidate = () => {
    valid = false;
  };
  return () => {
    if (!valid || ++uses >= 256) {
      value = now();
      uses = 0;
      if (!valid) queueMicrotask(invalidate);
      valid = true;
    }
    return value;
  };
}

const VALID_KEYS = new Set<string>();

/**
 * {@linkcode validateKey} with a bounded memo of keys already seen valid (the hot path).
 * @param key the key
 * @returns the key
 * @throws {InvalidKeyError} if it is invalid
 */
export function checkKey(key: string): string {
  if (VALID_KEYS.has(key)) return key;
  validateKey(key);
  if (VALID_KEYS.size >= 4096) VALID_KEYS.clear();
  VALID_KEYS.add(key);
  return key;
}

/**
 * The store-key builder of one strategy of a limiter: an entity's hash is
 * `{<prefix>:<entity>}:<kind>`, prefix and entity encoded (see `encodeKeyPart`), so the hash tag
 * is the library's own and two different (prefix, entity) pairs never share a name. The prefix is
 * encoded once, here; an entity without `%`, `:`, `{` or `}` costs one regex test.
 * @param prefix the limiter's prefix
 * @param kind the strategy's suffix ("ra", "rs", "ha", "hs", ...)
 * @returns the builder: entity → its hash name (the hybrid adds `:z` and `:r` to it)
 */
export function entityKeyBuilder(prefix: string, kind: string): (key: string) => string {
  const head = `{${encodeKeyPart(prefix)}:`;
  const tail = `}:${kind}`;
  return (key) => head + encodeKeyPart(key) + tail;
}

/** A validated call: the key, the request and the limits its rate gives. */
export interface Limits {
  /** The rate. */
  rate: RateLimit;
  /** Capacity (soft limit) per window. */
  cap: number;
  /** Hard limit per window (suppressed; = cap for absolute). */
  hard: number;
}

/**
 * Checks a rate and computes its limits over the window.
 * @param cfg the configuration
 * @param rate the caller's rate
 * @param suppressed whether the hard limit is needed
 * @returns the limits
 * @throws {InvalidArgumentError} if the rate is invalid or allows less than one request per window
 */
export function limitsOf(cfg: Config, rate: Rate, suppressed: boolean): Limits {
  const r = toRateLimit(rate);
  const cap = capOf(cfg, r);
  return { rate: r, cap, hard: suppressed ? r.hardLimit(cfg.windowMs, cfg.hardLimitFactor) : cap };
}

/**
 * The capacity of a rate over the window (the allocation-free path of the absolute strategy).
 * @param cfg the configuration
 * @param rate the caller's rate
 * @returns the capacity (≥ 1)
 * @throws {InvalidArgumentError} if the rate is invalid or allows less than one request per window
 */
export function capOf(cfg: Config, rate: Rate): number {
  const r = rate instanceof RateLimit ? rate : toRateLimit(rate);
  const cap = r.capacity(cfg.windowMs);
  if (cap < 1) {
    throw new InvalidArgumentError(
      `'rate' must allow at least 1 request per ${cfg.windowSizeSeconds} s window: current value is ${r}`,
    );
  }
  return cap;
}

/**
 * Checks a request size.
 * @param n the count
 * @returns n
 * @throws {InvalidArgumentError} unless a safe integer ≥ 0
 */
export function checkN(n: unknown): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(
      `'n' must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}: current value is ${String(n)}`,
    );
  }
  return n;
}

/** The longest block, ms (a year). */
export const MAX_BLOCK_MS = 31_536_000_000;

/**
 * Checks a block's length.
 * @param ms the length
 * @returns ms
 * @throws {InvalidArgumentError} unless an integer from 1 to {@linkcode MAX_BLOCK_MS}
 */
export function checkDuration(ms: unknown): number {
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 1 || ms > MAX_BLOCK_MS) {
    throw new InvalidArgumentError(
      `'durationMs' must be an integer from 1 to ${MAX_BLOCK_MS}: current value is ${String(ms)}`,
    );
  }
  return ms;
}

/** Re-exported for providers. */
export { validateKey };
